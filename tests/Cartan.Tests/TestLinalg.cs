namespace Cartan.Tests;

/// <summary>Test-only numerics: a compensated sum for comparing decoded tensors with golden sums.</summary>
public static class TestLinalg
{
    public static double Sum(double[] x)
    {
        double s = 0, c = 0;
        foreach (var v in x)
        {
            double t = s + v;
            c += Math.Abs(s) >= Math.Abs(v) ? (s - t) + v : (v - t) + s;
            s = t;
        }
        return s + c;
    }
}

namespace Cartan.Tests.Spectra;

/// <summary>Test-only random inputs for the spectra tests (the linear algebra itself comes from Cartan.Linalg).</summary>
internal static class TestLinalg
{
    public static double[] RandomNearIdentity(Random rng, int n, double eps)
    {
        var j = new double[n * n];
        for (int i = 0; i < n * n; i++) j[i] = eps * Gaussian(rng);
        for (int i = 0; i < n; i++) j[i * n + i] += 1;
        return j;
    }

    public static double Gaussian(Random rng)
    {
        double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}

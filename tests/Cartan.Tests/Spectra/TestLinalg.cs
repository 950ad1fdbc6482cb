namespace Cartan.Tests.Spectra;

/// <summary>Test-only dense linear algebra: cyclic Jacobi eigenvalues of a symmetric matrix, square-matrix singular values.</summary>
internal static class TestLinalg
{
    /// <summary>Eigenvalues of a symmetric n×n row-major matrix, descending (cyclic Jacobi rotations).</summary>
    public static double[] SymmetricEigenvalues(double[] s, int n)
    {
        var a = (double[])s.Clone();
        for (int sweep = 0; sweep < 100; sweep++)
        {
            double off = 0;
            for (int i = 0; i < n; i++) for (int j = i + 1; j < n; j++) off += a[i * n + j] * a[i * n + j];
            if (off < 1e-300) break;
            for (int p = 0; p < n; p++)
                for (int q = p + 1; q < n; q++)
                {
                    double apq = a[p * n + q];
                    if (apq == 0) continue;
                    double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
                    double t = Math.Sign(theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    if (theta == 0) t = 1;
                    double c = 1 / Math.Sqrt(t * t + 1), sn = t * c;
                    for (int k = 0; k < n; k++)
                    {
                        double akp = a[k * n + p], akq = a[k * n + q];
                        a[k * n + p] = c * akp - sn * akq;
                        a[k * n + q] = sn * akp + c * akq;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double apk = a[p * n + k], aqk = a[q * n + k];
                        a[p * n + k] = c * apk - sn * aqk;
                        a[q * n + k] = sn * apk + c * aqk;
                    }
                }
        }
        var ev = new double[n];
        for (int i = 0; i < n; i++) ev[i] = a[i * n + i];
        Array.Sort(ev);
        Array.Reverse(ev);
        return ev;
    }

    /// <summary>Singular values of a square n×n row-major matrix, descending, as √eig(AᵀA) (fine for well-conditioned A).</summary>
    public static double[] SingularValues(double[] a, int n)
    {
        var g = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = i; j < n; j++)
            {
                double s = 0;
                for (int k = 0; k < n; k++) s += a[k * n + i] * a[k * n + j];
                g[i * n + j] = s; g[j * n + i] = s;
            }
        var ev = SymmetricEigenvalues(g, n);
        return ev.Select(v => Math.Sqrt(Math.Max(0, v))).ToArray();
    }

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

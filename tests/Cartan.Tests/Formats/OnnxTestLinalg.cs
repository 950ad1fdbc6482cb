namespace Cartan.Tests.Formats;

/// <summary>
/// Test-only singular values: eigenvalues of the float64 Gram matrix of the smaller side by cyclic Jacobi rotations.
/// Independent of the library's linear algebra (to be replaced by it once it lands).
/// </summary>
internal static class OnnxTestLinalg
{
    /// <summary>The largest <paramref name="k"/> singular values of the row-major <paramref name="m"/>×<paramref name="n"/> matrix, descending.</summary>
    public static double[] TopSingularValues(double[] a, int m, int n, int k)
    {
        if (a.Length != (long)m * n) throw new ArgumentException("size mismatch");
        int p = Math.Min(m, n);
        var g = new double[p * p];
        if (n <= m)
        {
            // G = AᵀA (n×n): accumulate row by row.
            for (int r = 0; r < m; r++)
            {
                int o = r * n;
                for (int i = 0; i < n; i++)
                {
                    double ai = a[o + i];
                    if (ai == 0) continue;
                    int gi = i * n;
                    for (int j = i; j < n; j++) g[gi + j] += ai * a[o + j];
                }
            }
        }
        else
        {
            // G = AAᵀ (m×m).
            for (int i = 0; i < m; i++)
                for (int j = i; j < m; j++)
                {
                    double s = 0;
                    int oi = i * n, oj = j * n;
                    for (int c = 0; c < n; c++) s += a[oi + c] * a[oj + c];
                    g[i * p + j] = s;
                }
        }
        for (int i = 0; i < p; i++)
            for (int j = 0; j < i; j++) g[i * p + j] = g[j * p + i];
        var ev = JacobiEigenvalues(g, p);
        return ev.Select(e => Math.Sqrt(Math.Max(0, e))).OrderByDescending(x => x).Take(k).ToArray();
    }

    /// <summary>Eigenvalues of a symmetric p×p matrix (overwritten) by cyclic Jacobi sweeps.</summary>
    public static double[] JacobiEigenvalues(double[] a, int p)
    {
        for (int sweep = 0; sweep < 60; sweep++)
        {
            double off = 0, diag = 0;
            for (int i = 0; i < p; i++)
            {
                diag += a[i * p + i] * a[i * p + i];
                for (int j = i + 1; j < p; j++) off += a[i * p + j] * a[i * p + j];
            }
            if (off <= 1e-30 * diag || off == 0) break;
            for (int i = 0; i < p - 1; i++)
                for (int j = i + 1; j < p; j++)
                {
                    double aij = a[i * p + j];
                    if (Math.Abs(aij) < 1e-300) continue;
                    double aii = a[i * p + i], ajj = a[j * p + j];
                    double theta = (ajj - aii) / (2 * aij);
                    double t = Math.Sign(theta == 0 ? 1 : theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                    for (int r = 0; r < p; r++)
                    {
                        // columns i and j
                        double ari = a[r * p + i], arj = a[r * p + j];
                        a[r * p + i] = c * ari - s * arj;
                        a[r * p + j] = s * ari + c * arj;
                    }
                    for (int r = 0; r < p; r++)
                    {
                        // rows i and j
                        double air = a[i * p + r], ajr = a[j * p + r];
                        a[i * p + r] = c * air - s * ajr;
                        a[j * p + r] = s * air + c * ajr;
                    }
                    a[i * p + j] = a[j * p + i] = 0;
                }
        }
        var ev = new double[p];
        for (int i = 0; i < p; i++) ev[i] = a[i * p + i];
        return ev;
    }
}

namespace Cartan.Tests.Formats;

/// <summary>
/// Test-only singular values: eigenvalues of the smaller Gram matrix by cyclic Jacobi rotations, square-rooted.
/// Independent of the library's linear algebra, so golden SVDs from numpy check the readers alone.
/// </summary>
internal static class GgufTestLinalg
{
    /// <summary>The largest <paramref name="k"/> singular values (descending) of the row-major rows×cols matrix.</summary>
    public static double[] TopSingularValues(double[] a, int rows, int cols, int k)
    {
        bool byRows = rows <= cols;
        int n = byRows ? rows : cols, m = byRows ? cols : rows;
        var g = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
            {
                double s = 0;
                for (int t = 0; t < m; t++)
                    s += byRows ? a[i * cols + t] * a[j * cols + t] : a[t * cols + i] * a[t * cols + j];
                g[i * n + j] = s;
                g[j * n + i] = s;
            }
        var ev = JacobiEigenvalues(g, n);
        Array.Sort(ev);
        Array.Reverse(ev);
        return ev.Take(k).Select(v => Math.Sqrt(Math.Max(v, 0))).ToArray();
    }

    /// <summary>Eigenvalues of a symmetric matrix (copied) by cyclic Jacobi sweeps until the off-diagonal mass vanishes.</summary>
    public static double[] JacobiEigenvalues(double[,] m, int n)
    {
        var g = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) g[i * n + j] = m[i, j];
        return JacobiEigenvalues(g, n);
    }

    /// <summary>Eigenvalues of a symmetric row-major n×n matrix (destroyed).</summary>
    public static double[] JacobiEigenvalues(double[] g, int n)
    {
        for (int sweep = 0; sweep < 60; sweep++)
        {
            double off = 0, diag = 0;
            for (int i = 0; i < n; i++)
            {
                diag += g[i * n + i] * g[i * n + i];
                for (int j = i + 1; j < n; j++) off += g[i * n + j] * g[i * n + j];
            }
            if (off <= 1e-30 * diag) break;
            for (int p = 0; p < n - 1; p++)
                for (int q = p + 1; q < n; q++)
                {
                    double apq = g[p * n + q];
                    if (Math.Abs(apq) < 1e-300) continue;
                    double theta = (g[q * n + q] - g[p * n + p]) / (2 * apq);
                    double t = theta == 0 ? 1 : Math.Sign(theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                    // G <- J^T G J, J the rotation in the (p, q) plane; rows first, then columns (kept symmetric).
                    var rp = g.AsSpan(p * n, n);
                    var rq = g.AsSpan(q * n, n);
                    for (int r = 0; r < n; r++)
                    {
                        double a = rp[r], b = rq[r];
                        rp[r] = c * a - s * b;
                        rq[r] = s * a + c * b;
                    }
                    for (int r = 0; r < n; r++)
                    {
                        int row = r * n;
                        double a = g[row + p], b = g[row + q];
                        g[row + p] = c * a - s * b;
                        g[row + q] = s * a + c * b;
                    }
                }
        }
        var ev = new double[n];
        for (int i = 0; i < n; i++) ev[i] = g[i * n + i];
        return ev;
    }
}

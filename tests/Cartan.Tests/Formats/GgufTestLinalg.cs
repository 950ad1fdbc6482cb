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
        var g = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
            {
                double s = 0;
                for (int t = 0; t < m; t++)
                    s += byRows ? a[i * cols + t] * a[j * cols + t] : a[t * cols + i] * a[t * cols + j];
                g[i, j] = s;
                g[j, i] = s;
            }
        var ev = JacobiEigenvalues(g, n);
        Array.Sort(ev);
        Array.Reverse(ev);
        return ev.Take(k).Select(v => Math.Sqrt(Math.Max(v, 0))).ToArray();
    }

    /// <summary>Eigenvalues of a symmetric matrix (destroyed) by cyclic Jacobi sweeps until the off-diagonal mass vanishes.</summary>
    public static double[] JacobiEigenvalues(double[,] g, int n)
    {
        for (int sweep = 0; sweep < 60; sweep++)
        {
            double off = 0, diag = 0;
            for (int i = 0; i < n; i++)
            {
                diag += g[i, i] * g[i, i];
                for (int j = i + 1; j < n; j++) off += g[i, j] * g[i, j];
            }
            if (off <= 1e-30 * diag) break;
            for (int p = 0; p < n - 1; p++)
                for (int q = p + 1; q < n; q++)
                {
                    double apq = g[p, q];
                    if (Math.Abs(apq) < 1e-300) continue;
                    double theta = (g[q, q] - g[p, p]) / (2 * apq);
                    double t = Math.Sign(theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    if (theta == 0) t = 1;
                    double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                    for (int r = 0; r < n; r++)
                    {
                        double grp = g[r, p], grq = g[r, q];
                        g[r, p] = c * grp - s * grq;
                        g[r, q] = s * grp + c * grq;
                    }
                    for (int r = 0; r < n; r++)
                    {
                        double gpr = g[p, r], gqr = g[q, r];
                        g[p, r] = c * gpr - s * gqr;
                        g[q, r] = s * gpr + c * gqr;
                    }
                }
        }
        var ev = new double[n];
        for (int i = 0; i < n; i++) ev[i] = g[i, i];
        return ev;
    }
}

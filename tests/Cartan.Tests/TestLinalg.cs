namespace Cartan.Tests;

/// <summary>
/// Test-only linear algebra, independent of the library: singular values of a small dense matrix as the square
/// roots of the eigenvalues of its float64 Gram matrix (the smaller side), found by cyclic Jacobi rotations.
/// Accurate to ~1e-13 relative for the leading singular values of well-scaled matrices.
/// </summary>
public static class TestLinalg
{
    /// <summary>All min(rows, cols) singular values of the row-major <paramref name="a"/>, largest first.</summary>
    public static double[] SingularValues(double[] a, int rows, int cols)
    {
        if (a.Length != (long)rows * cols) throw new ArgumentException("size mismatch");
        bool byCols = cols <= rows;
        int k = byCols ? cols : rows;
        var g = new double[k, k];
        if (byCols)
        {
            for (int r = 0; r < rows; r++)
            {
                int o = r * cols;
                for (int i = 0; i < k; i++)
                {
                    double ai = a[o + i];
                    if (ai == 0) continue;
                    for (int j = i; j < k; j++) g[i, j] += ai * a[o + j];
                }
            }
        }
        else
        {
            for (int i = 0; i < k; i++)
                for (int j = i; j < k; j++)
                {
                    double s = 0;
                    for (int c = 0; c < cols; c++) s += a[i * cols + c] * a[j * cols + c];
                    g[i, j] = s;
                }
        }
        for (int i = 0; i < k; i++) for (int j = 0; j < i; j++) g[i, j] = g[j, i];
        var ev = SymmetricEigenvalues(g);
        return ev.Select(l => Math.Sqrt(Math.Max(l, 0))).OrderByDescending(x => x).ToArray();
    }

    /// <summary>Eigenvalues of a symmetric matrix by cyclic Jacobi (the matrix is overwritten).</summary>
    public static double[] SymmetricEigenvalues(double[,] m)
    {
        int n = m.GetLength(0);
        for (int sweep = 0; sweep < 100; sweep++)
        {
            double off = 0, diag = 0;
            for (int i = 0; i < n; i++)
            {
                diag += m[i, i] * m[i, i];
                for (int j = i + 1; j < n; j++) off += m[i, j] * m[i, j];
            }
            if (off <= 1e-30 * diag || off == 0) break;
            for (int p = 0; p < n - 1; p++)
                for (int q = p + 1; q < n; q++)
                {
                    double apq = m[p, q];
                    if (apq == 0) continue;
                    double theta = (m[q, q] - m[p, p]) / (2 * apq);
                    double t = Math.Sign(theta == 0 ? 1 : theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                    for (int r = 0; r < n; r++)
                    {
                        double mrp = m[r, p], mrq = m[r, q];
                        m[r, p] = c * mrp - s * mrq;
                        m[r, q] = s * mrp + c * mrq;
                    }
                    for (int r = 0; r < n; r++)
                    {
                        double mpr = m[p, r], mqr = m[q, r];
                        m[p, r] = c * mpr - s * mqr;
                        m[q, r] = s * mpr + c * mqr;
                    }
                }
        }
        var ev = new double[n];
        for (int i = 0; i < n; i++) ev[i] = m[i, i];
        return ev;
    }

    /// <summary>Neumaier-compensated sum (error ~ one rounding of the result).</summary>
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

namespace Cartan.Tests.Formats;

/// <summary>
/// Test-only singular values: eigenvalues of the float64 Gram matrix of the smaller side by cyclic Jacobi
/// rotations. Slow but simple and independent; to be replaced by the library's Linalg later.
/// </summary>
internal static class TfjsTestLinalg
{
    /// <summary>All singular values of the row-major <paramref name="rows"/>×<paramref name="cols"/> matrix, descending.</summary>
    public static double[] SingularValues(double[] a, int rows, int cols)
    {
        if (a.Length != rows * cols) throw new ArgumentException("size mismatch");
        int n = Math.Min(rows, cols);
        if (n == 0) return [];
        var g = new double[n][];
        for (int i = 0; i < n; i++) g[i] = new double[n];
        if (cols <= rows)
        {
            // G = AᵀA (cols × cols): accumulate row by row.
            for (int r = 0; r < rows; r++)
            {
                var row = a.AsSpan(r * cols, cols);
                for (int i = 0; i < cols; i++)
                {
                    double v = row[i];
                    if (v == 0) continue;
                    var gi = g[i];
                    for (int k = i; k < cols; k++) gi[k] += v * row[k];
                }
            }
        }
        else
        {
            // G = AAᵀ (rows × rows).
            for (int i = 0; i < rows; i++)
            {
                var ri = a.AsSpan(i * cols, cols);
                for (int k = i; k < rows; k++)
                {
                    var rk = a.AsSpan(k * cols, cols);
                    double s = 0;
                    for (int c = 0; c < cols; c++) s += ri[c] * rk[c];
                    g[i][k] = s;
                }
            }
        }
        for (int i = 0; i < n; i++) for (int k = 0; k < i; k++) g[i][k] = g[k][i];
        var eig = JacobiEigenvalues(g);
        Array.Sort(eig);
        Array.Reverse(eig);
        return eig.Select(e => Math.Sqrt(Math.Max(e, 0))).ToArray();
    }

    /// <summary>Eigenvalues of a symmetric matrix (destroyed) by cyclic Jacobi sweeps.</summary>
    public static double[] JacobiEigenvalues(double[][] a)
    {
        int n = a.Length;
        double total = 0;
        for (int i = 0; i < n; i++) for (int k = 0; k < n; k++) total += a[i][k] * a[i][k];
        for (int sweep = 0; sweep < 60; sweep++)
        {
            double off = 0;
            for (int i = 0; i < n; i++) for (int k = i + 1; k < n; k++) off += a[i][k] * a[i][k];
            if (off <= 1e-30 * total || off == 0) break;
            for (int p = 0; p < n - 1; p++)
            {
                for (int q = p + 1; q < n; q++)
                {
                    double apq = a[p][q];
                    if (Math.Abs(apq) <= 1e-300) continue;
                    double app = a[p][p], aqq = a[q][q];
                    double theta = (aqq - app) / (2 * apq);
                    double t = Math.Sign(theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    if (theta == 0) t = 1;
                    double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                    var rp = a[p];
                    var rq = a[q];
                    for (int k = 0; k < n; k++)
                    {
                        double xp = rp[k], xq = rq[k];
                        rp[k] = c * xp - s * xq;
                        rq[k] = s * xp + c * xq;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        a[k][p] = rp[k];
                        a[k][q] = rq[k];
                    }
                    rp[p] = app - t * apq;
                    rq[q] = aqq + t * apq;
                    rp[q] = rq[p] = 0;
                }
            }
        }
        var d = new double[n];
        for (int i = 0; i < n; i++) d[i] = a[i][i];
        return d;
    }
}

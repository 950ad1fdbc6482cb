using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Cartan.Tests.Formats;

/// <summary>
/// Test-only singular values: the float64 Gram matrix G of the smaller side (AᵀA or AAᵀ) is diagonalised by
/// cyclic one-sided Jacobi rotations (Hestenes) on its rows. G is symmetric positive semi-definite, so its
/// singular values are its eigenvalues λᵢ = σᵢ(A)², and σᵢ(A) = √λᵢ. Simple, independent of the library,
/// and fast enough for 512×512 Grams; to be replaced by the library's Linalg later.
/// </summary>
internal static class TfjsTestLinalg
{
    /// <summary>All singular values of the row-major <paramref name="rows"/>×<paramref name="cols"/> matrix, descending.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double[] SingularValues(double[] a, int rows, int cols)
    {
        if (a.Length != rows * cols) throw new ArgumentException("size mismatch");
        int n = Math.Min(rows, cols);
        if (n == 0) return [];
        var g = new double[n][];
        for (int i = 0; i < n; i++) g[i] = new double[n];
        if (cols <= rows)
        {
            // G = AᵀA (cols × cols): accumulate the outer product of each row (upper triangle).
            for (int r = 0; r < rows; r++)
            {
                var row = a.AsSpan(r * cols, cols);
                for (int i = 0; i < cols; i++)
                    if (row[i] != 0) Axpy(row[i], row[i..], g[i].AsSpan(i));
            }
        }
        else
        {
            // G = AAᵀ (rows × rows).
            for (int i = 0; i < rows; i++)
                for (int k = i; k < rows; k++)
                    g[i][k] = Dot(a.AsSpan(i * cols, cols), a.AsSpan(k * cols, cols));
        }
        for (int i = 0; i < n; i++) for (int k = 0; k < i; k++) g[i][k] = g[k][i];
        var eig = SymmetricPsdEigenvalues(g);
        Array.Sort(eig);
        Array.Reverse(eig);
        return eig.Select(e => Math.Sqrt(Math.Max(e, 0))).ToArray();
    }

    /// <summary>
    /// Eigenvalues of a symmetric positive semi-definite matrix (its rows are destroyed): cyclic one-sided
    /// Jacobi sweeps rotate pairs of rows until all rows are mutually orthogonal; the row norms are then the
    /// singular values of the matrix, which for a PSD matrix are its eigenvalues.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double[] SymmetricPsdEigenvalues(double[][] rows)
    {
        int n = rows.Length;
        var norm2 = new double[n];
        double tol = Math.Max(1e-15, n * 2.3e-16);
        for (int sweep = 0; sweep < 80; sweep++)
        {
            for (int i = 0; i < n; i++) norm2[i] = Dot(rows[i], rows[i]);
            bool rotated = false;
            for (int p = 0; p < n - 1; p++)
            {
                for (int q = p + 1; q < n; q++)
                {
                    double alpha = norm2[p], beta = norm2[q];
                    if (alpha == 0 || beta == 0) continue;
                    double gamma = Dot(rows[p], rows[q]);
                    if (Math.Abs(gamma) <= tol * Math.Sqrt(alpha * beta)) continue;
                    rotated = true;
                    double zeta = (beta - alpha) / (2 * gamma);
                    double t = zeta == 0 ? 1 : Math.Sign(zeta) / (Math.Abs(zeta) + Math.Sqrt(1 + zeta * zeta));
                    double c = 1 / Math.Sqrt(1 + t * t), s = c * t;
                    Rotate(rows[p], rows[q], c, s);
                    norm2[p] = alpha - t * gamma;
                    norm2[q] = beta + t * gamma;
                }
            }
            if (!rotated) break;
        }
        var result = new double[n];
        for (int i = 0; i < n; i++) result[i] = Math.Sqrt(Dot(rows[i], rows[i]));
        return result;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double Dot(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        var vx = MemoryMarshal.Cast<double, Vector<double>>(x);
        var vy = MemoryMarshal.Cast<double, Vector<double>>(y);
        var acc = Vector<double>.Zero;
        for (int i = 0; i < vx.Length; i++) acc += vx[i] * vy[i];
        double s = Vector.Sum(acc);
        for (int i = vx.Length * Vector<double>.Count; i < x.Length; i++) s += x[i] * y[i];
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Axpy(double a, ReadOnlySpan<double> x, Span<double> y)
    {
        var vx = MemoryMarshal.Cast<double, Vector<double>>(x);
        var vy = MemoryMarshal.Cast<double, Vector<double>>(y);
        var va = new Vector<double>(a);
        for (int i = 0; i < vx.Length; i++) vy[i] += va * vx[i];
        for (int i = vx.Length * Vector<double>.Count; i < x.Length; i++) y[i] += a * x[i];
    }

    /// <summary>x ← c·x − s·y, y ← s·x + c·y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rotate(Span<double> x, Span<double> y, double c, double s)
    {
        var vx = MemoryMarshal.Cast<double, Vector<double>>(x);
        var vy = MemoryMarshal.Cast<double, Vector<double>>(y);
        var vc = new Vector<double>(c);
        var vs = new Vector<double>(s);
        for (int i = 0; i < vx.Length; i++)
        {
            var a = vx[i];
            var b = vy[i];
            vx[i] = vc * a - vs * b;
            vy[i] = vs * a + vc * b;
        }
        for (int i = vx.Length * Vector<double>.Count; i < x.Length; i++)
        {
            double a = x[i], b = y[i];
            x[i] = c * a - s * b;
            y[i] = s * a + c * b;
        }
    }
}

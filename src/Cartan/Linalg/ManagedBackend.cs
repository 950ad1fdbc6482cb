using System.Numerics;
using System.Numerics.Tensors;

namespace Cartan.Linalg;

/// <summary>
/// Cartan's own implementations, used when no native LAPACK loads (or CARTAN_LAPACK=managed). They give the same
/// answers as LAPACK to rounding (backward-stable algorithms), more slowly:
/// symmetric eigenproblems by Householder tridiagonalisation + implicit symmetric QR with Wilkinson shifts,
/// the thin SVD by one-sided (Hestenes) Jacobi, Gram and products by vectorised dot products.
/// Inputs are scaled by a power of two (exact) so that intermediate squares cannot overflow or underflow needlessly.
/// </summary>
internal sealed class ManagedBackend : LinalgBackend
{
    public static readonly ManagedBackend Instance = new();

    private const double Eps = 2.220446049250313e-16;

    public override string Name => "managed";

    public override LinalgBackendKind Kind => LinalgBackendKind.Managed;

    // ---------------------------------------------------------------- products

    private static double[] Transpose(ReadOnlySpan<double> a, int rows, int cols)
    {
        var t = new double[(long)rows * cols];
        for (int i = 0; i < rows; i++)
        {
            var row = a.Slice(i * cols, cols);
            for (int j = 0; j < cols; j++) t[(long)j * rows + i] = row[j];
        }
        return t;
    }

    /// <summary>c (r×r) ← X·Xᵀ for X r×len row-major; full symmetric.</summary>
    private static void RowGram(ReadOnlySpan<double> x, int r, int len, Span<double> c)
    {
        for (int i = 0; i < r; i++)
        {
            var xi = x.Slice(i * len, len);
            for (int j = 0; j <= i; j++)
            {
                double dot = TensorPrimitives.Dot(xi, x.Slice(j * len, len));
                c[i * r + j] = dot;
                c[j * r + i] = dot;
            }
        }
    }

    public override void Gram(ReadOnlySpan<double> a, int m, int n, bool rowsGram, Span<double> c)
    {
        if (rowsGram) RowGram(a, m, n, c);
        else RowGram(Transpose(a, m, n), n, m, c);
    }

    public override void MatMul(ReadOnlySpan<double> a, ReadOnlySpan<double> b, int m, int k, int n, bool transA, bool transB, Span<double> c)
    {
        // Rows of op(A) (m×k) and rows of op(B)ᵀ (n×k) made contiguous, then one dot product per element.
        ReadOnlySpan<double> ar = transA ? Transpose(a, k, m) : a;
        ReadOnlySpan<double> bt = transB ? b : Transpose(b, k, n);
        for (int i = 0; i < m; i++)
        {
            var ai = ar.Slice(i * k, k);
            var ci = c.Slice(i * n, n);
            for (int j = 0; j < n; j++) ci[j] = TensorPrimitives.Dot(ai, bt.Slice(j * k, k));
        }
    }

    // ---------------------------------------------------------------- symmetric eigenproblem

    /// <summary>2^e with 2^e ≈ 1/max|x| (1 when x is all zero): scaling by it is exact.</summary>
    private static double PowerOfTwoScale(ReadOnlySpan<double> x)
    {
        double max = x.IsEmpty ? 0 : TensorPrimitives.MaxMagnitude(x);
        if (max == 0 || !double.IsFinite(max)) return 1;
        return Math.ScaleB(1.0, -Math.ILogB(max));
    }

    /// <summary>Rotates rows x, y: x ← c·x + s·y, y ← c·y − s·x.</summary>
    private static void Rotate(Span<double> x, Span<double> y, double c, double s)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<double>.Count)
        {
            var vc = new Vector<double>(c);
            var vs = new Vector<double>(s);
            for (; i <= x.Length - Vector<double>.Count; i += Vector<double>.Count)
            {
                var xv = new Vector<double>(x.Slice(i));
                var yv = new Vector<double>(y.Slice(i));
                (vc * xv + vs * yv).CopyTo(x.Slice(i));
                (vc * yv - vs * xv).CopyTo(y.Slice(i));
            }
        }
        for (; i < x.Length; i++)
        {
            double xi = x[i], yi = y[i];
            x[i] = c * xi + s * yi;
            y[i] = c * yi - s * xi;
        }
    }

    /// <summary>
    /// Eigen-decomposition of the full symmetric n×n a (destroyed). d receives the eigenvalues (unsorted);
    /// when w is non-null it receives n×n with row j = the unit eigenvector of d[j].
    /// </summary>
    internal static void SymmetricEigen(double[] a, int n, double[] d, double[]? w)
    {
        double scale = PowerOfTwoScale(a);
        if (scale != 1) TensorPrimitives.Multiply(a, scale, a);
        var e = new double[Math.Max(n - 1, 0)];
        Tridiagonalise(a, n, d, e, w);
        TridiagonalQr(d, e, n, w);
        if (scale != 1) TensorPrimitives.Divide(d, scale, d);
    }

    /// <summary>
    /// Householder reduction A = Q T Qᵀ, T tridiagonal (diagonal d, off-diagonal e). When w is non-null it receives Qᵀ
    /// (so its rows, after the QR rotations are applied to them, become eigenvectors).
    /// Works on full rows: row k right of the diagonal equals column k below it by symmetry.
    /// </summary>
    private static void Tridiagonalise(double[] a, int n, double[] d, double[] e, double[]? w)
    {
        if (w is not null)
        {
            Array.Clear(w);
            for (int i = 0; i < n; i++) w[i * n + i] = 1;
        }
        var v = new double[n];
        var p = new double[n];
        var t = new double[n];
        for (int k = 0; k < n - 2; k++)
        {
            int len = n - k - 1, off = k + 1;
            var x = a.AsSpan(k * n + off, len);
            d[k] = a[k * n + k];
            double x0 = x[0];
            double tail = TensorPrimitives.Dot(x.Slice(1), x.Slice(1));
            if (tail == 0) { e[k] = x0; continue; } // column already reduced: H = I
            double norm = Math.Sqrt(x0 * x0 + tail);
            double alpha = x0 >= 0 ? -norm : norm;
            var vs = v.AsSpan(0, len);
            x.CopyTo(vs);
            vs[0] = x0 - alpha;                       // no cancellation: x0 and −alpha share a sign
            double beta = 2.0 / (vs[0] * vs[0] + tail);
            e[k] = alpha;

            // A22 ← H A22 H with H = I − β v vᵀ:  p = β A22 v,  w = p − (β/2)(pᵀv) v,  A22 −= v wᵀ + w vᵀ.
            var ps = p.AsSpan(0, len);
            for (int i = 0; i < len; i++) ps[i] = beta * TensorPrimitives.Dot(a.AsSpan((off + i) * n + off, len), vs);
            double kk = 0.5 * beta * TensorPrimitives.Dot(ps, vs);
            TensorPrimitives.MultiplyAdd(vs, -kk, ps, ps);
            for (int i = 0; i < len; i++)
            {
                var row = a.AsSpan((off + i) * n + off, len);
                TensorPrimitives.MultiplyAdd(ps, -vs[i], row, row);
                TensorPrimitives.MultiplyAdd(vs, -ps[i], row, row);
            }

            if (w is not null)
            {
                // Qᵀ ← H_k Qᵀ touches rows off.. of w:  rows −= β v (vᵀ rows).
                Array.Clear(t);
                for (int i = 0; i < len; i++) TensorPrimitives.MultiplyAdd(w.AsSpan((off + i) * n, n), vs[i], t, t);
                for (int i = 0; i < len; i++)
                {
                    var row = w.AsSpan((off + i) * n, n);
                    TensorPrimitives.MultiplyAdd(t, -beta * vs[i], row, row);
                }
            }
        }
        if (n >= 2)
        {
            d[n - 2] = a[(n - 2) * n + n - 2];
            e[n - 2] = a[(n - 2) * n + n - 1];
        }
        if (n >= 1) d[n - 1] = a[(n - 1) * n + n - 1];
    }

    private static bool Negligible(double e, double d0, double d1) =>
        Math.Abs(e) <= Eps * (Math.Abs(d0) + Math.Abs(d1)) || Math.Abs(e) < 1e-300;

    /// <summary>Implicit symmetric QR with Wilkinson shifts on the tridiagonal (d, e); rotations applied to rows of w.</summary>
    private static void TridiagonalQr(double[] d, double[] e, int n, double[]? w)
    {
        int hi = n - 1, steps = 0, maxSteps = 50 * Math.Max(n, 1);
        while (hi > 0)
        {
            if (Negligible(e[hi - 1], d[hi - 1], d[hi])) { e[hi - 1] = 0; hi--; continue; }
            int lo = hi - 1;
            while (lo > 0 && !Negligible(e[lo - 1], d[lo - 1], d[lo])) lo--;
            if (lo > 0) e[lo - 1] = 0;
            if (++steps > maxSteps)
                throw new LinalgException($"managed symmetric eigensolver did not converge after {maxSteps} QR steps (n = {n}).");

            // Wilkinson shift: the eigenvalue of the trailing 2×2 block closer to d[hi].
            double dd = 0.5 * (d[hi - 1] - d[hi]), eh = e[hi - 1];
            double r = double.Hypot(dd, eh);
            double mu = d[hi] - eh * (eh / (dd + (dd >= 0 ? r : -r)));

            double x = d[lo] - mu, z = e[lo];
            for (int k = lo; k < hi; k++)
            {
                double rr = double.Hypot(x, z);
                double c = rr == 0 ? 1 : x / rr, s = rr == 0 ? 0 : z / rr;
                if (k > lo) e[k - 1] = rr;
                double ak = d[k], f = e[k], g = d[k + 1];
                double cc = c * c, ss = s * s, cs = c * s;
                d[k] = cc * ak + 2 * cs * f + ss * g;
                d[k + 1] = ss * ak - 2 * cs * f + cc * g;
                e[k] = cs * (g - ak) + (cc - ss) * f;
                if (k < hi - 1)
                {
                    z = s * e[k + 1];          // the bulge
                    e[k + 1] = c * e[k + 1];
                    x = e[k];
                }
                if (w is not null) Rotate(w.AsSpan(k * n, n), w.AsSpan((k + 1) * n, n), c, s);
            }
        }
    }

    private static int[] AscendingOrder(double[] d)
    {
        var idx = Enumerable.Range(0, d.Length).ToArray();
        Array.Sort(idx, (i, j) => d[i].CompareTo(d[j]));
        return idx;
    }

    public override void EigenValues(double[] a, int n, double[] w)
    {
        SymmetricEigen(a, n, w, null);
        Array.Sort(w);
    }

    public override void EigenFull(double[] a, int n, double[] w, double[] vectors)
    {
        var d = new double[n];
        var rows = new double[(long)n * n];
        SymmetricEigen(a, n, d, rows);
        var order = AscendingOrder(d);
        for (int j = 0; j < n; j++)
        {
            w[j] = d[order[j]];
            var src = rows.AsSpan(order[j] * n, n);
            for (int i = 0; i < n; i++) vectors[i * n + j] = src[i];
        }
    }

    public override void EigenTop(double[] a, int n, int k, double[] w, double[] z)
    {
        var d = new double[n];
        var rows = new double[(long)n * n];
        SymmetricEigen(a, n, d, rows);
        var order = AscendingOrder(d);
        for (int j = 0; j < k; j++)
        {
            int src = order[n - k + j];
            w[j] = d[src];
            var v = rows.AsSpan(src * n, n);
            for (int i = 0; i < n; i++) z[i * k + j] = v[i];
        }
    }

    // ---------------------------------------------------------------- SVD

    /// <summary>
    /// Thin SVD by one-sided Jacobi on the rows of X (p×q, p = min(m,n) rows of length q = max(m,n)):
    /// X = A when m ≤ n, else X = Aᵀ. Rotations J (p×p) applied from the left make the rows of J·X mutually orthogonal;
    /// then X = Jᵀ·diag(σ)·Y with σ the row norms and Y the normalised rows.
    /// </summary>
    public override SvdResult Svd(ReadOnlySpan<double> a, int m, int n)
    {
        bool wide = m <= n;
        int p = wide ? m : n, q = wide ? n : m;
        double[] x = wide ? a.ToArray() : Transpose(a, m, n);
        double scale = PowerOfTwoScale(x);
        if (scale != 1) TensorPrimitives.Multiply(x, scale, x);
        var j = new double[(long)p * p];
        for (int i = 0; i < p; i++) j[i * p + i] = 1;
        var norm2 = new double[p];
        double tol = Math.Sqrt(q) * Eps;
        bool converged = false;
        for (int sweep = 0; sweep < 80 && !converged; sweep++)
        {
            converged = true;
            for (int i = 0; i < p; i++) norm2[i] = TensorPrimitives.Dot(x.AsSpan(i * q, q), x.AsSpan(i * q, q));
            for (int i = 0; i < p - 1; i++)
            {
                var xi = x.AsSpan(i * q, q);
                for (int k = i + 1; k < p; k++)
                {
                    double al = norm2[i], be = norm2[k];
                    if (al == 0 || be == 0) continue;
                    var xk = x.AsSpan(k * q, q);
                    double ga = TensorPrimitives.Dot(xi, xk);
                    if (Math.Abs(ga) <= tol * Math.Sqrt(al) * Math.Sqrt(be)) continue;
                    converged = false;
                    double zeta = (be - al) / (2 * ga);
                    double t = (zeta >= 0 ? 1 : -1) / (Math.Abs(zeta) + double.Hypot(1, zeta));
                    double c = 1 / Math.Sqrt(1 + t * t), sn = c * t;
                    // xi ← c·xi − s·xk, xk ← s·xi + c·xk  (Rotate with −s)
                    Rotate(xi, xk, c, -sn);
                    Rotate(j.AsSpan(i * p, p), j.AsSpan(k * p, p), c, -sn);
                    norm2[i] = Math.Max(al - t * ga, 0);
                    norm2[k] = be + t * ga;
                }
            }
        }
        if (!converged) throw new LinalgException($"managed one-sided Jacobi SVD did not converge ({m}×{n}).");

        var sigma = new double[p];
        for (int i = 0; i < p; i++) sigma[i] = TensorPrimitives.Norm(x.AsSpan(i * q, q));
        var order = Enumerable.Range(0, p).ToArray();
        Array.Sort(order, (i1, i2) => sigma[i2].CompareTo(sigma[i1]));

        // Normalised rows in descending order; rows whose σ is zero (or underflowed) get an orthonormal completion.
        var y = new double[(long)p * q];
        double smax = p > 0 ? sigma[order[0]] : 0;
        for (int r = 0; r < p; r++)
        {
            var dst = y.AsSpan(r * q, q);
            double sg = sigma[order[r]];
            if (sg > 0 && sg > smax * 1e-280) TensorPrimitives.Divide(x.AsSpan(order[r] * q, q), sg, dst);
            else CompleteOrthonormal(y, r, q);
        }

        var s = new double[p];
        var u = new double[(long)m * p];
        var vOut = new double[(long)n * p];
        for (int r = 0; r < p; r++)
        {
            s[r] = sigma[order[r]] / scale;
            var left = j.AsSpan(order[r] * p, p);   // vector of length p
            var right = y.AsSpan(r * q, q);         // vector of length q
            // wide: X = A, left ↔ U (m = p), right ↔ V (n = q). tall: X = Aᵀ, left ↔ V (n = p), right ↔ U (m = q).
            ReadOnlySpan<double> toU = wide ? left : right, toV = wide ? right : left;
            for (int i = 0; i < m; i++) u[(long)i * p + r] = toU[i];
            for (int i = 0; i < n; i++) vOut[(long)i * p + r] = toV[i];
        }
        return new SvdResult(u, s, vOut, m, n);
    }

    /// <summary>Fills row r of y (rows of length q) with a unit vector orthogonal to rows 0..r−1 (Gram–Schmidt, twice, on basis vectors).</summary>
    private static void CompleteOrthonormal(double[] y, int r, int q)
    {
        var cand = y.AsSpan(r * q, q);
        for (int t = 0; t < q; t++)
        {
            cand.Clear();
            cand[t] = 1;
            for (int pass = 0; pass < 2; pass++)
                for (int i = 0; i < r; i++)
                {
                    var yi = y.AsSpan(i * q, q);
                    TensorPrimitives.MultiplyAdd(yi, -TensorPrimitives.Dot(yi, cand), cand, cand);
                }
            double nrm = TensorPrimitives.Norm(cand);
            if (nrm > 0.5 / Math.Sqrt(q) || (nrm > 1e-8 && t == q - 1))
            {
                TensorPrimitives.Divide(cand, nrm, cand);
                return;
            }
        }
        throw new LinalgException("managed SVD: could not complete an orthonormal basis (internal error).");
    }
}

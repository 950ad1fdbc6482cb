using Cartan.Linalg;

namespace Cartan.Pruning;

/// <summary>Settings of SparseGPT (Frantar &amp; Alistarh 2023); defaults are the reference implementation's.</summary>
public sealed record SparseGptOptions
{
    /// <summary>Columns per lazy-update block. Default 128. Must be a multiple of M for N:M.</summary>
    public int BlockSize { get; init; } = 128;
    /// <summary>Damping λ = PercDamp × mean(diag H). Default 0.01.</summary>
    public double PercDamp { get; init; } = 0.01;
    /// <summary>
    /// false (default): the reference's unstructured mask rule — in each block, score t = w²/U_jj² over all rows × block
    /// columns, threshold θ = sort(t)[⌊numel·s⌋], prune every t ≤ θ (so ⌊numel·s⌋ + 1 entries, more on ties).
    /// true: prune exactly ⌊numel·s⌋ entries per block (ties: lower flat index kept).
    /// </summary>
    public bool ExactCount { get; init; }
}

/// <summary>Output of <see cref="SparseGpt.Prune"/>: the reconstructed weights (zero where pruned) and the mask (true = kept).</summary>
public sealed record SparseGptResult(double[] Weights, bool[] Mask, int DeadFeatures, int RemainderDense);

/// <summary>
/// SparseGPT's one-shot pruning with OBS reconstruction, following the reference algorithm (<c>fasterprune</c> of
/// IST-DASLab/sparsegpt; our own code):
/// <list type="number">
/// <item>H = (2/n)·XᵀX as in the reference (see <see cref="ReferenceHessian"/>; the scale matters only for dead features). Dead features (H_jj = 0)
/// get H_jj = 1 and their weight column is zeroed. λ = PercDamp·mean(diag H) is added to the diagonal.</item>
/// <item>U = the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU). U_jj² is the diagonal of the inverse Hessian of the
/// not-yet-processed columns, i.e. the paper's [H_F⁻¹]_jj. We compute U without forming H⁻¹: with P the index
/// reversal, PHP = LLᵀ gives U = P·L⁻¹·P (one Cholesky and one triangular inverse, managed code).</item>
/// <item>Columns in blocks of BlockSize. Unstructured: the block's mask is chosen once at the block start from
/// t = w²/U_jj² over the whole block (all rows together, not per row — see <see cref="SparseGptOptions.ExactCount"/>).
/// N:M: at each group start (block-relative column ≡ 0 mod M) the M − N lowest t of the group in each row are pruned,
/// using the weights as updated so far. A trailing group of fewer than M columns stays dense (our rule; the reference
/// prunes it too).</item>
/// <item>For each column j in order: q = w with pruned entries 0, err = (w − q)/U_jj, and the remaining columns of the
/// block get W[:, j:] −= err·U[j, j:] (the OBS update δw = −(w_j/[H⁻¹]_jj)·H⁻¹_{j,:} in Cholesky form); after the block,
/// the later columns get W[:, i2:] −= Err·U[block, i2:].</item>
/// </list>
/// </summary>
public static class SparseGpt
{
    /// <summary>
    /// The reference implementation's Hessian (2/n)·XᵀX from accumulated statistics, n = tokens. Any positive scale
    /// prunes identically EXCEPT through the dead-feature rule (a zero diagonal entry becomes 1 before damping), so
    /// <see cref="Pruner"/> uses this scale. (The reference counts n in batches of its hooks, sequences in practice;
    /// with no dead features the two agree exactly.)
    /// </summary>
    public static double[] ReferenceHessian(CalibrationStats stats)
    {
        var h = stats.Hessian ?? throw new ArgumentException("SparseGPT needs the Hessian XᵀX in the calibration statistics");
        if (stats.Count <= 0) throw new ArgumentException("the calibration statistics count no tokens");
        double c = 2.0 / stats.Count;
        var r = new double[h.Length];
        for (int i = 0; i < r.Length; i++) r[i] = c * h[i];
        return r;
    }

    /// <summary>Prunes W (out × in, row-major) with the undamped Hessian <paramref name="hessian"/> = XᵀX (in × in).</summary>
    public static SparseGptResult Prune(ReadOnlySpan<double> w, int rows, int cols, ReadOnlySpan<double> hessian,
        SparsityPattern pattern, SparseGptOptions? options = null)
    {
        var o = options ?? new SparseGptOptions();
        if (rows <= 0 || cols <= 0 || (long)rows * cols != w.Length) throw new ArgumentException($"W has {w.Length} values, not {rows}×{cols}");
        if (hessian.Length != (long)cols * cols) throw new ArgumentException($"Hessian has {hessian.Length} values, {cols}×{cols} expected");
        if (o.BlockSize <= 0) throw new ArgumentException($"block size must be positive, got {o.BlockSize}");
        if (pattern.IsNM && o.BlockSize % pattern.M != 0) throw new ArgumentException($"block size {o.BlockSize} is not a multiple of M = {pattern.M}");
        if (!(o.PercDamp >= 0) || !double.IsFinite(o.PercDamp)) throw new ArgumentException($"damping must be ≥ 0, got {o.PercDamp}");

        var W = w.ToArray();
        var (H, dead) = Damp(hessian, cols, o.PercDamp);
        int deadCount = 0;
        for (int j = 0; j < cols; j++)
            if (dead[j]) { deadCount++; for (int i = 0; i < rows; i++) W[i * cols + j] = 0; }
        var U = UpperCholeskyOfInverse(H, cols);

        var mask = new bool[W.Length];
        int remainder = pattern.IsNM ? cols % pattern.M : 0;
        int B = o.BlockSize;
        for (int i1 = 0; i1 < cols; i1 += B)
        {
            int i2 = Math.Min(i1 + B, cols), count = i2 - i1;
            var W1 = new double[rows * count];
            for (int r = 0; r < rows; r++) Array.Copy(W, r * cols + i1, W1, r * count, count);
            var prune = new bool[rows * count];
            if (!pattern.IsNM) UnstructuredBlockMask(W1, rows, count, U, cols, i1, pattern.Sparsity!.Value, o.ExactCount, prune);
            var Q1 = new double[rows * count];
            var Err1 = new double[rows * count];
            for (int i = 0; i < count; i++)
            {
                int col = i1 + i;
                double d = U[col * cols + col];
                if (pattern.IsNM && i % pattern.M == 0 && i + pattern.M <= count)
                {
                    int m = pattern.M;
                    var t = new double[m];
                    var idx = new int[m];
                    var keep = new bool[m];
                    for (int r = 0; r < rows; r++)
                    {
                        for (int g = 0; g < m; g++)
                        {
                            double dg = U[(col + g) * cols + col + g], v = W1[r * count + i + g];
                            t[g] = v * v / (dg * dg);
                            idx[g] = g;
                            keep[g] = true;
                        }
                        Masks.PruneLowest(t, idx, m, m - pattern.N, keep, 0);
                        for (int g = 0; g < m; g++) prune[r * count + i + g] = !keep[g];
                    }
                }
                for (int r = 0; r < rows; r++)
                {
                    double wv = W1[r * count + i];
                    double q = prune[r * count + i] ? 0.0 : wv;
                    Q1[r * count + i] = q;
                    double err = (wv - q) / d;
                    Err1[r * count + i] = err;
                    if (err == 0) continue;
                    int urow = col * cols;
                    for (int c = i; c < count; c++) W1[r * count + c] -= err * U[urow + i1 + c];
                }
            }
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < count; c++)
                {
                    W[r * cols + i1 + c] = Q1[r * count + c];
                    mask[r * cols + i1 + c] = !prune[r * count + c];
                }
            int rest = cols - i2;
            if (rest > 0)
            {
                var Ublk = new double[count * rest];
                for (int a = 0; a < count; a++) Array.Copy(U, (i1 + a) * cols + i2, Ublk, a * rest, rest);
                var upd = Lapack.MatMul(Err1, rows, count, Ublk, rest);
                for (int r = 0; r < rows; r++)
                    for (int c = 0; c < rest; c++) W[r * cols + i2 + c] -= upd[r * rest + c];
            }
        }
        return new SparseGptResult(W, mask, deadCount, remainder);
    }

    private static void UnstructuredBlockMask(double[] W1, int rows, int count, double[] U, int cols, int i1, double s, bool exact, bool[] prune)
    {
        int n = rows * count;
        var t = new double[n];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < count; c++)
            {
                double d = U[(i1 + c) * cols + i1 + c], v = W1[r * count + c];
                t[r * count + c] = v * v / (d * d);
            }
        int k = (int)Math.Floor(n * s);
        if (exact)
        {
            var keep = new bool[n];
            Array.Fill(keep, true);
            var idx = new int[n];
            for (int a = 0; a < n; a++) idx[a] = a;
            Masks.PruneLowest(t, idx, n, k, keep, 0);
            for (int a = 0; a < n; a++) prune[a] = !keep[a];
            return;
        }
        var sorted = (double[])t.Clone();
        Array.Sort(sorted);
        double thresh = sorted[Math.Min(k, n - 1)];
        for (int a = 0; a < n; a++) prune[a] = t[a] <= thresh;
    }

    /// <summary>
    /// The reference's damping: a copy of H with zero diagonal entries set to 1 (dead features, flagged), then
    /// λ = <paramref name="percDamp"/>·mean(diag) added to the diagonal.
    /// </summary>
    public static (double[] H, bool[] Dead) Damp(ReadOnlySpan<double> hessian, int n, double percDamp)
    {
        if (hessian.Length != (long)n * n) throw new ArgumentException($"Hessian has {hessian.Length} values, {n}×{n} expected");
        var H = hessian.ToArray();
        var dead = new bool[n];
        double mean = 0;
        for (int j = 0; j < n; j++)
        {
            if (H[j * n + j] == 0) { H[j * n + j] = 1; dead[j] = true; }
            mean += H[j * n + j];
        }
        mean /= n;
        double lambda = percDamp * mean;
        for (int j = 0; j < n; j++) H[j * n + j] += lambda;
        return (H, dead);
    }

    /// <summary>
    /// The upper-triangular U with H⁻¹ = UᵀU for a symmetric positive definite H (row-major n × n; the lower triangle is
    /// read). Computed as U = P·L⁻¹·P where PHP = LLᵀ and P reverses the index order. Throws
    /// <see cref="LinalgException"/> when H is not positive definite.
    /// </summary>
    public static double[] UpperCholeskyOfInverse(ReadOnlySpan<double> h, int n)
    {
        var A = new double[n * n];
        for (int a = 0; a < n; a++)
            for (int b = 0; b <= a; b++)
            {
                // lower triangle of PHP: (PHP)_ab = H_{n-1-a, n-1-b}; with a ≥ b the source index pair has row ≤ col,
                // so read its mirror (row ≥ col) from H's lower triangle.
                A[a * n + b] = h[(n - 1 - b) * n + (n - 1 - a)];
            }
        CholeskyLowerInPlace(A, n);
        var X = InvertLower(A, n);
        var U = new double[n * n];
        for (int a = 0; a < n; a++)
            for (int b = a; b < n; b++) U[a * n + b] = X[(n - 1 - a) * n + (n - 1 - b)];
        return U;
    }

    /// <summary>In-place lower Cholesky factor of the lower triangle of A (row-major); the strict upper triangle is zeroed.</summary>
    public static void CholeskyLowerInPlace(double[] A, int n)
    {
        for (int i = 0; i < n; i++)
        {
            var ri = A.AsSpan(i * n, n);
            for (int j = 0; j <= i; j++)
            {
                var rj = A.AsSpan(j * n, n);
                double s = ri[j] - Dot(ri[..j], rj[..j]);
                if (i == j)
                {
                    if (!(s > 0) || !double.IsFinite(s)) throw new LinalgException($"matrix is not positive definite (pivot {i} is {s})");
                    ri[i] = Math.Sqrt(s);
                }
                else ri[j] = s / rj[j];
            }
            for (int j = i + 1; j < n; j++) ri[j] = 0;
        }
    }

    /// <summary>L⁻¹ of a lower-triangular L (row-major), row by row: row_i(X) = −(Σ_{k&lt;i} L_ik·row_k(X))/L_ii, X_ii = 1/L_ii.</summary>
    public static double[] InvertLower(double[] L, int n)
    {
        var X = new double[n * n];
        for (int i = 0; i < n; i++)
        {
            var xi = X.AsSpan(i * n, n);
            for (int k = 0; k < i; k++)
            {
                double l = L[i * n + k];
                if (l == 0) continue;
                var xk = X.AsSpan(k * n, k + 1);
                for (int j = 0; j <= k; j++) xi[j] -= l * xk[j];
            }
            double inv = 1.0 / L[i * n + i];
            for (int j = 0; j < i; j++) xi[j] *= inv;
            xi[i] = inv;
        }
        return X;
    }

    private static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double s = 0;
        int k = 0;
        if (System.Numerics.Vector.IsHardwareAccelerated && a.Length >= System.Numerics.Vector<double>.Count)
        {
            var acc = System.Numerics.Vector<double>.Zero;
            int w = System.Numerics.Vector<double>.Count;
            for (; k <= a.Length - w; k += w)
                acc += new System.Numerics.Vector<double>(a.Slice(k, w)) * new System.Numerics.Vector<double>(b.Slice(k, w));
            s = System.Numerics.Vector.Sum(acc);
        }
        for (; k < a.Length; k++) s += a[k] * b[k];
        return s;
    }
}

using Cartan.Linalg;

namespace Cartan.Alignment;

/// <summary>Settings of the flag-variety diagnostics (methods.md §3). All [R]: our operational definitions.</summary>
public sealed record FlagOptions
{
    /// <summary>A principal cosine counts toward the intersection dimension when c ≥ 1 − ε.</summary>
    public double Tolerance { get; init; } = 1e-2;
    /// <summary>Grid points are powers of two up to this size.</summary>
    public int MaxGrid { get; init; } = 256;
    /// <summary>A grid point k is used only at a spectral gap: s_k / s_{k+1} &gt; 1 + GapTolerance (both sides).</summary>
    public double GapTolerance { get; init; } = 1e-3;
    /// <summary>Above this interface dimension the commutator and imbalance use factored formulas (no m×m product).</summary>
    public int DenseLimit { get; init; } = 4096;
}

/// <summary>
/// Flag diagnostics of one interface W_ℓ (m×n) → W_{ℓ+1} (p×m) (methods.md §3(b)):
/// intersection dimensions and soft overlaps of the output flag of ℓ and the input flag of ℓ+1 over a grid,
/// principal cosines at the largest grid point, imbalance β, β_diag and commutator κ.
/// </summary>
public sealed record FlagResult(
    int[] Grid,
    int[][] IntersectionDim,
    double[][] Overlap,
    double[] Cosines,
    double Tolerance,
    double Beta,
    double BetaDiag,
    double Commutator,
    string CommutatorMethod);

public static class Flag
{
    /// <param name="wl">W_ℓ, m×n row-major (out-view)</param>
    /// <param name="wn">W_{ℓ+1}, p×m row-major (in-view)</param>
    /// <param name="svdL">top singular triplets of W_ℓ (U m×k), or null to compute</param>
    /// <param name="svdN">top singular triplets of W_{ℓ+1} (V m×k'), or null to compute</param>
    public static FlagResult Pair(double[] wl, int m, int n, double[] wn, int p, FlagOptions? options = null,
        SvdResult? svdL = null, SvdResult? svdN = null, double[]? product = null, double? productNorm2 = null)
    {
        var o = options ?? new();
        int kmax = Math.Min(o.MaxGrid, Math.Min(Math.Min(m, n), Math.Min(p, m)));
        svdL ??= Lapack.TopSvd(wl, m, n, kmax);
        svdN ??= Lapack.TopSvd(wn, p, m, kmax);
        var grid = GridAtGaps(svdL.S, svdN.S, kmax, o.GapTolerance);
        int G = grid.Length;
        var dims = new int[G][];
        var overlap = new double[G][];
        double[] cosines = [];
        if (G > 0)
        {
            // M = U_Kᵀ V'_K once for the largest grid point; every (a, b) table entry is its top-left a×b block.
            int K = grid[^1];
            var M = CrossProduct(svdL.U, svdL.Rank, svdN.V, svdN.Rank, K, m);
            for (int ia = 0; ia < G; ia++)
            {
                dims[ia] = new int[G];
                overlap[ia] = new double[G];
                for (int ib = 0; ib < G; ib++)
                {
                    int a = grid[ia], b = grid[ib];
                    var block = new double[a * b];
                    for (int i = 0; i < a; i++) M.AsSpan(i * K, b).CopyTo(block.AsSpan(i * b, b));
                    // The reported cosines (largest grid point) come from a full SVD, accurate near zero too;
                    // the Gram route suffices for counting cosines near one.
                    bool last = ia == G - 1 && ib == G - 1;
                    var c = last ? Lapack.Svd(block, a, b).S : Lapack.SingularValues(block, a, b);
                    for (int i = 0; i < c.Length; i++) c[i] = Math.Min(1.0, c[i]);
                    dims[ia][ib] = c.Count(x => x >= 1 - o.Tolerance);
                    overlap[ia][ib] = c.Sum(x => x * x) / Math.Min(a, b);
                    if (last) cosines = c;
                }
            }
        }
        var (beta, betaDiag) = Imbalance(wl, m, n, wn, p, product, productNorm2);
        // Same κ either way (oracle 7); take the cheaper route, and never the m×m one above DenseLimit.
        double dense = 2.0 * m * m * (n + p) + 2.0 * m * m * m;
        double factored = 2.0 * p * m * n + 1.0 * m * n * n + 1.0 * m * p * p + 2.0 * p * p * n + 2.0 * p * n * n;
        bool useDense = m <= o.DenseLimit && dense <= factored;
        var (kappa, method) = useDense ? (CommutatorDense(wl, m, n, wn, p), "dense") : (CommutatorFactored(wl, m, n, wn, p), "factored");
        return new FlagResult(grid, dims, overlap, cosines, o.Tolerance, beta, betaDiag, kappa, method);
    }

    /// <summary>Powers of two ≤ kmax where both spectra have a gap (s_k/s_{k+1} &gt; 1+tol) or k is the last index held.</summary>
    public static int[] GridAtGaps(double[] s1, double[] s2, int kmax, double tol)
    {
        bool Gap(double[] s, int k) => k >= s.Length || s[k] <= 0 || s[k - 1] / s[k] > 1 + tol;
        var g = new List<int>();
        for (int k = 1; k <= kmax; k *= 2)
            if (k <= s1.Length && k <= s2.Length && s1[k - 1] > 0 && s2[k - 1] > 0 && Gap(s1, k) && Gap(s2, k)) g.Add(k);
        return [.. g];
    }

    /// <summary>Cosines of the principal angles between span(U[:, :a]) and span(V[:, :b]) (both m-row, row-major with ku / kv columns).</summary>
    public static double[] PrincipalCosines(double[] u, int ku, int a, double[] v, int kv, int b, int m)
    {
        var M = CrossProduct(u, ku, v, kv, Math.Max(a, b), m, a, b);
        var s = Lapack.SingularValues(M, a, b);
        for (int i = 0; i < s.Length; i++) s[i] = Math.Min(1.0, s[i]);
        return s;
    }

    /// <summary>U[:, :a]ᵀ·V[:, :b] (a×b, default a = b = k) for m-row bases held with ku / kv columns.</summary>
    private static double[] CrossProduct(double[] u, int ku, double[] v, int kv, int k, int m, int a = -1, int b = -1)
    {
        if (a < 0) a = k;
        if (b < 0) b = k;
        var ua = MatrixOps.ColumnBlock(u, m, ku, 0, a);
        var vb = MatrixOps.ColumnBlock(v, m, kv, 0, b);
        return Lapack.MatMul(ua, a, m, vb, b, transA: true);
    }

    /// <summary>
    /// β = ‖D‖_F / (‖B‖_F + ‖A‖_F) with D = B − A, A = W_ℓW_ℓᵀ, B = W_{ℓ+1}ᵀW_{ℓ+1} (m×m), computed without forming m×m:
    /// ‖D‖² = ‖A‖² + ‖B‖² − 2‖W_{ℓ+1}W_ℓ‖_F². β_diag [R] = ‖diag D‖₂ / (‖diag B‖₂ + ‖diag A‖₂), with
    /// diag(A)_i = ‖W_ℓ[i,:]‖², diag(B)_i = ‖W_{ℓ+1}[:,i]‖² (per-neuron balance).
    /// </summary>
    public static (double Beta, double BetaDiag) Imbalance(double[] wl, int m, int n, double[] wn, int p, double[]? product = null,
        double? productNorm2 = null)
    {
        double a2 = GramFrobenius2(wl, m, n);
        double b2 = GramFrobenius2(wn, p, m);
        double c2 = 0;
        if (product is null && productNorm2 is double pn2) c2 = pn2;
        else foreach (var x in product ?? Lapack.MatMul(wn, p, m, wl, n)) c2 += x * x;
        double d2 = Math.Max(0, a2 + b2 - 2 * c2);
        double den = Math.Sqrt(a2) + Math.Sqrt(b2);
        double beta = den > 0 ? Math.Sqrt(d2) / den : 0;

        var da = new double[m];
        var db = new double[m];
        for (int i = 0; i < m; i++)
        {
            double s = 0;
            foreach (var x in wl.AsSpan(i * n, n)) s += x * x;
            da[i] = s;
        }
        for (int r = 0; r < p; r++)
        {
            var row = wn.AsSpan(r * m, m);
            for (int i = 0; i < m; i++) db[i] += row[i] * row[i];
        }
        double dd = 0, na = 0, nb = 0;
        for (int i = 0; i < m; i++) { dd += (db[i] - da[i]) * (db[i] - da[i]); na += da[i] * da[i]; nb += db[i] * db[i]; }
        double den2 = Math.Sqrt(na) + Math.Sqrt(nb);
        return (beta, den2 > 0 ? Math.Sqrt(dd) / den2 : 0);
    }

    /// <summary>
    /// ‖W_{ℓ+1}W_ℓ‖_F² = ⟨W_ℓW_ℓᵀ, W_{ℓ+1}ᵀW_{ℓ+1}⟩ through two m×m Grams: m²(n+p) multiply-adds instead of the p·m·n of the
    /// product, and no p×n buffer (what convolution interfaces, with n and p counting taps, need).
    /// </summary>
    public static double ProductNorm2(double[] wl, int m, int n, double[] wn, int p)
    {
        var a = Lapack.Gram(wl, m, n, rowsGram: true);
        var b = Lapack.Gram(wn, p, m, rowsGram: false);
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return Math.Max(0, s);
    }

    /// <summary>‖X Xᵀ‖_F² = ‖Xᵀ X‖_F² through the Gram of the short side.</summary>
    internal static double GramFrobenius2(double[] x, int rows, int cols)
    {
        var g = Lapack.Gram(x, rows, cols, rowsGram: rows <= cols);
        double s = 0;
        foreach (var v in g) s += v * v;
        return s;
    }

    /// <summary>κ = ‖AB − BA‖_F / (√2‖A‖_F‖B‖_F) from the m×m Grams A = W_ℓW_ℓᵀ, B = W_{ℓ+1}ᵀW_{ℓ+1} (methods.md §3(b)).</summary>
    public static double CommutatorDense(double[] wl, int m, int n, double[] wn, int p)
    {
        var A = Lapack.Gram(wl, m, n, rowsGram: true);
        var B = Lapack.Gram(wn, p, m, rowsGram: false);
        var AB = Lapack.MatMul(A, m, m, B, m);
        // BA = (AB)ᵀ for symmetric A, B.
        double c2 = 0, a2 = 0, b2 = 0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++)
            {
                double d = AB[i * m + j] - AB[j * m + i];
                c2 += d * d;
            }
        foreach (var x in A) a2 += x * x;
        foreach (var x in B) b2 += x * x;
        return Normalise(c2, a2, b2);
    }

    /// <summary>
    /// κ by the factored formula, never forming an m×m matrix: with C = W_{ℓ+1}W_ℓ (p×n), G1 = W_ℓᵀW_ℓ (n×n),
    /// G2 = W_{ℓ+1}W_{ℓ+1}ᵀ (p×p): ‖AB−BA‖² = 2·tr(G2·C·G1·Cᵀ) − 2·‖CᵀC‖², ‖A‖ = ‖G1‖, ‖B‖ = ‖G2‖.
    /// </summary>
    public static double CommutatorFactored(double[] wl, int m, int n, double[] wn, int p)
    {
        var C = Lapack.MatMul(wn, p, m, wl, n);
        var G1 = Lapack.Gram(wl, m, n, rowsGram: false);
        var G2 = Lapack.Gram(wn, p, m, rowsGram: true);
        var G2C = Lapack.MatMul(G2, p, p, C, n);
        var CG1 = Lapack.MatMul(C, p, n, G1, n);
        double tr = 0;
        for (int i = 0; i < G2C.Length; i++) tr += G2C[i] * CG1[i];   // tr(G2·C·G1·Cᵀ) = Σ (G2C) ∘ (C G1)
        var ctc = Lapack.Gram(C, p, n, rowsGram: p <= n);            // ‖CᵀC‖_F = ‖CCᵀ‖_F
        double q = 0;
        foreach (var x in ctc) q += x * x;
        double a2 = 0, b2 = 0;
        foreach (var x in G1) a2 += x * x;
        foreach (var x in G2) b2 += x * x;
        return Normalise(2 * tr - 2 * q, a2, b2);
    }

    private static double Normalise(double c2, double a2, double b2)
    {
        if (a2 <= 0 || b2 <= 0) return 0;
        double k = Math.Sqrt(Math.Max(0, c2)) / (Math.Sqrt(2) * Math.Sqrt(a2) * Math.Sqrt(b2));
        return Math.Clamp(k, 0, 1);
    }
}

using Cartan.Linalg;

namespace Cartan.Alignment;

/// <summary>Which subspace of an attention head is compared (methods.md §3(c) FLAG.HeadOverlap).</summary>
public enum HeadKind { Q, K, V, O, QK, OV }

/// <summary>Settings of the head-overlap diagnostic. [R]: our operational definitions.</summary>
public sealed record HeadOverlapOptions
{
    /// <summary>Subspace rank r per head (clamped to d_h); null means d_h.</summary>
    public int? Rank { get; init; }
    /// <summary>Random-baseline draws for the z-score.</summary>
    public int Draws { get; init; } = 100;
    public int Seed { get; init; } = 12345;
    /// <summary>How many singular values per head are reported.</summary>
    public int SigmaCount { get; init; } = 8;
}

/// <summary>
/// Head subspace overlap of one attention block: HO(h,h') = ‖Q_hᵀQ_h'‖_F² / r (mean squared principal cosine),
/// its random baseline r/d and a seeded z-score of the mean off-diagonal overlap against random orthonormal bases.
/// </summary>
public sealed record HeadOverlapResult(HeadKind Kind, int NumHeads, int NumKvHeads, int HeadDim, int RankUsed,
    double[][] Sigma, double[][] Overlap, double MeanOffDiagonal, double Baseline, double RandomMean, double RandomStd, double ZScore);

public static class HeadOverlap
{
    /// <summary>
    /// Per-head orthonormal bases (d × r, row-major) of the chosen subspace. <paramref name="wq"/>, <paramref name="wk"/>,
    /// <paramref name="wv"/> are canonical [H·d_h or H_kv·d_h, d]; <paramref name="wo"/> is [d, H·d_h].
    /// </summary>
    public static (double[][] Bases, double[][] Sigma) Bases(HeadKind kind, double[]? wq, double[]? wk, double[]? wv, double[]? wo,
        int d, int heads, int kvHeads, int headDim, int r, int sigmaCount)
    {
        int H = kind is HeadKind.K or HeadKind.V ? kvHeads : heads;
        var bases = new double[H][];
        var sigma = new double[H][];
        for (int h = 0; h < H; h++)
        {
            int g = h * kvHeads / heads; // GQA: query head h reads KV head floor(h·H_kv/H)
            double[] sv;
            double[] basis;
            switch (kind)
            {
                case HeadKind.Q or HeadKind.K or HeadKind.V:
                {
                    var w = kind == HeadKind.Q ? wq! : kind == HeadKind.K ? wk! : wv!;
                    var block = w.AsSpan(h * headDim * d, headDim * d);     // d_h × d
                    var s = Lapack.TopSvd(block, headDim, d, r);
                    sv = s.S;
                    basis = s.V;                                             // read subspace in R^d: right vectors (d × r)
                    break;
                }
                case HeadKind.O:
                {
                    var block = MatrixOps.ColumnBlock(wo!, d, heads * headDim, h * headDim, headDim); // d × d_h
                    var s = Lapack.TopSvd(block, d, headDim, r);
                    sv = s.S;
                    basis = s.U;                                             // write subspace: left vectors (d × r)
                    break;
                }
                case HeadKind.QK:
                {
                    // M = W_Q[h]ᵀ W_K[g] (d×d, rank ≤ d_h): factor each side by its thin SVD, SVD the d_h×d_h core.
                    var q = Lapack.Svd(wq.AsSpan(h * headDim * d, headDim * d), headDim, d);   // Q_h = Uq Sq Vqᵀ
                    var k = Lapack.Svd(wk.AsSpan(g * headDim * d, headDim * d), headDim, d);   // K_g = Uk Sk Vkᵀ
                    // M = Vq (Sq Uqᵀ Uk Sk) Vkᵀ
                    var core = CoreProduct(q.U, q.S, k.U, k.S, headDim);
                    var c = Lapack.Svd(core, q.Rank, k.Rank);
                    basis = MatrixOps.ColumnBlock(Lapack.MatMul(q.V, d, q.Rank, c.U, c.Rank), d, c.Rank, 0, r);
                    sv = c.S;
                    break;
                }
                default:
                {
                    // M = W_O[:,h] W_V[g] (d×d): W_O[:,h] = Uo So Voᵀ, W_V[g] = Uv Sv Vvᵀ ⇒ M = Uo (So Voᵀ Uv Sv) Vvᵀ
                    var ob = MatrixOps.ColumnBlock(wo!, d, heads * headDim, h * headDim, headDim);
                    var os = Lapack.Svd(ob, d, headDim);
                    var vs = Lapack.Svd(wv.AsSpan(g * headDim * d, headDim * d), headDim, d);
                    var core = CoreProduct(os.V, os.S, vs.U, vs.S, headDim);
                    var c = Lapack.Svd(core, os.Rank, vs.Rank);
                    basis = MatrixOps.ColumnBlock(Lapack.MatMul(os.U, d, os.Rank, c.U, c.Rank), d, c.Rank, 0, r);
                    sv = c.S;
                    break;
                }
            }
            bases[h] = basis;
            sigma[h] = sv.Take(sigmaCount).ToArray();
        }
        return (bases, sigma);
    }

    public static HeadOverlapResult Compute(HeadKind kind, double[]? wq, double[]? wk, double[]? wv, double[]? wo,
        int d, int heads, int kvHeads, int headDim, HeadOverlapOptions? options = null)
    {
        var o = options ?? new();
        int r = Math.Clamp(o.Rank ?? headDim, 1, headDim);
        var (bases, sigma) = Bases(kind, wq, wk, wv, wo, d, heads, kvHeads, headDim, r, o.SigmaCount);
        var ov = OverlapMatrix(bases, d, r);
        double mean = MeanOffDiagonal(ov);
        var (rm, rs) = RandomBaseline(bases.Length, d, r, o.Draws, o.Seed);
        double z = rs > 0 ? (mean - rm) / rs : 0;
        return new HeadOverlapResult(kind, heads, kvHeads, headDim, r, sigma, ov, mean, (double)r / d, rm, rs, z);
    }

    /// <summary>
    /// HO(h,h') = ‖Q_hᵀQ_h'‖_F² / r for d×r orthonormal bases: one Gram of the concatenated bases [Q_1 … Q_H] (d × H·r),
    /// then the Frobenius norms of its r×r blocks.
    /// </summary>
    public static double[][] OverlapMatrix(double[][] bases, int d, int r)
    {
        int H = bases.Length, w = H * r;
        var cat = new double[d * w];
        for (int h = 0; h < H; h++)
            for (int i = 0; i < d; i++)
                bases[h].AsSpan(i * r, r).CopyTo(cat.AsSpan(i * w + h * r, r));
        var g = Lapack.Gram(cat, d, w, rowsGram: false); // (H·r)×(H·r)
        var m = new double[H][];
        for (int i = 0; i < H; i++) m[i] = new double[H];
        for (int i = 0; i < H; i++)
            for (int j = i; j < H; j++)
            {
                double s = 0;
                for (int a = 0; a < r; a++)
                    foreach (var x in g.AsSpan((i * r + a) * w + j * r, r)) s += x * x;
                m[i][j] = m[j][i] = s / r;
            }
        return m;
    }

    /// <summary>
    /// Cross-layer composition: C(h, h') = ‖A_hᵀB_h'‖_F² / r between the write subspaces A of one block (e.g. OV) and the
    /// read subspaces B of the next (e.g. QK), both d×r orthonormal bases in the residual stream R^d.
    /// </summary>
    public static double[][] CrossOverlap(double[][] a, double[][] b, int d, int r)
    {
        var m = new double[a.Length][];
        for (int i = 0; i < a.Length; i++)
        {
            m[i] = new double[b.Length];
            for (int j = 0; j < b.Length; j++)
            {
                var c = Lapack.MatMul(a[i], r, d, b[j], r, transA: true);
                double s = 0;
                foreach (var x in c) s += x * x;
                m[i][j] = s / r;
            }
        }
        return m;
    }

    public static double MeanOffDiagonal(double[][] m)
    {
        int H = m.Length;
        if (H < 2) return 0;
        double s = 0;
        for (int i = 0; i < H; i++)
            for (int j = 0; j < H; j++)
                if (i != j) s += m[i][j];
        return s / (H * (H - 1));
    }

    /// <summary>Mean and standard deviation, over seeded draws, of the mean off-diagonal overlap of H random r-dimensional subspaces of R^d.</summary>
    public static (double Mean, double Std) RandomBaseline(int H, int d, int r, int draws, int seed) =>
        BaselineCache.GetOrAdd((H, d, r, draws, seed), k => ComputeBaseline(k.H, k.d, k.r, k.draws, k.seed));

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(int H, int d, int r, int draws, int seed), (double, double)> BaselineCache = new();

    private static (double Mean, double Std) ComputeBaseline(int H, int d, int r, int draws, int seed)
    {
        if (H < 2 || draws < 2) return ((double)r / d, 0);
        var rng = new Random(seed);
        var vals = new double[draws];
        for (int t = 0; t < draws; t++)
        {
            var bases = new double[H][];
            for (int h = 0; h < H; h++) bases[h] = RandomOrthonormal(d, r, rng);
            vals[t] = MeanOffDiagonal(OverlapMatrix(bases, d, r));
        }
        double mean = vals.Average();
        double var = vals.Sum(v => (v - mean) * (v - mean)) / (draws - 1);
        return (mean, Math.Sqrt(var));
    }

    /// <summary>A d×r matrix with orthonormal columns, Haar-distributed (left singular vectors of a Gaussian matrix).</summary>
    public static double[] RandomOrthonormal(int d, int r, Random rng)
    {
        var g = new double[d * r];
        for (int i = 0; i < g.Length; i++) g[i] = Gaussian(rng);
        return Lapack.Svd(g, d, r).U;
    }

    internal static double Gaussian(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>diag(s1)·A1ᵀ·A2·diag(s2) where A1, A2 are n×k1, n×k2 row-major.</summary>
    private static double[] CoreProduct(double[] a1, double[] s1, double[] a2, double[] s2, int n)
    {
        int k1 = s1.Length, k2 = s2.Length;
        var c = Lapack.MatMul(a1, k1, n, a2, k2, transA: true);
        for (int i = 0; i < k1; i++)
            for (int j = 0; j < k2; j++)
                c[i * k2 + j] *= s1[i] * s2[j];
        return c;
    }
}

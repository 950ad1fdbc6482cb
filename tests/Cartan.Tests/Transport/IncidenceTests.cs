using Cartan.Linalg;
using Cartan.Transport;
using FsCheck.Xunit;

namespace Cartan.Tests.Transport;

/// <summary>Incidence matrices, channel aggregation and the end-to-end protocol (methods.md §2(b), §2(c) steps 6–11).</summary>
public class IncidenceTests
{
    private static double[] Random(SplitMix64 rng, int n) => Enumerable.Range(0, n).Select(_ => rng.NextGaussian()).ToArray();

    /// <summary>Brute force P[o,i] = sqrt(Σ_{t',t} M[o·T'+t', i·T+t]²) with explicit loops.</summary>
    private static double[] BruteAggregate(double[] m, int rows, int cols, int tRow, int tCol)
    {
        var p = new double[rows * cols];
        for (int o = 0; o < rows; o++)
            for (int i = 0; i < cols; i++)
            {
                double s = 0;
                for (int a = 0; a < tRow; a++)
                    for (int b = 0; b < tCol; b++)
                    {
                        double v = m[(o * tRow + a) * (cols * tCol) + i * tCol + b];
                        s += v * v;
                    }
                p[o * cols + i] = Math.Sqrt(s);
            }
        return p;
    }

    private static double[] Naive(double[] a, int m, int k, double[] b, int n)
    {
        var c = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int t = 0; t < k; t++) s += a[i * k + t] * b[t * n + j];
                c[i * n + j] = s;
            }
        return c;
    }

    /// <summary>Rank-k truncation of W/‖W‖_F through the full (dgesdd) SVD: Σ_{i&lt;k} s̃_i u_i v_iᵀ.</summary>
    private static double[] Truncate(double[] w, int m, int n, int k)
    {
        var svd = Lapack.Svd(w, m, n);
        double norm = Math.Sqrt(w.Sum(x => x * x));
        var t = new double[m * n];
        for (int r = 0; r < k; r++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                    t[i * n + j] += svd.S[r] / norm * svd.U[i * svd.Rank + r] * svd.V[j * svd.Rank + r];
        return t;
    }

    [Property(MaxTest = 100, QuietOnSuccess = true)]
    public void Aggregation_equals_brute_force_and_is_1_Lipschitz(ulong seed)
    {
        var rng = new SplitMix64(seed);
        int rows = 1 + rng.NextInt(5), cols = 1 + rng.NextInt(5), tr = 1 + rng.NextInt(4), tc = 1 + rng.NextInt(4);
        var m1 = Random(rng, rows * tr * cols * tc);
        var m2 = m1.Select(x => x + 0.3 * rng.NextGaussian()).ToArray();
        var p1 = Incidence.Aggregate(m1, rows * tr, cols * tc, tr, tc);
        var p2 = Incidence.Aggregate(m2, rows * tr, cols * tc, tr, tc);
        var b1 = BruteAggregate(m1, rows, cols, tr, tc);
        for (int i = 0; i < p1.Length; i++) Assert.Equal(b1[i], p1[i], 14);
        Assert.True(Incidence.FrobeniusDistance(p1, p2) <= Incidence.FrobeniusDistance(m1, m2) * (1 + 1e-14));
    }

    [Fact]
    public void Physical_incidence_matches_naive_products_of_truncations_with_conv_taps()
    {
        var rng = new SplitMix64(11);
        int I = 3, T = 2, m = 5, O = 4, T2 = 3; // W_ℓ: 5×(3·2), W_{ℓ+1} in-view: (4·3)×5
        int n = I * T, p = O * T2, k = 2, k2 = 3;
        var wl = Random(rng, m * n);
        var wn = Random(rng, p * m);
        var inc = Incidence.Physical(wl, m, n, wn, p, k, k2, T, T2);
        Assert.Equal((O, I), (inc.Rows, inc.Cols));
        double nl = Math.Sqrt(wl.Sum(x => x * x)), nn = Math.Sqrt(wn.Sum(x => x * x));
        var mFull = Naive(wn, p, m, wl, n).Select(x => x / (nl * nn)).ToArray();
        var mTrunc = Naive(Truncate(wn, p, m, k2), p, m, Truncate(wl, m, n, k), n);
        var pf = BruteAggregate(mFull, O, I, T2, T);
        var pt = BruteAggregate(mTrunc, O, I, T2, T);
        for (int i = 0; i < pf.Length; i++)
        {
            Assert.Equal(pf[i], inc.Full[i], 12);
            Assert.Equal(pt[i], inc.Truncated[i], 10);
        }
        Assert.Equal(Incidence.FrobeniusDistance(mFull, mTrunc), inc.IncidenceDelta, 10);
        Assert.True(inc.Delta <= inc.IncidenceDelta * (1 + 1e-12));
        // Orthogonal invariance: ‖M_full − M_trunc‖_F = ‖K − K^(k)‖_F of the interface transport (same windows).
        var sl = Lapack.SingularValues(wl, m, n);
        var sn = Lapack.SingularValues(wn, p, m);
        var tr = InterfaceTransport.Compute(wl, m, n, sl, wn, p, sn);
        var inc2 = Incidence.Physical(wl, m, n, wn, p, tr.KFrom, tr.KTo, T, T2);
        Assert.Equal(tr.Error, inc2.IncidenceDelta, 7);
        Assert.True(inc2.IncidenceDelta <= tr.Bound + 1e-7);
    }

    [Fact]
    public void Source_mode_incidence_matches_its_definition()
    {
        var rng = new SplitMix64(5);
        int m = 4, n = 6, p = 6, T2 = 2, k = 2, k2 = 2;
        var wl = Random(rng, m * n);
        var wn = Random(rng, p * m);
        var inc = Incidence.SourceMode(wl, m, n, wn, p, k, k2, T2);
        Assert.Equal((p / T2, m), (inc.Rows, inc.Cols)); // r = rank(W_ℓ) = 4 source modes
        var svd = Lapack.Svd(wl, m, n);
        double nl = Math.Sqrt(wl.Sum(x => x * x)), nn = Math.Sqrt(wn.Sum(x => x * x));
        int r = 4;
        var us = new double[m * r];
        for (int i = 0; i < m; i++) for (int j = 0; j < r; j++) us[i * r + j] = svd.U[i * svd.Rank + j] * svd.S[j] / nl;
        var mFull = Naive(wn, p, m, us, r).Select(x => x / nn).ToArray();
        var usk = us.Select((x, idx) => idx % r < k ? x : 0).ToArray(); // U_k diag(s̃_k), zero-padded
        var mTrunc = Naive(Truncate(wn, p, m, k2), p, m, usk, r);
        var pf = BruteAggregate(mFull, p / T2, r, T2, 1);
        var pt = BruteAggregate(mTrunc, p / T2, r, T2, 1);
        for (int i = 0; i < pf.Length; i++)
        {
            Assert.Equal(pf[i], inc.Full[i], 12);
            Assert.Equal(pt[i], inc.Truncated[i], 10);
        }
        // The transport bound √T'·s̃_1 + s̃'_1·√T also bounds the source-mode incidence error.
        var sl = Lapack.SingularValues(wl, m, n);
        var sn = Lapack.SingularValues(wn, p, m);
        double tl = InterfaceTransport.Tail(sl, k), tn = InterfaceTransport.Tail(sn, k2);
        double bound = Math.Sqrt(tn) * sl[0] / nl + sn[0] / nn * Math.Sqrt(tl);
        Assert.True(inc.IncidenceDelta <= bound + 1e-12);
    }

    [Fact]
    public void Exact_low_rank_structured_pair_passes_with_zero_delta()
    {
        // W_ℓ (2×4) routes input 0 → interface 0 and input 2 → interface 1; W_{ℓ+1} (4×2) fans each out to its own row group.
        double[] wl = [1, 0.05, 0, 0,
                       0, 0, 1, 0.05];
        double[] wn = [1, 0, 0.9, 0.1, 0, 1, 0.1, 0.9];
        var res = PamProtocol.CertifyPair(wl, 2, 4, wn, 4, 2, 2, 0.0, RowGroups.EqualBlocks(4, 2));
        Assert.True(res.Delta < 1e-14);
        Assert.True(res.Pass);
        Assert.True(res.SupportsEqual);
        Assert.True(res.Certificate.Agreement.All);
        Assert.True(res.LabelsPass);
        Assert.Equal([4, 4], res.Shape);
        Assert.Equal([0], res.Full.Supports[0].ToArray());
        Assert.Equal([2], res.Full.Supports[1].ToArray());
        Assert.Equal(new Dictionary<string, string> { ["0"] = "SC", ["1"] = "SC" }, res.Labels);
        Assert.Empty(res.Edges);
        Assert.Empty(res.Hubs);
        Assert.Equal([1, 1], res.SrsSizes);
        Assert.Equal(1.0, res.BlockEnergy.Sum(), 12);
        Assert.Equal(2, res.RowGroupCount);
        Assert.True(res.Radius > 0.1);
        // Source mode on the same pair: columns are the 2 modes of W_ℓ.
        var src = PamProtocol.CertifyPair(wl, 2, 4, wn, 4, 2, 2, 0.0, RowGroups.EqualBlocks(4, 2),
            new PamOptions { Incidence = IncidenceKind.SourceMode });
        Assert.Equal([4, 2], src.Shape);
        Assert.True(src.Delta < 1e-14);
    }

    [Property(MaxTest = 30, QuietOnSuccess = true)]
    public void Exact_low_rank_conv_pairs_have_zero_delta_and_consistent_verdicts(ulong seed)
    {
        var rng = new SplitMix64(seed);
        int rank = 1 + rng.NextInt(3), I = 2 + rng.NextInt(3), T = 1 + rng.NextInt(3), O = 2 + rng.NextInt(4), T2 = 1 + rng.NextInt(3);
        int m = rank + 2 + rng.NextInt(3), n = I * T, p = O * T2;
        // W_ℓ = A·B and W_{ℓ+1} = C·D of exact rank ≤ `rank`: windows k = k' = rank capture everything.
        var wl = Naive(Random(rng, m * rank), m, rank, Random(rng, rank * n), n);
        var wn = Naive(Random(rng, p * rank), p, rank, Random(rng, rank * m), m);
        var groups = RowGroups.EqualBlocks(O, Math.Min(O, 2));
        var res = PamProtocol.CertifyPair(wl, m, n, wn, p, rank, rank, null, groups, new PamOptions { NuMax = 1 }, T, T2);
        double scale = Math.Sqrt(res.Incidence.Full.Sum(x => x * x));
        Assert.True(res.Delta <= 1e-12 * scale + 1e-15, $"δ = {res.Delta}");
        Assert.True(res.Incidence.IncidenceDelta <= 1e-12 * scale + 1e-15);
        Assert.Equal(res.Radius > res.Epsilon && res.Certificate.NoiseBoundHolds, res.Pass);
        if (res.Pass) Assert.True(res.SupportsEqual);
    }

    [Fact]
    public void Interface_dimension_mismatch_and_bad_taps_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => Incidence.Physical(new double[6], 2, 3, new double[9], 3, 1, 1));
        Assert.Throws<ArgumentException>(() => Incidence.Physical(new double[6], 2, 3, new double[6], 3, 1, 1, tapsFrom: 2));
        Assert.Throws<ArgumentException>(() => Incidence.Aggregate(new double[6], 2, 3, 3, 1));
    }
}

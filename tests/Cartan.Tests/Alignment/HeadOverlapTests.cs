using Cartan.Alignment;
using static Cartan.Tests.Alignment.AlignmentTestUtil;

namespace Cartan.Tests.Alignment;

public class HeadOverlapTests
{
    /// <summary>W_Q with 4 heads of d_h = 4 in R^16: heads 0 and 1 share a row space, heads 2 and 3 are orthogonal to everything.</summary>
    private static double[] ConstructedQ(Random rng, out double[] R)
    {
        int d = 16, dh = 4;
        R = Orthogonal(d, rng);
        var w = new double[4 * dh * d];
        int[][] dirs = [[0, 1, 2, 3], [0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]];
        for (int h = 0; h < 4; h++)
        {
            var mix = Gaussian(dh, dh, rng); // a different invertible mix per head: same span
            for (int i = 0; i < dh; i++)
                for (int c = 0; c < d; c++)
                {
                    double x = 0;
                    for (int t = 0; t < dh; t++) x += mix[i * dh + t] * R[c * d + dirs[h][t]];
                    w[(h * dh + i) * d + c] = x;
                }
        }
        return w;
    }

    [Fact]
    public void Overlaps_are_exact_on_constructed_heads()
    {
        var rng = new Random(21);
        var wq = ConstructedQ(rng, out _);
        var r = HeadOverlap.Compute(HeadKind.Q, wq, null, null, null, d: 16, heads: 4, kvHeads: 4, headDim: 4);
        Assert.Equal(1.0, r.Overlap[0][1], 10);
        Assert.Equal(0.0, r.Overlap[0][2], 10);
        Assert.Equal(0.0, r.Overlap[2][3], 10);
        for (int h = 0; h < 4; h++) Assert.Equal(1.0, r.Overlap[h][h], 10);
        Assert.Equal(4.0 / 16, r.Baseline, 12);
    }

    [Fact]
    public void QK_and_OV_subspaces_come_from_the_small_cores()
    {
        var rng = new Random(22);
        int d = 12, H = 3, dh = 2;
        var wq = Gaussian(H * dh, d, rng);
        var wk = Gaussian(H * dh, d, rng);
        var wv = Gaussian(H * dh, d, rng);
        var wo = Gaussian(d, H * dh, rng);
        var (qk, _) = HeadOverlap.Bases(HeadKind.QK, wq, wk, wv, wo, d, H, H, dh, dh, 4);
        var (ov, _) = HeadOverlap.Bases(HeadKind.OV, wq, wk, wv, wo, d, H, H, dh, dh, 4);
        // The QK left subspace is the row space of W_Q[h]; the OV left subspace is the column space of W_O[:, h].
        for (int h = 0; h < H; h++)
        {
            var qh = new double[dh * d];
            Array.Copy(wq, h * dh * d, qh, 0, dh * d);
            var qb = Cartan.Linalg.Lapack.Svd(qh, dh, d).V;      // d × dh
            Assert.Equal(1.0, HeadOverlap.OverlapMatrix([qk[h], qb], d, dh)[0][1], 10);
            var oh = new double[d * dh];
            for (int i = 0; i < d; i++) for (int j = 0; j < dh; j++) oh[i * dh + j] = wo[i * H * dh + h * dh + j];
            var ob = Cartan.Linalg.Lapack.Svd(oh, d, dh).U;      // d × dh
            Assert.Equal(1.0, HeadOverlap.OverlapMatrix([ov[h], ob], d, dh)[0][1], 10);
        }
    }

    [Fact]
    public void Gqa_maps_query_heads_to_their_kv_head()
    {
        var rng = new Random(23);
        int d = 16, H = 4, G = 2, dh = 4;
        var wq = Gaussian(H * dh, d, rng);
        var wk = Gaussian(G * dh, d, rng);
        var r = HeadOverlap.Compute(HeadKind.K, null, wk, null, null, d, H, G, dh);
        Assert.Equal(2, r.Overlap.Length);
        var qk = HeadOverlap.Compute(HeadKind.QK, wq, wk, null, null, d, H, G, dh);
        Assert.Equal(4, qk.Overlap.Length);
    }

    [Fact]
    public void Random_heads_have_a_z_score_within_three()
    {
        for (int seed = 0; seed < 5; seed++)
        {
            var rng = new Random(100 + seed);
            int d = 32, H = 6, dh = 4;
            var wv = Gaussian(H * dh, d, rng);
            var r = HeadOverlap.Compute(HeadKind.V, null, null, wv, null, d, H, H, dh, new HeadOverlapOptions { Seed = seed });
            Assert.InRange(r.ZScore, -3, 3);
            Assert.InRange(r.RandomMean, 0.5 * dh / d, 2.0 * dh / d);
        }
    }

    [Fact]
    public void Cross_layer_composition_is_exact_on_shared_and_orthogonal_subspaces()
    {
        var rng = new Random(31);
        int d = 12, r = 3;
        var R = Orthogonal(d, rng);
        double[] Basis(int first)
        {
            var b = new double[d * r];
            for (int i = 0; i < d; i++) for (int j = 0; j < r; j++) b[i * r + j] = R[i * d + first + j];
            return b;
        }
        var writes = new[] { Basis(0), Basis(3) };
        var reads = new[] { Basis(3), Basis(6), Basis(0) };
        var m = HeadOverlap.CrossOverlap(writes, reads, d, r);
        Assert.Equal(0.0, m[0][0], 12);
        Assert.Equal(1.0, m[0][2], 12);
        Assert.Equal(1.0, m[1][0], 12);
        Assert.Equal(0.0, m[1][1], 12);
    }
}

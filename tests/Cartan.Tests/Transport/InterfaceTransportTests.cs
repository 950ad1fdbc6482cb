using Cartan.Linalg;
using Cartan.Tests.Alignment;
using Cartan.Transport;

namespace Cartan.Tests.Transport;

public class InterfaceTransportTests
{
    /// <summary>‖K − K^(k)‖_F computed the long way: full SVDs of both sides, K = diag(s̃')V'ᵀU diag(s̃), zero the window.</summary>
    private static double DirectError(double[] wl, int m, int n, double[] wn, int p, int k, int k2)
    {
        var a = Lapack.Svd(wl, m, n);
        var b = Lapack.Svd(wn, p, m);
        double na = Math.Sqrt(a.S.Sum(x => x * x)), nb = Math.Sqrt(b.S.Sum(x => x * x));
        var T = Lapack.MatMul(b.V, b.Rank, m, a.U, a.Rank, transA: true); // r'×r
        double e2 = 0;
        for (int i = 0; i < b.Rank; i++)
            for (int j = 0; j < a.Rank; j++)
            {
                if (i < k2 && j < k) continue;
                double x = b.S[i] / nb * T[i * a.Rank + j] * a.S[j] / na;
                e2 += x * x;
            }
        return Math.Sqrt(e2);
    }

    private static double[] WithSpectrum(int rows, int cols, double[] s, Random rng, double[]? leftBasis = null)
    {
        int k = s.Length;
        var u = leftBasis ?? Cartan.Alignment.HeadOverlap.RandomOrthonormal(rows, k, rng);
        var v = Cartan.Alignment.HeadOverlap.RandomOrthonormal(cols, k, rng);
        return AlignmentTestUtil.Compose(u, rows, s, v, cols);
    }

    [Fact]
    public void Oracle5_truncation_bound_holds_on_10000_random_pairs_including_adversarial_ones()
    {
        var rng = new Random(5);
        int checkedDirect = 0;
        for (int trial = 0; trial < 10_000; trial++)
        {
            int m = rng.Next(2, 9), n = rng.Next(2, 9), p = rng.Next(2, 9);
            double[] wl, wn;
            int kind = trial % 4;
            if (kind == 0)
            {
                wl = AlignmentTestUtil.Gaussian(m, n, rng);
                wn = AlignmentTestUtil.Gaussian(p, m, rng);
            }
            else
            {
                // Heavy-tailed spectra; adversarial kinds align V' with U (kind 1) or with U reversed (kind 2).
                int r = Math.Min(m, n), r2 = Math.Min(p, m);
                double alpha = rng.NextDouble() * 3;
                var s1 = Enumerable.Range(1, r).Select(i => Math.Pow(i, -alpha)).ToArray();
                var s2 = Enumerable.Range(1, r2).Select(i => Math.Pow(i, -alpha * rng.NextDouble())).ToArray();
                var U = Cartan.Alignment.HeadOverlap.RandomOrthonormal(m, m, rng);
                var ul = new double[m * r];
                for (int i = 0; i < m; i++) for (int j = 0; j < r; j++) ul[i * r + j] = U[i * m + j];
                wl = WithSpectrum(m, n, s1, rng, ul);
                var vb = new double[m * r2];
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < r2; j++)
                        vb[i * r2 + j] = kind == 1 ? U[i * m + j] : kind == 2 ? U[i * m + (m - 1 - j)] : U[i * m + (j + m / 2) % m];
                var q = Cartan.Alignment.HeadOverlap.RandomOrthonormal(p, r2, rng);
                wn = AlignmentTestUtil.Compose(q, p, s2, vb, m);
            }
            var sl = Lapack.SingularValues(wl, m, n);
            var sn = Lapack.SingularValues(wn, p, m);
            var t = InterfaceTransport.Compute(wl, m, n, sl, wn, p, sn, new TransportOptions { Q = 0.3 + 0.69 * rng.NextDouble() });
            Assert.True(t.BoundHolds, $"trial {trial}: error {t.Error} > bound {t.Bound}");
            Assert.True(t.Bound <= Math.Sqrt(t.TailTo) + Math.Sqrt(t.TailFrom) + 1e-12);
            Assert.InRange(t.Alignment, 0, 1 + 1e-9);
            if (trial % 20 == 0)
            {
                double direct = DirectError(wl, m, n, wn, p, t.KFrom, t.KTo);
                Assert.True(Math.Abs(direct - t.Error) <= 1e-7, $"trial {trial}: factored error {t.Error} vs direct {direct}");
                checkedDirect++;
            }
        }
        Assert.Equal(500, checkedDirect);
    }

    [Fact]
    public void Bound_is_approached_when_the_tail_is_concentrated_and_aligned()
    {
        // W_ℓ = diag(1, t), W_{ℓ+1} = diag(1, t) with identical bases: K = diag(s̃'∘s̃); window k = k' = 1 leaves the
        // single entry s̃_2·s̃'_2 = t²/(1+t²) while the bound is 2·t/(1+t²)·... → both vanish like t² vs t.
        double t = 0.1;
        double[] w = [1, 0, 0, t];
        var s = Lapack.SingularValues(w, 2, 2);
        var r = InterfaceTransport.Compute(w, 2, 2, s, w, 2, s, new TransportOptions { Q = 0.5 });
        Assert.Equal(1, r.KFrom);
        Assert.Equal(t * t / (1 + t * t), r.Error, 12);
        double st = t / Math.Sqrt(1 + t * t), s1 = 1 / Math.Sqrt(1 + t * t);
        Assert.Equal(2 * st * s1, r.Bound, 12);
        // Misaligned: W_{ℓ+1} reads the tail direction with its top mode — the error reaches the first bound term.
        double[] wn = [t, 0, 0, 1];
        var r2 = InterfaceTransport.Compute(w, 2, 2, s, wn, 2, s, new TransportOptions { Q = 0.5 });
        Assert.Equal(Math.Sqrt(2) * s1 * st, r2.Error, 12);                // K = [[0, s̃₁s̃₂], [s̃₂s̃₁, 0]], window keeps K₁₁ = 0
        Assert.Equal(2 * s1 * st, r2.Bound, 12);                         // error / bound = 1/√2
        Assert.True(r2.Error <= r2.Bound + 1e-12);
    }

    [Fact]
    public void Effective_rank_and_tail_follow_their_definitions()
    {
        double[] s = [3, 2, 1, 1];           // energies 9,4,1,1 of 15
        Assert.Equal(1, InterfaceTransport.EffectiveRank(s, 0.5));
        Assert.Equal(2, InterfaceTransport.EffectiveRank(s, 0.8));
        Assert.Equal(3, InterfaceTransport.EffectiveRank(s, 0.9));
        Assert.Equal(4, InterfaceTransport.EffectiveRank(s, 0.99));
        Assert.Equal(2.0 / 15, InterfaceTransport.Tail(s, 2), 15);
        Assert.Equal(0, InterfaceTransport.Tail(s, 4));
    }

    [Fact]
    public void Certified_bound_uses_model_tail_plus_fit_error_and_prediction_the_model_alone()
    {
        var rng = new Random(3);
        var wl = AlignmentTestUtil.Gaussian(6, 5, rng);
        var wn = AlignmentTestUtil.Gaussian(4, 6, rng);
        var sl = Lapack.SingularValues(wl, 6, 5);
        var sn = Lapack.SingularValues(wn, 4, 6);
        var r = InterfaceTransport.Compute(wl, 6, 5, sl, wn, 4, sn, null, _ => 0.05, _ => 0.02);
        double nl = Math.Sqrt(sl.Sum(x => x * x)), nn = Math.Sqrt(sn.Sum(x => x * x));
        double cl = 0.05 + Math.Abs(r.TailFrom - 0.05), cn = 0.02 + Math.Abs(r.TailTo - 0.02);
        Assert.Equal(Math.Sqrt(cn) * sl[0] / nl + sn[0] / nn * Math.Sqrt(cl), r.CertifiedBound!.Value, 12);
        Assert.Equal(Math.Sqrt(0.02) * sl[0] / nl + sn[0] / nn * Math.Sqrt(0.05), r.PredictedBound!.Value, 12);
        Assert.True(r.CertifiedBound >= r.Bound - 1e-12); // tail + |tail − model| ≥ tail
    }
}

using Cartan.Pruning;

namespace Cartan.Tests.Pruning;

public class SparsityProfileTests
{
    [Theory]
    [InlineData(0.5, 0.08)]
    [InlineData(0.7, 0.2)]
    [InlineData(0.05, 0.1)]
    [InlineData(0.95, 0.08)]
    public void Every_profile_keeps_the_parameter_weighted_average_exactly(double s, double lambda)
    {
        var r = new Random((int)(s * 100 + lambda * 1000));
        for (int trial = 0; trial < 50; trial++)
        {
            int L = 1 + r.Next(40);
            var p = Enumerable.Range(0, L).Select(_ => (long)(1 + r.Next(1_000_000))).ToArray();
            // skewed metrics so that clipping is active
            var d = Enumerable.Range(0, L).Select(_ => Math.Pow(r.NextDouble(), 4)).ToArray();
            var h = Enumerable.Range(0, L).Select(_ => r.NextDouble() < 0.1 ? (double?)null : 3 * r.NextDouble()).ToArray();
            foreach (var prof in new[] { SparsityProfiles.Uniform(L, s), SparsityProfiles.Owl(d, p, s, lambda), SparsityProfiles.Spectral(h, p, s, lambda) })
            {
                Assert.Equal(s, SparsityProfiles.WeightedMean(prof, p), 1e-12);
                Assert.All(prof, x => Assert.InRange(x, Math.Max(0, s - lambda) - 1e-15, Math.Min(0.999, s + lambda) + 1e-15));
            }
        }
    }

    [Fact]
    public void More_outliers_and_heavier_tails_get_lower_sparsity()
    {
        var p = new long[] { 100, 100, 100, 100 };
        var owl = SparsityProfiles.Owl([0.01, 0.02, 0.03, 0.04], p, 0.5, 0.08);
        Assert.True(owl[0] > owl[1] && owl[1] > owl[2] && owl[2] > owl[3]);
        Assert.Equal(0.58, owl[0], 1e-12); // n = 2λ·(0, 1/3, 2/3, 1), mean λ → s + λ at the fewest outliers
        var spec = SparsityProfiles.Spectral([1.0, 2.0, 3.0, 4.0], p, 0.5, 0.1);
        Assert.True(spec[0] > spec[1] && spec[1] > spec[2] && spec[2] > spec[3]);
        Assert.Equal(0.6, spec[0], 1e-12);
        Assert.Equal(0.4, spec[3], 1e-12);
        Assert.Equal(SparsityProfiles.Uniform(3, 0.5), SparsityProfiles.Owl([0.2, 0.2, 0.2], [1, 2, 3], 0.5, 0.08));
    }

    [Fact]
    public void Outlier_ratio_counts_scores_above_M_times_the_mean()
    {
        var s = new double[] { 1, 1, 1, 1, 1, 1, 1, 1, 1, 100 }; // mean 10.9; 100 > 5·10.9
        Assert.Equal(0.1, SparsityProfiles.OutlierRatio(s, 5), 1e-15);
        Assert.Equal(0.0, SparsityProfiles.OutlierRatio(s, 10), 1e-15);
    }

    [Fact]
    public void Heavy_tail_orientation_ranks_a_steeper_spectrum_as_heavier()
    {
        int d = 40;
        var steep = Enumerable.Range(1, d).Select(i => Math.Pow(i, -1.5)).ToArray();
        var flat = Enumerable.Range(1, d).Select(i => Math.Pow(i, -0.3)).ToArray();
        foreach (var m in new[] { SpectralMetric.AlphaMle, SpectralMetric.Tau, SpectralMetric.EffectiveRank })
            Assert.True(SparsityProfiles.HeavyTail(steep, d, d, m) > SparsityProfiles.HeavyTail(flat, d, d, m), m.ToString());
    }
}

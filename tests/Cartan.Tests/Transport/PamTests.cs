using Cartan.Transport;
using FsCheck.Xunit;
using static Cartan.Tests.Transport.PamTestData;

namespace Cartan.Tests.Transport;

/// <summary>PAM derived quantities, the orthogonal split, ICM labels and block energies (methods.md §2(b)).</summary>
public class PamTests
{
    [Property(MaxTest = 200, QuietOnSuccess = true)]
    public void Energy_split_is_exact_and_masks_partition_the_matrix(ulong seed)
    {
        var c = RandomCase(seed);
        var s = Pam.Analyze(c.P, c.Rows, c.Cols, c.Groups, c.Options);
        double total = c.P.Sum(x => x * x);
        Assert.True(Math.Abs(s.Energy.Core + s.Energy.Overlap + s.Energy.Noise - total) <= 1e-12 * total);
        Assert.Equal(1.0, s.Energy.CoreFraction + s.Energy.OverlapFraction + s.Energy.NoiseFraction, 12);
        // Brute-force masks from the definitions.
        var groupOf = new int[c.Rows];
        for (int g = 0; g < c.Groups.Length; g++) foreach (var i in c.Groups[g]) groupOf[i] = g;
        double core = 0, over = 0, noise = 0;
        for (int i = 0; i < c.Rows; i++)
            for (int j = 0; j < c.Cols; j++)
            {
                int g = groupOf[i];
                int n = Enumerable.Range(0, c.Groups.Length).Count(h => s.Supports[h].Contains(j));
                Assert.Equal(n, s.Multiplicity[j]);
                var expect = !s.Supports[g].Contains(j) ? PamMaskClass.Noise : n == 1 ? PamMaskClass.Core : PamMaskClass.Overlap;
                Assert.Equal(expect, s.Mask[i * c.Cols + j]);
                double v2 = c.P[i * c.Cols + j] * c.P[i * c.Cols + j];
                if (expect == PamMaskClass.Core) core += v2; else if (expect == PamMaskClass.Overlap) over += v2; else noise += v2;
            }
        Assert.Equal(core, s.Energy.Core, 12);
        Assert.Equal(over, s.Energy.Overlap, 12);
        Assert.Equal(noise, s.Energy.Noise, 12);
        for (int g = 0; g < c.Groups.Length; g++)
        {
            double eg = c.Groups[g].Sum(i => Enumerable.Range(0, c.Cols).Sum(j => c.P[i * c.Cols + j] * c.P[i * c.Cols + j]));
            Assert.Equal(eg, s.GroupEnergy[g], 12);
            Assert.Equal(eg, s.GroupCore[g] + s.GroupOverlap[g] + s.GroupNoise[g], 12);
            Assert.Equal(s.Srs[g].ToArray(), s.Supports[g].Where(j => s.Multiplicity[j] == 1).ToArray());
        }
        int hmin = c.Options.HubMin ?? Math.Max(3, (int)Math.Ceiling(0.25 * c.Groups.Length));
        Assert.Equal(Enumerable.Range(0, c.Cols).Where(j => s.Multiplicity[j] >= hmin).ToArray(), s.Hubs.ToArray());
        // Graph: g < h with a common support column (and ω ≥ θ_ω when set).
        var edges = new List<(int, int)>();
        for (int g = 0; g < c.Groups.Length; g++)
            for (int h = g + 1; h < c.Groups.Length; h++)
            {
                var common = s.Supports[g].Intersect(s.Supports[h]).ToArray();
                if (common.Length == 0) continue;
                double w = common.Sum(j => Math.Min(s.E(g, j) / s.GroupEnergy[g], s.E(h, j) / s.GroupEnergy[h]));
                if (c.Options.EdgeWeightThreshold is not double t || w >= t) edges.Add((g, h));
            }
        Assert.Equal(edges, s.Edges.Select(e => (e.G, e.H)).ToList());
    }

    [Fact]
    public void Thresholds_come_from_P_full_and_are_reused()
    {
        double[] p = [4, 1, 1, 1];
        var s = Pam.Analyze(p, 1, 4, [[0]]);
        Assert.Equal(2 * 19.0 / 4, s.Thresholds[0]);
        Assert.Equal([0], s.Supports[0].ToArray());
        // A truncated matrix with all energy halved keeps θ from P_full: column 0 (e = 8) drops below 9.5.
        double[] q = [4 / Math.Sqrt(2), 1 / Math.Sqrt(2), 1 / Math.Sqrt(2), 1 / Math.Sqrt(2)];
        var t = Pam.Analyze(q, 1, 4, [[0]], null, s.Thresholds);
        Assert.Equal(s.Thresholds.ToArray(), t.Thresholds.ToArray());
        Assert.Empty(t.Supports[0]);
        Assert.Equal(1.0, t.NoiseFraction[0], 14);
    }

    [Fact]
    public void Energy_quantile_support_is_the_minimal_top_set_of_P_full()
    {
        // Energies 16, 9, 4, 1 (E = 30). q_s = 0.8 → 16 + 9 = 25 ≥ 24: S = {0, 1}; θ = (9 + 4)/2.
        double[] p = [1, 3, 2, 4];
        var o = new PamOptions { Support = SupportRule.EnergyQuantile, SupportQuantile = 0.8 };
        var s = Pam.Analyze(p, 1, 4, [[0]], o);
        Assert.Equal(6.5, s.Thresholds[0]);
        Assert.Equal([1, 3], s.Supports[0].ToArray());
        var m = Certificate.Margins(s, o);
        Assert.Equal(2.5, m.GammaAct, 14);
    }

    [Fact]
    public void Zero_group_is_pure_noise_with_empty_support_and_fails()
    {
        double[] p = [3, 0, 0,
                      0, 0, 0];
        int[][] g = [[0], [1]];
        var cert = Certificate.Compute(p, p, 2, 3, g, null);
        Assert.Empty(cert.Full.Supports[1]);
        Assert.Equal(1.0, cert.Full.NoiseFraction[1]);
        Assert.Equal(0.0, cert.Radius);
        Assert.False(cert.Pass);
        var l = Icm.Labels(cert.Full);
        Assert.Equal(IcmLabel.ST, l.Labels[1]);
        Assert.Equal(IcmLabel.SC, l.Labels[0]);
    }

    /// <summary>Hand-built PAM with one group of each label, checked against hand arithmetic.</summary>
    [Fact]
    public void Icm_labels_follow_the_rules_on_a_hand_built_pam()
    {
        // 8 rows in 4 groups of 2, 6 columns. A and B share columns 0, 1 (SA); C owns column 3 (SC); D is flat (ST).
        double[] row(params double[] v) => v;
        double[][] rows =
        [
            row(3, 3, 0, 0, 0, 0.1), row(3, 3, 0, 0, 0, 0.1),   // A
            row(3, 2.5, 0, 0, 0.1, 0), row(3, 2.5, 0, 0, 0.1, 0), // B
            row(0, 0, 0, 3, 0, 0.2), row(0, 0, 0, 3, 0, 0),     // C
            row(1, 1, 1, 1, 1, 1), row(1, 1, 1, 1, 1, 1),       // D
        ];
        var p = rows.SelectMany(r => r).ToArray();
        int[][] g = [[0, 1], [2, 3], [4, 5], [6, 7]];
        var s = Pam.Analyze(p, 8, 6, g);
        Assert.Equal([0, 1], s.Supports[0].ToArray());
        Assert.Equal([0, 1], s.Supports[1].ToArray());
        Assert.Equal([3], s.Supports[2].ToArray());
        Assert.Empty(s.Supports[3]); // e = 2 everywhere, θ = 2·12/6 = 4
        var l = Icm.Labels(s);
        Assert.Equal([IcmLabel.SA, IcmLabel.SA, IcmLabel.SC, IcmLabel.ST], l.Labels.ToArray());
        // Hand values: A: E = 36.02, overlap 36, core 0. C: E = 18.04, core 18.
        Assert.Equal(36 / 36.02, l.Overlap[0], 12);
        Assert.Equal(0.0, l.Core[0]);
        Assert.Equal(18 / 18.04, l.Core[2], 12);
        Assert.Equal(1.0, l.Noise[3]);
        // ρ_AB is a Pearson correlation of e_A = (18, 18, 0, 0, 0, 0.02) and e_B = (18, 12.5, 0, 0, 0.02, 0).
        double[] ea = [18, 18, 0, 0, 0, 0.02], eb = [18, 12.5, 0, 0, 0.02, 0];
        Assert.Equal(Pearson(ea, eb), l.Rho[0 * 4 + 1], 12);
        Assert.Equal(l.Rho[1], l.Rho[4]);
        // γ_row = min over groups of min(|c − 0.6|, |o − 0.4|): D gives min(0.6, 0.4) = 0.4; A: |0.9989 − 0.4| ... so 0.4 or smaller.
        double expectRow = new[] { 0, 1, 2, 3 }.Min(k => Math.Min(Math.Abs(l.Core[k] - 0.6), Math.Abs(l.Overlap[k] - 0.4)));
        Assert.Equal(expectRow, l.RowMargin, 14);
        // Raising θ_ρ above ρ_AB turns A and B into ST; lowering θ_c below B's (zero) core fraction makes everything SC.
        var strictRho = Icm.Labels(s, new PamOptions { ThetaRho = 1.0 });
        Assert.Equal([IcmLabel.ST, IcmLabel.ST, IcmLabel.SC, IcmLabel.ST], strictRho.Labels.ToArray());
        var allCore = Icm.Labels(s, new PamOptions { ThetaCore = 0 });
        Assert.All(allCore.Labels, x => Assert.Equal(IcmLabel.SC, x));
        // Pearson against the flat profile e_D = (2, …, 2) is 0; its cosine with e_C = (0, 0, 0, 18, 0, 0.04) is not.
        Assert.Equal(0.0, l.Rho[3 * 4 + 2]);
        var cos = Icm.Labels(s, new PamOptions { Correlation = ProfileCorrelation.Cosine });
        Assert.Equal((2 * 18.0 + 2 * 0.04) / (Math.Sqrt(18 * 18 + 0.04 * 0.04) * Math.Sqrt(6 * 4)), cos.Rho[3 * 4 + 2], 12);
    }

    [Fact]
    public void Label_perturbation_test_passes_for_small_and_fails_for_large_epsilon()
    {
        double[] p = [3, 0.1, 0.1, 0.1, 0.1,
                      3, 0.1, 0.1, 0.1, 0.1,
                      0.1, 3, 0.1, 0.1, 0.1,
                      0.1, 0.1, 0.1, 0.1, 3];
        int[][] g = [[0, 1], [2], [3]];
        var small = Icm.Test(p, p, 4, 5, g, 1e-3);
        Assert.True(small.Pass);
        Assert.Equal(32, small.Perturbations);
        Assert.Equal(0, small.Changed);
        Assert.All(small.Full.Labels, x => Assert.Equal(IcmLabel.SC, x));
        var large = Icm.Test(p, p, 4, 5, g, 10);
        Assert.False(large.Pass);
        Assert.True(large.Changed > 0);
        // Deterministic for a seed.
        Assert.Equal(large.Changed, Icm.Test(p, p, 4, 5, g, 10).Changed);
        // A truncated matrix that loses group {3}'s column changes its label: the test fails even at ε = 0.
        var q = (double[])p.Clone();
        q[19] = 0.1;
        var lost = Icm.Test(p, q, 4, 5, g, 0);
        Assert.False(lost.Pass);
        Assert.Equal(IcmLabel.ST, lost.Truncated[2]);
    }

    [Fact]
    public void Absolute_value_perturbation_stays_in_the_epsilon_ball()
    {
        var rng = new SplitMix64(7);
        for (int t = 0; t < 200; t++)
        {
            var p = Enumerable.Range(0, 30).Select(_ => rng.NextDouble() < 0.3 ? 0 : rng.NextDouble()).ToArray();
            var d = Enumerable.Range(0, 30).Select(_ => rng.NextGaussian()).ToArray();
            var q = AbsSum(p, d);
            Assert.All(q, x => Assert.True(x >= 0));
            Assert.True(Frob(q.Zip(p, (a, b) => a - b).ToArray()) <= Frob(d) * (1 + 1e-14));
        }
    }

    [Fact]
    public void Block_energy_matches_brute_force_and_sums_to_one()
    {
        var rng = new SplitMix64(3);
        int rows = 7, cols = 9;
        var p = Enumerable.Range(0, rows * cols).Select(_ => rng.NextDouble()).ToArray();
        int[][] a = [[0, 3, 5], [1, 2], [4, 6]];
        int[][] b = [[0, 1, 2], [3, 8], [4, 5, 6, 7]];
        var be = BlockEnergy.Compute(p, rows, cols, a, b);
        double total = p.Sum(x => x * x);
        for (int x = 0; x < 3; x++)
            for (int y = 0; y < 3; y++)
                Assert.Equal(a[x].Sum(i => b[y].Sum(j => p[i * cols + j] * p[i * cols + j])) / total, be[x * 3 + y], 14);
        Assert.Equal(1.0, be.Sum(), 13);
        var single = BlockEnergy.Compute(p, rows, cols, RowGroups.Singletons(rows), RowGroups.Singletons(cols));
        for (int i = 0; i < p.Length; i++) Assert.Equal(p[i] * p[i] / total, single[i], 15);
        Assert.All(BlockEnergy.Compute(new double[6], 2, 3, [[0, 1]], [[0], [1, 2]]), x => Assert.Equal(0.0, x));
        Assert.Throws<ArgumentException>(() => BlockEnergy.Compute(p, rows, cols, [[0, 1]], b));
    }

    [Fact]
    public void Analyze_rejects_negative_or_non_finite_input_and_bad_groups()
    {
        Assert.Throws<ArgumentException>(() => Pam.Analyze([1, -1], 1, 2, [[0]]));
        Assert.Throws<ArgumentException>(() => Pam.Analyze([1, double.NaN], 1, 2, [[0]]));
        Assert.Throws<ArgumentException>(() => Pam.Analyze([1, 1, 1, 1], 2, 2, [[0]]));
        Assert.Throws<ArgumentException>(() => Pam.Analyze([1, 1, 1, 1], 2, 2, [[0, 1], [1]]));
        Assert.Throws<ArgumentException>(() => Pam.Analyze([1, 1], 1, 2, [[0]], new PamOptions { Theta = 0 }));
    }

    private static double Pearson(double[] x, double[] y)
    {
        double mx = x.Average(), my = y.Average();
        double sxy = x.Zip(y, (a, b) => (a - mx) * (b - my)).Sum();
        return sxy / Math.Sqrt(x.Sum(a => (a - mx) * (a - mx)) * y.Sum(b => (b - my) * (b - my)));
    }

    [Fact]
    public void Bulk_gaussians_are_standard_normal_independent_and_seeded()
    {
        const int n = 200_001; // odd: the last pair is cut
        var x = new double[n];
        new SplitMix64(3).FillGaussian(x);
        var again = new double[n];
        new SplitMix64(3).FillGaussian(again);
        Assert.Equal(x, again);
        Assert.All(x, v => Assert.True(double.IsFinite(v) && v != 0));
        double mean = x.Average(), var = x.Select(v => (v - mean) * (v - mean)).Sum() / (n - 1);
        Assert.True(Math.Abs(mean) < 5 / Math.Sqrt(n), $"mean {mean}");
        Assert.True(Math.Abs(var - 1) < 5 * Math.Sqrt(2.0 / n), $"variance {var}");
        // Kolmogorov–Smirnov against Φ (1 % critical value 1.63/√n).
        var sorted = x.Order().ToArray();
        double d = 0;
        for (int i = 0; i < n; i++)
        {
            double f = 0.5 * Erfc(-sorted[i] / Math.Sqrt(2));
            d = Math.Max(d, Math.Max(Math.Abs(f - (double)i / n), Math.Abs(f - (double)(i + 1) / n)));
        }
        Assert.True(d < 1.63 / Math.Sqrt(n), $"KS D = {d}");
        // The two members of a pair are uncorrelated, and so are neighbouring pairs.
        double Corr(int lag)
        {
            int m = (n - lag) / 2;
            double s = 0;
            for (int i = 0; i < m; i++) s += x[2 * i] * x[2 * i + lag];
            return s / m;
        }
        Assert.True(Math.Abs(Corr(1)) < 5 / Math.Sqrt(n / 2.0), $"pair correlation {Corr(1)}");
        Assert.True(Math.Abs(Corr(2)) < 5 / Math.Sqrt(n / 2.0), $"lag-2 correlation {Corr(2)}");
        // Fourth moment of a standard normal is 3.
        double m4 = x.Select(v => v * v * v * v).Average();
        Assert.True(Math.Abs(m4 - 3) < 0.1, $"fourth moment {m4}");
    }

    /// <summary>erfc by Numerical Recipes' Chebyshev fit (relative error below 1.2e-7 everywhere).</summary>
    private static double Erfc(double x)
    {
        double z = Math.Abs(x), t = 1 / (1 + 0.5 * z);
        double r = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
            t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? r : 2 - r;
    }
}

using Cartan.Transport;
using FsCheck.Xunit;
using static Cartan.Tests.Transport.PamTestData;

namespace Cartan.Tests.Transport;

/// <summary>Oracle 6 of methods.md §6 (certificate soundness) and the static certificate's edge cases.</summary>
public class CertificateTests
{
    /// <summary>
    /// 1,000 random small PAMs, each perturbed by Δ with ‖Δ‖_F &lt; min(r_act, r_ov) (Gaussian or aimed at the tightest column):
    /// supports, graph, SRS sets, hubs and C/O/N masks of |P + Δ| (thresholds from P) equal those of P.
    /// </summary>
    [Property(MaxTest = 1000, QuietOnSuccess = true)]
    public void Structures_are_identical_under_any_perturbation_below_the_radius(ulong seed)
    {
        var c = RandomCase(seed);
        var cert = Certificate.Compute(c.P, c.P, c.Rows, c.Cols, c.Groups, null, c.Options);
        double r = cert.RadiusStructure;
        Assert.True(r >= 0 && double.IsFinite(r));
        double u = 0.999 * c.Rng.NextDouble() + 0.0005;
        var d = Perturbation(c, cert.Full, u * r);
        var pp = AbsSum(c.P, d);
        // ‖|P + Δ| − P‖_F ≤ ‖Δ‖_F, up to the rounding of P + Δ (≈ 1e-16 per entry, visible when r is tiny).
        Assert.True(Frob(pp.Zip(c.P, (a, b) => a - b).ToArray()) <= u * r * (1 + 1e-12) + 1e-15 * Frob(c.P));
        var moved = Pam.Analyze(pp, c.Rows, c.Cols, c.Groups, c.Options, cert.Full.Thresholds);
        var cmp = Pam.Compare(cert.Full, moved);
        Assert.True(cmp.All, $"seed {seed}: {cmp.Differences} changed at ‖Δ‖ = {u}·r, r = {r}");
        Assert.True(Pam.NestedEqual(cert.Full.Supports, moved.Supports));
    }

    /// <summary>
    /// With ‖Δ‖_F &lt; r* the certificate of (P, |P + Δ|) PASSes, every structure coincides and the truncated ν_g stay ≤ ν_max
    /// (Certificate.Compute would throw on a soundness violation).
    /// </summary>
    [Property(MaxTest = 300, QuietOnSuccess = true)]
    public void Certificate_passes_below_r_star_and_noise_bound_survives(ulong seed)
    {
        var c = RandomCase(seed);
        var self = Certificate.Compute(c.P, c.P, c.Rows, c.Cols, c.Groups, null, c.Options);
        if (!(self.Radius > 0)) { Assert.False(self.Pass); return; }
        double u = 0.999 * c.Rng.NextDouble() + 0.0005;
        var pp = AbsSum(c.P, Perturbation(c, self.Full, u * self.Radius));
        var cert = Certificate.Compute(c.P, pp, c.Rows, c.Cols, c.Groups, null, c.Options);
        Assert.True(cert.Pass);
        Assert.True(cert.SupportsEqual && cert.Agreement.All);
        Assert.All(cert.Truncated.NoiseFraction, v => Assert.True(v <= c.Options.NuMax + 1e-12));
        Assert.Equal(self.Radius, cert.Radius); // r* depends on P_full only
    }

    /// <summary>
    /// Noise bound under the worst kind of perturbation: ν_max just above the largest ν_g, Δ aimed at the group with the smallest
    /// noise radius (its noise entries grow, its signal entries shrink, each along itself), ‖Δ‖_F = u·r*, u ∈ [0.9, 1): every ν_g of
    /// |P + Δ| stays ≤ ν_max and the certificate of (P, |P + Δ|) passes.
    /// </summary>
    [Property(MaxTest = 300, QuietOnSuccess = true)]
    public void Noise_bound_survives_adversarial_perturbations_below_r_star(ulong seed)
    {
        var c0 = RandomCase(seed);
        var nu = Pam.Analyze(c0.P, c0.Rows, c0.Cols, c0.Groups, c0.Options).NoiseFraction;
        var o = c0.Options with { NuMax = Math.Min(1.0, nu.Max() + 0.001 + 0.03 * c0.Rng.NextDouble()) };
        var self = Certificate.Compute(c0.P, c0.P, c0.Rows, c0.Cols, c0.Groups, null, o);
        if (!(self.Radius > 0)) return;
        var full = self.Full;
        // Group with the smallest closed-form noise radius (√(ν_max E_g) − √N_g)/(1 + √ν_max).
        int g = Enumerable.Range(0, full.GroupCount).MinBy(h =>
            (Math.Sqrt(o.NuMax * full.GroupEnergy[h]) - Math.Sqrt(full.GroupNoise[h])) / (1 + Math.Sqrt(o.NuMax)));
        double sn = Math.Sqrt(full.GroupNoise[g]), ss = Math.Sqrt(full.GroupCore[g] + full.GroupOverlap[g]);
        if (sn == 0 || ss == 0) return;
        double phi = Math.PI / 4 + 0.3 * (c0.Rng.NextDouble() - 0.5);
        var d = new double[c0.P.Length];
        foreach (var i in c0.Groups[g])
            for (int j = 0; j < c0.Cols; j++)
            {
                int at = i * c0.Cols + j;
                d[at] = full.Mask[at] == PamMaskClass.Noise ? Math.Cos(phi) * c0.P[at] / sn : -Math.Sin(phi) * c0.P[at] / ss;
            }
        double norm = (0.9 + 0.099 * c0.Rng.NextDouble()) * self.Radius;
        for (int i = 0; i < d.Length; i++) d[i] *= norm;
        var pp = AbsSum(c0.P, d);
        var moved = Pam.Analyze(pp, c0.Rows, c0.Cols, c0.Groups, o, full.Thresholds);
        Assert.All(moved.NoiseFraction, v => Assert.True(v <= o.NuMax, $"ν = {v} > ν_max = {o.NuMax}"));
        Assert.True(Certificate.Compute(c0.P, pp, c0.Rows, c0.Cols, c0.Groups, null, o).Pass);
    }

    /// <summary>Weighted edges: ω_gh and the overlap radius γ/(4(1/√E_g + 1/√E_h)) on a two-row PAM, by hand.</summary>
    [Fact]
    public void Overlap_weight_and_radius_match_hand_values()
    {
        // Row 0: e = (4, 1, 0.01), E = 5.01, θ = 3.34 → S = {0}. Row 1: e = (2.25, 0.01, 1), E = 3.26, θ ≈ 2.173 → S = {0}.
        double[] p = [2, 1, 0.1,
                      1.5, 0.1, 1];
        int[][] g = [[0], [1]];
        var o = new PamOptions { EdgeWeightThreshold = 0.5 };
        var s = Pam.Analyze(p, 2, 3, g, o);
        double w = Math.Min(4 / 5.01, 2.25 / 3.26);
        Assert.Equal(w, Assert.Single(s.Overlaps).Weight, 14);
        Assert.Equal((0, 1), (s.Edges[0].G, s.Edges[0].H));
        var m = Certificate.Margins(s, o);
        Assert.Equal(w - 0.5, m.GammaOv!.Value, 14);
        Assert.Equal((w - 0.5) / (4 * (1 / Math.Sqrt(5.01) + 1 / Math.Sqrt(3.26))), m.ROv!.Value, 12);
        Assert.Empty(Pam.Analyze(p, 2, 3, g, o with { EdgeWeightThreshold = 0.8 }).Edges);
        Assert.Null(Certificate.Margins(s, new PamOptions()).ROv);
    }

    /// <summary>The generator is not vacuous: the structure radius is positive for almost every case, r* for many.</summary>
    [Fact]
    public void Random_cases_have_positive_radii()
    {
        int structPos = 0, starPos = 0, withHubs = 0, withEdges = 0;
        for (ulong s = 0; s < 400; s++)
        {
            var c = RandomCase(s);
            var cert = Certificate.Compute(c.P, c.P, c.Rows, c.Cols, c.Groups, null, c.Options);
            if (cert.RadiusStructure > 0) structPos++;
            if (cert.Radius > 0) starPos++;
            if (cert.Full.Hubs.Length > 0) withHubs++;
            if (cert.Full.Edges.Length > 0) withEdges++;
        }
        Assert.True(structPos >= 390, $"{structPos}/400");
        Assert.True(starPos >= 200, $"{starPos}/400");
        Assert.True(withHubs >= 20, $"{withHubs}/400");
        Assert.True(withEdges >= 100, $"{withEdges}/400");
    }

    /// <summary>r_gj is tight for an inactive column: raising its block along itself by just over r_gj crosses the threshold.</summary>
    [Fact]
    public void Active_radius_is_tight_for_an_inactive_column()
    {
        // One group of two rows, 8 columns; energies 1, 1, 25, 2, 0, 0, 0, 0 → E = 29, θ = 2·29/8 = 7.25, S = {2}.
        // r_gj = −a + sqrt(a² + γ): column 3 (a = √2, γ = 5.25) gives √7.25 − √2 ≈ 1.278, the smallest of all columns.
        double[] p = [1, 1, 5, 1, 0, 0, 0, 0,
                      0, 0, 0, 1, 0, 0, 0, 0];
        int[][] g = [[0, 1]];
        var s = Pam.Analyze(p, 2, 8, g);
        Assert.Equal(7.25, s.Thresholds[0]);
        Assert.Equal([2], s.Supports[0].ToArray());
        var m = Certificate.Margins(s, new PamOptions());
        double r3 = Math.Sqrt(7.25) - Math.Sqrt(2);
        Assert.Equal(r3, m.RAct, 12);
        Assert.Equal(5.25, m.GammaAct, 14);
        foreach (var (f, crosses) in new[] { (0.999, false), (1.001, true) })
        {
            double delta = f * r3;
            var q = (double[])p.Clone();
            q[3] += delta / Math.Sqrt(2); q[11] += delta / Math.Sqrt(2);
            var moved = Pam.Analyze(q, 2, 8, g, null, s.Thresholds);
            Assert.Equal(crosses, moved.Supports[0].Contains(3));
        }
    }

    /// <summary>Edge case of methods.md §2(e): a column exactly on its threshold gives γ = 0, r* = 0 and FAIL; any positive change
    /// moves it out of the support.</summary>
    [Fact]
    public void Column_on_its_threshold_gives_zero_radius_and_fails()
    {
        // Group {0,1}: column energies 2, 1, 1, 0 → E = 4, θ = 2·4/4 = 2 = e(0) exactly. Group {2}: a clean one-column owner.
        double[] p = [1, 1, 0, 0,
                      1, 0, 1, 0,
                      0, 0, 0, 3];
        int[][] g = [[0, 1], [2]];
        var cert = Certificate.Compute(p, p, 3, 4, g, null);
        Assert.Equal(2.0, cert.Full.Thresholds[0]);
        Assert.Contains(0, cert.Full.Supports[0]);
        Assert.Equal(0.0, cert.ActiveGap);
        Assert.Equal(0.0, cert.RadiusActive);
        Assert.Equal(0.0, cert.Radius);
        Assert.False(cert.Pass);
        Assert.True(cert.SupportsEqual); // δ = 0: equal, but not certified
        foreach (var eta in new[] { 1e-3, 1e-9, 1e-15 })
        {
            var q = (double[])p.Clone();
            q[0] -= eta;
            var c2 = Certificate.Compute(p, q, 3, 4, g, null);
            Assert.False(c2.Pass);
            Assert.False(c2.SupportsEqual);
            Assert.DoesNotContain(0, c2.Truncated.Supports[0]);
        }
    }

    /// <summary>The analytic ε enters the verdict through max(δ, ε); a group above ν_max fails even with δ = 0.</summary>
    [Fact]
    public void Verdict_uses_max_of_delta_and_epsilon_and_the_noise_bound()
    {
        double[] p = [3, 0.1, 0.1, 0.1,
                      3, 0.1, 0.1, 0.1,
                      0.1, 0.1, 3, 0.1];
        int[][] g = [[0, 1], [2]];
        var ok = Certificate.Compute(p, p, 3, 4, g, null);
        Assert.True(ok.Pass);
        Assert.True(ok.Radius > 0);
        var tooBig = Certificate.Compute(p, p, 3, 4, g, ok.Radius * 1.0001);
        Assert.False(tooBig.Pass);
        Assert.Equal(ok.Radius * 1.0001, tooBig.EpsilonUsed);
        var justBelow = Certificate.Compute(p, p, 3, 4, g, ok.Radius * 0.9999);
        Assert.True(justBelow.Pass);
        var strict = Certificate.Compute(p, p, 3, 4, g, null, new PamOptions { NuMax = 0.001 });
        Assert.False(strict.NoiseBoundHolds);
        Assert.False(strict.Pass);
        Assert.True(strict.NoiseMargin < 0);
        Assert.Equal(0.0, strict.RadiusNoise);
    }

    /// <summary>r_noise is exactly the largest δ for which the worst case (noise grows, signal shrinks) keeps ν ≤ ν_max.</summary>
    [Fact]
    public void Noise_radius_matches_its_closed_form()
    {
        double[] p = [3, 0.5, 0.2, 0.1,
                      2, 0.4, 0.3, 0.2];
        int[][] g = [[0, 1]];
        var o = new PamOptions { NuMax = 0.3 };
        var s = Pam.Analyze(p, 2, 4, g, o);
        Assert.Equal([0], s.Supports[0].ToArray());
        double n = 0.25 + 0.04 + 0.01 + 0.16 + 0.09 + 0.04, e = 9 + 4 + n;
        Assert.Equal(n / e, s.NoiseFraction[0], 14);
        var m = Certificate.Margins(s, o);
        double expected = (Math.Sqrt(0.3 * e) - Math.Sqrt(n)) / (1 + Math.Sqrt(0.3));
        Assert.Equal(expected, m.RNoise, 10);
        // Noise block grows and core block shrinks, ‖Δ‖_F = δ < r_noise: ν stays ≤ ν_max.
        double delta = 0.999 * m.RNoise;
        double sn = Math.Sqrt(n), sc = Math.Sqrt(9 + 4);
        var q = (double[])p.Clone();
        foreach (var i in new[] { 1, 2, 3, 5, 6, 7 }) q[i] *= (sn + delta / Math.Sqrt(2)) / sn;
        foreach (var i in new[] { 0, 4 }) q[i] *= (sc - delta / Math.Sqrt(2)) / sc;
        var moved = Pam.Analyze(q, 2, 4, g, o, s.Thresholds);
        Assert.Equal(s.Supports[0].ToArray(), moved.Supports[0].ToArray());
        Assert.True(moved.NoiseFraction[0] <= 0.3);
    }
}

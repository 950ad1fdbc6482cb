using System.Collections.Immutable;

namespace Cartan.Transport;

/// <summary>
/// Invariant Channel Mapping label of a row group (methods.md §2(b)). The acronyms' expansions are unknown; the readings below are
/// [R], our own.
/// </summary>
public enum IcmLabel
{
    /// <summary>"Specific/core": c_g ≥ θ_c, the group's energy sits mostly on columns it alone owns.</summary>
    SC,

    /// <summary>"Shared/aligned": not SC, o_g ≥ θ_o and max_h ρ_gh ≥ θ_ρ.</summary>
    SA,

    /// <summary>"Spread/transitional": neither (also every all-zero or empty-support group).</summary>
    ST,
}

/// <summary>
/// ICM labels of one PAM structure with their margins. Per group: c_g = ‖P∘C‖²_{G_g}/E_g, o_g = ‖P∘O‖²_{G_g}/E_g, n_g = ν_g,
/// ρ_gh the profile correlation (R×R row-major, diagonal 1), MaxRho[g] = max_{h≠g} ρ_gh (−∞ when R = 1).
/// [R]: our operational definitions.
/// </summary>
/// <param name="RowMargin">γ_row = min_g min(|c_g − θ_c|, |o_g − θ_o|)</param>
/// <param name="ProfileMargin">γ_prof = min_{g≠h} |ρ_gh − θ_ρ| (null when R = 1)</param>
public sealed record IcmLabels(
    ImmutableArray<IcmLabel> Labels, ImmutableArray<double> Core, ImmutableArray<double> Overlap, ImmutableArray<double> Noise,
    ImmutableArray<double> Rho, ImmutableArray<double> MaxRho, double RowMargin, double? ProfileMargin);

/// <summary>
/// Labels on P_full with the perturbation test (methods.md §2(b), step 10 of §2(c)).
/// </summary>
/// <param name="Full">labels and margins of P_full</param>
/// <param name="Truncated">labels of P_trunc (thresholds from P_full)</param>
/// <param name="Epsilon">the perturbation size ε</param>
/// <param name="Perturbations">K, how many random P_full + Δ were tried</param>
/// <param name="Changed">how many of them (plus P_trunc) changed at least one label</param>
/// <param name="Pass">labels never changed (labels_pass)</param>
public sealed record IcmCertification(IcmLabels Full, ImmutableArray<IcmLabel> Truncated, double Epsilon, int Perturbations, int Changed, bool Pass);

/// <summary>
/// Invariant Channel Mapping labels SC/SA/ST and their perturbation test (methods.md §2(b)). [R]: rules, thresholds and the test
/// are this project's operational choices; the abstract only says that the labels need row-energy and profile-correlation margins
/// stated as explicit perturbation tests.
/// </summary>
/// <remarks>
/// Perturbed matrices are formed as |P_full + Δ| (entrywise absolute value), Δ Gaussian rescaled to ‖Δ‖_F = ε. P is an amplitude
/// matrix, so a perturbed PAM must stay nonnegative. The absolute value is 1-Lipschitz and fixes P ≥ 0, hence
/// ‖|P + Δ| − P‖_F ≤ ‖Δ‖_F = ε: the test never leaves the ε-ball the certificate speaks about. It is also realisable: for T = 1,
/// |P + Δ| is exactly the aggregated amplitude of the signed incidence M' = sign(M)∘(P + Δ), with ‖M' − M‖_F = ε. Supports, masks
/// and thresholds are recomputed on each perturbed matrix with the P_full thresholds, as for P_trunc.
/// </remarks>
public static class Icm
{
    /// <summary>Labels and margins of one analysed PAM.</summary>
    public static IcmLabels Labels(PamStructure s, PamOptions? options = null)
    {
        var o = options ?? new();
        int R = s.GroupCount, n = s.Cols;
        var c = new double[R]; var ov = new double[R]; var nz = new double[R];
        for (int g = 0; g < R; g++)
        {
            double eg = s.GroupEnergy[g];
            c[g] = eg > 0 ? s.GroupCore[g] / eg : 0;
            ov[g] = eg > 0 ? s.GroupOverlap[g] / eg : 0;
            nz[g] = s.NoiseFraction[g];
        }
        var rho = new double[R * R];
        var e = s.ColumnEnergy.AsSpan();
        for (int g = 0; g < R; g++)
        {
            rho[g * R + g] = 1;
            for (int h = g + 1; h < R; h++)
                rho[g * R + h] = rho[h * R + g] = Similarity(e.Slice(g * n, n), e.Slice(h * n, n), o.Correlation);
        }
        var maxRho = new double[R];
        var labels = new IcmLabel[R];
        double gRow = double.PositiveInfinity, gProf = double.PositiveInfinity;
        for (int g = 0; g < R; g++)
        {
            double mr = double.NegativeInfinity;
            for (int h = 0; h < R; h++)
                if (h != g) { mr = Math.Max(mr, rho[g * R + h]); gProf = Math.Min(gProf, Math.Abs(rho[g * R + h] - o.ThetaRho)); }
            maxRho[g] = mr;
            labels[g] = c[g] >= o.ThetaCore ? IcmLabel.SC
                : ov[g] >= o.ThetaOverlap && mr >= o.ThetaRho ? IcmLabel.SA
                : IcmLabel.ST;
            gRow = Math.Min(gRow, Math.Min(Math.Abs(c[g] - o.ThetaCore), Math.Abs(ov[g] - o.ThetaOverlap)));
        }
        return new IcmLabels(Pam.Imm(labels), Pam.Imm(c), Pam.Imm(ov), Pam.Imm(nz), Pam.Imm(rho), Pam.Imm(maxRho), gRow,
            R > 1 ? gProf : null);
    }

    /// <summary>
    /// Labels of P_full, of P_trunc, and of K = <see cref="PamOptions.PerturbationCount"/> seeded perturbations |P_full + Δ| with
    /// ‖Δ‖_F = ε; <see cref="IcmCertification.Pass"/> iff no label ever changes.
    /// </summary>
    public static IcmCertification Test(ReadOnlySpan<double> pFull, ReadOnlySpan<double> pTrunc, int rows, int cols, int[][] groups,
        double epsilon, PamOptions? options = null, PamStructure? full = null)
    {
        var o = options ?? new();
        if (!(epsilon >= 0 && double.IsFinite(epsilon))) throw new ArgumentException("Icm.Test: ε must be finite and ≥ 0.");
        full ??= Pam.Analyze(pFull, rows, cols, groups, o);
        var baseLabels = Labels(full, o);
        var trunc = Labels(Pam.Analyze(pTrunc, rows, cols, groups, o, full.Thresholds), o).Labels;
        int changed = trunc.SequenceEqual(baseLabels.Labels) ? 0 : 1;
        var rng = new SplitMix64(o.Seed);
        var d = new double[rows * cols];
        var pp = new double[rows * cols];
        for (int t = 0; t < o.PerturbationCount; t++)
        {
            rng.FillGaussian(d);
            double s = System.Numerics.Tensors.TensorPrimitives.SumOfSquares<double>(d);
            double scale = s > 0 ? epsilon / Math.Sqrt(s) : 0;
            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd<double>(d, scale, pFull, pp);
            System.Numerics.Tensors.TensorPrimitives.Abs<double>(pp, pp);
            var l = Labels(Pam.Analyze(pp, rows, cols, groups, o, full.Thresholds), o).Labels;
            if (!l.SequenceEqual(baseLabels.Labels)) changed++;
        }
        return new IcmCertification(baseLabels, trunc, epsilon, o.PerturbationCount, changed, changed == 0);
    }

    /// <summary>Pearson correlation (constant profile → 0) or cosine similarity (zero profile → 0).</summary>
    public static double Similarity(ReadOnlySpan<double> x, ReadOnlySpan<double> y, ProfileCorrelation kind)
    {
        int n = x.Length;
        double mx = 0, my = 0;
        if (kind == ProfileCorrelation.Pearson)
        {
            for (int i = 0; i < n; i++) { mx += x[i]; my += y[i]; }
            mx /= n; my /= n;
        }
        double sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < n; i++)
        {
            double a = x[i] - mx, b = y[i] - my;
            sxy += a * b; sxx += a * a; syy += b * b;
        }
        if (!(sxx > 0) || !(syy > 0)) return 0;
        return Math.Clamp(sxy / Math.Sqrt(sxx * syy), -1, 1);
    }
}

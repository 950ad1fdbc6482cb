namespace Cartan.Transport;

/// <summary>
/// The static certificate of one interface (methods.md §2(b) "Static certificate radius", steps 7–9 of §2(c)).
/// [R]: our operational definition; the radius is a sufficient condition, not the paper's formula (which is unknown).
/// </summary>
/// <param name="Full">structures of P_full (thresholds computed here)</param>
/// <param name="Truncated">structures of P_trunc under the same thresholds</param>
/// <param name="Delta">δ = ‖P_full − P_trunc‖_F</param>
/// <param name="Epsilon">the caller's analytic bound ε (null when none was given)</param>
/// <param name="EpsilonUsed">max(δ, ε)</param>
/// <param name="ActiveGap">γ_act = min_{g,j} |e_g(j) − θ_g| (raw, before the rounding allowance)</param>
/// <param name="NoiseMargin">γ_noise = min_g (ν_max − ν_g) on P_full (negative when some group is too noisy)</param>
/// <param name="OverlapMargin">γ_ov = min over intersecting pairs |ω_gh − θ_ω| (null when no weight threshold is set or no pair intersects)</param>
/// <param name="RadiusActive">min_{g,j} r_gj, r_gj = −a_gj + sqrt(a_gj² + γ_gj), a_gj = ‖P_full[G_g, j]‖_2</param>
/// <param name="RadiusNoise">min_g (√(ν_max E_g) − √N_g)/(1 + √ν_max), clamped at 0</param>
/// <param name="RadiusOverlap">min γ_gh / (4(1/√E_g + 1/√E_h)) over intersecting pairs (null when off)</param>
/// <param name="Radius">r* = min(RadiusActive, RadiusNoise, RadiusOverlap)</param>
/// <param name="NoiseBoundHolds">ν_g ≤ ν_max for every g on P_full</param>
/// <param name="Pass">max(δ, ε) &lt; r* and every ν_g ≤ ν_max</param>
/// <param name="Agreement">which structures actually coincide between P_full and P_trunc</param>
public sealed record CertificateResult(
    PamStructure Full, PamStructure Truncated, double Delta, double? Epsilon, double EpsilonUsed,
    double ActiveGap, double NoiseMargin, double? OverlapMargin,
    double RadiusActive, double RadiusNoise, double? RadiusOverlap, double Radius,
    bool NoiseBoundHolds, bool Pass, PamComparison Agreement)
{
    /// <summary>S_g identical on P_full and P_trunc (the contract's <c>supports_equal</c>).</summary>
    public bool SupportsEqual => Agreement.Supports;

    /// <summary>The radius that protects the supports, graph, SRS sets, hubs and masks: min(RadiusActive, RadiusOverlap).</summary>
    public double RadiusStructure => Math.Min(RadiusActive, RadiusOverlap ?? double.PositiveInfinity);
}

/// <summary>
/// Static certificate radius r* and verdict (methods.md §2(b)–(c)). [R]: this project's operational construction, chosen so that
/// "under r* the full and truncated transport induce the same supports, graph, SRS sets, hubs and masks" is a theorem.
/// </summary>
/// <remarks>
/// <para><b>Active radius.</b> Let Δ = P' − P with ‖Δ‖_F ≤ δ. The column-block norm a_gj = ‖P[G_g, j]‖_2 moves by at most δ
/// (reverse triangle inequality), so e_g(j) = a_gj² moves by at most 2a_gj·δ + δ². This is &lt; γ_gj = |e_g(j) − θ_g| whenever
/// δ &lt; r_gj = −a_gj + sqrt(a_gj² + γ_gj) (computed as γ/(a + sqrt(a² + γ)) to avoid cancellation); then no column crosses its
/// (fixed, P_full) threshold, so every S_g — and everything that is a function of the supports (n(j), SRS, hubs, masks, the
/// intersection graph) — is unchanged. A column exactly on its threshold has γ = 0, r* = 0 and the certificate fails, as it must.
/// To stay sound in floating point each gap is reduced by a rounding allowance 4·u·(|G_g| + n_cols + 4)·(e_g(j) + θ_g) (u = 2⁻⁵²)
/// before the radius is formed; gaps below that resolution count as zero.</para>
/// <para><b>Noise radius.</b> ν_g = N_g/E_g is a ratio of the noise energy N_g = ‖P∘N‖²_{G_g} and the group energy E_g. With the masks
/// fixed (guaranteed by δ &lt; r_act), masking and row restriction are orthogonal projections, so √N'_g ≤ √N_g + δ and
/// √E'_g ≥ √E_g − δ, i.e. N'_g ≤ N_g + 2√N_g·δ + δ² and E'_g ≥ E_g − 2√E_g·δ + δ² (the |ΔE_g| ≤ 2√E_g·δ + δ² bound of methods.md,
/// used one-sided for each of numerator and denominator). Hence ν'_g ≤ ν_max holds whenever √N_g + δ ≤ √ν_max·(√E_g − δ), i.e.
/// δ ≤ r_noise,g = (√(ν_max·E_g) − √N_g)/(1 + √ν_max), which is positive iff ν_g &lt; ν_max (and then δ &lt; √E_g, so E'_g &gt; 0).</para>
/// <para><b>Overlap radius</b> (only with a weight threshold θ_ω). With supports fixed, ω_gh = Σ_{j∈S_g∩S_h} min(x_gj, x_hj) with
/// x_gj = e_g(j)/E_g = u_j², u = s/‖s‖ the unit vector of column-block norms s_j = a_gj. ‖s' − s‖_2 ≤ δ gives ‖u' − u‖_2 ≤ 2δ/√E_g and
/// ‖x' − x‖_1 ≤ ‖u' − u‖_2·‖u' + u‖_2 ≤ 4δ/√E_g; min is 1-Lipschitz in each argument, so |Δω_gh| ≤ 4δ(1/√E_g + 1/√E_h) and the edge
/// decision cannot change while δ &lt; r_ov,gh = γ_gh/(4(1/√E_g + 1/√E_h)), γ_gh = |ω_gh − θ_ω| (less a rounding allowance).</para>
/// <para><b>Verdict.</b> PASS iff max(δ, ε) &lt; r* and ν_g ≤ ν_max for all g, with ε the analytic bound (methods.md §2(c) step 9).
/// The structures of P_trunc are always computed too; if the verdict is PASS and any of them differs (or a ν_g of P_trunc exceeds
/// ν_max), the theorem above is contradicted and <see cref="Compute"/> throws <see cref="InvalidOperationException"/>: that is a bug.</para>
/// </remarks>
public static class Certificate
{
    private const double Unit = 2.220446049250313e-16;

    /// <summary>Certifies P_trunc against P_full (both rows×cols, nonnegative) for the given row groups.</summary>
    /// <param name="epsilon">analytic bound on ‖P_full − P_trunc‖_F (e.g. the transport bound); null: use δ alone</param>
    /// <exception cref="InvalidOperationException">PASS while a certified structure differs (certificate soundness violated).</exception>
    public static CertificateResult Compute(ReadOnlySpan<double> pFull, ReadOnlySpan<double> pTrunc, int rows, int cols, int[][] groups,
        double? epsilon = null, PamOptions? options = null)
    {
        var o = options ?? new();
        if (epsilon is double ep && !(ep >= 0 && double.IsFinite(ep))) throw new ArgumentException("Certificate: ε must be finite and ≥ 0.");
        var full = Pam.Analyze(pFull, rows, cols, groups, o);
        var trunc = Pam.Analyze(pTrunc, rows, cols, groups, o, full.Thresholds);
        double delta = Incidence.FrobeniusDistance(pFull, pTrunc);
        var m = Margins(full, o);

        double r = Math.Min(m.RAct, m.RNoise);
        if (m.ROv is double rov) r = Math.Min(r, rov);
        double used = Math.Max(delta, epsilon ?? 0);
        bool noiseOk = full.NoiseFraction.All(v => v <= o.NuMax);
        bool pass = used < r && noiseOk;
        var agree = Pam.Compare(full, trunc);
        if (pass)
        {
            if (!agree.All)
                throw new InvalidOperationException(
                    $"certificate soundness violated: PASS with δ = {delta:R} < r* = {r:R} but the {agree.Differences} of the full and truncated PAM differ.");
            if (trunc.NoiseFraction.Any(v => v > o.NuMax + 1e-12))
                throw new InvalidOperationException(
                    $"certificate soundness violated: PASS with δ = {delta:R} < r* = {r:R} but a truncated noise fraction exceeds ν_max = {o.NuMax}.");
        }
        return new CertificateResult(full, trunc, delta, epsilon, used, m.GammaAct, m.GammaNoise, m.GammaOv,
            m.RAct, m.RNoise, m.ROv, r, noiseOk, pass, agree);
    }

    /// <summary>Margins and radii of one P_full structure.</summary>
    internal static (double GammaAct, double RAct, double GammaNoise, double RNoise, double? GammaOv, double? ROv) Margins(PamStructure s, PamOptions o)
    {
        int R = s.GroupCount, cols = s.Cols;
        double gAct = double.PositiveInfinity, rAct = double.PositiveInfinity;
        for (int g = 0; g < R; g++)
        {
            double th = s.Thresholds[g];
            double allowance = 4 * Unit * (s.Groups[g].Length + cols + 4);
            for (int j = 0; j < cols; j++)
            {
                double e = s.E(g, j);
                double gamma = Math.Abs(e - th);
                // An all-zero group (θ_g = 0) sits on its threshold everywhere: γ = 0.
                gAct = Math.Min(gAct, gamma);
                double geff = Math.Max(0, gamma - allowance * (e + th));
                double a = Math.Sqrt(e);
                double rg = geff > 0 ? geff / (a + Math.Sqrt(a * a + geff)) : 0;
                rAct = Math.Min(rAct, rg);
            }
        }

        double gNoise = double.PositiveInfinity, rNoise = double.PositiveInfinity;
        double sq = Math.Sqrt(o.NuMax);
        for (int g = 0; g < R; g++)
        {
            gNoise = Math.Min(gNoise, o.NuMax - s.NoiseFraction[g]);
            double eg = s.GroupEnergy[g];
            double rg = eg > 0 ? (Math.Sqrt(o.NuMax * eg) - Math.Sqrt(s.GroupNoise[g])) / (1 + sq) : 0;
            // Rounding allowance on √E_g, √N_g (each a sum of rows·cols squares).
            rg -= 4 * Unit * (s.Groups[g].Length * cols + 4) * Math.Sqrt(eg);
            rNoise = Math.Min(rNoise, Math.Max(0, rg));
        }

        double? gOv = null, rOv = null;
        if (o.EdgeWeightThreshold is double tw)
        {
            double allowance = 8 * Unit * (cols + 4);
            foreach (var edge in s.Overlaps)
            {
                double gamma = Math.Abs(edge.Weight - tw);
                gOv = Math.Min(gOv ?? double.PositiveInfinity, gamma);
                double eg = s.GroupEnergy[edge.G], eh = s.GroupEnergy[edge.H];
                double geff = Math.Max(0, gamma - allowance);
                double rg = eg > 0 && eh > 0 ? geff / (4 * (1 / Math.Sqrt(eg) + 1 / Math.Sqrt(eh))) : 0;
                rOv = Math.Min(rOv ?? double.PositiveInfinity, rg);
            }
        }
        return (gAct, rAct, gNoise, rNoise, gOv, rOv);
    }
}

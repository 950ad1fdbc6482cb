namespace Cartan.Spectra;

/// <summary>
/// Every constant used by <see cref="SpectrumProfile.Compute"/> (methods.md §0.4, §0.5, §1). The defaults are
/// this project's choices ([R]); they are not values taken from the GSA I paper, whose full text was unavailable.
/// </summary>
public sealed record ProfileOptions
{
    /// <summary>Shared default instance.</summary>
    public static ProfileOptions Default { get; } = new();

    /// <summary>Numerical-rank tolerance factor: d = #{σ_i &gt; max(m,n)·RankEpsilon·σ_1} (§0.4). Default float64 machine epsilon ≈ 2.2e-16.</summary>
    public double RankEpsilon { get; init; } = 2.220446049250313e-16;

    /// <summary>Below this rank no statistics are computed, status "na" (§0.5). Default 2.</summary>
    public int MinRank { get; init; } = 2;

    /// <summary>Below this rank the fits are computed but marked "unreliable" (§0.5). Default 8.</summary>
    public int ReliableRank { get; init; } = 8;

    /// <summary>Lower end of the α bracket of the charts (§1(b)). Default 0.</summary>
    public double AlphaLow { get; init; } = 0;

    /// <summary>Upper end of the α bracket of the charts (§1(b)). Default 60.</summary>
    public double AlphaHigh { get; init; } = 60;

    /// <summary>Energy quantiles q for the effective ranks r_q (§1(b)). Default {0.5, 0.9, 0.99}.</summary>
    public IReadOnlyList<double> Quantiles { get; init; } = [0.5, 0.9, 0.99];

    /// <summary>C4 window end is r_q for this q when no explicit window is set (§1(b)). Default 0.99.</summary>
    public double OlsWindowQuantile { get; init; } = 0.99;

    /// <summary>Explicit first rank (1-based) of the C4 OLS window; null = 1.</summary>
    public int? OlsWindowStart { get; init; }

    /// <summary>Explicit last rank (1-based, inclusive) of the C4 OLS window; null = r_{OlsWindowQuantile}. Clipped to d.</summary>
    public int? OlsWindowEnd { get; init; }

    /// <summary>Maximum bisection / golden-section iterations. Default 200 (bisection on [0,60] reaches adjacent doubles in ~60).</summary>
    public int MaxIterations { get; init; } = 200;

    /// <summary>
    /// C3 scan: the Hellinger objective is first evaluated on a grid with step HelScanStep up to α = 1, then growing
    /// geometrically by HelScanGrowth up to AlphaHigh (~260 points); golden-section then refines inside the two grid
    /// cells around the best grid point. Default 0.02.
    /// </summary>
    public double HelScanStep { get; init; } = 0.02;

    /// <summary>Geometric growth of the C3 scan grid above α = 1. Default 1.02.</summary>
    public double HelScanGrowth { get; init; } = 1.02;

    /// <summary>L1 perturbation radius ε for the robust-quantile window r_{q−ε}(p) ≤ r_q(p′) ≤ r_{q+ε}(p) (§1(b)). Default 0.01.</summary>
    public double RobustEpsilon { get; init; } = 0.01;

    /// <summary>Half-width w of the transition regime |α − 1| ≤ w (§1(b) rank-window transition). Default 0.05.</summary>
    public double TransitionHalfWidth { get; init; } = 0.05;

    internal void Validate()
    {
        if (!(RankEpsilon >= 0) || double.IsInfinity(RankEpsilon)) throw new ArgumentException("RankEpsilon must be finite and ≥ 0");
        if (MinRank < 2) throw new ArgumentException("MinRank must be at least 2");
        if (!(AlphaLow >= 0) || !(AlphaHigh > AlphaLow) || double.IsInfinity(AlphaHigh)) throw new ArgumentException("need 0 ≤ AlphaLow < AlphaHigh < ∞");
        foreach (var q in Quantiles) if (!(q > 0 && q < 1)) throw new ArgumentException($"quantile {q} is not in (0, 1)");
        if (!(OlsWindowQuantile > 0 && OlsWindowQuantile < 1)) throw new ArgumentException("OlsWindowQuantile must lie in (0, 1)");
        if (OlsWindowStart is < 1) throw new ArgumentException("OlsWindowStart must be ≥ 1");
        if (OlsWindowEnd is < 1) throw new ArgumentException("OlsWindowEnd must be ≥ 1");
        if (MaxIterations < 1) throw new ArgumentException("MaxIterations must be ≥ 1");
        if (!(HelScanStep > 0) || !(HelScanGrowth > 1)) throw new ArgumentException("need HelScanStep > 0 and HelScanGrowth > 1");
        if (!(RobustEpsilon >= 0 && RobustEpsilon < 1)) throw new ArgumentException("RobustEpsilon must lie in [0, 1)");
        if (!(TransitionHalfWidth >= 0)) throw new ArgumentException("TransitionHalfWidth must be ≥ 0");
    }
}

namespace Cartan.Noise;

/// <summary>Which mean-one normalisation turns exp(γψ) into a gate (methods.md §4(b)).</summary>
public enum GChMode
{
    /// <summary>
    /// Sample-wise gate [P: "used in practice"; formula R]: ξ(x) = exp(γψ(x)) / mean_{y∈V} exp(γψ(y)), the mean taken
    /// over the full H×W grid including the ring (where the gate is exp(0) = 1 before normalising). Exact spatial mean 1.
    /// </summary>
    SampleWise,
    /// <summary>Wick gate [P]: ξ(x) = exp(γψ(x) − (γ²/2)·Var ψ(x)), so E[ξ(x)] = 1 at every site; 1 on the ring.</summary>
    Wick,
}

/// <summary>
/// Settings of a GCh gate. Every constant is a setting; the defaults are ours [R], never the paper's values (which the
/// available material does not give).
/// </summary>
public sealed record GChOptions
{
    /// <summary>
    /// Strength s = γ/√β [R] (only γ²/β enters the law): γψ ~ N(0, s²·G_U). Default 0.5 [R], the middle of the
    /// sweep {0.25, 0.5, 1, 1.5} in methods.md §4(d). Must be finite and ≥ 0 (0 gives the gate ≡ 1).
    /// </summary>
    public double Strength { get; init; } = 0.5;

    /// <summary>The normalisation. Default <see cref="GChMode.SampleWise"/> [R].</summary>
    public GChMode Mode { get; init; } = GChMode.SampleWise;

    /// <summary>Boundary convention of the grid. Default <see cref="GChBoundary.Ring"/> [R] (open ambiguity 1).</summary>
    public GChBoundary Boundary { get; init; } = GChBoundary.Ring;

    /// <summary>
    /// Safety clamp [P: Algorithm 1 step 8; bound R]: when set, γψ is clamped to [−ClampBound, ClampBound] before the
    /// exponential. Default 20; null turns it off. At the usual strengths |γψ| never comes near 20, so the clamp does not
    /// change the law in practice; it only keeps float32 gates finite for extreme s.
    /// </summary>
    public double? ClampBound { get; init; } = 20;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> when the settings are not usable.</summary>
    public void Validate()
    {
        CheckStrength(Strength);
        if (Mode is not (GChMode.SampleWise or GChMode.Wick)) throw new ArgumentOutOfRangeException(nameof(Mode));
        if (Boundary is not (GChBoundary.Ring or GChBoundary.Ghost)) throw new ArgumentOutOfRangeException(nameof(Boundary));
        if (ClampBound is { } c && !(c > 0 && double.IsFinite(c)))
            throw new ArgumentOutOfRangeException(nameof(ClampBound), $"clamp bound {c} must be finite and > 0");
    }

    internal static void CheckStrength(double s)
    {
        if (!(s >= 0 && double.IsFinite(s))) throw new ArgumentOutOfRangeException(nameof(Strength), $"strength {s} must be finite and ≥ 0");
    }
}

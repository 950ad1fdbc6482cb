namespace Cartan.Noise;

/// <summary>
/// The closed forms GCh is tested against (methods.md §4(b) "Theory checks"; claims [P], formulas [R], exact).
/// Sites are given in full-grid coordinates (row, col); ring sites have ψ ≡ 0 and contribute G = 0. s is the strength
/// s = γ/√β, so γψ ~ N(0, s²·G_U).
/// </summary>
public static class GChTheory
{
    /// <summary>
    /// σ_xy² = s²(G(x,x) + G(y,y) − 2G(x,y)): the variance of the pairwise log-ratio deformation
    /// Δ_xy = log(F̃(x)/F̃(y)) − log(F(x)/F(y)) = γ(ψ(x) − ψ(y)), for both gates (the sample-wise normaliser cancels).
    /// </summary>
    public static double LogRatioVariance(DirichletGrid grid, double strength, int r1, int c1, int r2, int c2)
    {
        ArgumentNullException.ThrowIfNull(grid);
        GChOptions.CheckStrength(strength);
        double gxx = grid.GreenAtGrid(r1, c1, r1, c1), gyy = grid.GreenAtGrid(r2, c2, r2, c2), gxy = grid.GreenAtGrid(r1, c1, r2, c2);
        return Math.Max(0, strength * strength * (gxx + gyy - 2 * gxy));
    }

    /// <summary>
    /// The mean of Δ_xy: 0 for the sample-wise gate, the Wick correction −(s²/2)(G(x,x) − G(y,y)) = −(v(x) − v(y))/2
    /// (v the variance map) for the Wick gate.
    /// </summary>
    public static double LogRatioMean(DirichletGrid grid, double strength, GChMode mode, int r1, int c1, int r2, int c2)
    {
        ArgumentNullException.ThrowIfNull(grid);
        GChOptions.CheckStrength(strength);
        if (mode == GChMode.SampleWise) return 0;
        double gxx = grid.GreenAtGrid(r1, c1, r1, c1), gyy = grid.GreenAtGrid(r2, c2, r2, c2);
        return -0.5 * strength * strength * (gxx - gyy);
    }

    /// <summary>E[ξ(x)ξ(y)] = exp(s²·G(x,y)) for the Wick gate.</summary>
    public static double WickSecondMoment(DirichletGrid grid, double strength, int r1, int c1, int r2, int c2)
    {
        ArgumentNullException.ThrowIfNull(grid);
        GChOptions.CheckStrength(strength);
        return Math.Exp(strength * strength * grid.GreenAtGrid(r1, c1, r2, c2));
    }

    /// <summary>
    /// Margin-sensitive ranking stability: the probability that a pair with log-margin m = log(F(x)/F(y)) swaps order
    /// under the gate, P(m + Δ &lt; 0) = Φ(−(m + μ)/σ) for Δ ~ N(μ, σ²). σ = 0 gives 1 when m + μ &lt; 0, else 0.
    /// </summary>
    public static double FlipProbability(double margin, double sigma, double mean = 0)
    {
        if (!double.IsFinite(margin) || !double.IsFinite(mean)) throw new ArgumentOutOfRangeException(nameof(margin), "margin and mean must be finite");
        if (!(sigma >= 0 && double.IsFinite(sigma))) throw new ArgumentOutOfRangeException(nameof(sigma), $"sigma {sigma} must be finite and ≥ 0");
        if (sigma == 0) return margin + mean < 0 ? 1 : 0;
        return NormalCdf(-(margin + mean) / sigma);
    }

    /// <summary>
    /// The expected intrinsic roughness budget E[½(γψ)ᵀL_U(γψ)] = γ²|U|/(2β) = s²|U|/2.
    /// </summary>
    public static double RoughnessBudget(DirichletGrid grid, double strength)
    {
        ArgumentNullException.ThrowIfNull(grid);
        GChOptions.CheckStrength(strength);
        return 0.5 * strength * strength * grid.InteriorCount;
    }

    /// <summary>β = |U|/(2ε): the precision that meets the Dirichlet-energy budget E[½ψᵀL_Uψ] = ε (MaxEnt solution).</summary>
    public static double BetaForBudget(DirichletGrid grid, double epsilon)
    {
        ArgumentNullException.ThrowIfNull(grid);
        if (!(epsilon > 0 && double.IsFinite(epsilon))) throw new ArgumentOutOfRangeException(nameof(epsilon), $"budget {epsilon} must be finite and > 0");
        return grid.InteriorCount / (2 * epsilon);
    }

    /// <summary>The strength s = γ/√β of a gate with exponent γ and precision β.</summary>
    public static double Strength(double gamma, double beta)
    {
        if (!(gamma >= 0 && double.IsFinite(gamma))) throw new ArgumentOutOfRangeException(nameof(gamma));
        if (!(beta > 0 && double.IsFinite(beta))) throw new ArgumentOutOfRangeException(nameof(beta));
        return gamma / Math.Sqrt(beta);
    }

    /// <summary>Φ(x), the standard normal CDF, to about 1e-15 relative: erfc(−x/√2)/2.</summary>
    public static double NormalCdf(double x) => 0.5 * Erfc(-x / Math.Sqrt(2));

    /// <summary>
    /// The complementary error function, to about 1e-15 relative (our own: the Maclaurin-type series
    /// erf(x) = (2/√π)e^{−x²}Σ 2ⁿx^{2n+1}/(2n+1)!! for |x| &lt; 0.7, the Laplace continued fraction for x ≥ 0.7,
    /// erfc(−x) = 2 − erfc(x)).
    /// </summary>
    public static double Erfc(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        if (x < 0) return 2 - Erfc(-x);
        if (x < 0.7)
        {
            // Σ 2ⁿx^{2n+1}/(1·3·…·(2n+1)): positive terms, ratio 2x²/(2n+3) — converges fast for x < 0.7.
            double term = x, sum = x, x2 = 2 * x * x;
            for (int n = 0; n < 200 && term > 1e-17 * sum; n++)
            {
                term *= x2 / (2 * n + 3);
                sum += term;
            }
            return 1 - 2 / Math.Sqrt(Math.PI) * Math.Exp(-x * x) * sum;
        }
        if (x > 27) return 0;
        // erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …))))), modified Lentz (≤ ~400 terms at x = 0.7).
        const double tiny = 1e-300;
        double f = x, c = x, d = 0;
        for (int k = 1; k < 2000; k++)
        {
            double a = k / 2.0;
            d = x + a * d;
            if (d == 0) d = tiny;
            c = x + a / c;
            if (c == 0) c = tiny;
            d = 1 / d;
            double delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1) < 1e-16) break;
        }
        return Math.Exp(-x * x) / Math.Sqrt(Math.PI) / f;
    }
}

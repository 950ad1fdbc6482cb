using Cartan.Spectra;

namespace Cartan.Pruning;

/// <summary>Layerwise sparsity allocation.</summary>
public enum ProfileKind { Uniform, Owl, Spectral }

/// <summary>The heavy-tail shape metric of the spectral profile.</summary>
public enum SpectralMetric
{
    /// <summary>WeightWatcher tail exponent α of the ESD (<see cref="WwTailFit"/>): smaller α = more heavy-tailed (AlphaPruning's PL_Alpha_Hill idea).</summary>
    WwAlpha,
    /// <summary>Our α_mle chart (rank decay p_i ∝ i^−α): larger α = more concentrated = more heavy-tailed.</summary>
    AlphaMle,
    /// <summary>Our τ = log λ₁: larger = more concentrated.</summary>
    Tau,
    /// <summary>Our effective rank r_0.9 relative to min(m, n): smaller = more concentrated.</summary>
    EffectiveRank,
}

/// <summary>Settings of the layerwise profiles; defaults follow OWL / AlphaPruning where they have one.</summary>
public sealed record PruneProfileOptions
{
    public ProfileKind Kind { get; init; } = ProfileKind.Uniform;
    /// <summary>Half-width λ of the allowed range [s − λ, s + λ]. Default 0.08 (OWL's default).</summary>
    public double Lambda { get; init; } = 0.08;
    /// <summary>OWL outlier threshold M: a score is an outlier when above M × the layer mean. Default 5.</summary>
    public double OwlM { get; init; } = 5;
    public SpectralMetric Metric { get; init; } = SpectralMetric.WwAlpha;
}

/// <summary>
/// Per-unit target sparsities (a unit is a layer or a decoder block) whose parameter-weighted average equals the
/// requested s exactly (to rounding): raw values from the profile's rule, then one common additive shift c solved
/// exactly with every unit clipped to [s − λ, s + λ] ∩ [0, 0.999], then the rounding residual spread over the units
/// inside their range.
/// </summary>
public static class SparsityProfiles
{
    /// <summary>Every unit at s.</summary>
    public static double[] Uniform(int units, double s)
    {
        var r = new double[units];
        Array.Fill(r, s);
        return r;
    }

    /// <summary>
    /// OWL (Yin et al. 2023): with D_ℓ the unit's outlier ratio, n_ℓ = 2λ·(D_ℓ − min D)/(max D − min D) and raw
    /// s_ℓ = s − (n_ℓ − mean n): more outliers → lower sparsity. Then rebalanced to the exact weighted average.
    /// </summary>
    public static double[] Owl(IReadOnlyList<double> outlierRatios, IReadOnlyList<long> parameters, double s, double lambda)
    {
        Check(outlierRatios.Count, parameters, s, lambda);
        int L = outlierRatios.Count;
        double min = outlierRatios.Min(), max = outlierRatios.Max();
        var raw = new double[L];
        if (max > min)
        {
            var n = outlierRatios.Select(d => 2 * lambda * (d - min) / (max - min)).ToArray();
            double mean = n.Average();
            for (int i = 0; i < L; i++) raw[i] = s - (n[i] - mean);
        }
        else Array.Fill(raw, s);
        return Rebalance(raw, parameters, s, lambda);
    }

    /// <summary>
    /// Spectral (AlphaPruning's idea, Lu et al. 2024): raw s_ℓ = s − λ + 2λ·(h_max − h_ℓ)/(h_max − h_min), with h the
    /// heavy-tailedness (larger = more heavy-tailed = pruned less; see <see cref="HeavyTail"/>). Units without a value
    /// (failed fits, null) start at s. Then rebalanced to the exact weighted average.
    /// </summary>
    public static double[] Spectral(IReadOnlyList<double?> heavyTail, IReadOnlyList<long> parameters, double s, double lambda)
    {
        Check(heavyTail.Count, parameters, s, lambda);
        var known = heavyTail.Where(h => h is double x && double.IsFinite(x)).Select(h => h!.Value).ToList();
        var raw = new double[heavyTail.Count];
        Array.Fill(raw, s);
        if (known.Count > 0 && known.Max() > known.Min())
        {
            double min = known.Min(), max = known.Max();
            for (int i = 0; i < raw.Length; i++)
                if (heavyTail[i] is double h && double.IsFinite(h)) raw[i] = s - lambda + 2 * lambda * (max - h) / (max - min);
        }
        return Rebalance(raw, parameters, s, lambda);
    }

    /// <summary>OWL's layer outlier ratio: the fraction of scores (e.g. |W|·‖X‖) above M × their mean.</summary>
    public static double OutlierRatio(ReadOnlySpan<double> scores, double m)
    {
        if (scores.IsEmpty) return 0;
        double mean = 0;
        foreach (var v in scores) mean += v;
        mean /= scores.Length;
        int c = 0;
        foreach (var v in scores) if (v > m * mean) c++;
        return (double)c / scores.Length;
    }

    /// <summary>
    /// Heavy-tailedness h of a matrix from its singular values (descending) under <paramref name="metric"/>, oriented so
    /// that larger h = more heavy-tailed: −α_WW, α_mle, τ, or −r_0.9/min(m,n). Null when the fit is not available.
    /// </summary>
    public static double? HeavyTail(double[] sigmaDesc, int rows, int cols, SpectralMetric metric)
    {
        if (metric == SpectralMetric.WwAlpha)
        {
            var fit = WwTailFit.FromSingularValues(sigmaDesc, rows, cols);
            return fit.Success && fit.Alpha is double a ? -a : null;
        }
        var p = SpectrumProfile.Compute(sigmaDesc, rows, cols);
        if (p.Status == ProfileStatus.NotAvailable) return null;
        return metric switch
        {
            SpectralMetric.AlphaMle => p.Mle?.Alpha,
            SpectralMetric.Tau => p.Tau,
            _ => p.EffectiveRanks.FirstOrDefault(e => Math.Abs(e.Q - 0.9) < 1e-12) is { } er ? -(double)er.Rank / Math.Min(rows, cols) : null,
        };
    }

    public static SpectralMetric ParseMetric(string s) => s switch
    {
        "ww" or "ww_alpha" or "alpha" => SpectralMetric.WwAlpha,
        "alpha_mle" or "mle" => SpectralMetric.AlphaMle,
        "tau" => SpectralMetric.Tau,
        "rq" or "r_q" or "effective_rank" => SpectralMetric.EffectiveRank,
        _ => throw new ArgumentException($"spectral metric must be ww, alpha_mle, tau or rq, got '{s}'"),
    };

    /// <summary>
    /// Shifts <paramref name="raw"/> by one constant c, clipping each to [max(0, s − λ), min(0.999, s + λ)], so that
    /// Σ p_ℓ·s_ℓ = s·Σ p_ℓ; c is found exactly on the piecewise-linear sum, then the rounding residual is spread over
    /// the units strictly inside the range.
    /// </summary>
    public static double[] Rebalance(IReadOnlyList<double> raw, IReadOnlyList<long> parameters, double s, double lambda)
    {
        Check(raw.Count, parameters, s, lambda);
        int L = raw.Count;
        double lo = Math.Max(0, s - lambda), hi = Math.Min(0.999, s + lambda);
        if (hi < s) hi = s;
        double W = 0;
        foreach (var p in parameters) W += p;
        double target = s * W;
        double F(double c)
        {
            double t = 0;
            for (int i = 0; i < L; i++) t += parameters[i] * Math.Clamp(raw[i] + c, lo, hi);
            return t;
        }
        var bps = new List<double>(2 * L);
        for (int i = 0; i < L; i++) { bps.Add(lo - raw[i]); bps.Add(hi - raw[i]); }
        bps.Sort();
        double c = bps[0];
        // F is non-decreasing and continuous; F(bps[0]) = lo·W ≤ target ≤ hi·W = F(bps[^1]).
        for (int k = 0; k + 1 < bps.Count; k++)
        {
            double a = bps[k], b = bps[k + 1];
            double fa = F(a), fb = F(b);
            if (fb >= target)
            {
                c = fb == fa ? a : a + (target - fa) * (b - a) / (fb - fa);
                break;
            }
            c = b;
        }
        var x = new double[L];
        for (int i = 0; i < L; i++) x[i] = Math.Clamp(raw[i] + c, lo, hi);
        for (int pass = 0; pass < 3; pass++)
        {
            double sum = 0, free = 0;
            for (int i = 0; i < L; i++) { sum += parameters[i] * x[i]; if (x[i] > lo && x[i] < hi) free += parameters[i]; }
            double resid = target - sum;
            if (resid == 0 || free == 0) break;
            for (int i = 0; i < L; i++) if (x[i] > lo && x[i] < hi) x[i] = Math.Clamp(x[i] + resid / free, lo, hi);
        }
        return x;
    }

    /// <summary>Σ p_ℓ·s_ℓ / Σ p_ℓ.</summary>
    public static double WeightedMean(IReadOnlyList<double> sparsity, IReadOnlyList<long> parameters)
    {
        double a = 0, w = 0;
        for (int i = 0; i < sparsity.Count; i++) { a += parameters[i] * sparsity[i]; w += parameters[i]; }
        return a / w;
    }

    private static void Check(int count, IReadOnlyList<long> parameters, double s, double lambda)
    {
        if (count == 0) throw new ArgumentException("no units to allocate sparsity to");
        if (parameters.Count != count) throw new ArgumentException($"{count} units but {parameters.Count} parameter counts");
        if (parameters.Any(p => p <= 0)) throw new ArgumentException("every unit needs a positive parameter count");
        if (!(s > 0 && s < 1)) throw new ArgumentException($"sparsity must lie in (0, 1), got {s}");
        if (!(lambda >= 0) || !double.IsFinite(lambda)) throw new ArgumentException($"λ must be ≥ 0, got {lambda}");
    }
}

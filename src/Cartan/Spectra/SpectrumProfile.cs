namespace Cartan.Spectra;

/// <summary>Status of a profile (methods.md §0.5).</summary>
public enum ProfileStatus
{
    /// <summary>Rank ≥ ReliableRank: all statistics computed.</summary>
    Ok,
    /// <summary>MinRank ≤ rank &lt; ReliableRank: statistics computed, power-law fits unreliable.</summary>
    Unreliable,
    /// <summary>Rank &lt; MinRank, all-zero, or non-finite input: no statistics (Reason says why).</summary>
    NotAvailable,
}

/// <summary>The four fitted power-law charts of methods.md §1(b) [R].</summary>
public enum PowerLawChart
{
    /// <summary>C1, top-radial chart: α̂ = τ⁻¹(τ_obs) by bisection.</summary>
    Top,
    /// <summary>C2, Gibbs MLE / KL projection: μ(α̂) = Σ p_i log i by bisection.</summary>
    Mle,
    /// <summary>C3, metric chart: argmin_α H²(p_obs, p(α)) by grid scan + golden section.</summary>
    Hel,
    /// <summary>C4, log-log OLS: α̂ = −slope of log λ_i on log i over a rank window.</summary>
    Ols,
}

/// <summary>
/// One fitted chart with its residuals (methods.md §1(b) "Residuals"):
/// ρ = τ_obs − τ(α̂); R_H = H(p_obs, p(α̂)) with H² = Σ(√p_i − √p_i(α̂))²; R_BW = √d·R_H; KL(p_obs‖p(α̂)) = Σ p_i log(p_i/p_i(α̂));
/// plus I(α̂) and μ(α̂).
/// </summary>
/// <param name="Chart">Which chart.</param>
/// <param name="Alpha">Fitted exponent α̂ (on λ = σ²), clamped to the bracket.</param>
/// <param name="AtLowerBound">α̂ hit the lower bracket end (flat spectrum).</param>
/// <param name="AtUpperBound">α̂ hit the upper bracket end (rank-one-like), or OLS exceeded it and was clamped.</param>
/// <param name="TauResidual">ρ = τ_obs − τ(α̂) (≈ 0, rounding only, for C1 unless clamped).</param>
/// <param name="Hellinger">R_H = H(p_obs, p(α̂)).</param>
/// <param name="Bures">R_BW = √d·R_H.</param>
/// <param name="KL">KL(p_obs‖p(α̂)).</param>
/// <param name="Fisher">I(α̂).</param>
/// <param name="Mu">μ(α̂), the chart slope dτ/dα.</param>
/// <param name="WindowStart">C4 only: first rank of the OLS window (1-based), else null.</param>
/// <param name="WindowEnd">C4 only: last rank of the OLS window (inclusive), else null.</param>
public sealed record ChartFit(
    PowerLawChart Chart, double Alpha, bool AtLowerBound, bool AtUpperBound,
    double TauResidual, double Hellinger, double Bures, double KL, double Fisher, double Mu,
    int? WindowStart = null, int? WindowEnd = null);

/// <summary>
/// Effective rank as a spectral-energy quantile and its tails (methods.md §1(b)) [R].
/// </summary>
/// <param name="Q">The quantile q.</param>
/// <param name="Rank">r_q = min{k : Σ_{i≤k} p_i ≥ q}.</param>
/// <param name="EmpiricalTail">T_k = Σ_{i&gt;k} p_i at k = r_q.</param>
/// <param name="ModelTail">T_k(α̂_mle) = 1 − H_k/H_d at k = r_q.</param>
/// <param name="ModelTailBounds">Integral-test bounds on T_k(α̂_mle) (§1(b) table, divided by H_d).</param>
/// <param name="ModelRank">r_q of the fitted orbit p(α̂_mle), computed directly.</param>
/// <param name="PredictedRank">Asymptotic rank-window prediction at α̂_mle (extensive / transition / intensive formula).</param>
/// <param name="RobustLower">r_{q−ε}(p): lower end of r_q(p′) over all p′ with ‖p−p′‖₁ ≤ ε (1 when q−ε ≤ 0).</param>
/// <param name="RobustUpper">r_{q+ε}(p): upper end of that window (d when q+ε ≥ 1).</param>
public sealed record EffectiveRank(
    double Q, int Rank, double EmpiricalTail, double ModelTail, TailBounds ModelTailBounds,
    int ModelRank, double PredictedRank, int RobustLower, int RobustUpper);

/// <summary>
/// GSA I spectral profile of one matrix (methods.md §1(c) "GSA1.Profile") [R]: numerical rank, the rank energy
/// distribution p_i = σ_i²/Σσ_j², λ_i = d·p_i, τ = log λ_1, the four charts with residuals, effective ranks and
/// tails. Immutable; values that cannot be computed are null and <see cref="Reason"/> says why. No NaN or ∞.
/// The definitions are this project's reconstruction (the paper's full text was unavailable).
/// </summary>
public sealed record SpectrumProfile
{
    /// <summary>ok / unreliable / not available.</summary>
    public required ProfileStatus Status { get; init; }
    /// <summary>Output-contract spelling of <see cref="Status"/>: "ok", "unreliable", "na".</summary>
    public string StatusName => Status switch { ProfileStatus.Ok => "ok", ProfileStatus.Unreliable => "unreliable", _ => "na" };
    /// <summary>Why the status is not ok (null when ok).</summary>
    public string? Reason { get; init; }
    /// <summary>Matrix rows m.</summary>
    public required int Rows { get; init; }
    /// <summary>Matrix columns n.</summary>
    public required int Cols { get; init; }
    /// <summary>Numerical rank d = #{σ_i &gt; max(m,n)·ε·σ_1} (§0.4); 0 for an all-zero matrix.</summary>
    public required int Rank { get; init; }
    /// <summary>d &lt; min(m, n) (§1(e)).</summary>
    public bool RankDeficient => Rank < Math.Min(Rows, Cols);
    /// <summary>‖W‖_F = √Σσ_i² over all given singular values (0 for an all-zero matrix; null if the input was non-finite).</summary>
    public double? Frobenius { get; init; }
    /// <summary>σ_1 (null if the input was non-finite).</summary>
    public double? SigmaMax { get; init; }
    /// <summary>Stable rank ‖W‖_F²/σ_1² (null when σ_1 = 0).</summary>
    public double? StableRank { get; init; }
    /// <summary>τ = log λ_1 = log(d·σ_1²/Σ_{i≤d}σ_i²) ∈ [0, log d] (§1(b)).</summary>
    public double? Tau { get; init; }
    /// <summary>Observed Gibbs moment Σ p_i log i (the C2 target).</summary>
    public double? MeanLogRank { get; init; }
    /// <summary>p_i = σ_i²/Σσ_j², i ≤ d (empty when na).</summary>
    public IReadOnlyList<double> P { get; init; } = [];
    /// <summary>λ_i = d·p_i (Σλ = d) (empty when na).</summary>
    public IReadOnlyList<double> Lambda { get; init; } = [];
    /// <summary>C1 top-radial chart.</summary>
    public ChartFit? Top { get; init; }
    /// <summary>C2 Gibbs MLE chart (recommended default; drives the model tails).</summary>
    public ChartFit? Mle { get; init; }
    /// <summary>C3 Hellinger metric chart.</summary>
    public ChartFit? Hel { get; init; }
    /// <summary>C4 log-log OLS chart (null when the window has fewer than 2 ranks).</summary>
    public ChartFit? Ols { get; init; }
    /// <summary>Regime of α̂_mle (extensive / transition / intensive).</summary>
    public OrbitRegime? Regime { get; init; }
    /// <summary>Effective ranks, one per configured quantile, in the configured order.</summary>
    public IReadOnlyList<EffectiveRank> EffectiveRanks { get; init; } = [];

    /// <summary>The fit of one chart (null if not available).</summary>
    public ChartFit? Chart(PowerLawChart chart) => chart switch
    {
        PowerLawChart.Top => Top,
        PowerLawChart.Mle => Mle,
        PowerLawChart.Hel => Hel,
        _ => Ols,
    };

    /// <summary>
    /// Profile of a matrix from its singular values (methods.md §1(c)): <paramref name="sigmaDesc"/> holds the
    /// singular values of an m×n matrix, descending (an unsorted input is sorted on a copy); at most min(m,n) values.
    /// </summary>
    public static SpectrumProfile Compute(double[] sigmaDesc, int rows, int cols, ProfileOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sigmaDesc);
        if (rows < 1) throw new ArgumentOutOfRangeException(nameof(rows));
        if (cols < 1) throw new ArgumentOutOfRangeException(nameof(cols));
        if (sigmaDesc.Length > Math.Min(rows, cols)) throw new ArgumentException("more singular values than min(rows, cols)", nameof(sigmaDesc));
        var o = options ?? ProfileOptions.Default;
        o.Validate();

        foreach (var s in sigmaDesc)
            if (!double.IsFinite(s) || s < 0)
                return new SpectrumProfile { Status = ProfileStatus.NotAvailable, Reason = "singular values contain a negative or non-finite value", Rows = rows, Cols = cols, Rank = 0 };

        var sigma = (double[])sigmaDesc.Clone();
        bool sorted = true;
        for (int i = 1; i < sigma.Length; i++) if (sigma[i] > sigma[i - 1]) { sorted = false; break; }
        if (!sorted) { Array.Sort(sigma); Array.Reverse(sigma); }

        double s1 = sigma.Length > 0 ? sigma[0] : 0;
        if (s1 == 0)
            return new SpectrumProfile { Status = ProfileStatus.NotAvailable, Reason = "all-zero matrix", Rows = rows, Cols = cols, Rank = 0, Frobenius = 0, SigmaMax = 0 };

        // Scaled energies (σ_i/σ_1)² avoid overflow and underflow of σ².
        double sumAll = 0;
        foreach (var s in sigma) { double r = s / s1; sumAll += r * r; }
        double frob = s1 * Math.Sqrt(sumAll);
        double stable = sumAll; // ‖W‖_F²/σ_1²

        double tol = Math.Max(rows, cols) * o.RankEpsilon * s1;
        int d = 0;
        while (d < sigma.Length && sigma[d] > tol) d++;

        if (d < o.MinRank)
            return new SpectrumProfile
            {
                Status = ProfileStatus.NotAvailable, Reason = $"numerical rank {d} < {o.MinRank}",
                Rows = rows, Cols = cols, Rank = d, Frobenius = frob, SigmaMax = s1, StableRank = stable,
            };

        double sumD = 0;
        for (int i = 0; i < d; i++) { double r = sigma[i] / s1; sumD += r * r; }
        double logSum = Math.Log(sumD);
        var logP = new double[d];
        var p = new double[d];
        var lambda = new double[d];
        for (int i = 0; i < d; i++)
        {
            logP[i] = 2 * Math.Log(sigma[i] / s1) - logSum;
            p[i] = Math.Exp(logP[i]);
            lambda[i] = d * p[i];
        }
        double tau = Math.Max(0, Math.Log(d) + logP[0]);

        var orbit = new PowerLawOrbit(d);
        var logRank = orbit.LogRanks;
        double meanLogRank = 0;
        for (int i = 0; i < d; i++) meanLogRank += p[i] * logRank[i];

        var ctx = new Fitter(orbit, logP, p, tau, o);
        var top = ctx.FitTop();
        var mle = ctx.FitMle(meanLogRank);
        var hel = ctx.FitHel();

        // Effective ranks from cumulative sums; tails from suffix sums (no 1 − cumsum cancellation).
        var cum = new double[d];
        double c = 0;
        for (int i = 0; i < d; i++) { c += p[i]; cum[i] = c; }
        var suffix = new double[d + 1]; // suffix[k] = Σ_{i>k} p_i (1-based k)
        for (int k = d - 1; k >= 0; k--) suffix[k] = suffix[k + 1] + p[k];
        int RankAt(double q)
        {
            if (q <= 0) return 1;
            for (int i = 0; i < d; i++) if (cum[i] >= q) return i + 1;
            return d;
        }

        var ols = ctx.FitOls(RankAt(o.OlsWindowQuantile));
        double aM = mle.Alpha;
        var ranks = new List<EffectiveRank>(o.Quantiles.Count);
        foreach (var q in o.Quantiles)
        {
            int r = RankAt(q);
            ranks.Add(new EffectiveRank(
                q, r, suffix[r], orbit.ModelTail(r, aM), orbit.ModelTailBounds(r, aM),
                orbit.ModelEffectiveRank(q, aM), orbit.PredictedEffectiveRank(q, aM, o.TransitionHalfWidth),
                RankAt(q - o.RobustEpsilon), q + o.RobustEpsilon >= 1 ? d : RankAt(q + o.RobustEpsilon)));
        }

        return new SpectrumProfile
        {
            Status = d < o.ReliableRank ? ProfileStatus.Unreliable : ProfileStatus.Ok,
            Reason = d < o.ReliableRank ? $"numerical rank {d} < {o.ReliableRank}: power-law fits unreliable" : null,
            Rows = rows, Cols = cols, Rank = d, Frobenius = frob, SigmaMax = s1, StableRank = stable,
            Tau = tau, MeanLogRank = meanLogRank, P = p, Lambda = lambda,
            Top = top, Mle = mle, Hel = hel, Ols = ols,
            Regime = PowerLawOrbit.Regime(aM, o.TransitionHalfWidth),
            EffectiveRanks = ranks,
        };
    }

    /// <summary>Chart solvers over one observed distribution.</summary>
    private sealed class Fitter(PowerLawOrbit orbit, double[] logP, double[] p, double tau, ProfileOptions o)
    {
        private readonly int _d = orbit.Dimension;

        /// <summary>H²(p_obs, p(α)) = Σ(√p_i − √p_i(α))², summed term by term (no 2 − 2·BC cancellation).</summary>
        internal double Hellinger2(double alpha)
        {
            double logH = orbit.LogH(alpha);
            var lr = orbit.LogRanks;
            double h = 0;
            for (int i = 0; i < _d; i++)
            {
                double diff = Math.Exp(0.5 * logP[i]) - Math.Exp(0.5 * (-alpha * lr[i] - logH));
                h += diff * diff;
            }
            return h;
        }

        internal ChartFit Residuals(PowerLawChart chart, double alpha, bool atLow, bool atHigh, int? w1 = null, int? w2 = null)
        {
            var m = orbit.Moments(alpha);
            var lr = orbit.LogRanks;
            double h2 = 0, kl = 0;
            for (int i = 0; i < _d; i++)
            {
                double logQ = -alpha * lr[i] - m.LogH;
                double diff = Math.Exp(0.5 * logP[i]) - Math.Exp(0.5 * logQ);
                h2 += diff * diff;
                kl += p[i] * (logP[i] - logQ);
            }
            double rH = Math.Sqrt(h2);
            double rho = tau - (Math.Log(_d) - m.LogH);
            return new ChartFit(chart, alpha, atLow, atHigh, rho, rH, Math.Sqrt(_d) * rH, Math.Max(0, kl), Math.Max(0, m.Fisher), m.Mu, w1, w2);
        }

        /// <summary>Bisection for an increasing g on [lo, hi] with g(lo) &lt; 0 &lt; g(hi); stops at adjacent doubles.</summary>
        private double Bisect(Func<double, double> g, double lo, double hi)
        {
            for (int it = 0; it < o.MaxIterations; it++)
            {
                double mid = 0.5 * (lo + hi);
                if (mid <= lo || mid >= hi) break;
                if (g(mid) < 0) lo = mid; else hi = mid;
            }
            return 0.5 * (lo + hi);
        }

        internal ChartFit FitTop()
        {
            double lo = o.AlphaLow, hi = o.AlphaHigh;
            if (tau <= orbit.Tau(lo)) return Residuals(PowerLawChart.Top, lo, true, false);
            if (tau >= orbit.Tau(hi)) return Residuals(PowerLawChart.Top, hi, false, true);
            return Residuals(PowerLawChart.Top, Bisect(a => orbit.Tau(a) - tau, lo, hi), false, false);
        }

        internal ChartFit FitMle(double target)
        {
            double lo = o.AlphaLow, hi = o.AlphaHigh;
            if (target >= orbit.Mu(lo)) return Residuals(PowerLawChart.Mle, lo, true, false);
            if (target <= orbit.Mu(hi)) return Residuals(PowerLawChart.Mle, hi, false, true);
            // μ is decreasing, so target − μ(α) is increasing.
            return Residuals(PowerLawChart.Mle, Bisect(a => target - orbit.Mu(a), lo, hi), false, false);
        }

        /// <summary>
        /// C3: H²(α) need not be unimodal on [0, 60] (it flattens towards 2 − 2√p_1 as α → ∞ and can have a local
        /// minimum there), so golden section alone could stop in the wrong basin. We evaluate H² on a grid (step
        /// HelScanStep to α = 1, then geometric growth), take the best grid point, and run golden section on the
        /// two grid cells around it; the result is the best of the refined point and the grid minimum.
        /// </summary>
        internal ChartFit FitHel()
        {
            double lo = o.AlphaLow, hi = o.AlphaHigh;
            var grid = new List<double>();
            for (double a = lo; a < hi;)
            {
                grid.Add(a);
                a = a < 1 ? a + o.HelScanStep : a * o.HelScanGrowth;
            }
            grid.Add(hi);
            int best = 0;
            double bestVal = double.PositiveInfinity;
            for (int k = 0; k < grid.Count; k++)
            {
                double v = Hellinger2(grid[k]);
                if (v < bestVal) { bestVal = v; best = k; }
            }
            double a0 = grid[Math.Max(0, best - 1)], b0 = grid[Math.Min(grid.Count - 1, best + 1)];
            const double invPhi = 0.6180339887498949;
            double x1 = b0 - invPhi * (b0 - a0), x2 = a0 + invPhi * (b0 - a0);
            double f1 = Hellinger2(x1), f2 = Hellinger2(x2);
            for (int it = 0; it < o.MaxIterations && b0 - a0 > 1e-15 * Math.Max(1, Math.Abs(a0)); it++)
            {
                if (f1 <= f2) { b0 = x2; x2 = x1; f2 = f1; x1 = b0 - invPhi * (b0 - a0); f1 = Hellinger2(x1); }
                else { a0 = x1; x1 = x2; f1 = f2; x2 = a0 + invPhi * (b0 - a0); f2 = Hellinger2(x2); }
            }
            double alpha = f1 <= f2 ? x1 : x2;
            double fa = Math.Min(f1, f2);
            if (bestVal < fa) alpha = grid[best];
            // Endpoints are candidates too (golden section never evaluates them).
            if (Hellinger2(lo) <= Math.Min(fa, bestVal)) alpha = lo;
            else if (Hellinger2(hi) < Math.Min(fa, bestVal)) alpha = hi;
            bool atLow = alpha - lo <= 1e-9, atHigh = hi - alpha <= 1e-9;
            return Residuals(PowerLawChart.Hel, alpha, atLow, atHigh);
        }

        internal ChartFit? FitOls(int defaultEnd)
        {
            int k1 = o.OlsWindowStart ?? 1;
            int k2 = Math.Min(_d, o.OlsWindowEnd ?? defaultEnd);
            if (k2 - k1 < 1) return null;
            var lr = orbit.LogRanks;
            double n = k2 - k1 + 1, mx = 0, my = 0;
            for (int i = k1 - 1; i < k2; i++) { mx += lr[i]; my += logP[i]; }
            mx /= n; my /= n;
            double sxy = 0, sxx = 0;
            for (int i = k1 - 1; i < k2; i++) { double dx = lr[i] - mx; sxx += dx * dx; sxy += dx * (logP[i] - my); }
            double alpha = -sxy / sxx; // log λ_i = log d + log p_i: same slope
            bool atLow = alpha <= o.AlphaLow, atHigh = alpha >= o.AlphaHigh;
            alpha = Math.Clamp(alpha, o.AlphaLow, o.AlphaHigh);
            return Residuals(PowerLawChart.Ols, alpha, atLow, atHigh, k1, k2);
        }
    }
}

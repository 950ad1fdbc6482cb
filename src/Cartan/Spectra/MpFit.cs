namespace Cartan.Spectra;

/// <summary>
/// WeightWatcher-compatible Marchenko–Pastur bulk fit of one layer's ESD (peers.md "With mp_fit=True";
/// WeightWatcher 0.7.5.5 <c>mp_fit</c> / <c>RMT_Util.fit_density_with_range</c>, re-implemented step by step so the
/// numbers agree with the real one):
/// <list type="number">
/// <item>the ESD is rescaled to mean 1: x = W_scale²·λ with W_scale = √n/‖W‖_F, ‖W‖_F² = Σλ (n = number of eigenvalues,
/// pooled conv taps included);</item>
/// <item>a linear-kernel density estimate (bandwidth 0.1) of x — of √x when Q = 1 — is taken on 1000 equally spaced
/// points of [0, max + 0.5]; points where it is below 0.01 are dropped (they count as zero residuals);</item>
/// <item>σ_mp minimises Σ(ρ_MP(·; σ, Q) − KDE)² (quarter-circle law on √x when Q = 1; a residual of 1000 per point when
/// the MP edges are implausible: λ₊ left of the KDE peak or right of the grid, λ₋ right of the peak) by a grid search
/// over [0.05, 2.0)·s₀ in steps of 0.01·s₀, s₀ = √(x_max)/(1 + 1/√Q), polished by Nelder–Mead from the best grid point
/// (scipy.optimize.brute with its default finish, fmin: xtol = ftol = 1e-4, at most 200 evaluations);</item>
/// <item>λ± = (σ_mp(1 ± 1/√Q))², TW = Q^{−1/2}·λ₊^{2/3}·M^{−2/3}, num_spikes = #{x &gt; λ₊ + √TW},
/// mp_softrank = λ₊/x_max.</item>
/// </list>
/// Q = N/M with N ≥ M the dimensions of one (tap) matrix. σ_mp, λ±, TW are in the rescaled units (WW's columns
/// sigma_mp and the bulk edges before it divides them by W_scale²); <see cref="BulkMax"/>/<see cref="BulkMin"/> are
/// WW's bulk_max/bulk_min in the units of the given λ.
/// </summary>
public sealed record MpFit
{
    /// <summary>Number of eigenvalues fitted (WW num_evals).</summary>
    public required int NumEvals { get; init; }
    /// <summary>Aspect ratio Q = N/M ≥ 1 of one matrix (one tap of a conv).</summary>
    public required double Q { get; init; }
    /// <summary>M = min(rows, cols) of one matrix.</summary>
    public required int M { get; init; }
    /// <summary>True when Q = 1 and the quarter-circle law was fitted to the singular values √x.</summary>
    public required bool QuarterCircle { get; init; }
    /// <summary>W_scale = √n/‖W‖_F: x = W_scale²·λ has mean 1 (WW W_scale).</summary>
    public required double WScale { get; init; }
    /// <summary>Fitted σ_mp (WW sigma_mp), in the rescaled units.</summary>
    public required double SigmaMp { get; init; }
    /// <summary>Bulk edge λ₊ = (σ_mp(1 + 1/√Q))² in the rescaled units.</summary>
    public required double LambdaPlus { get; init; }
    /// <summary>Bulk edge λ₋ = (σ_mp(1 − 1/√Q))² in the rescaled units.</summary>
    public required double LambdaMinus { get; init; }
    /// <summary>Tracy–Widom width TW = Q^{−1/2}·λ₊^{2/3}·M^{−2/3} (rescaled units); spikes lie above λ₊ + √TW.</summary>
    public required double TracyWidom { get; init; }
    /// <summary>Largest rescaled eigenvalue x_max = W_scale²·λ_max.</summary>
    public required double LambdaMaxRescaled { get; init; }
    /// <summary>λ₊/x_max (WW mp_softrank).</summary>
    public required double MpSoftrank { get; init; }
    /// <summary>#{x &gt; λ₊ + √TW} (WW num_spikes).</summary>
    public required int NumSpikes { get; init; }
    /// <summary>Objective Σ(ρ − KDE)² at σ_mp.</summary>
    public required double Residual { get; init; }
    /// <summary>Objective evaluations spent (grid + Nelder–Mead).</summary>
    public required int Evaluations { get; init; }
    /// <summary>λ₊ in the units of the given eigenvalues (WW bulk_max).</summary>
    public double BulkMax => LambdaPlus / (WScale * WScale);
    /// <summary>λ₋ in the units of the given eigenvalues (WW bulk_min).</summary>
    public double BulkMin => LambdaMinus / (WScale * WScale);

    private const double Bandwidth = 0.1, DensityFloor = 0.01, Penalty = 1000;
    private const int GridPoints = 1000, MaxEvaluations = 200;

    /// <summary>
    /// Fits the MP bulk to the eigenvalues λ = σ² of a rows × cols matrix (for a conv: the pooled λ of all taps, each
    /// tap rows × cols). Returns null where WeightWatcher's fit fails (it then writes −1): no eigenvalues, Σλ = 0, a
    /// negative or non-finite λ, or (Q ≠ 1) a density estimate that is nowhere above 0.01.
    /// </summary>
    public static MpFit? Compute(ReadOnlySpan<double> eigenvalues, int rows, int cols)
    {
        if (rows < 1 || cols < 1) throw new ArgumentOutOfRangeException(nameof(rows), "matrix dimensions must be ≥ 1");
        int n = eigenvalues.Length;
        if (n == 0) return null;
        var lam = eigenvalues.ToArray();
        foreach (var v in lam) if (!double.IsFinite(v) || v < 0) return null;
        Array.Sort(lam); // WW's ESD is sorted ascending; the order fixes numpy's summation rounding
        int bigN = Math.Max(rows, cols), m = Math.Min(rows, cols);
        double q = (double)bigN / m;
        bool qc = q == 1;

        double wnorm = Math.Sqrt(NumpySum(lam));
        double wscale = Math.Sqrt((double)n) / wnorm;
        if (!(wnorm > 0) || !double.IsFinite(wscale)) return null;
        double s2 = wscale * wscale;
        var x = new double[n];
        for (int i = 0; i < n; i++) x[i] = s2 * lam[i];
        double xmax = x[^1];

        // Grid of scipy.optimize.brute: np.mgrid[slice(0.05 s0, 2.0 s0, 0.01 s0)] = np.arange (numpy fills
        // start + i·((start + step) − start)).
        double invSqQ = 1.0 / Math.Sqrt(q), onePlus = 1 + invSqQ;
        double s0 = Math.Sqrt(xmax / (onePlus * onePlus));
        double start = 0.05 * s0, stop = 2.0 * s0, step = 0.01 * s0;
        double len = Math.Ceiling((stop - start) / step);
        if (!(len >= 1) || len > 1e6) return null;
        int gridLen = (int)len;

        var fit = new double[n];
        for (int i = 0; i < n; i++) fit[i] = qc ? Math.Sqrt(x[i]) : x[i];
        var obj = new Objective(fit, q, qc);
        if (!qc && obj.Good.Length == 0) return null; // WW: max() of an empty array raises, the fit is −1

        double delta = (start + step) - start;
        double best = start, bestJ = obj.Value(start);
        for (int i = 1; i < gridLen; i++)
        {
            double s = i == 1 ? start + step : start + i * delta;
            double j = obj.Value(s);
            if (j < bestJ) { bestJ = j; best = s; } // np.argmin: the first minimum
        }
        var (sigma, fval, evals) = NelderMead1D(obj, best);

        // WW: (s1 * (1 ± 1/np.sqrt(Q)))**2 on a numpy scalar is C pow(·, 2).
        double lp = Math.Pow(sigma * (1 + 1 / Math.Sqrt(q)), 2);
        double lm = Math.Pow(sigma * (1 - 1 / Math.Sqrt(q)), 2);
        double tw = 1 / Math.Sqrt(q) * Math.Pow(lp, 2.0 / 3.0) * Math.Pow(m, -2.0 / 3.0);
        double cut = lp + Math.Sqrt(tw);
        int spikes = 0;
        foreach (var v in x) if (v > cut) spikes++;
        return new MpFit
        {
            NumEvals = n, Q = q, M = m, QuarterCircle = qc, WScale = wscale, SigmaMp = sigma, LambdaPlus = lp, LambdaMinus = lm,
            TracyWidom = tw, LambdaMaxRescaled = xmax, MpSoftrank = lp / xmax, NumSpikes = spikes, Residual = fval,
            Evaluations = gridLen + evals,
        };
    }

    private static double Sq(double v) => v * v;

    /// <summary>
    /// scipy.optimize.fmin (Nelder–Mead, scipy 1.10) in one dimension from x0: initial simplex {x0, 1.05·x0}
    /// (0.00025 when x0 = 0), reflection 1, expansion 2, contraction ½, shrink ½, stop when both the simplex width and
    /// the spread of its values are ≤ 1e-4, or after 200 evaluations / 200 iterations. Ties keep the simplex order
    /// (numpy's argsort of two elements is stable).
    /// </summary>
    private static (double X, double F, int Evals) NelderMead1D(Objective f, double x0)
    {
        const double tol = 1e-4;
        int calls = 0;
        bool Eval(double x, out double v)
        {
            if (calls >= MaxEvaluations) { v = double.NaN; return false; }
            calls++;
            v = f.Value(x);
            return true;
        }
        double[] sim = [x0, x0 != 0 ? (1 + 0.05) * x0 : 0.00025];
        double[] fs = [double.PositiveInfinity, double.PositiveInfinity];
        if (Eval(sim[0], out var f0)) { fs[0] = f0; if (Eval(sim[1], out var f1)) fs[1] = f1; }
        void Sort()
        {
            // numpy argsort: NaN sorts last; equal values keep their order.
            bool swap = double.IsNaN(fs[0]) ? !double.IsNaN(fs[1]) : fs[1] < fs[0];
            if (swap) { (sim[0], sim[1]) = (sim[1], sim[0]); (fs[0], fs[1]) = (fs[1], fs[0]); }
        }
        Sort();
        int iterations = 1;
        while (calls < MaxEvaluations && iterations < MaxEvaluations)
        {
            if (Math.Abs(sim[1] - sim[0]) <= tol && Math.Abs(fs[0] - fs[1]) <= tol) break;
            double xbar = sim[0]; // np.add.reduce(sim[:-1]) / 1
            double xr = (1 + 1) * xbar - 1 * sim[1];
            if (!Eval(xr, out var fxr)) { Sort(); break; }
            bool shrink = false;
            if (fxr < fs[0])
            {
                double xe = (1 + 1 * 2) * xbar - 1 * 2 * sim[1];
                if (!Eval(xe, out var fxe)) { Sort(); break; }
                if (fxe < fxr) { sim[1] = xe; fs[1] = fxe; } else { sim[1] = xr; fs[1] = fxr; }
            }
            // scipy's "fxr < fsim[-2]" (accept the reflection) compares with fsim[0] when N = 1: never taken here.
            else if (fxr < fs[1])
            {
                double xc = (1 + 0.5 * 1) * xbar - 0.5 * 1 * sim[1];
                if (!Eval(xc, out var fxc)) { Sort(); break; }
                if (fxc <= fxr) { sim[1] = xc; fs[1] = fxc; } else shrink = true;
            }
            else
            {
                double xcc = (1 - 0.5) * xbar + 0.5 * sim[1];
                if (!Eval(xcc, out var fxcc)) { Sort(); break; }
                if (fxcc < fs[1]) { sim[1] = xcc; fs[1] = fxcc; } else shrink = true;
            }
            if (shrink)
            {
                sim[1] = sim[0] + 0.5 * (sim[1] - sim[0]);
                if (!Eval(sim[1], out var fsh)) { Sort(); break; }
                fs[1] = fsh;
            }
            iterations++;
            Sort();
        }
        return (sim[0], fs[0], calls);
    }

    /// <summary>
    /// WW's resid_mp objective with its KDE precomputed (it does not depend on σ): the KDE is evaluated once on the
    /// 1000-point grid, the kept points (density &gt; 0.01) and the count of dropped ones (&lt; 0.01) are stored.
    /// </summary>
    private sealed class Objective
    {
        public readonly double[] Good, Density;
        private readonly int _bad;
        private readonly double _q, _peakX, _gridMax;
        private readonly bool _qc;
        private readonly double[] _buffer;

        public Objective(double[] sortedData, double q, bool quarterCircle)
        {
            _q = q; _qc = quarterCircle;
            int n = sortedData.Length;
            double stop = sortedData[^1] + 0.5;
            double gstep = stop / (GridPoints - 1); // np.linspace(0, stop, 1000): i·step, last point = stop
            var good = new List<double>(GridPoints);
            var dens = new List<double>(GridPoints);
            int lo = 0;
            double norm = 1.0 / (n * Bandwidth);
            for (int i = 0; i < GridPoints; i++)
            {
                double g = i == GridPoints - 1 ? stop : i * gstep;
                // Linear kernel: (1/(n·h)) Σ max(0, 1 − |g − t|/h); the data are sorted, so scan the window |g − t| < h.
                while (lo < n && g - sortedData[lo] >= Bandwidth) lo++;
                double acc = 0;
                for (int k = lo; k < n; k++)
                {
                    double d = Math.Abs(g - sortedData[k]);
                    if (d >= Bandwidth) break;
                    acc += 1 - d / Bandwidth;
                }
                double y = acc * norm;
                if (y > DensityFloor) { good.Add(g); dens.Add(y); }
                else if (y < DensityFloor) _bad++;
            }
            Good = [.. good]; Density = [.. dens];
            if (Good.Length > 0)
            {
                int peak = 0;
                for (int i = 1; i < Density.Length; i++) if (Density[i] > Density[peak]) peak = i;
                _peakX = Good[peak];
                _gridMax = Good.Max();
            }
            _buffer = new double[Good.Length + _bad];
        }

        public double Value(double sigma)
        {
            var r = _buffer;
            int k = Good.Length;
            if (_qc)
            {
                double c = 1 / (Math.PI * sigma * sigma);
                for (int i = 0; i < k; i++)
                {
                    double g = Good[i];
                    double v = NanToNum(c * Math.Sqrt(4 - g * g));
                    double d = v - Density[i];
                    r[i] = d * d;
                }
            }
            else
            {
                double y = 1 / _q;
                double rq = Math.Sqrt(1 / _q);
                double b = Sq(sigma * (1 + rq)), a = Sq(sigma * (1 - rq));
                if (b < _peakX || b > _gridMax || a > _peakX)
                {
                    for (int i = 0; i < k; i++) r[i] = Penalty * Penalty;
                }
                else
                {
                    double c = 2 * Math.PI * sigma * sigma;
                    for (int i = 0; i < k; i++)
                    {
                        double g = Good[i];
                        double v = NanToNum(1 / (c * g * y) * Math.Sqrt((b - g) * (g - a)));
                        double d = v - Density[i];
                        r[i] = d * d;
                    }
                }
            }
            for (int i = k; i < r.Length; i++) r[i] = 0;
            return NumpySum(r);
        }

        private static double NanToNum(double v) =>
            double.IsNaN(v) ? 0 : double.IsPositiveInfinity(v) ? double.MaxValue : double.IsNegativeInfinity(v) ? -double.MaxValue : v;
    }

    /// <summary>np.sum of a contiguous float64 vector: buffered in chunks of 8192, each chunk summed pairwise
    /// (blocks of ≤ 128 with eight accumulators), the chunk sums accumulated left to right.</summary>
    internal static double NumpySum(ReadOnlySpan<double> a)
    {
        if (a.Length == 0) return 0;
        double res = 0;
        for (int i = 0; i < a.Length; i += 8192)
        {
            double s = Pairwise(a.Slice(i, Math.Min(8192, a.Length - i)));
            res = i == 0 ? s : res + s;
        }
        return res;
    }

    private static double Pairwise(ReadOnlySpan<double> a)
    {
        int n = a.Length;
        if (n < 8)
        {
            double s = 0;
            for (int i = 0; i < n; i++) s += a[i];
            return s;
        }
        if (n <= 128)
        {
            double r0 = a[0], r1 = a[1], r2 = a[2], r3 = a[3], r4 = a[4], r5 = a[5], r6 = a[6], r7 = a[7];
            int i = 8;
            for (; i < n - n % 8; i += 8)
            {
                r0 += a[i]; r1 += a[i + 1]; r2 += a[i + 2]; r3 += a[i + 3];
                r4 += a[i + 4]; r5 += a[i + 5]; r6 += a[i + 6]; r7 += a[i + 7];
            }
            double res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
            for (; i < n; i++) res += a[i];
            return res;
        }
        int n2 = n / 2;
        n2 -= n2 % 8;
        return Pairwise(a[..n2]) + Pairwise(a[n2..]);
    }
}

namespace Cartan.Spectra;

/// <summary>A likelihood-ratio test of the power law against one alternative (powerlaw package's conventions).</summary>
/// <param name="R">Σ_i [ln p_PL(x_i) − ln p_alt(x_i)] over the tail: &gt; 0 favours the power law.</param>
/// <param name="P">Two-sided p-value: Vuong's erfc(|R|/√(2nσ²)) for a non-nested alternative, the χ²₁ tail
/// P(χ²₁ &gt; 2|R|) = erfc(√|R|) for a nested one. A small p means the sign of R is significant.</param>
/// <param name="Nested">True when the power law is a limit of the alternative (truncated power law, λ → 0).</param>
/// <param name="Parameters">The alternative's maximum-likelihood parameters (name → value).</param>
public sealed record LlrTest(double R, double P, bool Nested, IReadOnlyList<KeyValuePair<string, double>> Parameters);

/// <summary>Power law against its two usual alternatives on the same tail (Clauset, Shalizi &amp; Newman 2009, §5).</summary>
public sealed record TailComparison(int N, double Xmin, double Alpha, LlrTest TruncatedPowerLaw, LlrTest LogNormal);

/// <summary>
/// Log-likelihood ratios of the continuous power law p(x) = (α−1)/xmin·(x/xmin)^−α against the truncated power law
/// p(x) = λ^{1−α} x^{−α} e^{−λx} / Γ(1−α, λ·xmin) and the log-normal truncated at xmin
/// p(x) = φ((ln x − μ)/σ)/(xσ) / Q((ln xmin − μ)/σ), all on the tail x ≥ xmin, each fitted by maximum likelihood
/// (α of the power law is the closed-form MLE, the WW/Clauset α). The alternatives are fitted by Nelder–Mead on a
/// compact domain (documented on the constants below) so that limits such as λ → 0 or μ → −∞, where the alternative
/// degenerates into the power law, stop at a defined point instead of drifting.
/// </summary>
public static class LikelihoodRatio
{
    /// <summary>λ·xmax is kept in [1e-10, 1e4]·(xmax/xmin)… precisely: λ ∈ [1e-10/xmax, 1e4/xmin].</summary>
    public const double LambdaLowTimesXmax = 1e-10, LambdaHighTimesXmin = 1e4;
    /// <summary>α of the truncated power law is kept in [−50, 50].</summary>
    public const double TplAlphaLimit = 50;
    /// <summary>μ ∈ [ln xmin − 30, ln xmax + 30], σ ∈ [1e-3, 30] for the log-normal.</summary>
    public const double MuMargin = 30, SigmaLow = 1e-3, SigmaHigh = 30;

    /// <summary>
    /// Compares the fits on <paramref name="tail"/> (every value must be ≥ <paramref name="xmin"/> &gt; 0; at least 2
    /// values, not all equal). Returns null when the power law itself cannot be fitted (all values equal to xmin).
    /// </summary>
    public static TailComparison? Compare(ReadOnlySpan<double> tail, double xmin)
    {
        if (!(xmin > 0) || !double.IsFinite(xmin)) throw new ArgumentOutOfRangeException(nameof(xmin));
        int n = tail.Length;
        if (n < 2) return null;
        var x = tail.ToArray();
        double sumLog = 0, sumX = 0, xmax = 0, sumLn2 = 0;
        foreach (var v in x)
        {
            if (!(v >= xmin) || !double.IsFinite(v)) throw new ArgumentException("tail values must be finite and ≥ xmin", nameof(tail));
            sumLog += Math.Log(v / xmin);
            sumX += v;
            xmax = Math.Max(xmax, v);
        }
        if (!(sumLog > 0)) return null;
        double alpha = 1 + n / sumLog;
        var lx = x.Select(v => Math.Log(v)).ToArray();
        foreach (var v in lx) sumLn2 += v * v;
        double lnXmin = Math.Log(xmin);
        var pl = x.Select((v, i) => Math.Log(alpha - 1) - lnXmin - alpha * (lx[i] - lnXmin)).ToArray();

        // Truncated power law: parameters (α, ln λ).
        double sumLx = lx.Sum();
        double lnLamLo = Math.Log(LambdaLowTimesXmax / xmax), lnLamHi = Math.Log(LambdaHighTimesXmin / xmin);
        double TplNegLL(double[] p)
        {
            double a = p[0], ll = p[1];
            if (Math.Abs(a) > TplAlphaLimit || ll < lnLamLo || ll > lnLamHi) return double.PositiveInfinity;
            double lam = Math.Exp(ll);
            double norm = (1 - a) * ll - LogUpperGamma(1 - a, lam * xmin);
            return -(n * norm - a * sumLx - lam * sumX);
        }
        double meanX = sumX / n;
        var tpl = Minimize(TplNegLL, [
            [alpha, Math.Log(Math.Max(Math.Exp(lnLamLo) * 10, 1e-3 / meanX))],
            [alpha, Math.Log(1 / meanX)],
            [1.0, Math.Log(1 / meanX)],
        ], [0.5, 1.0]);
        double tlam = Math.Exp(tpl[1]), ta = tpl[0], tnorm = (1 - ta) * tpl[1] - LogUpperGamma(1 - ta, tlam * xmin);
        var tplLl = x.Select((v, i) => tnorm - ta * lx[i] - tlam * v).ToArray();

        // Log-normal truncated at xmin: parameters (μ, ln σ).
        double lnXmax = Math.Log(xmax);
        double LnNegLL(double[] p)
        {
            double mu = p[0], s = Math.Exp(p[1]);
            if (mu < lnXmin - MuMargin || mu > lnXmax + MuMargin || s < SigmaLow || s > SigmaHigh) return double.PositiveInfinity;
            double q = LogNormalTailMass(lnXmin, mu, s);
            double acc = 0;
            foreach (var v in lx) { double z = (v - mu) / s; acc += -v - Math.Log(s) - 0.5 * Math.Log(2 * Math.PI) - 0.5 * z * z; }
            return -(acc - n * q);
        }
        double mean = sumLx / n, sd = Math.Sqrt(Math.Max(sumLn2 / n - mean * mean, 1e-12));
        var ln = Minimize(LnNegLL, [
            [mean, Math.Log(Math.Clamp(sd, SigmaLow * 2, SigmaHigh / 2))],
            [lnXmin, Math.Log(Math.Clamp(2 * sd, SigmaLow * 2, SigmaHigh / 2))],
            [lnXmin - 2, Math.Log(Math.Clamp(4 * sd, SigmaLow * 2, SigmaHigh / 2))],
        ], [0.5, 0.5]);
        // On the μ faces of the domain (the log-normal degenerating into a power law as μ → −∞) the optimum is a
        // 1-D one in ln σ, which the simplex approaches slowly: finish it there by golden section.
        foreach (double face in new[] { lnXmin - MuMargin, lnXmax + MuMargin })
        {
            if (Math.Abs(ln[0] - face) > 1e-3) continue;
            double lo = Math.Max(Math.Log(SigmaLow), ln[1] - 1), hi = Math.Min(Math.Log(SigmaHigh), ln[1] + 1);
            double best = GoldenSection(t => LnNegLL([face, t]), lo, hi);
            if (LnNegLL([face, best]) <= LnNegLL(ln)) ln = [face, best];
        }
        double lmu = ln[0], ls = Math.Exp(ln[1]), lq = LogNormalTailMass(lnXmin, lmu, ls);
        var lnLl = lx.Select(v => { double z = (v - lmu) / ls; return -v - Math.Log(ls) - 0.5 * Math.Log(2 * Math.PI) - 0.5 * z * z - lq; }).ToArray();

        return new TailComparison(n, xmin, alpha,
            Test(pl, tplLl, nested: true, [new("alpha", ta), new("lambda", tlam)]),
            Test(pl, lnLl, nested: false, [new("mu", lmu), new("sigma", ls)]));
    }

    /// <summary>ln Q((ln xmin − μ)/σ): log of the normal mass above the truncation point.</summary>
    private static double LogNormalTailMass(double lnXmin, double mu, double s) => LogErfc((lnXmin - mu) / (s * Math.Sqrt(2))) - Math.Log(2);

    private static LlrTest Test(double[] l1, double[] l2, bool nested, KeyValuePair<string, double>[] parameters)
    {
        int n = l1.Length;
        double r = 0;
        for (int i = 0; i < n; i++) r += l1[i] - l2[i];
        double mean = r / n, v = 0;
        for (int i = 0; i < n; i++) { double d = l1[i] - l2[i] - mean; v += d * d; }
        v /= n;
        double p = nested ? Erfc(Math.Sqrt(Math.Abs(r))) : v > 0 ? Erfc(Math.Abs(r) / Math.Sqrt(2 * n * v)) : 1.0;
        return new LlrTest(r, p, nested, parameters);
    }

    // ------------------------------------------------------------------ optimisation

    /// <summary>Nelder–Mead from several starts, each restarted until it stops improving; returns the best point.</summary>
    internal static double[] Minimize(Func<double[], double> f, double[][] starts, double[] steps)
    {
        double[]? best = null;
        double bestF = double.PositiveInfinity;
        foreach (var s0 in starts)
        {
            var p = (double[])s0.Clone();
            double fp = f(p);
            if (!double.IsFinite(fp)) continue;
            var step = (double[])steps.Clone();
            for (int round = 0; round < 30; round++)
            {
                var (q, fq) = NelderMead(f, p, step);
                bool improved = fq < fp - 1e-13 * Math.Max(1, Math.Abs(fp));
                if (fq <= fp) { p = q; fp = fq; }
                if (!improved && round > 0) break;
                for (int k = 0; k < step.Length; k++) step[k] = Math.Max(step[k] * 0.3, 1e-6);
            }
            if (fp < bestF) { bestF = fp; best = p; }
        }
        return best ?? (double[])starts[0].Clone();
    }

    private static double GoldenSection(Func<double, double> f, double a, double b)
    {
        double g = (Math.Sqrt(5) - 1) / 2, c = b - g * (b - a), d = a + g * (b - a), fc = f(c), fd = f(d);
        for (int i = 0; i < 200 && b - a > 1e-13; i++)
        {
            if (fc <= fd) { b = d; d = c; fd = fc; c = b - g * (b - a); fc = f(c); }
            else { a = c; c = d; fc = fd; d = a + g * (b - a); fd = f(d); }
        }
        return fc <= fd ? c : d;
    }

    private static (double[] X, double F) NelderMead(Func<double[], double> f, double[] x0, double[] step)
    {
        int d = x0.Length;
        var pts = new double[d + 1][];
        var fv = new double[d + 1];
        pts[0] = (double[])x0.Clone(); fv[0] = f(pts[0]);
        for (int i = 0; i < d; i++)
        {
            pts[i + 1] = (double[])x0.Clone();
            pts[i + 1][i] += step[i];
            fv[i + 1] = f(pts[i + 1]);
            if (!double.IsFinite(fv[i + 1])) { pts[i + 1][i] = x0[i] - step[i]; fv[i + 1] = f(pts[i + 1]); }
        }
        for (int it = 0; it < 4000; it++)
        {
            var order = Enumerable.Range(0, d + 1).OrderBy(i => fv[i]).ToArray();
            pts = order.Select(i => pts[i]).ToArray();
            fv = order.Select(i => fv[i]).ToArray();
            double spread = 0;
            for (int i = 1; i <= d; i++) for (int k = 0; k < d; k++) spread = Math.Max(spread, Math.Abs(pts[i][k] - pts[0][k]));
            if (spread < 1e-12 || (double.IsFinite(fv[d]) && fv[d] - fv[0] <= 1e-15 * Math.Max(1, Math.Abs(fv[0])) && spread < 1e-8)) break;
            var c = new double[d];
            for (int i = 0; i < d; i++) for (int k = 0; k < d; k++) c[k] += pts[i][k] / d;
            double[] At(double t) { var y = new double[d]; for (int k = 0; k < d; k++) y[k] = c[k] + t * (pts[d][k] - c[k]); return y; }
            var xr = At(-1); double fr = f(xr);
            if (fr < fv[0])
            {
                var xe = At(-2); double fe = f(xe);
                if (fe < fr) { pts[d] = xe; fv[d] = fe; } else { pts[d] = xr; fv[d] = fr; }
            }
            else if (fr < fv[d - 1]) { pts[d] = xr; fv[d] = fr; }
            else
            {
                var xc = fr < fv[d] ? At(-0.5) : At(0.5);
                double fc = f(xc);
                if (fc < Math.Min(fr, fv[d])) { pts[d] = xc; fv[d] = fc; }
                else
                {
                    for (int i = 1; i <= d; i++)
                    {
                        for (int k = 0; k < d; k++) pts[i][k] = pts[0][k] + 0.5 * (pts[i][k] - pts[0][k]);
                        fv[i] = f(pts[i]);
                    }
                }
            }
        }
        int b = Array.IndexOf(fv, fv.Min());
        return (pts[b], fv[b]);
    }

    // ------------------------------------------------------------------ special functions

    /// <summary>ln Γ(s) for s &gt; 0 (Lanczos, g = 7, 9 terms; relative error ≈ 1e-15).</summary>
    public static double LogGamma(double s)
    {
        if (!(s > 0)) throw new ArgumentOutOfRangeException(nameof(s));
        if (s < 0.5) return Math.Log(Math.PI / Math.Sin(Math.PI * s)) - LogGamma(1 - s);
        ReadOnlySpan<double> c =
        [
            0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
            12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
        ];
        double z = s - 1, a = c[0], t = z + 7.5;
        for (int i = 1; i < 9; i++) a += c[i] / (z + i);
        return 0.5 * Math.Log(2 * Math.PI) + (z + 0.5) * Math.Log(t) - t + Math.Log(a);
    }

    /// <summary>
    /// ln Γ(s, x) = ln ∫_x^∞ t^{s−1} e^{−t} dt for any real s and x &gt; 0. Continued fraction for x ≥ max(1, s+1);
    /// otherwise the series of the lower function for s &gt; 0, and for s ≤ 0 the downward recurrence
    /// Γ(s, x) = (Γ(s+1, x) − x^s e^{−x})/s carried on r(s) = Γ(s, x)/(x^s e^{−x}) so that nothing overflows.
    /// </summary>
    public static double LogUpperGamma(double s, double x)
    {
        if (!(x > 0) || !double.IsFinite(x) || !double.IsFinite(s)) throw new ArgumentOutOfRangeException(nameof(x));
        if (x >= Math.Max(1, s + 1)) return s * Math.Log(x) - x + Math.Log(ContinuedFractionRatio(s, x));
        if (s > 0) return LogGamma(s) + Math.Log(-double.ExpM1(LogLowerRegularized(s, x)));
        // s ≤ 0, x < 1: Γ(s, x) = Γ(s, 1) + ∫_x^1 t^{s−1} e^{−t} dt, the integral termwise from e^{−t} = Σ (−t)^k/k!:
        // ∫_x^1 t^{s+k−1} dt = (1 − x^{s+k})/(s+k) (−ln x when s+k = 0), carried as J = integral / x^s so that
        // nothing overflows; every piece is positive, so no cancellation between Γ(s, 1) and the integral.
        double lnx = Math.Log(x), j = 0, fact = 1;
        for (int k = 0; k < 200; k++)
        {
            if (k > 0) fact *= k;
            double e = s + k, piece;
            // x^{−s}·(1 − x^{s+k})/(s+k) = (x^k − x^{−s})/(s+k), by expm1 when the two are close.
            double u = e * lnx;
            if (e == 0) piece = -lnx * Math.Exp(-s * lnx);
            else if (u > 1) piece = (Math.Exp(-s * lnx) - Math.Exp(k * lnx)) / e;
            else piece = -Math.Exp(-s * lnx) * double.ExpM1(u) / e;
            double term = (k % 2 == 0 ? 1 : -1) * piece / fact;
            j += term;
            if (k > 2 && Math.Abs(term) < 1e-17 * Math.Abs(j)) break;
        }
        double g1 = LogUpperGamma(s, 1.0), lj = s * lnx + Math.Log(j);
        double mx = Math.Max(g1, lj);
        return mx + Math.Log(Math.Exp(g1 - mx) + Math.Exp(lj - mx));
    }

    /// <summary>ln P(s, x) = ln γ(s, x)/Γ(s) by its power series (s &gt; 0).</summary>
    private static double LogLowerRegularized(double s, double x)
    {
        double term = 1 / s, sum = term;
        for (int k = 1; k < 10000; k++)
        {
            term *= x / (s + k);
            sum += term;
            if (term < sum * 1e-17) break;
        }
        return s * Math.Log(x) - x + Math.Log(sum) - LogGamma(s);
    }

    /// <summary>Γ(s, x)/(x^s e^{−x}) by the modified Lentz continued fraction (valid for x &gt; 0, fast for x ≥ s+1).</summary>
    private static double ContinuedFractionRatio(double s, double x)
    {
        const double tiny = 1e-300;
        double b = x + 1 - s, c = 1 / tiny, d = 1 / b, h = d;
        for (int i = 1; i < 100000; i++)
        {
            double an = -i * (i - s);
            b += 2;
            d = an * d + b; if (Math.Abs(d) < tiny) d = tiny;
            c = b + an / c; if (Math.Abs(c) < tiny) c = tiny;
            d = 1 / d;
            double del = d * c;
            h *= del;
            if (Math.Abs(del - 1) < 1e-16) break;
        }
        return h;
    }

    /// <summary>erfc(x) to double precision.</summary>
    public static double Erfc(double x) => x < 0 ? 2 - Math.Exp(LogErfc(-x)) : Math.Exp(LogErfc(x));

    /// <summary>ln erfc(x), accurate far into the tail (x up to ~1e150).</summary>
    public static double LogErfc(double x)
    {
        if (double.IsNaN(x)) throw new ArgumentOutOfRangeException(nameof(x));
        if (x < 0) return Math.Log(2 - Math.Exp(LogErfc(-x)));
        if (x < 2)
        {
            // erf(x) = 2/√π e^{−x²} Σ 2^n x^{2n+1}/(1·3·…·(2n+1)): positive terms, no cancellation.
            double term = x, sum = x;
            for (int k = 1; k < 200; k++)
            {
                term *= 2 * x * x / (2 * k + 1);
                sum += term;
                if (term < sum * 1e-17) break;
            }
            double erf = 2 / Math.Sqrt(Math.PI) * Math.Exp(-x * x) * sum;
            return Math.Log(1 - erf);
        }
        // erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), modified Lentz.
        const double tiny = 1e-300;
        double f = x, c = x, dd = 0;
        for (int k = 1; k < 5000; k++)
        {
            double a = k / 2.0;
            dd = x + a * dd; if (Math.Abs(dd) < tiny) dd = tiny;
            c = x + a / c; if (Math.Abs(c) < tiny) c = tiny;
            dd = 1 / dd;
            double del = c * dd;
            f *= del;
            if (Math.Abs(del - 1) < 1e-16) break;
        }
        return -x * x - 0.5 * Math.Log(Math.PI) - Math.Log(f);
    }
}

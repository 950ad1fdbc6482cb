using System.Numerics.Tensors;
namespace Cartan.Spectra;

/// <summary>Asymptotic regime of the effective rank along the power-law orbit (methods.md §1(b), "Rank-window transition") [R].</summary>
public enum OrbitRegime
{
    /// <summary>α &lt; 1: r_q grows linearly in d, r_q/d → q^{1/(1−α)}.</summary>
    Extensive,
    /// <summary>|α − 1| ≤ the configured half-width: r_q ≈ d^q.</summary>
    Transition,
    /// <summary>α &gt; 1: r_q = O(1) in d, r_q ≈ ((1−q)(α−1)ζ(α))^{−1/(α−1)}.</summary>
    Intensive,
}

/// <summary>Log-partition, slope and Fisher information of the orbit at one α.</summary>
/// <param name="LogH">log H_d(α) = log Σ_{k≤d} k^{−α} (log-sum-exp).</param>
/// <param name="Mu">μ(α) = E_{p(α)}[log i] = dτ/dα.</param>
/// <param name="Fisher">I(α) = Var_{p(α)}[log i] = −dμ/dα.</param>
public readonly record struct OrbitMoments(double LogH, double Mu, double Fisher);

/// <summary>Closed interval [Lower, Upper] that contains a tail quantity.</summary>
public readonly record struct TailBounds(double Lower, double Upper);

/// <summary>
/// The trace-normalised power-law ("Cartan") orbit of dimension d (methods.md §1(b)) [R]:
/// p_i(α) = i^{−α}/H_d(α), i = 1..d, α ≥ 0, with chart τ(α) = log d − log H_d(α).
/// The definitions are this project's reconstruction of GSA I (the paper's full text was not available);
/// the exponent is on the energies λ = σ² (the singular-value exponent is α/2).
/// All sums are evaluated in float64 with log-sum-exp, so any α in [0, 60] and any d ≥ 1 are safe.
/// </summary>
public sealed class PowerLawOrbit
{
    private readonly double[] _logRank; // log i, i = 1..d

    /// <summary>Creates the orbit for dimension <paramref name="d"/> ≥ 1.</summary>
    public PowerLawOrbit(int d)
    {
        if (d < 1) throw new ArgumentOutOfRangeException(nameof(d), d, "dimension must be at least 1");
        Dimension = d;
        _logRank = new double[d];
        for (int i = 0; i < d; i++) _logRank[i] = Math.Log(i + 1);
    }

    /// <summary>Dimension d (number of ranks).</summary>
    public int Dimension { get; }

    /// <summary>log i for i = 1..d (index i−1).</summary>
    internal ReadOnlySpan<double> LogRanks => _logRank;

    /// <summary>log H_d(α) = logsumexp_k(−α·log k) (methods.md §1(c) line 3).</summary>
    public double LogH(double alpha) => LogSumExpNegAlpha(alpha, 0, Dimension);

    /// <summary>log Σ_{k=from+1}^{to} k^{−α} by log-sum-exp; −∞ when the range is empty.</summary>
    private double LogSumExpNegAlpha(double alpha, int from, int to)
    {
        if (to <= from) return double.NegativeInfinity;
        // For α ≥ 0 the largest term is the first one; for α < 0 it is the last one.
        double shift = alpha >= 0 ? -alpha * _logRank[from] : -alpha * _logRank[to - 1];
        var buf = System.Buffers.ArrayPool<double>.Shared.Rent(to - from);
        try
        {
            var t = buf.AsSpan(0, to - from);
            // exp(−α·log k − shift) in one vectorised pass (VectorExp: optimised from the first call).
            VectorExp.ExpAffine(new ReadOnlySpan<double>(_logRank, from, to - from), -alpha, -shift, t);
            return shift + Math.Log(TensorPrimitives.Sum(t));
        }
        finally
        {
            System.Buffers.ArrayPool<double>.Shared.Return(buf);
        }
    }

    /// <summary>τ(α) = log d − log H_d(α): the chart, strictly increasing from τ(0)=0 to log d (§1(b)).</summary>
    public double Tau(double alpha) => Math.Log(Dimension) - LogH(alpha);

    /// <summary>log p_i(α) = −α·log i − log H_d(α), for rank i in 1..d.</summary>
    public double LogProbability(int i, double alpha)
    {
        if (i < 1 || i > Dimension) throw new ArgumentOutOfRangeException(nameof(i));
        return -alpha * _logRank[i - 1] - LogH(alpha);
    }

    /// <summary>p(α) as a new array (index i−1 holds p_i = i^{−α}/H_d(α)).</summary>
    public double[] Probabilities(double alpha)
    {
        double logH = LogH(alpha);
        var p = new double[Dimension];
        VectorExp.ExpAffine(_logRank, -alpha, -logH, p);
        return p;
    }

    /// <summary>log H, μ(α) = Σ p_i log i and I(α) = Σ p_i (log i − μ)² in two passes (§1(b)).</summary>
    public OrbitMoments Moments(double alpha)
    {
        var p = Probabilities(alpha);
        double logH = LogH(alpha);
        double mu = TensorPrimitives.Dot(p, _logRank);
        double var = 0;
        for (int k = 0; k < Dimension; k++)
        {
            double c = _logRank[k] - mu;
            var += p[k] * c * c;
        }
        return new OrbitMoments(logH, mu, var);
    }

    /// <summary>μ(α) = dτ/dα = E_{p(α)}[log i]; positive and decreasing in α (§1(b)).</summary>
    public double Mu(double alpha) => Moments(alpha).Mu;

    /// <summary>Fisher information I(α) = Var_{p(α)}[log i] (§1(b)).</summary>
    public double Fisher(double alpha) => Moments(alpha).Fisher;

    /// <summary>Model tail T_k(α) = 1 − H_k(α)/H_d(α) = Σ_{i&gt;k} p_i(α), summed directly (no cancellation); k in 0..d.</summary>
    public double ModelTail(int k, double alpha)
    {
        if (k < 0 || k > Dimension) throw new ArgumentOutOfRangeException(nameof(k));
        if (k == Dimension) return 0;
        if (k == 0) return 1;
        return Math.Exp(LogSumExpNegAlpha(alpha, k, Dimension) - LogH(alpha));
    }

    /// <summary>
    /// Model effective rank r_q(α) = min{k : H_k(α)/H_d(α) ≥ q} computed directly from the orbit (§1(b)).
    /// </summary>
    public int ModelEffectiveRank(double q, double alpha)
    {
        if (!(q > 0 && q < 1)) throw new ArgumentOutOfRangeException(nameof(q), q, "q must lie in (0, 1)");
        var p = Probabilities(alpha);
        double c = 0;
        for (int k = 0; k < Dimension; k++)
        {
            c += p[k];
            if (c >= q) return k + 1;
        }
        return Dimension;
    }

    /// <summary>
    /// Integral-test bounds on Σ_{i=k+1}^{d} i^{−α} for 1 ≤ k ≤ d and α ≥ 0 (§1(b) table) [R]:
    /// ∫_{k+1}^{d+1} x^{−α}dx ≤ Σ ≤ ∫_k^d x^{−α}dx, which is (k^{1−α}−d^{1−α})/(α−1) for α&gt;1, log(d/k) for α=1,
    /// (d^{1−α}−k^{1−α})/(1−α) for α&lt;1 (evaluated through one expm1 formula that is continuous at α = 1).
    /// </summary>
    public static TailBounds IntegralTailSumBounds(int k, int d, double alpha)
    {
        if (d < 1 || k < 1 || k > d) throw new ArgumentOutOfRangeException(nameof(k), k, "need 1 ≤ k ≤ d");
        if (!(alpha >= 0) || double.IsInfinity(alpha)) throw new ArgumentOutOfRangeException(nameof(alpha));
        if (k == d) return new TailBounds(0, 0);
        return new TailBounds(PowerIntegral(k + 1, d + 1, alpha), PowerIntegral(k, d, alpha));
    }

    /// <summary>∫_a^b x^{−α} dx = a^{1−α}·log(b/a)·expm1(t)/t with t = (1−α)·log(b/a); exact log(b/a) at α = 1.</summary>
    internal static double PowerIntegral(double a, double b, double alpha)
    {
        double l = Math.Log(b / a);
        double t = (1 - alpha) * l;
        double ratio = Math.Abs(t) < 1e-8 ? 1 + t / 2 + t * t / 6 : ExpM1(t) / t;
        return Math.Exp((1 - alpha) * Math.Log(a)) * l * ratio;
    }

    private static double ExpM1(double x)
    {
        // expm1 with full relative accuracy for small |x| (Kahan's trick).
        double u = Math.Exp(x);
        if (u == 1.0) return x;
        double um1 = u - 1.0;
        if (um1 == -1.0) return -1.0;
        return um1 * x / Math.Log(u);
    }

    /// <summary>Bounds on the model tail T_k(α): the integral-test bounds divided by H_d(α) (§1(b)), clipped to [0, 1].</summary>
    public TailBounds ModelTailBounds(int k, double alpha)
    {
        var s = IntegralTailSumBounds(k, Dimension, alpha);
        double h = Math.Exp(LogH(alpha));
        return new TailBounds(Math.Min(1, s.Lower / h), Math.Min(1, s.Upper / h));
    }

    /// <summary>Regime of α: extensive (α &lt; 1 − w), transition (|α−1| ≤ w), intensive (α &gt; 1 + w) [R].</summary>
    public static OrbitRegime Regime(double alpha, double transitionHalfWidth)
    {
        if (Math.Abs(alpha - 1) <= transitionHalfWidth) return OrbitRegime.Transition;
        return alpha < 1 ? OrbitRegime.Extensive : OrbitRegime.Intensive;
    }

    /// <summary>
    /// Asymptotic rank-window prediction for r_q (§1(b), [R]): d·q^{1/(1−α)} (extensive),
    /// d^q (transition), ((1−q)(α−1)ζ(α))^{−1/(α−1)} (intensive). A real number; not clipped to [1, d].
    /// </summary>
    public double PredictedEffectiveRank(double q, double alpha, double transitionHalfWidth)
    {
        if (!(q > 0 && q < 1)) throw new ArgumentOutOfRangeException(nameof(q));
        return Regime(alpha, transitionHalfWidth) switch
        {
            OrbitRegime.Extensive => Dimension * Math.Pow(q, 1 / (1 - alpha)),
            OrbitRegime.Transition => Math.Pow(Dimension, q),
            _ => Math.Pow((1 - q) * (alpha - 1) * Zeta(alpha), -1 / (alpha - 1)),
        };
    }

    /// <summary>Riemann ζ(s) for s &gt; 1 by Euler–Maclaurin (N = 16, four correction terms); relative error &lt; 1e-12.</summary>
    public static double Zeta(double s)
    {
        if (!(s > 1)) throw new ArgumentOutOfRangeException(nameof(s), s, "zeta needs s > 1");
        const int n = 16;
        double sum = 0;
        for (int k = 1; k < n; k++) sum += Math.Pow(k, -s);
        double nn = n;
        double tail = Math.Pow(nn, 1 - s) / (s - 1) + 0.5 * Math.Pow(nn, -s);
        // Bernoulli corrections B2/2!, B4/4!, B6/6!, B8/8! times rising factorials of s.
        double term = s * Math.Pow(nn, -s - 1);
        tail += term / 12.0;
        term *= (s + 1) * (s + 2) / (nn * nn);
        tail -= term / 720.0;
        term *= (s + 3) * (s + 4) / (nn * nn);
        tail += term / 30240.0;
        term *= (s + 5) * (s + 6) / (nn * nn);
        tail -= term / 1209600.0;
        return sum + tail;
    }
}

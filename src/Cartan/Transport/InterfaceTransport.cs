using Cartan.Linalg;

namespace Cartan.Transport;

/// <summary>Settings of the interface transport (methods.md §2(b)). [R]: our operational definitions.</summary>
public sealed record TransportOptions
{
    /// <summary>Dominant windows are the spectral-energy quantiles k = r_q (GSA I effective rank).</summary>
    public double Q { get; init; } = 0.9;
}

/// <summary>
/// Interface transport of W_ℓ (m×n) → W_{ℓ+1} (p×m) (methods.md §2(b)):
/// K = diag(s̃')·V'ᵀU·diag(s̃), its dominant-window truncation K^(k) (top-left k'×k block), the error ‖K − K^(k)‖_F,
/// the analytic bound √T'_{k'}·s̃_1 + s̃'_1·√T_k, the fitted-tail certificate and the model-only prediction,
/// principal cosines of T^(k) = V'_{k'}ᵀU_k and the alignment ‖T^(k)‖_F²/min(k,k') with its random baseline max(k,k')/m.
/// </summary>
public sealed record TransportResult(
    int KFrom, int KTo, double TailFrom, double TailTo,
    double Error, double Bound, double? CertifiedBound, double? PredictedBound,
    double[] Cosines, double Alignment, double Baseline, bool BoundHolds);

public static class InterfaceTransport
{
    /// <summary>r_q = min{k : Σ_{i≤k} p_i ≥ q}, p_i = σ_i²/Σσ² (methods.md §1(b)).</summary>
    public static int EffectiveRank(double[] sigma, double q)
    {
        double total = 0;
        foreach (var s in sigma) total += s * s;
        if (total <= 0) return 0;
        double acc = 0;
        for (int i = 0; i < sigma.Length; i++)
        {
            acc += sigma[i] * sigma[i] / total;
            if (acc >= q - 1e-15) return i + 1;
        }
        return sigma.Length;
    }

    /// <summary>Empirical tail T_k = Σ_{i&gt;k} s̃_i² of the normalised spectrum.</summary>
    public static double Tail(double[] sigma, int k)
    {
        double total = 0, head = 0;
        for (int i = 0; i < sigma.Length; i++) { double e = sigma[i] * sigma[i]; total += e; if (i < k) head += e; }
        if (total <= 0) return 0;
        // Sum the tail directly for accuracy when it is small.
        double tail = 0;
        for (int i = sigma.Length - 1; i >= k; i--) tail += sigma[i] * sigma[i];
        return tail / total;
    }

    /// <summary>T^(k) = V'_{:k'}ᵀ·U_{:k} (k'×k) from the truncated SVDs of W_{ℓ+1} (V' m×·) and W_ℓ (U m×·): one dgemm.</summary>
    internal static double[] WindowCross(SvdResult next, int kTo, SvdResult from, int k, int m) =>
        Lapack.MatMul(MatrixOps.ColumnBlock(next.V, m, next.Rank, 0, kTo), kTo, m,
            MatrixOps.ColumnBlock(from.U, m, from.Rank, 0, k), k, transA: true);

    /// <param name="wl">W_ℓ, m×n row-major</param>
    /// <param name="sigmaL">all singular values of W_ℓ, descending</param>
    /// <param name="wn">W_{ℓ+1}, p×m row-major</param>
    /// <param name="sigmaN">all singular values of W_{ℓ+1}, descending</param>
    /// <param name="modelTailL">k ↦ T_k(α̂) of the fitted Gibbs–Cartan tail of W_ℓ (null: no certificate)</param>
    public static TransportResult Compute(double[] wl, int m, int n, double[] sigmaL, double[] wn, int p, double[] sigmaN,
        TransportOptions? options = null, Func<int, double>? modelTailL = null, Func<int, double>? modelTailN = null,
        SvdResult? svdL = null, SvdResult? svdN = null, double[]? product = null, double? productNorm2 = null)
    {
        var o = options ?? new();
        int k = Math.Max(1, EffectiveRank(sigmaL, o.Q));
        int k2 = Math.Max(1, EffectiveRank(sigmaN, o.Q));
        double normL = Math.Sqrt(sigmaL.Sum(s => s * s)), normN = Math.Sqrt(sigmaN.Sum(s => s * s));
        if (svdL is null || svdL.Rank < k) svdL = Lapack.TopSvd(wl, m, n, k);
        if (svdN is null || svdN.Rank < k2) svdN = Lapack.TopSvd(wn, p, m, k2);

        // T^(k) = V'_{k'}ᵀ U_k (k'×k); K^(k) = diag(s̃'_{1:k'}) T^(k) diag(s̃_{1:k}).
        var T = WindowCross(svdN, k2, svdL, k, m);
        double kTrunc2 = 0, t2 = 0;
        for (int i = 0; i < k2; i++)
            for (int j = 0; j < k; j++)
            {
                double t = T[i * k + j];
                t2 += t * t;
                double kk = sigmaN[i] / normN * t * sigmaL[j] / normL;
                kTrunc2 += kk * kk;
            }
        // ‖K‖_F = ‖Ŵ_{ℓ+1}Ŵ_ℓ‖_F (orthogonal invariance), so ‖K − K^(k)‖_F² = ‖Ŵ_{ℓ+1}Ŵ_ℓ‖_F² − ‖K^(k)‖_F².
        // ‖W_{ℓ+1}W_ℓ‖_F²: from the product when there is one, else from the caller's value (e.g. through the m×m Grams).
        double full2 = product is null && productNorm2 is double pn2 ? pn2 : SumOfSquares(product ?? Lapack.MatMul(wn, p, m, wl, n));
        full2 /= normL * normL * normN * normN;
        double error = Math.Sqrt(Math.Max(0, full2 - kTrunc2));

        double tl = Tail(sigmaL, k), tn = Tail(sigmaN, k2);
        double s1 = sigmaL[0] / normL, s1n = sigmaN[0] / normN;
        double bound = Math.Sqrt(tn) * s1 + s1n * Math.Sqrt(tl);

        double? cert = null, pred = null;
        if (modelTailL is not null && modelTailN is not null)
        {
            double ml = modelTailL(k), mn = modelTailN(k2);
            double cl = ml + Math.Abs(tl - ml), cn = mn + Math.Abs(tn - mn);
            cert = Math.Sqrt(Math.Max(0, cn)) * s1 + s1n * Math.Sqrt(Math.Max(0, cl));
            pred = Math.Sqrt(Math.Max(0, mn)) * s1 + s1n * Math.Sqrt(Math.Max(0, ml));
        }
        var cos = Lapack.SingularValues(T, k2, k).Select(x => Math.Min(1.0, x)).ToArray();
        return new TransportResult(k, k2, tl, tn, error, bound, cert, pred, cos, t2 / Math.Min(k, k2),
            (double)Math.Max(k, k2) / m,
            // The error comes from a difference of squares: it carries an absolute rounding of about √ε·‖K‖_F.
            // K is normalised (‖K‖_F ≤ 1), so 1e-14 absolute covers the rounding of an exactly-zero product.
            error <= bound + 1e-7 * Math.Sqrt(full2) + 1e-14);
    }

    private static double SumOfSquares(double[] c)
    {
        double s = 0;
        foreach (var x in c) s += x * x;
        return s;
    }
}

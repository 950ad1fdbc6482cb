namespace Cartan.Spectra;

/// <summary>
/// Constants of the WeightWatcher-compatible fit (peers.md §1.3–1.4; /work/shared/peers/weightwatcher/README.md).
/// The defaults are WeightWatcher 0.7.5.5's values (CPU path), so results can be checked against WW.
/// </summary>
public sealed record WwFitOptions
{
    /// <summary>Shared default instance.</summary>
    public static WwFitOptions Default { get; } = new();

    /// <summary>Eigenvalues λ ≤ this are dropped before the tail fit (WW's EVALS_THRESH = 1e-5; 1e-4 on its CUDA path).</summary>
    public double EigenvalueThreshold { get; init; } = 1e-5;

    /// <summary>matrix_rank tolerance factor: rank = #{σ &gt; σ_max·N·eps}, N = the largest matrix dimension (numpy float64 eps).</summary>
    public double RankEpsilon { get; init; } = 2.220446049250313e-16;

    /// <summary>WW's EPSILON added to each p_i and to the rank in the matrix entropy. Default 1e-10.</summary>
    public double EntropyEpsilon { get; init; } = 1e-10;

    /// <summary>WW warning "over-trained" when α is below this. Default 2.0.</summary>
    public double OverTrainedBelow { get; init; } = 2.0;

    /// <summary>WW warning "under-trained" when α is above this. Default 6.0.</summary>
    public double UnderTrainedAbove { get; init; } = 6.0;

    /// <summary>
    /// Performance knob of the exact pruned xmin scan (does not change any result): number of sample points per
    /// candidate used for the KS lower bound that orders and prunes the candidates. Default 16.
    /// </summary>
    public int KsSamplePoints { get; init; } = 16;

    /// <summary>
    /// Also run the Marchenko–Pastur bulk fit (<see cref="Spectra.MpFit"/>, WW's mp_fit=True) that fills
    /// <see cref="WwTailFit.MpSoftrank"/> and <see cref="WwTailFit.NumSpikes"/>. Default on (it costs about a millisecond per layer).
    /// </summary>
    public bool MpFit { get; init; } = true;

    internal void Validate()
    {
        if (!(EigenvalueThreshold >= 0) || double.IsInfinity(EigenvalueThreshold)) throw new ArgumentException("EigenvalueThreshold must be finite and ≥ 0");
        if (!(RankEpsilon >= 0)) throw new ArgumentException("RankEpsilon must be ≥ 0");
        if (!(EntropyEpsilon >= 0)) throw new ArgumentException("EntropyEpsilon must be ≥ 0");
        if (KsSamplePoints < 2) throw new ArgumentException("KsSamplePoints must be ≥ 2");
    }
}

/// <summary>
/// WeightWatcher-compatible ESD tail fit and norm metrics of one layer (peers.md §1.3–1.4): a continuous power law
/// ρ(λ) ∝ λ^{−α} above xmin by Clauset–Shalizi–Newman MLE with xmin chosen by minimum KS distance, exactly as WW's
/// default fitter (WW_powerlaw.WWFit). Values that cannot be computed are null (WW writes −1); no NaN or ∞.
/// </summary>
public sealed record WwTailFit
{
    /// <summary>True when the power-law fit succeeded (WW status "success").</summary>
    public required bool Success { get; init; }
    /// <summary>Why the fit failed (null on success).</summary>
    public string? Reason { get; init; }
    /// <summary>Number of eigenvalues given (WW num_evals).</summary>
    public required int NumEvals { get; init; }
    /// <summary>Number of eigenvalues above the threshold that entered the fit.</summary>
    public int NumFitted { get; init; }
    /// <summary>α = 1 + n/Σ_{λ≥xmin} ln(λ/xmin) at the chosen xmin (WW alpha).</summary>
    public double? Alpha { get; init; }
    /// <summary>Chosen xmin (WW xmin).</summary>
    public double? Xmin { get; init; }
    /// <summary>Largest fitted eigenvalue (WW xmax when not forced).</summary>
    public double? Xmax { get; init; }
    /// <summary>KS distance D = max_j |1 − (x_j/xmin)^{1−α} − j/n| of the chosen fit (WW D).</summary>
    public double? KsD { get; init; }
    /// <summary>(α − 1)/√n (WW sigma).</summary>
    public double? Sigma { get; init; }
    /// <summary>n: number of sorted eigenvalues from the chosen xmin position to the top (the fit's sample size).</summary>
    public int? NTail { get; init; }
    /// <summary>#{λ ≥ xmin} over all eigenvalues (WW num_pl_spikes; equals NTail unless xmin is repeated).</summary>
    public int? NumPlSpikes { get; init; }
    /// <summary>"over-trained" (α &lt; 2), "under-trained" (α &gt; 6) or null (WW warning).</summary>
    public string? Warning { get; init; }
    /// <summary>λ_max = σ_max² (WW lambda_max = spectral_norm).</summary>
    public double? LambdaMax { get; init; }
    /// <summary>Σλ = ‖W‖_F² (WW norm).</summary>
    public double? Norm { get; init; }
    /// <summary>log10 Σλ (WW log_norm).</summary>
    public double? LogNorm { get; init; }
    /// <summary>log10 λ_max (WW log_spectral_norm).</summary>
    public double? LogSpectralNorm { get; init; }
    /// <summary>α·log10 λ_max (WW alpha_weighted).</summary>
    public double? AlphaWeighted { get; init; }
    /// <summary>log10 Σ λ_i^α over all eigenvalues (WW log_alpha_norm).</summary>
    public double? LogAlphaNorm { get; init; }
    /// <summary>Σλ/λ_max (WW stable_rank).</summary>
    public double? StableRank { get; init; }
    /// <summary>#{σ &gt; σ_max·N·eps}, σ = √λ (WW matrix_rank).</summary>
    public int? MatrixRank { get; init; }
    /// <summary>WW entropy: −Σ p_i ln p_i / ln(rank + ε), p_i = λ_i/Σλ + ε, ε = 1e-10.</summary>
    public double? Entropy { get; init; }
    /// <summary>WW mp_softrank = λ₊/λ_max from the MP bulk fit (<see cref="Spectra.MpFit"/>); null when not run or failed.
    /// <see cref="Compute"/> leaves it null: the fit needs both matrix dimensions, the caller fills it.</summary>
    public double? MpSoftrank { get; init; }
    /// <summary>WW num_spikes = #{λ &gt; λ₊ + √TW} from the MP bulk fit; null when not run or failed.</summary>
    public int? NumSpikes { get; init; }

    /// <summary>Fit from singular values: λ_i = σ_i² (apply any conv scaling to σ first); N = max(rows, cols).</summary>
    public static WwTailFit FromSingularValues(ReadOnlySpan<double> sigma, int rows, int cols, WwFitOptions? options = null)
    {
        var ev = new double[sigma.Length];
        for (int i = 0; i < ev.Length; i++) ev[i] = sigma[i] * sigma[i];
        return Compute(ev, Math.Max(rows, cols), options);
    }

    /// <summary>
    /// Fit from eigenvalues λ (any order; pooled conv taps concatenated by the caller). <paramref name="largestDim"/>
    /// is WW's N (the largest matrix dimension), used only by the matrix-rank tolerance of the entropy.
    /// </summary>
    public static WwTailFit Compute(ReadOnlySpan<double> eigenvalues, int largestDim, WwFitOptions? options = null)
    {
        var o = options ?? WwFitOptions.Default;
        o.Validate();
        if (largestDim < 1) throw new ArgumentOutOfRangeException(nameof(largestDim));
        int count = eigenvalues.Length;
        foreach (var v in eigenvalues)
            if (!double.IsFinite(v) || v < 0)
                return new WwTailFit { Success = false, Reason = "eigenvalues contain a negative or non-finite value", NumEvals = count };
        if (count == 0) return new WwTailFit { Success = false, Reason = "no eigenvalues", NumEvals = 0 };

        // Norm metrics over all eigenvalues (WW apply_norm_metrics).
        double norm = 0, lmax = 0;
        foreach (var v in eigenvalues) { norm += v; if (v > lmax) lmax = v; }
        double? logNorm = norm > 0 ? Math.Log10(norm) : null;
        double? logSpec = lmax > 0 ? Math.Log10(lmax) : null;
        double? stable = lmax > 0 ? norm / lmax : null;
        var (rank, entropy) = MatrixEntropy(eigenvalues, largestDim, o);

        var nz = new List<double>(count);
        foreach (var v in eigenvalues) if (v > o.EigenvalueThreshold) nz.Add(v);
        var baseRecord = new WwTailFit
        {
            Success = false, NumEvals = count, NumFitted = nz.Count, LambdaMax = lmax > 0 ? lmax : null, Norm = norm,
            LogNorm = logNorm, LogSpectralNorm = logSpec, StableRank = stable, MatrixRank = rank, Entropy = entropy,
        };
        if (nz.Count < 2) return baseRecord with { Reason = $"{nz.Count} eigenvalue(s) above the threshold {o.EigenvalueThreshold}; need at least 2" };

        var x = nz.ToArray();
        Array.Sort(x);
        var scan = WwPowerLawScan.Fast(x, o.KsSamplePoints);
        double alpha = scan.Alpha;
        if (!double.IsFinite(alpha)) return baseRecord with { Reason = "the best xmin gives a degenerate (infinite) exponent: the tail is constant" };
        double xmin = x[scan.Index];
        int spikes = 0;
        foreach (var v in eigenvalues) if (v >= xmin) spikes++;
        double alphaNormSum = 0;
        foreach (var v in eigenvalues) alphaNormSum += Math.Pow(v, alpha);
        double? logAlphaNorm = alphaNormSum > 0 && double.IsFinite(alphaNormSum) ? Math.Log10(alphaNormSum) : null;
        return baseRecord with
        {
            Success = true, Alpha = alpha, Xmin = xmin, Xmax = x[^1], KsD = scan.D,
            Sigma = (alpha - 1) / Math.Sqrt(scan.N), NTail = scan.N, NumPlSpikes = spikes,
            Warning = alpha < o.OverTrainedBelow ? "over-trained" : alpha > o.UnderTrainedAbove ? "under-trained" : null,
            AlphaWeighted = logSpec is double ls ? alpha * ls : null, LogAlphaNorm = logAlphaNorm,
        };
    }

    private static (int? Rank, double? Entropy) MatrixEntropy(ReadOnlySpan<double> ev, int n, WwFitOptions o)
    {
        // WW: matrix_entropy(sqrt(evals), N): evals are re-squared from the singular values.
        double smax = 0;
        foreach (var v in ev) smax = Math.Max(smax, Math.Sqrt(v));
        double tol = smax * n * o.RankEpsilon;
        int rank = 0;
        double sum = 0;
        foreach (var v in ev)
        {
            double s = Math.Sqrt(v);
            if (s > tol) rank++;
            sum += s * s;
        }
        if (!(sum > 0)) return (rank, null);
        double h = 0;
        foreach (var v in ev)
        {
            double s = Math.Sqrt(v);
            double p = s * s / sum + o.EntropyEpsilon;
            h -= p * Math.Log(p);
        }
        double e = h / Math.Log(rank + o.EntropyEpsilon);
        return (rank, double.IsFinite(e) ? e : null);
    }
}

/// <summary>Result of the WW xmin scan: candidate position in the ascending data, exponent, KS distance, tail size.</summary>
internal readonly record struct WwScanResult(int Index, double Alpha, double D, int N);

/// <summary>
/// The WW xmin scan (WW_powerlaw.WWFit.fit_power_law, facts only): data x sorted ascending, every x_i except the last
/// is a candidate; α_i = 1 + n_i/(Σ_{j≥i} ln x_j − n_i ln x_i) with n_i = N − i; D_i = max_{j&lt;n_i}
/// |1 − (x_{i+j}/x_i)^{1−α_i} − j/n_i| when α_i &gt; 1, else D_i = 1; the first index of the smallest D wins.
/// </summary>
internal static class WwPowerLawScan
{
    /// <summary>α_i for all candidates from compensated (Neumaier) suffix sums of ln x.</summary>
    internal static double[] Alphas(double[] x)
    {
        int n = x.Length;
        var alphas = new double[n - 1];
        double s = 0, comp = 0;
        var suffix = new double[n];
        for (int j = n - 1; j >= 0; j--)
        {
            double v = Math.Log(x[j]);
            double t = s + v;
            comp += Math.Abs(s) >= Math.Abs(v) ? (s - t) + v : (v - t) + s;
            s = t;
            suffix[j] = s + comp;
        }
        for (int i = 0; i < n - 1; i++)
        {
            double ni = n - i;
            alphas[i] = 1 + ni / (suffix[i] - ni * Math.Log(x[i]));
        }
        return alphas;
    }

    /// <summary>One KS term |1 − (x_j/xmin)^{1−α} − j/n|, exactly WW's expression.</summary>
    private static double Term(double xj, double xmin, double oneMinusAlpha, int j, double n)
        => Math.Abs(1 - Math.Pow(xj / xmin, oneMinusAlpha) - j / n);

    /// <summary>Reference O(N²) scan: every D_i in full, then the first argmin. Used by tests to prove <see cref="Fast"/> exact.</summary>
    internal static WwScanResult Exhaustive(double[] x)
    {
        var alphas = Alphas(x);
        int best = -1;
        double bestD = double.PositiveInfinity;
        for (int i = 0; i < alphas.Length; i++)
        {
            double a = alphas[i], d = 1.0;
            int n = x.Length - i;
            if (a > 1)
            {
                d = 0;
                for (int j = 0; j < n; j++) d = Math.Max(d, Term(x[i + j], x[i], 1 - a, j, n));
            }
            if (d < bestD) { bestD = d; best = i; }
        }
        return new WwScanResult(best, alphas[best], bestD, x.Length - best);
    }

    /// <summary>
    /// Exact branch-and-bound version of <see cref="Exhaustive"/>. A lower bound LB_i (max of the KS term at a few
    /// sampled positions) is computed for every candidate; candidates are visited in increasing LB_i and the full
    /// maximum of each is abandoned as soon as its running maximum shows it cannot beat the incumbent under WW's
    /// rule (smaller D, or equal D and smaller index); the visit stops once LB exceeds the incumbent's D.
    /// Every D that is finished is the same maximum of the same terms, so the result equals the exhaustive scan bit for bit.
    /// </summary>
    internal static WwScanResult Fast(double[] x, int samples)
    {
        var alphas = Alphas(x);
        int m = alphas.Length;
        var lb = new double[m];
        for (int i = 0; i < m; i++)
        {
            double a = alphas[i];
            if (!(a > 1)) { lb[i] = 1.0; continue; }
            int n = x.Length - i;
            double xmin = x[i], b = 0;
            if (n <= samples)
            {
                for (int j = 0; j < n; j++) b = Math.Max(b, Term(x[i + j], xmin, 1 - a, j, n));
            }
            else
            {
                for (int k = 0; k < samples; k++)
                {
                    int j = (int)((long)k * (n - 1) / (samples - 1));
                    b = Math.Max(b, Term(x[i + j], xmin, 1 - a, j, n));
                }
            }
            lb[i] = b;
        }
        var order = new int[m];
        for (int i = 0; i < m; i++) order[i] = i;
        Array.Sort((double[])lb.Clone(), order); // unstable is fine: ties are resolved by index below

        int best = -1;
        double bestD = double.PositiveInfinity;
        foreach (int i in order)
        {
            double bound = lb[i];
            if (bound > bestD) break;
            if (bound == bestD && i > best) continue;
            double a = alphas[i];
            double d;
            if (!(a > 1)) d = 1.0;
            else
            {
                int n = x.Length - i;
                double xmin = x[i], oma = 1 - a;
                d = bound;
                bool lost = false;
                for (int j = 0; j < n; j++)
                {
                    double t = Term(x[i + j], xmin, oma, j, n);
                    if (t > d)
                    {
                        d = t;
                        if (d > bestD || (d == bestD && i > best)) { lost = true; break; }
                    }
                }
                if (lost) continue;
            }
            if (d < bestD || (d == bestD && i < best)) { bestD = d; best = i; }
        }
        return new WwScanResult(best, alphas[best], bestD, x.Length - best);
    }
}

namespace Cartan.Spectra;

/// <summary>Settings of the chain budgets (methods.md §1(c) "GSA1.ChainBudget") [R].</summary>
public sealed record ChainOptions
{
    /// <summary>Shared default instance.</summary>
    public static ChainOptions Default { get; } = new();
    /// <summary>Relative slack allowed when checking an inequality in floating point: lhs ≤ rhs·(1+t) + t. Default 1e-9.</summary>
    public double CheckTolerance { get; init; } = 1e-9;
    /// <summary>Options for the per-step profiles of variant B.</summary>
    public ProfileOptions Profile { get; init; } = ProfileOptions.Default;
    internal bool Holds(double lhs, double rhs) => lhs <= rhs * (1 + CheckTolerance) + CheckTolerance;
}

/// <summary>One adjacent step ℓ → ℓ+1 of a chain.</summary>
/// <param name="DeltaAlpha">Δα = α̂_{ℓ+1} − α̂_ℓ.</param>
/// <param name="DeltaTau">Δτ = τ_{ℓ+1} − τ_ℓ.</param>
/// <param name="DeltaRho">Δρ = ρ_{ℓ+1} − ρ_ℓ (chart residuals).</param>
/// <param name="DimensionTerm">|τ_{d_{ℓ+1}}(α̂_ℓ) − τ_{d_ℓ}(α̂_ℓ)|: 0 when both layers have the same rank (see <see cref="ChainBudget"/>).</param>
/// <param name="Margin">m_ℓ = μ_{d_{ℓ+1}}(max(α̂_ℓ, α̂_{ℓ+1})).</param>
/// <param name="Bound">(|Δτ| + |Δρ| + DimensionTerm)/m_ℓ (variant A) or (2 log κ + |Δρ|)/m_ℓ (variant B); null when m_ℓ = 0.</param>
/// <param name="Holds">|Δα| ≤ Bound (within the check tolerance).</param>
/// <param name="Kappa">Variant B only: κ_ℓ = σ_max(J_ℓ)/σ_min(J_ℓ) (null when J_ℓ is singular or in variant A).</param>
/// <param name="UniformBound">Variant B only: (log M)/(L·m) + |Δρ|/m_ℓ — the spec's uniform-budget bound; a theorem only when κ_ℓ ≤ κ̄.</param>
public sealed record ChainStep(
    double DeltaAlpha, double DeltaTau, double DeltaRho, double DimensionTerm, double Margin, double? Bound, bool Holds,
    double? Kappa = null, double? UniformBound = null);

/// <summary>
/// Result of a chain budget; output-contract <c>chains[]</c> fields: name, layers, alpha, tau, slack,
/// residual_variation, margin, bound, bound_holds.
/// </summary>
public sealed record ChainBudgetResult
{
    /// <summary>Chain name.</summary>
    public required string Name { get; init; }
    /// <summary>Which chart supplied α̂ and ρ.</summary>
    public required PowerLawChart Chart { get; init; }
    /// <summary>Null when the budget was computed; otherwise why not (e.g. a layer has no profile).</summary>
    public string? Reason { get; init; }
    /// <summary>Layer names in forward order (variant B: "F0" = identity, "F1", …).</summary>
    public IReadOnlyList<string> Layers { get; init; } = [];
    /// <summary>α̂_ℓ per layer.</summary>
    public IReadOnlyList<double> Alpha { get; init; } = [];
    /// <summary>τ_ℓ per layer.</summary>
    public IReadOnlyList<double> Tau { get; init; } = [];
    /// <summary>ρ_ℓ per layer.</summary>
    public IReadOnlyList<double> Rho { get; init; } = [];
    /// <summary>Numerical rank d_ℓ per layer.</summary>
    public IReadOnlyList<int> Rank { get; init; } = [];
    /// <summary>Adjacent steps.</summary>
    public IReadOnlyList<ChainStep> Steps { get; init; } = [];
    /// <summary>Net displacement N = |τ_L − τ_1|.</summary>
    public double? NetDisplacement { get; init; }
    /// <summary>Non-backtracking slack S = Σ|Δτ_ℓ| − N ≥ 0 (0 iff τ is monotone).</summary>
    public double? Slack { get; init; }
    /// <summary>Residual variation V = Σ|Δρ_ℓ|.</summary>
    public double? ResidualVariation { get; init; }
    /// <summary>Dimension variation W = Σ DimensionTerm_ℓ (0 when all ranks are equal).</summary>
    public double? DimensionVariation { get; init; }
    /// <summary>Margin m = μ_{d*}(max α̂), d* the smallest rank among layers 2..L.</summary>
    public double? Margin { get; init; }
    /// <summary>Σ|Δα_ℓ|.</summary>
    public double? TotalVariation { get; init; }
    /// <summary>(N + S + V + W)/m (variant A) or (log M + V)/m (variant B).</summary>
    public double? Bound { get; init; }
    /// <summary>Σ|Δα_ℓ| ≤ Bound and every per-step bound holds.</summary>
    public bool? BoundHolds { get; init; }
    /// <summary>Variant B: log M = 2·Σ log κ_ℓ.</summary>
    public double? LogM { get; init; }
    /// <summary>Variant B: geometric-mean interface radial amplitude κ̄ = (Πκ_ℓ)^{1/L}.</summary>
    public double? KappaMean { get; init; }
    /// <summary>Variant B: every |Δτ_ℓ| ≤ 2 log κ_ℓ.</summary>
    public bool? TauBoundsHold { get; init; }
}

/// <summary>
/// GSA I chain budgets (methods.md §1(c)) [R].
/// <para>Variant A (static profiles). Because ρ_ℓ = τ_ℓ − τ_{d_ℓ}(α̂_ℓ) for any chart, the mean-value theorem on the
/// chart τ_d (slope μ_d, decreasing in α and increasing in d) gives the theorem we implement:
/// |Δα_ℓ| ≤ (|Δτ_ℓ| + |Δρ_ℓ| + D_ℓ)/m_ℓ with D_ℓ = |τ_{d_{ℓ+1}}(α̂_ℓ) − τ_{d_ℓ}(α̂_ℓ)| and m_ℓ = μ_{d_{ℓ+1}}(max α̂);
/// summed, Σ|Δα| ≤ (N + S + V + W)/m. Correction to the spec: the spec's (N + S + V)/m assumes one chart for all
/// layers; layers of different rank d lie on different orbits and the term W = ΣD_ℓ is needed (W = 0 when all d agree,
/// recovering the spec's statement exactly).</para>
/// <para>Variant B (F_ℓ = J_ℓF_{ℓ−1}, F_0 = I, square d×d). σ_1(JF) and ‖JF‖_F both scale between σ_min(J) and
/// σ_max(J), so λ_1 changes by a factor in [κ⁻², κ²] and |Δτ_ℓ| ≤ 2 log κ_ℓ (a theorem). With the same d for every
/// F_ℓ: |Δα_ℓ| ≤ (2 log κ_ℓ + |Δρ_ℓ|)/m_ℓ and Σ|Δα| ≤ (log M + V)/m, log M = 2Σ log κ_ℓ. Correction to the spec:
/// its per-step bound (log M)/(L·m) holds only under the uniform budget κ_ℓ ≤ κ̄ (and an exact chart, ρ ≡ 0); we
/// report it as <see cref="ChainStep.UniformBound"/> and check the general per-step bound.</para>
/// </summary>
public static class ChainBudget
{
    /// <summary>Variant A on static per-layer profiles (forward order).</summary>
    public static ChainBudgetResult Static(string name, IReadOnlyList<(string Name, SpectrumProfile Profile)> layers, PowerLawChart chart, ChainOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(layers);
        var o = options ?? ChainOptions.Default;
        var names = layers.Select(l => l.Name).ToArray();
        var fits = new ChartFit[layers.Count];
        for (int i = 0; i < layers.Count; i++)
        {
            var f = layers[i].Profile.Chart(chart);
            if (f is null || layers[i].Profile.Tau is null)
                return new ChainBudgetResult { Name = name, Chart = chart, Layers = names, Reason = $"layer '{layers[i].Name}' has no {chart} chart ({layers[i].Profile.Reason ?? "window too small"})" };
            fits[i] = f;
        }
        if (layers.Count < 2)
            return new ChainBudgetResult { Name = name, Chart = chart, Layers = names, Reason = "a chain needs at least 2 layers" };
        var alpha = fits.Select(f => f.Alpha).ToArray();
        var tau = layers.Select(l => l.Profile.Tau!.Value).ToArray();
        var rho = fits.Select(f => f.TauResidual).ToArray();
        var rank = layers.Select(l => l.Profile.Rank).ToArray();
        return Assemble(name, chart, names, alpha, tau, rho, rank, null, o);
    }

    /// <summary>
    /// Variant A from the per-layer chart values alone (α̂, τ, the chart's τ-residual ρ and the numerical rank d, in
    /// forward order): the same computation as <see cref="Static"/>, for callers that hold fitted values rather than
    /// profiles (e.g. merging sharded runs).
    /// </summary>
    public static ChainBudgetResult FromFits(string name, PowerLawChart chart, string[] names, double[] alpha, double[] tau, double[] rho, int[] rank,
        ChainOptions? options = null)
    {
        if (names.Length < 2)
            return new ChainBudgetResult { Name = name, Chart = chart, Layers = names, Reason = "a chain needs at least 2 layers" };
        return Assemble(name, chart, names, alpha, tau, rho, rank, null, options ?? ChainOptions.Default);
    }

    /// <summary>
    /// Variant B on an explicit chain F_ℓ = J_ℓ F_{ℓ−1}, F_0 = I. <paramref name="jacobians"/> are square d×d row-major
    /// matrices; <paramref name="singularValues"/>(matrix, d) returns the singular values of a d×d row-major matrix,
    /// descending (the LAPACK layer's job). Products are formed with a plain triple loop.
    /// </summary>
    public static ChainBudgetResult Jacobian(string name, IReadOnlyList<double[]> jacobians, int d, Func<double[], int, double[]> singularValues,
        PowerLawChart chart, ChainOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(jacobians);
        ArgumentNullException.ThrowIfNull(singularValues);
        if (d < 1) throw new ArgumentOutOfRangeException(nameof(d));
        var o = options ?? ChainOptions.Default;
        int len = checked(d * d);
        foreach (var j in jacobians) if (j is null || j.Length != len) throw new ArgumentException($"every Jacobian must hold d·d = {len} values", nameof(jacobians));

        int L = jacobians.Count;
        var f = new double[len];
        for (int i = 0; i < d; i++) f[i * d + i] = 1;
        var profiles = new SpectrumProfile[L + 1];
        var kappa = new double?[L + 1];
        profiles[0] = SpectrumProfile.Compute(singularValues(f, d), d, d, o.Profile);
        for (int l = 0; l < L; l++)
        {
            var sj = singularValues(jacobians[l], d);
            kappa[l + 1] = sj.Length == d && sj[^1] > 0 && sj[0] > 0 ? sj[0] / sj[^1] : null;
            f = Multiply(jacobians[l], f, d);
            profiles[l + 1] = SpectrumProfile.Compute(singularValues(f, d), d, d, o.Profile);
        }
        var names = Enumerable.Range(0, L + 1).Select(i => "F" + i).ToArray();
        for (int i = 0; i <= L; i++)
        {
            var fit = profiles[i].Chart(chart);
            if (fit is null || profiles[i].Tau is null)
                return new ChainBudgetResult { Name = name, Chart = chart, Layers = names, Reason = $"F{i} has no {chart} chart ({profiles[i].Reason ?? "window too small"})" };
            if (profiles[i].Rank != d)
                return new ChainBudgetResult { Name = name, Chart = chart, Layers = names, Reason = $"F{i} is numerically singular (rank {profiles[i].Rank} < {d})" };
        }
        if (L < 1) return new ChainBudgetResult { Name = name, Chart = chart, Layers = names, Reason = "a chain needs at least 1 Jacobian" };
        var alpha = profiles.Select(p => p.Chart(chart)!.Alpha).ToArray();
        var tau = profiles.Select(p => p.Tau!.Value).ToArray();
        var rho = profiles.Select(p => p.Chart(chart)!.TauResidual).ToArray();
        var rank = profiles.Select(p => p.Rank).ToArray();
        return Assemble(name, chart, names, alpha, tau, rho, rank, kappa, o);
    }

    internal static double[] Multiply(double[] a, double[] b, int d)
    {
        var c = new double[a.Length];
        for (int i = 0; i < d; i++)
            for (int k = 0; k < d; k++)
            {
                double aik = a[i * d + k];
                if (aik == 0) continue;
                for (int j = 0; j < d; j++) c[i * d + j] += aik * b[k * d + j];
            }
        return c;
    }

    private static ChainBudgetResult Assemble(string name, PowerLawChart chart, string[] names, double[] alpha, double[] tau, double[] rho,
        int[] rank, double?[]? kappa, ChainOptions o)
    {
        int n = alpha.Length;
        double aMax = alpha.Max();
        int dStar = int.MaxValue;
        for (int i = 1; i < n; i++) dStar = Math.Min(dStar, rank[i]);
        double margin = new PowerLawOrbit(dStar).Mu(aMax);

        bool variantB = kappa is not null;
        double logM = 0;
        bool kappaKnown = true;
        if (variantB)
            for (int l = 1; l < n; l++) { if (kappa![l] is double k) logM += 2 * Math.Log(k); else kappaKnown = false; }
        int L = n - 1;

        var steps = new List<ChainStep>(L);
        double sumDa = 0, sumDt = 0, v = 0, w = 0;
        bool allHold = true, tauHold = true;
        for (int l = 0; l < L; l++)
        {
            double da = alpha[l + 1] - alpha[l], dt = tau[l + 1] - tau[l], dr = rho[l + 1] - rho[l];
            var next = new PowerLawOrbit(rank[l + 1]);
            double dim = rank[l + 1] == rank[l] ? 0 : Math.Abs(next.Tau(alpha[l]) - new PowerLawOrbit(rank[l]).Tau(alpha[l]));
            double mL = next.Mu(Math.Max(alpha[l], alpha[l + 1]));
            double? bound = null, uniform = null;
            double? k = variantB ? kappa![l + 1] : null;
            if (mL > 0)
            {
                if (!variantB) bound = (Math.Abs(dt) + Math.Abs(dr) + dim) / mL;
                else if (k is double kk)
                {
                    bound = (2 * Math.Log(kk) + Math.Abs(dr)) / mL;
                    if (margin > 0 && kappaKnown) uniform = logM / (L * margin) + Math.Abs(dr) / mL;
                }
            }
            bool holds = bound is null ? (variantB && k is null) : o.Holds(Math.Abs(da), bound.Value);
            if (variantB && k is double k2 && !o.Holds(Math.Abs(dt), 2 * Math.Log(k2))) tauHold = false;
            allHold &= holds;
            steps.Add(new ChainStep(da, dt, dr, dim, mL, bound, holds, k, uniform));
            sumDa += Math.Abs(da); sumDt += Math.Abs(dt); v += Math.Abs(dr); w += dim;
        }
        double net = Math.Abs(tau[n - 1] - tau[0]);
        double slack = Math.Max(0, sumDt - net);
        double? total = null;
        if (margin > 0)
        {
            if (!variantB) total = (net + slack + v + w) / margin;
            else if (kappaKnown) total = (logM + v) / margin;
        }
        bool? holdsAll = total is double t ? allHold && o.Holds(sumDa, t) : null;
        return new ChainBudgetResult
        {
            Name = name, Chart = chart, Layers = names, Alpha = alpha, Tau = tau, Rho = rho, Rank = rank, Steps = steps,
            NetDisplacement = net, Slack = slack, ResidualVariation = v, DimensionVariation = w, Margin = margin,
            TotalVariation = sumDa, Bound = total, BoundHolds = holdsAll,
            LogM = variantB && kappaKnown ? logM : null,
            KappaMean = variantB && kappaKnown ? Math.Exp(logM / (2 * L)) : null,
            TauBoundsHold = variantB ? tauHold : null,
            Reason = total is null ? (margin > 0 ? "a Jacobian is singular (κ = ∞)" : "margin μ(max α̂) underflows to 0") : null,
        };
    }
}

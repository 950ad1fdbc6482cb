using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;
using Cartan.Alignment;
using Cartan.Formats;
using Cartan.Graph;
using Cartan.Report;
using Cartan.Spectra;
using Cartan.Transport;

namespace Cartan.Engine;

/// <summary>Settings of an analysis run; every threshold is printed into <c>settings</c>.</summary>
public sealed record AnalyzeOptions
{
    public GraphOptions Graph { get; init; } = new();
    /// <summary>How many of the largest singular values each layer record lists (at least 10).</summary>
    public int SigmaCount { get; init; } = 10;
    public ProfileOptions Profile { get; init; } = ProfileOptions.Default;
    public WwFitOptions Ww { get; init; } = WwFitOptions.Default;
    /// <summary>Chart used for the chain budgets and the fitted-tail certificate (methods.md §1(b): C2 recommended).</summary>
    public PowerLawChart Chart { get; init; } = PowerLawChart.Mle;
    public TransportOptions Transport { get; init; } = new();
    public FlagOptions Flag { get; init; } = new();
    public HeadOverlapOptions Heads { get; init; } = new();
    /// <summary>Bootstrap replicates of the WW tail α interval (0 turns it off).</summary>
    public int BootstrapReplicates { get; init; } = 0;
    public int Seed { get; init; } = 0;
    /// <summary>Only per-layer spectra (no interfaces, heads or chains).</summary>
    public bool SpectraOnly { get; init; }
    /// <summary>Parallel jobs (default: the number of cores).</summary>
    public int Parallelism { get; init; } = Environment.ProcessorCount;
}

/// <summary>Progress of a run: completed, total, and the item just finished.</summary>
public readonly record struct Progress(int Done, int Total, string Item);

/// <summary>
/// Runs the per-layer, per-interface, per-head and per-chain analyses of a model graph. Matrices are loaded
/// from the readers' mappings when a job needs them and dropped when it is done.
/// </summary>
public static class Analyzer
{
    public static string Version =>
        typeof(Analyzer).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    private sealed record LayerState(double[] Sigma, SpectrumProfile Profile);

    public static AnalysisResult Run(WeightModel model, ModelGraph graph, AnalyzeOptions options, IProgress<Progress>? progress = null)
    {
        int heads = options.SpectraOnly ? 0 : HeadBlocks(graph).Count;
        int total = graph.Layers.Count + (options.SpectraOnly ? 0 : graph.Interfaces.Count + heads), done = 0;
        void Tick(string item) => progress?.Report(new Progress(Interlocked.Increment(ref done), total, item));

        var timing = Environment.GetEnvironmentVariable("CARTAN_TIMING") == "1" ? System.Diagnostics.Stopwatch.StartNew() : null;
        void Phase(string name) { if (timing is not null) { Console.Error.WriteLine($"timing: {name} {timing.Elapsed.TotalSeconds:F2} s"); timing.Restart(); } }
        var layers = new LayerRecord[graph.Layers.Count];
        var states = new ConcurrentDictionary<string, LayerState>();
        Schedule(graph.Layers.Count, i => (double)graph.Layers[i].Rows * graph.Layers[i].Cols * Math.Min(graph.Layers[i].Rows, graph.Layers[i].Cols), options, i =>
        {
            var spec = graph.Layers[i];
            layers[i] = AnalyzeLayer(spec, options, states);
            Tick(spec.Name);
        });

        Phase("layers");
        var interfaces = new InterfaceRecord[options.SpectraOnly ? 0 : graph.Interfaces.Count];
        var headRecords = new List<IReadOnlyDictionary<string, object?>>();
        var chains = new List<IReadOnlyDictionary<string, object?>>();
        if (!options.SpectraOnly)
        {
            Schedule(interfaces.Length, i =>
            {
                var (x, y) = (graph.Layer(graph.Interfaces[i].From)!, graph.Layer(graph.Interfaces[i].To)!);
                return (double)x.Rows * x.Cols * y.Rows;
            }, options, i =>
            {
                var f = graph.Interfaces[i];
                interfaces[i] = AnalyzeInterface(graph, f, states, options);
                Tick($"{f.From} → {f.To}");
            });
            Phase("interfaces");
            var blocks = HeadBlocks(graph);
            var perBlock = new List<IReadOnlyDictionary<string, object?>>[blocks.Count];
            Schedule(blocks.Count, i => (double)blocks[i].D * blocks[i].D * blocks[i].D, options, i =>
            {
                perBlock[i] = AnalyzeHeads(blocks[i], options);
                Tick($"heads of block {blocks[i].Block}");
            });
            foreach (var b in perBlock) headRecords.AddRange(b);
            Phase("heads");
            chains.AddRange(Chains(graph, states, options));
            Phase("chains");
        }

        return new AnalysisResult
        {
            Tool = new ToolInfo("cartan", Version, Linalg.Lapack.BackendName),
            Model = new ModelInfo(model.Source, model.Format, graph.Architecture, model.Tensors.Count + model.Skipped.Count),
            Settings = Settings(graph, options),
            Layers = layers,
            Interfaces = interfaces,
            Heads = headRecords,
            Chains = chains,
            Skipped = graph.Skipped.Select(s => new SkippedRecord(s.Name, s.Shape, s.DType, s.Role, s.Reason))
                .Concat(model.Skipped.Select(s => new SkippedRecord(s.Name, s.Shape, s.StoredType, Roles.Other, s.Reason))).ToList(),
        };
    }

    /// <summary>Work (flop-like size) above which a job runs alone with every BLAS thread.</summary>
    public const double LargeJob = 2048.0 * 2048 * 1024;

    /// <summary>
    /// Runs jobs so that BLAS threads and job parallelism do not oversubscribe the cores: large jobs one at a time
    /// with all threads inside each LAPACK call, small jobs in parallel with one BLAS thread each. Results do not
    /// depend on the schedule: each job is a pure function of its inputs.
    /// </summary>
    private static void Schedule(int count, Func<int, double> work, AnalyzeOptions o, Action<int> run)
    {
        int saved = Linalg.Lapack.Threads;
        try
        {
            var large = Enumerable.Range(0, count).Where(i => work(i) >= LargeJob).ToList();
            var small = Enumerable.Range(0, count).Where(i => work(i) < LargeJob).ToList();
            Linalg.Lapack.Threads = Math.Max(1, o.Parallelism);
            foreach (var i in large) run(i);
            Linalg.Lapack.Threads = 1;
            Parallel.ForEach(small, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, o.Parallelism) }, run);
        }
        finally
        {
            Linalg.Lapack.Threads = saved;
        }
    }

    private static List<KeyValuePair<string, object?>> Settings(ModelGraph graph, AnalyzeOptions o)
    {
        var p = o.Profile;
        return
        [
            new("q", o.Transport.Q),
            new("effective_rank_q", p.Quantiles.ToArray()),
            new("sigma_count", o.SigmaCount),
            new("rank_eps", p.RankEpsilon),
            new("min_rank", p.MinRank),
            new("unreliable_rank", p.ReliableRank),
            new("alpha_range", new[] { p.AlphaLow, p.AlphaHigh }),
            new("ols_window_q", p.OlsWindowQuantile),
            new("robust_quantile_eps", p.RobustEpsilon),
            new("regime_transition_half_width", p.TransitionHalfWidth),
            new("chart", o.Chart.ToString().ToLowerInvariant()),
            new("ww_eigenvalue_threshold", o.Ww.EigenvalueThreshold),
            new("bootstrap_replicates", o.BootstrapReplicates),
            new("flag_tolerance", o.Flag.Tolerance),
            new("flag_max_grid", o.Flag.MaxGrid),
            new("flag_gap_tolerance", o.Flag.GapTolerance),
            new("dense_limit", o.Flag.DenseLimit),
            new("head_rank", o.Heads.Rank),
            new("head_baseline_draws", o.Heads.Draws),
            new("seed", o.Seed),
            new("include_embeddings", o.Graph.IncludeEmbeddings),
            new("conv_view", o.Graph.ConvView.ToString().ToLowerInvariant()),
            new("infer_pairs", o.Graph.InferPairs),
            new("spectra_only", o.SpectraOnly),
            new("heads", graph.Heads?.NumHeads),
            new("kv_heads", graph.Heads?.NumKvHeads),
            new("heads_source", graph.Heads?.Source),
        ];
    }

    // ------------------------------------------------------------------ layers

    /// <summary>
    /// The spectrum of a layer in its view. For the per-tap view of a convolution, the taps' spectra are pooled
    /// into one (WeightWatcher's convention); otherwise the singular values of the canonical matrix.
    /// </summary>
    private static double[] LayerSpectrum(LayerSpec spec, double[] a, out int rows, out int cols)
    {
        rows = spec.Rows; cols = spec.Cols;
        if (spec.View != MatrixView.Tap || !spec.IsConv) return Linalg.Lapack.SingularValues(a, spec.Rows, spec.Cols);
        int block = spec.Rows * spec.Cols, taps = a.Length / block;
        var pooled = new List<double>(taps * Math.Min(spec.Rows, spec.Cols));
        for (int t = 0; t < taps; t++) pooled.AddRange(Linalg.Lapack.SingularValues(a.AsSpan(t * block, block), spec.Rows, spec.Cols));
        pooled.Sort((x, y) => y.CompareTo(x));
        return [.. pooled];
    }

    private static LayerRecord AnalyzeLayer(LayerSpec spec, AnalyzeOptions o, ConcurrentDictionary<string, LayerState> states)
    {
        var rec = new LayerRecord
        {
            Name = spec.Name, Role = spec.Role, Shape = spec.Shape, DType = spec.DType, Matrix = [spec.Rows, spec.Cols],
            View = spec.View.ToString().ToLowerInvariant(), Status = "ok", Block = spec.Block,
        };
        double[] a;
        try { a = spec.Load(); }
        catch (CartanFormatException e) { return rec with { Status = "failed", Reason = e.Message }; }
        double fro2 = 0;
        foreach (var x in a)
        {
            if (!double.IsFinite(x)) return rec with { Status = "failed", Reason = "matrix holds NaN or Infinity" };
            fro2 += x * x;
        }
        if (fro2 == 0) return rec with { Status = "skipped", Reason = "all-zero matrix (methods.md §0.5)", Rank = 0, Frobenius = 0 };
        double[] sigma;
        try { sigma = LayerSpectrum(spec, a, out _, out _); }
        catch (Linalg.LinalgException e) { return rec with { Status = "failed", Reason = e.Message }; }
        a = null!;
        bool tap = spec.View == MatrixView.Tap && spec.IsConv;
        // Pooled tap spectra have more values than min(rows, cols): profile them as one spectrum of that length.
        int pr = tap ? sigma.Length : spec.Rows, pc = tap ? sigma.Length : spec.Cols;
        var profile = SpectrumProfile.Compute(sigma, pr, pc, o.Profile);
        states[spec.Name] = new LayerState(sigma, profile);

        // WeightWatcher compatibility: its conv ESD pools the taps with each tap scaled by √(1/2) (λ = σ²/2).
        var lambdas = sigma.Select(s => tap ? s * s / 2 : s * s).ToArray();
        var ww = WwTailFit.Compute(lambdas, Math.Max(spec.Rows, spec.Cols), o.Ww);
        // Fit quality: power law vs truncated power law and vs log-normal on the tail WW fitted (issue 5 item 5).
        TailComparison? llr = null;
        if (ww is { Success: true, Xmin: double wxmin, NTail: int ntail })
        {
            var fitted = lambdas.Where(v => v > o.Ww.EigenvalueThreshold).Order().ToArray();
            llr = LikelihoodRatio.Compare(fitted.AsSpan(fitted.Length - ntail), wxmin);
        }
        AlphaInterval? ci = o.BootstrapReplicates > 0 ? WwBootstrap.AlphaInterval(lambdas, o.BootstrapReplicates, o.Seed, 0.95, o.Ww) : null;

        string status = profile.Status switch { ProfileStatus.Ok => "ok", ProfileStatus.Unreliable => "unreliable", _ => "skipped" };
        var extra = new Dictionary<string, object?>
        {
            ["tau"] = profile.Tau,
            ["alpha"] = Dict(("top", profile.Top?.Alpha), ("mle", profile.Mle?.Alpha), ("hel", profile.Hel?.Alpha), ("ols", profile.Ols?.Alpha)),
            ["chart_residual"] = profile.Mle is { } m
                ? Dict(("tau", m.TauResidual), ("hellinger", m.Hellinger), ("bures", m.Bures), ("kl", m.KL))
                : Dict(("tau", null), ("hellinger", null), ("bures", null), ("kl", null)),
            ["effective_rank"] = profile.EffectiveRanks.Select(e => new KeyValuePair<string, object?>(Q(e.Q), e.Rank)).ToList(),
            ["charts"] = Charts(profile),
            ["tails"] = profile.EffectiveRanks.Select(e => new KeyValuePair<string, object?>(Q(e.Q), Dict(
                ("k", e.Rank), ("empirical", e.EmpiricalTail), ("model", e.ModelTail),
                ("model_lower_bound", e.ModelTailBounds.Lower), ("model_upper_bound", e.ModelTailBounds.Upper),
                ("model_rank", e.ModelRank), ("predicted_rank", e.PredictedRank),
                ("robust_rank_lower", e.RobustLower), ("robust_rank_upper", e.RobustUpper)))).ToList(),
            ["regime"] = profile.Regime?.ToString().ToLowerInvariant(),
            ["ww"] = Dict(("alpha", ww.Alpha), ("xmin", ww.Xmin), ("xmax", ww.Xmax), ("ks_d", ww.KsD), ("n_tail", ww.NTail),
                ("sigma", ww.Sigma), ("num_pl_spikes", ww.NumPlSpikes), ("alpha_weighted", ww.AlphaWeighted), ("log_norm", ww.LogNorm),
                ("log_spectral_norm", ww.LogSpectralNorm), ("log_alpha_norm", ww.LogAlphaNorm), ("stable_rank", ww.StableRank),
                ("entropy", ww.Entropy), ("mp_softrank", ww.MpSoftrank), ("num_spikes", ww.NumSpikes), ("warning", ww.Warning),
                ("status", ww.Success ? "ok" : "failed"), ("reason", ww.Reason),
                ("llr", llr is null ? null : Dict(
                    ("truncated_power_law", Dict(("R", llr.TruncatedPowerLaw.R), ("p", llr.TruncatedPowerLaw.P),
                        ("alpha", llr.TruncatedPowerLaw.Parameters[0].Value), ("lambda", llr.TruncatedPowerLaw.Parameters[1].Value))),
                    ("lognormal", Dict(("R", llr.LogNormal.R), ("p", llr.LogNormal.P),
                        ("mu", llr.LogNormal.Parameters[0].Value), ("sigma", llr.LogNormal.Parameters[1].Value))))),
                ("alpha_ci", ci is null ? null : Dict(("level", ci.Level), ("lower", ci.Lower), ("upper", ci.Upper), ("median", ci.Median), ("replicates", ci.Replicates), ("seed", ci.Seed)))),
        };
        return rec with
        {
            Status = status,
            Reason = profile.Status == ProfileStatus.Ok ? null : profile.Reason,
            Rank = profile.Rank, Frobenius = Math.Sqrt(fro2),
            Sigma = sigma.Take(Math.Max(o.SigmaCount, 10)).ToArray(),
            StableRank = profile.StableRank,
            Extra = extra,
        };
    }

    private static string Q(double q) => q.ToString("0.###", CultureInfo.InvariantCulture);

    private static List<KeyValuePair<string, object?>> Dict(params (string Key, object? Value)[] items) =>
        items.Select(i => new KeyValuePair<string, object?>(i.Key, i.Value)).ToList();

    private static List<KeyValuePair<string, object?>> Charts(SpectrumProfile p)
    {
        var list = new List<KeyValuePair<string, object?>>();
        foreach (var c in new[] { p.Top, p.Mle, p.Hel, p.Ols })
        {
            if (c is null) continue;
            list.Add(new(c.Chart.ToString().ToLowerInvariant(), Dict(
                ("alpha", c.Alpha), ("at_lower_bound", c.AtLowerBound), ("at_upper_bound", c.AtUpperBound),
                ("tau_residual", c.TauResidual), ("hellinger", c.Hellinger), ("bures", c.Bures), ("kl", c.KL),
                ("fisher", c.Fisher), ("mu", c.Mu), ("window", c.WindowStart is int s ? new[] { s, c.WindowEnd ?? s } : null))));
        }
        return list;
    }

    // ------------------------------------------------------------------ interfaces

    private static InterfaceRecord AnalyzeInterface(ModelGraph graph, InterfaceSpec f, ConcurrentDictionary<string, LayerState> states, AnalyzeOptions o)
    {
        var rec = new InterfaceRecord { From = f.From, To = f.To, Dim = f.Dim, Kind = f.Kind, InferredBy = f.InferredBy };
        var a = graph.Layer(f.From)!;
        var b = graph.Layer(f.To)!;
        if (!states.TryGetValue(f.From, out var sa) || !states.TryGetValue(f.To, out var sb))
            return rec with { Status = "skipped", Reason = "an end of the interface has no spectrum (see its layer record)" };
        try
        {
            // ℓ in its out-view, ℓ+1 in its in-view: both act on the interface space R^m.
            var (m, n) = a.ShapeIn(MatrixView.Out);
            var (p, m2) = b.ShapeIn(MatrixView.In);
            if (m != m2 || m != f.Dim) return rec with { Status = "skipped", Reason = $"interface dimensions differ ({m} vs {m2})" };
            var wl = a.LoadView(MatrixView.Out);
            var wn = b.LoadView(MatrixView.In);
            // The in-view spectrum of a conv differs from its out-view one: use the spectra of the matrices used here.
            var sigL = a.IsConv && a.View != MatrixView.Out ? Linalg.Lapack.SingularValues(wl, m, n) : sa.Sigma;
            var sigN = b.IsConv ? Linalg.Lapack.SingularValues(wn, p, m) : sb.Sigma;
            Func<int, double>? tailL = ModelTail(sa.Profile, sigL, o.Chart), tailN = ModelTail(sb.Profile, sigN, o.Chart);
            // One truncated SVD per side serves both the transport windows and the flag grid.
            int kl = Math.Min(Math.Min(m, n), Math.Max(Math.Min(o.Flag.MaxGrid, Math.Min(m, p)), InterfaceTransport.EffectiveRank(sigL, o.Transport.Q)));
            int kn = Math.Min(Math.Min(p, m), Math.Max(Math.Min(o.Flag.MaxGrid, Math.Min(m, n)), InterfaceTransport.EffectiveRank(sigN, o.Transport.Q)));
            var svdL = Linalg.Lapack.TopSvd(wl, m, n, kl);
            var svdN = Linalg.Lapack.TopSvd(wn, p, m, kn);
            var t = InterfaceTransport.Compute(wl, m, n, sigL, wn, p, sigN, o.Transport, tailL, tailN, svdL, svdN);
            var flag = Flag.Pair(wl, m, n, wn, p, o.Flag, svdL, svdN);
            var extra = new Dictionary<string, object?>
            {
                ["k_from"] = t.KFrom,
                ["k_to"] = t.KTo,
                ["transport"] = Dict(("error", t.Error), ("bound", t.Bound), ("certified_bound", t.CertifiedBound),
                    ("predicted_bound", t.PredictedBound), ("bound_holds", t.BoundHolds), ("tail_from", t.TailFrom), ("tail_to", t.TailTo),
                    ("cosines", t.Cosines), ("alignment", t.Alignment), ("baseline", t.Baseline)),
                ["flag"] = Dict(("grid", flag.Grid), ("intersection_dim", flag.IntersectionDim), ("overlap", flag.Overlap),
                    ("tolerance", flag.Tolerance), ("cosines", flag.Cosines)),
                ["imbalance"] = Dict(("beta", flag.Beta), ("beta_diag", flag.BetaDiag)),
                ["commutator"] = flag.Commutator,
                ["commutator_method"] = flag.CommutatorMethod,
            };
            return rec with { Extra = extra, Status = t.BoundHolds ? "ok" : "failed", Reason = t.BoundHolds ? null : "truncation bound violated (a bug: please report)" };
        }
        catch (Exception e) when (e is CartanFormatException or Linalg.LinalgException)
        {
            return rec with { Status = "failed", Reason = e.Message };
        }
    }

    /// <summary>k ↦ T_k(α̂) of the fitted chart, on the orbit of the spectrum's own numerical rank.</summary>
    private static Func<int, double>? ModelTail(SpectrumProfile profile, double[] sigma, PowerLawChart chart)
    {
        if (profile.Chart(chart) is not { } fit) return null;
        int d = profile.Rank;
        if (d < 2 || d > sigma.Length) return null;
        var orbit = new PowerLawOrbit(d);
        return k => k >= d ? 0 : orbit.ModelTail(k, fit.Alpha);
    }

    // ------------------------------------------------------------------ heads

    private sealed record HeadBlock(int Block, LayerSpec? Q, LayerSpec? K, LayerSpec? V, LayerSpec? O, HeadInfo Heads, int D);

    private static List<HeadBlock> HeadBlocks(ModelGraph g)
    {
        var list = new List<HeadBlock>();
        foreach (var grp in g.Layers.Where(l => l.Block is not null && Roles.IsAttention(l.Role)).GroupBy(l => l.Block!.Value).OrderBy(x => x.Key))
        {
            LayerSpec? One(string role) => grp.Where(l => l.Role == role).OrderBy(l => l.Order).FirstOrDefault();
            var q = One(Roles.Q); var k = One(Roles.K); var v = One(Roles.V); var o = One(Roles.O);
            var h = q?.Heads ?? o?.Heads;
            if (h is null || h.HeadDim <= 0) continue;
            int d = q?.Cols ?? o!.Rows;
            int kvHeads = k?.Heads?.NumHeads ?? v?.Heads?.NumHeads ?? h.NumKvHeads;
            list.Add(new HeadBlock(grp.Key, q, k, v, o, h with { NumKvHeads = kvHeads }, d));
        }
        return list;
    }

    private static List<IReadOnlyDictionary<string, object?>> AnalyzeHeads(HeadBlock b, AnalyzeOptions o)
    {
        var result = new List<IReadOnlyDictionary<string, object?>>();
        var wq = b.Q?.Load(); var wk = b.K?.Load(); var wv = b.V?.Load(); var wo = b.O?.Load();
        int H = b.Heads.NumHeads, G = b.Heads.NumKvHeads, dh = b.Heads.HeadDim, d = b.D;
        bool ShapeOk(LayerSpec? l, int rows, int cols) => l is not null && l.Rows == rows && l.Cols == cols;
        var kinds = new List<HeadKind>();
        if (ShapeOk(b.Q, H * dh, d)) kinds.Add(HeadKind.Q);
        if (ShapeOk(b.K, G * dh, d)) kinds.Add(HeadKind.K);
        if (ShapeOk(b.V, G * dh, d)) kinds.Add(HeadKind.V);
        if (ShapeOk(b.O, d, H * dh)) kinds.Add(HeadKind.O);
        if (kinds.Contains(HeadKind.Q) && kinds.Contains(HeadKind.K)) kinds.Add(HeadKind.QK);
        if (kinds.Contains(HeadKind.O) && kinds.Contains(HeadKind.V)) kinds.Add(HeadKind.OV);
        foreach (var kind in kinds)
        {
            var layer = kind switch { HeadKind.Q or HeadKind.QK => b.Q!, HeadKind.K => b.K!, HeadKind.V => b.V!, _ => b.O! };
            try
            {
                var r = HeadOverlap.Compute(kind, wq, wk, wv, wo, d, H, G, dh, o.Heads with { Seed = o.Heads.Seed + o.Seed });
                result.Add(new Dictionary<string, object?>
                {
                    ["layer"] = layer.Name, ["block"] = b.Block, ["kind"] = kind.ToString(),
                    ["num_heads"] = H, ["num_kv_heads"] = G, ["head_dim"] = dh, ["rank_used"] = r.RankUsed,
                    ["sigma"] = r.Sigma, ["overlap"] = r.Overlap, ["mean_overlap"] = r.MeanOffDiagonal,
                    ["baseline"] = r.Baseline, ["random_mean"] = r.RandomMean, ["random_std"] = r.RandomStd, ["zscore"] = r.ZScore,
                });
            }
            catch (Linalg.LinalgException e)
            {
                result.Add(new Dictionary<string, object?> { ["layer"] = layer.Name, ["block"] = b.Block, ["kind"] = kind.ToString(), ["status"] = "failed", ["reason"] = e.Message });
            }
        }
        return result;
    }

    // ------------------------------------------------------------------ chains

    private static IEnumerable<IReadOnlyDictionary<string, object?>> Chains(ModelGraph g, ConcurrentDictionary<string, LayerState> states, AnalyzeOptions o)
    {
        bool transformer = g.Layers.Any(l => Roles.IsAttention(l.Role));
        var groups = transformer
            ? g.Layers.GroupBy(l => l.Role).Select(x => (Name: x.Key, Layers: x.OrderBy(l => l.Order).ToList()))
            : [("forward", g.Layers.OrderBy(l => l.Order).ToList())];
        foreach (var (name, list) in groups)
        {
            var profiled = list.Where(l => states.TryGetValue(l.Name, out var s) && s.Profile.Chart(o.Chart) is not null)
                .Select(l => (l.Name, states[l.Name].Profile)).ToList();
            if (profiled.Count < 2) continue;
            var c = ChainBudget.Static(name, profiled, o.Chart);
            yield return new Dictionary<string, object?>
            {
                ["name"] = name, ["chart"] = o.Chart.ToString().ToLowerInvariant(), ["layers"] = c.Layers, ["alpha"] = c.Alpha, ["tau"] = c.Tau,
                ["rho"] = c.Rho, ["rank"] = c.Rank, ["net_displacement"] = c.NetDisplacement, ["slack"] = c.Slack,
                ["residual_variation"] = c.ResidualVariation, ["dimension_variation"] = c.DimensionVariation, ["margin"] = c.Margin,
                ["total_variation"] = c.TotalVariation, ["bound"] = c.Bound, ["bound_holds"] = c.BoundHolds, ["reason"] = c.Reason,
            };
        }
    }
}

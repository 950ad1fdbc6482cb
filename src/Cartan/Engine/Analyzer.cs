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
    public PamOptions Pam { get; init; } = new() { PerturbationCount = 16 };
    /// <summary>Row groups of the PAM: "auto" (heads where the reading layer has heads, else equal blocks), "heads",
    /// "blocks:N", "kmeans:N" or "singletons".</summary>
    public string RowGroups { get; init; } = "auto";
    /// <summary>Number of equal row blocks for "auto" when the reading layer has no heads.</summary>
    public int RowBlocks { get; init; } = 8;
    /// <summary>Skip the PAM certificate (transport and flag diagnostics only).</summary>
    public bool NoCertificate { get; init; }
    /// <summary>Bootstrap replicates of the WW tail α interval (0 turns it off).</summary>
    public int BootstrapReplicates { get; init; } = 0;
    public int Seed { get; init; } = 0;
    /// <summary>Only per-layer spectra (no interfaces, heads or chains).</summary>
    public bool SpectraOnly { get; init; }
    /// <summary>Per-layer metrics: all of them, or only WeightWatcher's set (the <c>ww</c> block, σ, norms) for a
    /// like-for-like comparison with WeightWatcher's <c>analyze()</c>; <see cref="LayerMetrics.Ww"/> implies
    /// <see cref="SpectraOnly"/>.</summary>
    public LayerMetrics Metrics { get; init; } = LayerMetrics.All;
    /// <summary>Parallel jobs (default: the number of cores).</summary>
    public int Parallelism { get; init; } = Environment.ProcessorCount;
    /// <summary>Run only shard Index of Count (0-based): layers, interfaces and head blocks whose plan position ≡ Index (mod Count).
    /// Chains are left to <c>cartan merge</c>, which has every layer.</summary>
    public (int Index, int Count)? Shard { get; init; }
    /// <summary>Memory budget in bytes for the jobs running at one time (null: none). Jobs are held back until the
    /// running ones plus the next fit; a job that alone needs more runs by itself and is reported through <see cref="Notice"/>.</summary>
    public long? MaxMemory { get; init; }
    /// <summary>
    /// Values per band when a layer's spectrum is formed band by band from the file (default 2²⁰ = 8 MiB of float64).
    /// Memory only; the bands change the Gram's summation order, so results move by rounding at most.
    /// </summary>
    public long StreamBandElements { get; init; } = 1 << 20;
    /// <summary>Load every layer whole before its spectrum (the pre-streaming path; for tests and comparisons).</summary>
    public bool NoStreaming { get; init; }
    /// <summary>Receives one-line notices during the run (e.g. a job larger than <see cref="MaxMemory"/>).</summary>
    public Action<string>? Notice { get; init; }
}

/// <summary>Which per-layer metrics a run computes.</summary>
public enum LayerMetrics
{
    /// <summary>Everything: power-law charts, effective ranks, tails, regimes, WW metrics, fit comparisons.</summary>
    All,
    /// <summary>WeightWatcher's per-layer metrics only (its default <c>analyze()</c> set): the <c>ww</c> block, σ and norms.</summary>
    Ww,
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
        bool Mine(int index) => options.Shard is not (int si, int sn) || index % sn == si;
        var blocks = HeadBlocks(graph);
        var myLayers = Enumerable.Range(0, graph.Layers.Count).Where(Mine).ToList();
        if (options.Metrics == LayerMetrics.Ww) options = options with { SpectraOnly = true };
        var myInterfaces = options.SpectraOnly ? [] : Enumerable.Range(0, graph.Interfaces.Count).Where(Mine).ToList();
        var myBlocks = options.SpectraOnly ? [] : Enumerable.Range(0, blocks.Count).Where(Mine).ToList();
        // A shard also needs the spectra of the ends of its interfaces (computed, not reported).
        var needed = myLayers.Concat(myInterfaces.SelectMany(i => new[] { graph.Interfaces[i].From, graph.Interfaces[i].To })
            .Select(n => graph.Layers.ToList().FindIndex(l => l.Name == n))).Where(i => i >= 0).Distinct().Order().ToList();
        int total = needed.Count + myInterfaces.Count + myBlocks.Count, done = 0;
        void Tick(string item) => progress?.Report(new Progress(Interlocked.Increment(ref done), total, item));

        var started = System.Diagnostics.Stopwatch.StartNew();
        var timing = Environment.GetEnvironmentVariable("CARTAN_TIMING") == "1" ? System.Diagnostics.Stopwatch.StartNew() : null;
        void Phase(string name) { if (timing is not null) { Console.Error.WriteLine($"timing: {name} {timing.Elapsed.TotalSeconds:F2} s"); timing.Restart(); } }
        var layers = new LayerRecord[graph.Layers.Count];
        var states = new ConcurrentDictionary<string, LayerState>();
        Schedule(needed.Count, j => { var l = graph.Layers[needed[j]]; return (double)l.Rows * l.Cols * Math.Min(l.Rows, l.Cols) * PooledTaps(l); },
            j => LayerBytes(graph.Layers[needed[j]], options), j => graph.Layers[needed[j]].Name, options, j =>
        {
            var spec = graph.Layers[needed[j]];
            layers[needed[j]] = AnalyzeLayer(spec, options, states);
            Tick(spec.Name);
        });

        Phase("layers");
        var interfaces = new InterfaceRecord[myInterfaces.Count];
        var headRecords = new List<IReadOnlyDictionary<string, object?>>();
        var chains = new List<IReadOnlyDictionary<string, object?>>();
        if (!options.SpectraOnly)
        {
            var cache = new ViewCache(states, options, myInterfaces.SelectMany(i => new[]
            {
                (graph.Layer(graph.Interfaces[i].From)!, MatrixView.Out), (graph.Layer(graph.Interfaces[i].To)!, MatrixView.In),
            }));
            Schedule(interfaces.Length, j =>
            {
                var (x, y) = (graph.Layer(graph.Interfaces[myInterfaces[j]].From)!, graph.Layer(graph.Interfaces[myInterfaces[j]].To)!);
                return (double)x.Rows * x.Cols * y.Rows;
            }, j => InterfaceBytes(graph, graph.Interfaces[myInterfaces[j]], options),
            j => $"{graph.Interfaces[myInterfaces[j]].From} → {graph.Interfaces[myInterfaces[j]].To}", options, j =>
            {
                var f = graph.Interfaces[myInterfaces[j]];
                interfaces[j] = AnalyzeInterface(graph, f, states, options, cache);
                Tick($"{f.From} → {f.To}");
            });
            Phase("interfaces");
            var perBlock = new List<IReadOnlyDictionary<string, object?>>[myBlocks.Count];
            Schedule(myBlocks.Count, j => (double)blocks[myBlocks[j]].D * blocks[myBlocks[j]].D * blocks[myBlocks[j]].D,
                j => HeadBytes(blocks[myBlocks[j]].D), j => $"heads of block {blocks[myBlocks[j]].Block}", options, j =>
            {
                var b = blocks[myBlocks[j]];
                perBlock[j] = AnalyzeHeads(b, options);
                Tick($"heads of block {b.Block}");
            });
            // Cross-layer composition: OV writes of block b against QK reads of block b+1 (one job per adjacent pair).
            var pairs = Enumerable.Range(0, myBlocks.Count).Select(j => myBlocks[j]).Where(i => i + 1 < blocks.Count).ToList();
            var cross = new IReadOnlyDictionary<string, object?>?[pairs.Count];
            Schedule(pairs.Count, j => (double)blocks[pairs[j]].D * blocks[pairs[j]].D * blocks[pairs[j]].D,
                j => HeadBytes(blocks[pairs[j]].D), j => $"head composition of blocks {blocks[pairs[j]].Block}/{blocks[pairs[j]].Block + 1}", options, j =>
                cross[j] = CrossHeads(blocks[pairs[j]], blocks[pairs[j] + 1], options));
            // Each block's records, then its composition with the next block (the order a merge of shards restores).
            for (int j = 0; j < pairs.Count; j++)
                if (cross[j] is { } c) perBlock[myBlocks.IndexOf(pairs[j])].Add(c);
            foreach (var b in perBlock) headRecords.AddRange(b);
            Phase("heads");
            if (options.Shard is null) chains.AddRange(Chains(layers, options.Chart));
            Phase("chains");
        }

        var result = new AnalysisResult
        {
            Tool = new ToolInfo("cartan", Version, Linalg.Lapack.BackendName),
            Model = new ModelInfo(model.Source, model.Format, graph.Architecture, model.Tensors.Count + model.Skipped.Count),
            Settings = Settings(graph, options),
            Layers = myLayers.Select(i => layers[i]).ToList(),
            Interfaces = interfaces,
            Heads = headRecords,
            Chains = chains,
            Skipped = graph.Skipped.Select(s => new SkippedRecord(s.Name, s.Shape, s.DType, s.Role, s.Reason))
                .Concat(model.Skipped.Select(s => new SkippedRecord(s.Name, s.Shape, s.StoredType, Roles.Other, s.Reason))).ToList(),
            Seconds = started.Elapsed.TotalSeconds,
            Shard = options.Shard is (int index, int count)
                ? new ShardInfo(index, count, graph.Layers.Select(l => l.Name).ToArray(),
                    options.SpectraOnly ? [] : graph.Interfaces.Select(f => new[] { f.From, f.To }).ToArray(),
                    options.SpectraOnly ? [] : blocks.Select(b => b.Block).ToArray())
                : null,
        };
        return result with { Summary = Summary.Of(result) };
    }

    /// <summary>Work (flop-like size) above which a job runs alone with every BLAS thread.</summary>
    public const double LargeJob = 2048.0 * 2048 * 1024;

    /// <summary>
    /// Runs jobs so that BLAS threads and job parallelism do not oversubscribe the cores: large jobs one at a time
    /// with all threads inside each LAPACK call, small jobs in parallel with one BLAS thread each, and, with a memory
    /// budget, only as many at once as fit in it (<see cref="JobScheduler"/>). Results do not depend on the schedule:
    /// each job is a pure function of its inputs.
    /// </summary>
    private static void Schedule(int count, Func<int, double> work, Func<int, long> bytes, Func<int, string> name, AnalyzeOptions o, Action<int> run)
    {
        int saved = Linalg.Lapack.Threads;
        try
        {
            var large = Enumerable.Range(0, count).Where(i => work(i) >= LargeJob).ToList();
            // Largest first (LPT order): the last jobs to finish are short, so the cores idle less at the end. Under a
            // memory budget, plan order instead: an interface then runs soon after its neighbour, and the truncated SVD
            // they share is released sooner (vit_b_16 full: peak 809 → 645 MiB for 3 % more time).
            var small = o.MaxMemory is null
                ? Enumerable.Range(0, count).Where(i => work(i) < LargeJob).OrderByDescending(work).ThenBy(i => i).ToList()
                : Enumerable.Range(0, count).Where(i => work(i) < LargeJob).ToList();
            void Over(int i, long need) => o.Notice?.Invoke(
                $"{name(i)} needs about {need / (1024 * 1024)} MiB, more than --max-memory {o.MaxMemory / (1024 * 1024)} MiB: it runs alone");
            Linalg.Lapack.Threads = Math.Max(1, o.Parallelism);
            JobScheduler.Run(large.Count, 1, j => bytes(large[j]), o.MaxMemory, j =>
            {
                run(large[j]);
                // A large job leaves hundreds of MB of float64 buffers behind; collect them before the next one allocates
                // its own, so the resident set stays near one job's working set (a 7B block: 1.8 GiB → see bench/README).
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            }, (j, need) => Over(large[j], need));
            Linalg.Lapack.Threads = 1;
            JobScheduler.Run(small.Count, o.Parallelism, j => bytes(small[j]), o.MaxMemory, j => run(small[j]), (j, need) => Over(small[j], need));
        }
        finally
        {
            Linalg.Lapack.Threads = saved;
        }
    }

    // Peak-memory estimates of the jobs (bytes), from the buffers each one holds at its high-water mark. They are
    // estimates for scheduling, checked against measured peaks in bench/ (not exact accounting).
    private static long LayerBytes(LayerSpec l, AnalyzeOptions o)
    {
        long rc = (long)l.Rows * l.Cols * PooledTaps(l), p = Math.Min(l.Rows, l.Cols);
        bool streamed = Streams(l, o);
        // Streamed: the Gram, one band and the mapped bytes of the tensor (float32-sized at most; dropped at the end).
        return streamed ? 8 * (p * p + Math.Min(rc, o.StreamBandElements) + 8 * p) + 4 * rc : 8 * (2 * rc + 2 * p * p + 8 * p);
    }

    private static long InterfaceBytes(ModelGraph graph, InterfaceSpec f, AnalyzeOptions o)
    {
        var a = graph.Layer(f.From);
        var b = graph.Layer(f.To);
        if (a is null || b is null) return 0;
        long m = f.Dim, n = (long)a.Rows * a.Cols / Math.Max(1, m), p = (long)b.Rows * b.Cols / Math.Max(1, m);
        long k = Math.Min(m, Math.Max(o.Flag.MaxGrid, m / 2));
        long weights = 2 * (m * n + p * m);
        long svd = m * m + (m + n) * k + (p + m) * k;
        long incidence = o.NoCertificate ? p * n : 4 * p * n + p * k;
        return 8 * (weights + svd + incidence);
    }

    private static long HeadBytes(int d) => 8L * 10 * d * d;

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
            new("ww_mp_fit", o.Ww.MpFit),
            new("bootstrap_replicates", o.BootstrapReplicates),
            new("flag_tolerance", o.Flag.Tolerance),
            new("flag_max_grid", o.Flag.MaxGrid),
            new("flag_gap_tolerance", o.Flag.GapTolerance),
            new("dense_limit", o.Flag.DenseLimit),
            new("head_rank", o.Heads.Rank),
            new("head_baseline_draws", o.Heads.Draws),
            new("seed", o.Seed),
            new("pam_incidence", o.Pam.Incidence.ToString().ToLowerInvariant()),
            new("pam_theta", o.Pam.Theta),
            new("pam_hub_min", o.Pam.HubMin),
            new("pam_nu_max", o.Pam.NuMax),
            new("pam_theta_core", o.Pam.ThetaCore),
            new("pam_theta_overlap", o.Pam.ThetaOverlap),
            new("pam_theta_rho", o.Pam.ThetaRho),
            new("pam_perturbations", o.Pam.PerturbationCount),
            new("pam_seed", o.Pam.Seed),
            new("row_groups", o.RowGroups),
            new("row_blocks", o.RowBlocks),
            new("certificate", !o.NoCertificate),
            new("include_embeddings", o.Graph.IncludeEmbeddings),
            new("conv_view", o.Graph.ConvView.ToString().ToLowerInvariant()),
            new("layers", o.Graph.Layers?.ToString()),
            new("exclude", o.Graph.Exclude?.ToString()),
            new("infer_pairs", o.Graph.InferPairs),
            new("spectra_only", o.SpectraOnly),
            new("metrics", o.Metrics == LayerMetrics.Ww ? "ww" : "all"),
            new("max_memory_bytes", o.MaxMemory),
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
        if (!PoolsTaps(spec)) return Linalg.Lapack.SingularValues(a, spec.Rows, spec.Cols);
        int block = spec.Rows * spec.Cols, taps = a.Length / block;
        var pooled = new List<double>(taps * Math.Min(spec.Rows, spec.Cols));
        for (int t = 0; t < taps; t++) pooled.AddRange(Linalg.Lapack.SingularValues(a.AsSpan(t * block, block), spec.Rows, spec.Cols));
        pooled.Sort((x, y) => y.CompareTo(x));
        return [.. pooled];
    }

    /// <summary>Whether a layer's spectrum pools the spectra of its taps (a convolution in the per-tap view).</summary>
    private static bool PoolsTaps(LayerSpec l) => l.View == MatrixView.Tap && l.IsConv;

    /// <summary>How many Rows×Cols matrices a layer's spectrum is formed from: the taps of a convolution in the per-tap view, else 1.</summary>
    private static int PooledTaps(LayerSpec l) => PoolsTaps(l) ? l.Taps : 1;

    /// <summary>Whether a layer's spectrum is formed band by band from the file (tap views pool per-tap spectra: whole).</summary>
    private static bool Streams(LayerSpec l, AnalyzeOptions o) => l.Blocks is not null && !o.NoStreaming && !PoolsTaps(l);

    private static bool AllFinite(ReadOnlySpan<double> x)
    {
        foreach (var v in x) if (!double.IsFinite(v)) return false;
        return true;
    }

    private static LayerRecord AnalyzeLayer(LayerSpec spec, AnalyzeOptions o, ConcurrentDictionary<string, LayerState> states)
    {
        var rec = new LayerRecord
        {
            Name = spec.Name, Role = spec.Role, Shape = spec.Shape, DType = spec.DType, Matrix = [spec.Rows, spec.Cols],
            View = spec.View.ToString().ToLowerInvariant(), Status = "ok", Block = spec.Block,
        };
        bool tap = PoolsTaps(spec);
        double fro2 = 0;
        double[] sigma;
        if (Streams(spec, o))
        {
            var blocks = spec.Blocks!;
            // Streamed: the Gram matrix is summed from bands decoded straight from the file; the whole matrix never
            // exists in float64 (a 11008×4096 layer: 344 MiB less at the peak).
            bool finite = true;
            try
            {
                sigma = Linalg.Lapack.SingularValuesBanded(spec.Rows, spec.Cols, (start, count, band) =>
                {
                    if (spec.Rows > spec.Cols) blocks(start, count, 0, spec.Cols, band);
                    else blocks(0, spec.Rows, start, count, band);
                    // Σx² in SIMD; a NaN or ±∞ makes it non-finite (so does overflow of huge finite values: then look).
                    double ss = System.Numerics.Tensors.TensorPrimitives.SumOfSquares<double>(band);
                    if (!double.IsFinite(ss) && !AllFinite(band)) { finite = false; band.Clear(); }
                    else fro2 += ss;
                }, o.StreamBandElements);
            }
            catch (CartanFormatException e) { return rec with { Status = "failed", Reason = e.Message }; }
            catch (Linalg.LinalgException e) { return rec with { Status = "failed", Reason = e.Message }; }
            finally { spec.ReleasePages?.Invoke(); }
            if (!finite) return rec with { Status = "failed", Reason = "matrix holds NaN or Infinity" };
            if (fro2 == 0) return rec with { Status = "skipped", Reason = "all-zero matrix (methods.md §0.5)", Rank = 0, Frobenius = 0 };
        }
        else
        {
            double[] a;
            try { a = spec.Load(); }
            catch (CartanFormatException e) { return rec with { Status = "failed", Reason = e.Message }; }
            // Σx² in SIMD; a NaN or ±∞ makes it non-finite (so does overflow of huge finite values: then look).
            fro2 = System.Numerics.Tensors.TensorPrimitives.SumOfSquares<double>(a);
            if (!double.IsFinite(fro2) && !AllFinite(a)) return rec with { Status = "failed", Reason = "matrix holds NaN or Infinity" };
            if (fro2 == 0) return rec with { Status = "skipped", Reason = "all-zero matrix (methods.md §0.5)", Rank = 0, Frobenius = 0 };
            try { sigma = LayerSpectrum(spec, a, out _, out _); }
            catch (Linalg.LinalgException e) { return rec with { Status = "failed", Reason = e.Message }; }
        }
        if (o.Metrics == LayerMetrics.Ww) return WwOnlyLayer(rec, spec, sigma, tap, fro2, o);
        // Pooled tap spectra have more values than min(rows, cols): profile them as one spectrum of that length.
        int pr = tap ? sigma.Length : spec.Rows, pc = tap ? sigma.Length : spec.Cols;
        var profile = SpectrumProfile.Compute(sigma, pr, pc, o.Profile);
        states[spec.Name] = new LayerState(sigma, profile);

        // WeightWatcher compatibility: its conv ESD pools the taps with each tap scaled by √(1/2) (λ = σ²/2).
        var lambdas = sigma.Select(s => tap ? s * s / 2 : s * s).ToArray();
        var ww = WwTailFit.Compute(lambdas, Math.Max(spec.Rows, spec.Cols), o.Ww);
        // WW mp_fit=True: Marchenko–Pastur bulk fit (Q from one tap's dimensions).
        var mp = o.Ww.MpFit ? MpFit.Compute(lambdas, spec.Rows, spec.Cols) : null;
        if (mp is not null) ww = ww with { MpSoftrank = mp.MpSoftrank, NumSpikes = mp.NumSpikes };
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
                ("entropy", ww.Entropy), ("mp_softrank", ww.MpSoftrank), ("num_spikes", ww.NumSpikes),
                ("mp", mp is null ? null : Dict(("sigma_mp", mp.SigmaMp), ("q", mp.Q), ("w_scale", mp.WScale), ("bulk_max", mp.BulkMax), ("bulk_min", mp.BulkMin),
                    ("lambda_plus_rescaled", mp.LambdaPlus), ("tracy_widom", mp.TracyWidom), ("quarter_circle", mp.QuarterCircle))), ("warning", ww.Warning),
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
            Spectrum = sigma,
        };
    }

    /// <summary>The layer record of a <see cref="LayerMetrics.Ww"/> run: σ, norms and the WeightWatcher block, nothing else.</summary>
    private static LayerRecord WwOnlyLayer(LayerRecord rec, LayerSpec spec, double[] sigma, bool tap, double fro2, AnalyzeOptions o)
    {
        var lambdas = sigma.Select(s => tap ? s * s / 2 : s * s).ToArray();
        var ww = WwTailFit.Compute(lambdas, Math.Max(spec.Rows, spec.Cols), o.Ww);
        double tol = sigma.Length == 0 ? 0 : Math.Max(spec.Rows, spec.Cols) * 2.220446049250313e-16 * sigma[0];
        var extra = new Dictionary<string, object?>
        {
            ["ww"] = Dict(("alpha", ww.Alpha), ("xmin", ww.Xmin), ("xmax", ww.Xmax), ("ks_d", ww.KsD), ("n_tail", ww.NTail),
                ("sigma", ww.Sigma), ("num_pl_spikes", ww.NumPlSpikes), ("alpha_weighted", ww.AlphaWeighted), ("log_norm", ww.LogNorm),
                ("log_spectral_norm", ww.LogSpectralNorm), ("log_alpha_norm", ww.LogAlphaNorm), ("stable_rank", ww.StableRank),
                ("entropy", ww.Entropy), ("warning", ww.Warning), ("status", ww.Success ? "ok" : "failed"), ("reason", ww.Reason)),
        };
        return rec with
        {
            Status = "ok", Rank = sigma.Count(s => s > tol), Frobenius = Math.Sqrt(fro2),
            Sigma = sigma.Take(Math.Max(o.SigmaCount, 10)).ToArray(),
            StableRank = sigma.Length > 0 && sigma[0] > 0 ? fro2 / (sigma[0] * sigma[0]) : null,
            Extra = extra, Spectrum = sigma,
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

    /// <summary>
    /// Per-run cache of what several interfaces of one layer share: the spectrum of a layer in a view other than its
    /// analysis view (convolutions), and one truncated SVD per (layer, view). The SVD is computed once with a rank K that
    /// depends only on the layer (never on the partner or the shard, so sharded and single runs compute the same numbers)
    /// and is at least what any interface asks for; each interface gets the first k triplets. Entries are released when
    /// their last interface in this run is done, so memory follows the schedule rather than the model.
    /// </summary>
    private sealed class ViewCache
    {
        private readonly ConcurrentDictionary<string, LayerState> _states;
        private readonly AnalyzeOptions _o;
        private readonly ConcurrentDictionary<(string, MatrixView), int> _refs = new();
        private readonly ConcurrentDictionary<(string, MatrixView), Lazy<double[]>> _sigma = new();
        private readonly ConcurrentDictionary<(string, MatrixView), Lazy<Linalg.SvdResult>> _svd = new();

        public ViewCache(ConcurrentDictionary<string, LayerState> states, AnalyzeOptions o, IEnumerable<(LayerSpec Layer, MatrixView View)> uses)
        {
            _states = states;
            _o = o;
            foreach (var (l, v) in uses) _refs.AddOrUpdate(Key(l, v), 1, (_, c) => c + 1);
        }

        // A dense layer is the same matrix in every view, so its reading (In) and writing (Out) interfaces share one entry.
        private static (string, MatrixView) Key(LayerSpec l, MatrixView v) => (l.Name, l.IsConv ? v : MatrixView.Out);

        /// <summary>Singular values of the layer in view <paramref name="v"/> (its analysed spectrum unless a convolution is seen differently).</summary>
        public double[] Sigma(LayerSpec l, MatrixView v, double[] w)
        {
            if (!(l.IsConv && v != l.View)) return _states[l.Name].Sigma;
            var (r, c) = l.ShapeIn(v);
            return _sigma.GetOrAdd(Key(l, v), _ => new Lazy<double[]>(() => Linalg.Lapack.SingularValues(w, r, c))).Value;
        }

        /// <summary>The top-<paramref name="k"/> SVD of the layer in view <paramref name="v"/>.</summary>
        public Linalg.SvdResult Svd(LayerSpec l, MatrixView v, double[] w, int k)
        {
            var (r, c) = l.ShapeIn(v);
            var full = _svd.GetOrAdd(Key(l, v), _ => new Lazy<Linalg.SvdResult>(() =>
            {
                // K ≥ every interface's window: min(r,c) ∧ max(min(MaxGrid, max(r,c)), r_q).
                int kCap = Math.Min(Math.Min(r, c), Math.Max(Math.Min(_o.Flag.MaxGrid, Math.Max(r, c)), InterfaceTransport.EffectiveRank(Sigma(l, v, w), _o.Transport.Q)));
                return Linalg.Lapack.TopSvd(w, r, c, Math.Max(kCap, 1));
            })).Value;
            return full.Rank >= k ? full.Truncate(k) : Linalg.Lapack.TopSvd(w, r, c, k);
        }

        public void Release(LayerSpec l, MatrixView v)
        {
            var key = Key(l, v);
            if (_refs.AddOrUpdate(key, 0, (_, c) => c - 1) > 0) return;
            _sigma.TryRemove(key, out _);
            _svd.TryRemove(key, out _);
        }
    }

    private static InterfaceRecord AnalyzeInterface(ModelGraph graph, InterfaceSpec f, ConcurrentDictionary<string, LayerState> states, AnalyzeOptions o, ViewCache cache)
    {
        var a = graph.Layer(f.From)!;
        var b = graph.Layer(f.To)!;
        try { return AnalyzeInterfaceCore(graph, f, states, o, cache, a, b); }
        finally { cache.Release(a, MatrixView.Out); cache.Release(b, MatrixView.In); }
    }

    private static InterfaceRecord AnalyzeInterfaceCore(ModelGraph graph, InterfaceSpec f, ConcurrentDictionary<string, LayerState> states, AnalyzeOptions o,
        ViewCache cache, LayerSpec a, LayerSpec b)
    {
        var rec = new InterfaceRecord { From = f.From, To = f.To, Dim = f.Dim, Kind = f.Kind, InferredBy = f.InferredBy };
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
            var sigL = cache.Sigma(a, MatrixView.Out, wl);
            var sigN = cache.Sigma(b, MatrixView.In, wn);
            Func<int, double>? tailL = ModelTail(sa.Profile, sigL, o.Chart), tailN = ModelTail(sb.Profile, sigN, o.Chart);
            // One truncated SVD per side serves both the transport windows and the flag grid.
            int kl = Math.Min(Math.Min(m, n), Math.Max(Math.Min(o.Flag.MaxGrid, Math.Min(m, p)), InterfaceTransport.EffectiveRank(sigL, o.Transport.Q)));
            int kn = Math.Min(Math.Min(p, m), Math.Max(Math.Min(o.Flag.MaxGrid, Math.Min(m, n)), InterfaceTransport.EffectiveRank(sigN, o.Transport.Q)));
            var svdL = cache.Svd(a, MatrixView.Out, wl, kl);
            var svdN = cache.Svd(b, MatrixView.In, wn, kn);
            // W_{ℓ+1}W_ℓ once for the transport norm, the imbalance and the physical incidence. With convolution taps
            // on either side the incidence forms it band by band, and its norm comes from the two m×m Grams.
            bool taps = a.IsConv || b.IsConv;
            var product = taps ? null : Linalg.Lapack.MatMul(wn, p, m, wl, n);
            double? productNorm2 = taps ? Flag.ProductNorm2(wl, m, n, wn, p) : null;
            var t = InterfaceTransport.Compute(wl, m, n, sigL, wn, p, sigN, o.Transport, tailL, tailN, svdL, svdN, product, productNorm2);
            var flag = Flag.Pair(wl, m, n, wn, p, o.Flag, svdL, svdN, product, productNorm2);
            var cert = o.NoCertificate ? null : PamProtocol.CertifyPair(wl, m, n, wn, p, t.KFrom, t.KTo, t.Bound,
                inc => RowGroupsFor(b, inc, o), o.Pam, a.IsConv ? a.Taps : 1, b.IsConv ? b.Taps : 1, null, svdL, svdN, sigL, product,
                productIsScratch: true); // the last reader of the product
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
            if (cert is not null)
            {
                extra["certificate"] = Dict(("radius", cert.Radius), ("delta", cert.Delta), ("epsilon", cert.Epsilon), ("pass", cert.Pass),
                    ("supports_equal", cert.SupportsEqual), ("row_groups", cert.RowGroupCount), ("active_gap", cert.ActiveGap),
                    ("noise_margin", cert.NoiseMargin), ("noise_bound_holds", cert.Certificate.NoiseBoundHolds),
                    ("radius_active", cert.Certificate.RadiusActive), ("radius_noise", cert.Certificate.RadiusNoise),
                    ("labels", cert.Labels.Select(kv => new KeyValuePair<string, object?>(kv.Key, kv.Value)).ToList()),
                    ("labels_pass", cert.LabelsPass), ("row_margin", cert.Icm.Full.RowMargin), ("profile_margin", cert.Icm.Full.ProfileMargin),
                    ("incidence", cert.Incidence.Kind.ToString().ToLowerInvariant()), ("support_sizes", cert.SupportSizes), ("srs_sizes", cert.SrsSizes));
                extra["pam"] = Dict(("shape", cert.Shape),
                    ("energy", Dict(("core", cert.Energy.CoreFraction), ("overlap", cert.Energy.OverlapFraction), ("noise", cert.Energy.NoiseFraction), ("total", cert.Energy.Total))),
                    ("hubs", cert.Hubs.ToArray()),
                    ("srs", cert.Srs.Select(kv => new KeyValuePair<string, object?>(kv.Key, kv.Value.ToArray())).ToList()),
                    ("edges", cert.Edges),
                    ("block_energy", BlockRows(cert.BlockEnergy, cert.RowGroupCount, cert.ColumnGroups.Length)));
            }
            var (pamMatrix, pamMask) = cert is null ? (null, null) : PamPreview(cert);
            return rec with { Extra = extra, PamMatrix = pamMatrix, PamMask = pamMask, TransportMagnitude = Figures.TransportMagnitude(svdL, svdN, sigL, sigN), Status = t.BoundHolds ? "ok" : "failed", Reason = t.BoundHolds ? null : "truncation bound violated (a bug: please report)" };
        }
        catch (Exception e) when (e is CartanFormatException or Linalg.LinalgException)
        {
            return rec with { Status = "failed", Reason = e.Message };
        }
    }

    /// <summary>The PAM and its masks for the report, pooled to at most 96×96 cells (RMS of values, majority class).</summary>
    private static (double[][], string[][]) PamPreview(PairCertification cert, int max = 96)
    {
        var inc = cert.Incidence;
        int R = inc.Rows, C = inc.Cols;
        int br = (R + max - 1) / max, bc = (C + max - 1) / max;
        int pr = (R + br - 1) / br, pc = (C + bc - 1) / bc;
        var vals = new double[pr][];
        var mask = new string[pr][];
        var mk = cert.Full.Mask;
        for (int i = 0; i < pr; i++)
        {
            vals[i] = new double[pc];
            mask[i] = new string[pc];
            for (int j = 0; j < pc; j++)
            {
                double s2 = 0; int n = 0; var counts = new int[3];
                for (int r = i * br; r < Math.Min(R, (i + 1) * br); r++)
                    for (int c = j * bc; c < Math.Min(C, (j + 1) * bc); c++)
                    {
                        double x = inc.Full[r * C + c];
                        s2 += x * x; n++;
                        counts[mk[r * C + c] switch { PamMaskClass.Core => 0, PamMaskClass.Overlap => 1, _ => 2 }]++;
                    }
                vals[i][j] = n > 0 ? Math.Sqrt(s2 / n) : 0;
                int best = counts[0] >= counts[1] && counts[0] >= counts[2] ? 0 : counts[1] >= counts[2] ? 1 : 2;
                mask[i][j] = best switch { 0 => "core", 1 => "overlap", _ => "noise" };
            }
        }
        return (vals, mask);
    }

    private static double[][] BlockRows(System.Collections.Immutable.ImmutableArray<double> flat, int rows, int cols) =>
        Enumerable.Range(0, rows).Select(i => Enumerable.Range(0, cols).Select(j => flat[i * cols + j]).ToArray()).ToArray();

    /// <summary>Row groups of a PAM whose rows are the outputs of <paramref name="to"/> (methods.md §2(b) "row groups").</summary>
    private static int[][] RowGroupsFor(LayerSpec to, IncidenceResult inc, AnalyzeOptions o)
    {
        int rows = inc.Rows;
        var spec = o.RowGroups;
        int N(string s) => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v > 0 ? Math.Min(v, rows) : Math.Min(o.RowBlocks, rows);
        if (spec == "singletons") return Transport.RowGroups.Singletons(rows);
        if (spec.StartsWith("blocks:", StringComparison.Ordinal)) return Transport.RowGroups.EqualBlocks(rows, N(spec[7..]));
        if (spec.StartsWith("kmeans:", StringComparison.Ordinal)) return Transport.RowGroups.KMeans(inc.Full.AsSpan(), rows, inc.Cols, N(spec[7..]), (ulong)o.Seed);
        bool heads = to.Heads is { HeadDim: > 0 } h && h.NumHeads * h.HeadDim == rows && to.Role is Roles.Q or Roles.K or Roles.V;
        if (heads) return Transport.RowGroups.Heads(rows, to.Heads!.HeadDim);
        return Transport.RowGroups.EqualBlocks(rows, Math.Min(o.RowBlocks, rows));
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
                    ["profiles"] = kind is HeadKind.QK or HeadKind.OV ? null : HeadProfiles(kind, kind switch
                    {
                        HeadKind.Q => wq!, HeadKind.K => wk!, HeadKind.V => wv!, _ => wo!,
                    }, d, kind is HeadKind.K or HeadKind.V ? G : H, dh, o),
                });
            }
            catch (Linalg.LinalgException e)
            {
                result.Add(new Dictionary<string, object?> { ["layer"] = layer.Name, ["block"] = b.Block, ["kind"] = kind.ToString(), ["status"] = "failed", ["reason"] = e.Message });
            }
        }
        return result;
    }

    /// <summary>GSA I per head: the profile of each head block (rows h·d_h… of W_Q/W_K/W_V, columns of W_O).</summary>
    private static List<object?> HeadProfiles(HeadKind kind, double[] w, int d, int heads, int dh, AnalyzeOptions o)
    {
        var list = new List<object?>();
        for (int h = 0; h < heads; h++)
        {
            double[] sigma = kind == HeadKind.O
                ? Linalg.Lapack.SingularValues(Linalg.MatrixOps.ColumnBlock(w, d, heads * dh, h * dh, dh), d, dh)
                : Linalg.Lapack.SingularValues(w.AsSpan(h * dh * d, dh * d), dh, d);
            var p = SpectrumProfile.Compute(sigma, kind == HeadKind.O ? d : dh, kind == HeadKind.O ? dh : d, o.Profile);
            list.Add(Dict(("head", h), ("status", p.StatusName), ("rank", p.Rank), ("tau", p.Tau), ("stable_rank", p.StableRank),
                ("alpha", Dict(("top", p.Top?.Alpha), ("mle", p.Mle?.Alpha), ("hel", p.Hel?.Alpha), ("ols", p.Ols?.Alpha))),
                ("effective_rank", p.EffectiveRanks.Select(e => new KeyValuePair<string, object?>(Q(e.Q), e.Rank)).ToList())));
        }
        return list;
    }

    private static IReadOnlyDictionary<string, object?>? CrossHeads(HeadBlock a, HeadBlock b, AnalyzeOptions o)
    {
        if (a.O is null || a.V is null || b.Q is null || b.K is null || a.D != b.D) return null;
        int d = a.D;
        int r = Math.Min(o.Heads.Rank ?? Math.Min(a.Heads.HeadDim, b.Heads.HeadDim), Math.Min(a.Heads.HeadDim, b.Heads.HeadDim));
        try
        {
            var (ov, _) = HeadOverlap.Bases(HeadKind.OV, null, null, a.V.Load(), a.O.Load(), d, a.Heads.NumHeads, a.Heads.NumKvHeads, a.Heads.HeadDim, r, 1);
            var (qk, _) = HeadOverlap.Bases(HeadKind.QK, b.Q.Load(), b.K.Load(), null, null, d, b.Heads.NumHeads, b.Heads.NumKvHeads, b.Heads.HeadDim, r, 1);
            var m = HeadOverlap.CrossOverlap(ov, qk, d, r);
            double mean = m.SelectMany(x => x).Average();
            var (rm, rs) = HeadOverlap.RandomBaseline(Math.Max(2, Math.Max(ov.Length, qk.Length)), d, r, o.Heads.Draws, o.Heads.Seed + o.Seed);
            return new Dictionary<string, object?>
            {
                ["layer"] = a.O.Name, ["block"] = a.Block, ["kind"] = "OV→QK", ["to_layer"] = b.Q.Name, ["to_block"] = b.Block,
                ["num_heads"] = a.Heads.NumHeads, ["num_kv_heads"] = a.Heads.NumKvHeads, ["head_dim"] = a.Heads.HeadDim, ["rank_used"] = r,
                ["overlap"] = m, ["mean_overlap"] = mean, ["baseline"] = (double)r / d, ["random_mean"] = rm, ["random_std"] = rs,
                ["zscore"] = rs > 0 ? (mean - rm) / rs : 0.0,
            };
        }
        catch (Linalg.LinalgException e)
        {
            return new Dictionary<string, object?> { ["layer"] = a.O.Name, ["block"] = a.Block, ["kind"] = "OV→QK", ["status"] = "failed", ["reason"] = e.Message };
        }
    }

    // ------------------------------------------------------------------ chains

    /// <summary>
    /// Chain budgets (variant A) from the layer records: one chain per role for transformers, the forward chain
    /// otherwise. Uses only values the JSON holds, so a merge of sharded runs computes exactly the same chains.
    /// </summary>
    public static List<IReadOnlyDictionary<string, object?>> Chains(IReadOnlyList<LayerRecord> layers, PowerLawChart chart)
    {
        var result = new List<IReadOnlyDictionary<string, object?>>();
        bool transformer = layers.Any(l => Roles.IsAttention(l.Role));
        var groups = transformer
            ? layers.GroupBy(l => l.Role).Select(x => (Name: x.Key, Layers: x.ToList()))
            : [("forward", layers.ToList())];
        string key = chart.ToString().ToLowerInvariant();
        foreach (var (name, list) in groups)
        {
            var fits = new List<(string Name, double Alpha, double Tau, double Rho, int Rank)>();
            foreach (var l in list)
            {
                if (l.Rank is not int rank || !l.Extra.TryGetValue("tau", out var tauObj) || ToDouble(tauObj) is not double tau) continue;
                if (!l.Extra.TryGetValue("charts", out var charts) || Field(charts, key) is not { } fit) continue;
                if (ToDouble(Field(fit, "alpha")) is not double alpha || ToDouble(Field(fit, "tau_residual")) is not double rho) continue;
                fits.Add((l.Name, alpha, tau, rho, rank));
            }
            if (fits.Count < 2) continue;
            var c = ChainBudget.FromFits(name, chart, fits.Select(f => f.Name).ToArray(), fits.Select(f => f.Alpha).ToArray(),
                fits.Select(f => f.Tau).ToArray(), fits.Select(f => f.Rho).ToArray(), fits.Select(f => f.Rank).ToArray());
            result.Add(new Dictionary<string, object?>
            {
                ["name"] = name, ["chart"] = key, ["layers"] = c.Layers, ["alpha"] = c.Alpha, ["tau"] = c.Tau,
                ["rho"] = c.Rho, ["rank"] = c.Rank, ["net_displacement"] = c.NetDisplacement, ["slack"] = c.Slack,
                ["residual_variation"] = c.ResidualVariation, ["dimension_variation"] = c.DimensionVariation, ["margin"] = c.Margin,
                ["total_variation"] = c.TotalVariation, ["bound"] = c.Bound, ["bound_holds"] = c.BoundHolds, ["reason"] = c.Reason,
            });
        }
        return result;
    }

    private static object? Field(object? dict, string key) =>
        dict is IEnumerable<KeyValuePair<string, object?>> kvs ? kvs.FirstOrDefault(kv => kv.Key == key).Value : null;

    private static double? ToDouble(object? v) => v switch { double d => d, long l => l, int i => i, _ => null };
}

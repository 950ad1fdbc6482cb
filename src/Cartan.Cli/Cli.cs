using System.Diagnostics;
using Cartan.Engine;
using Cartan.Formats;
using Cartan.Graph;
using Cartan.Report;

namespace Cartan.Cli;

/// <summary>Exit codes of the output contract.</summary>
public static class ExitCodes
{
    public const int Ok = 0, Internal = 1, Usage = 2, BadInput = 3, LayersFailed = 4, TorchUnavailable = TorchPlugin.Unavailable;
}

/// <summary>The <c>cartan</c> command line: parses arguments, builds a plan, runs it with progress, writes.</summary>
public static partial class Cli
{
    private const string Help = """
        cartan — geometry of neural-network weights

        usage:
          cartan inspect [MODEL] [--json FILE] [graph options]
          cartan analyze [MODEL] [--json FILE] [--csv FILE] [--html FILE] [--out DIR [--no-png]] [graph options] [--threads N] [--quiet]
          cartan analyze --compare A B [--json FILE] [--out DIR] [analyze options]
          cartan collapse FEATURES.npy LABELS.npy [--classifier MODEL:TENSOR] [--json FILE]
          cartan merge PART.json... [--json FILE] [--csv FILE] [--html FILE] [--out DIR [--no-png]]
          cartan track DIR [--order step|name|mtime] [--json FILE] [--html FILE] [--out DIR] [analyze options] [--threads N] [--quiet]
          cartan prune MODEL --method magnitude|wanda|sparsegpt|cvr (--sparsity S | --pattern N:M) --out DIR
                [--ec none|col|col+row] [--ec-lo 1] [--ec-hi 2] [--ec-uncentred] [--ec-act-weighted]
                [--profile uniform|owl|spectral] [--profile-lambda 0.08] [--owl-m 5] [--spectral-metric ww|alpha_mle|tau|rq]
                [--alpha 1] [--epsilon 1e-8] [--per-layer] [--blocksize 128] [--damp 0.01]
                [--calib-stats FILE.npz | --calib TEXT [--calib-samples 128] [--seqlen N] [--seed 0] [--dense-inputs] [--sequential]]
          cartan --version

        MODEL is a file or folder: safetensors (single or *.safetensors.index.json), ONNX, tfjs model.json or
        weights manifest, .npy/.npz, or a Hugging Face style folder (config.json + weights). Without MODEL the
        embedded default model (all-MiniLM-L6-v2) is used. MODEL may also be hf://ORG/NAME[@REVISION]: safetensors
        weights read from the Hugging Face Hub, fetching only headers and the tensors analysed (token: HF_TOKEN).

        analyze options:
          --out DIR               write DIR/analysis.json, layers.csv, report.html and every figure as
                                  DIR/figures/fig-NNN-name.svg and .png (2× size; --no-png: SVG only)
          --shard I/N             analyse only part I of N (0-based) of the plan; join the parts with cartan merge
          --spectra-only          per-layer spectra only (no interfaces, heads, chains)
          --metrics all|ww        per-layer metrics: all (default) or only WeightWatcher's set (implies --spectra-only)
          --no-certificate        skip the PAM certificates (transport and flag diagnostics still run)
          --row-groups SPEC       PAM row groups: auto, heads, blocks:N, kmeans:N, singletons (default auto)
          --bootstrap N           seeded bootstrap interval of the WW tail alpha with N replicates
          --seed N                seed of every random step (default 0)
          --q Q                   energy quantile of the dominant windows (default 0.9)
          --max-memory SIZE       memory budget of the jobs running at once (e.g. 1.5G, 800M); jobs then run in
                                  plan order (lower peaks, a little slower); a job that alone needs more runs by
                                  itself, with a note
          --threads N             parallel jobs / BLAS threads (default: the number of cores)

        graph options:
          --pair A B              add an explicit interface (tensor/layer names; repeatable)
          --pairs none            turn interface inference off
          --heads H               attention heads (overrides config.json)
          --kv-heads G            key/value heads (GQA/MQA)
          --include-embeddings    analyse embeddings and LM heads too
          --conv-view out|in|tap  reshape of convolution kernels for spectra (default out)
          --layers REGEX          analyse only layers whose name matches (fused q/k/v parts: TENSOR#q, #k, #v)
          --exclude REGEX         leave out layers whose name matches (both: selected and not excluded)

        hub options (hf:// models):
          --cache-dir DIR         download cache (default $HF_HOME/cartan or ~/.cache/huggingface/cartan)
          --hub-endpoint URL      hub base URL (default $HF_ENDPOINT or https://huggingface.co)

        commands that run networks (TorchSharp plugin, loaded only for them; see README):
          cartan train-lm ...     train the tiny LLaMA-style testbed LM (cartan train-lm --help)
          cartan eval MODEL --ppl FILE   perplexity over non-overlapping windows (cartan eval --help)
          cartan torch-info       which TorchSharp/libtorch the plugin loads

        track: DIR holds checkpoints (weight files or model folders, not recursing), ordered by default by the
          step number in each name: the last run of digits of the name without its extension (step-000100,
          checkpoint-100, epoch_3, model.12.safetensors); names without a number are skipped. --order name sorts by
          name, --order mtime by modification time. Each checkpoint is analysed as cartan analyze would; --out DIR
          writes track.json, track.html and figures/ there.

        exit codes: 0 ok, 2 bad usage, 3 unreadable or malformed input, 4 some layers failed,
          5 the TorchSharp plugin or libtorch is not available here.
        """;

    private static readonly Dictionary<string, int> GraphArity = new()
    {
        ["--pair"] = 2, ["--pairs"] = 1, ["--heads"] = 1, ["--kv-heads"] = 1, ["--include-embeddings"] = 0,
        ["--conv-view"] = 1, ["--layers"] = 1, ["--exclude"] = 1, ["--json"] = 1, ["--help"] = 0, ["--cache-dir"] = 1, ["--hub-endpoint"] = 1,
    };

    public static int Run(string[] argv, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            return RunCommand(argv, stdout, stderr);
        }
        finally
        {
            // Resource accounting for benchmarks and the memory tests: CARTAN_REPORT_RSS=1 prints the peak resident set.
            if (Environment.GetEnvironmentVariable("CARTAN_REPORT_RSS") == "1" && PeakRssMiB() is double rss)
                stderr.WriteLine($"peak_rss_mib: {rss.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)}");
        }
    }

    /// <summary>VmHWM from /proc/self/status (Linux), in MiB.</summary>
    public static double? PeakRssMiB()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return double.Parse(line[6..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) / 1024;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    private static int RunCommand(string[] argv, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            if (argv.Length == 0 || argv[0] is "--help" or "-h" or "help") { stdout.Write(Help); return argv.Length == 0 ? ExitCodes.Usage : ExitCodes.Ok; }
            if (argv[0] == "--version") { stdout.WriteLine($"cartan {Analyzer.Version}"); return ExitCodes.Ok; }
            var rest = argv[1..];
            return argv[0] switch
            {
                "inspect" => Inspect(rest, stdout, stderr),
                "analyze" or "analyse" => Analyze(rest, stdout, stderr),
                "merge" => MergeCommand(rest, stdout, stderr),
                "collapse" => CollapseCommand(rest, stdout),
                "prune" => PruneCommand(rest, stdout, stderr),
                "track" => TrackCommand(rest, stdout, stderr),
                "train-lm" or "eval" or "torch-info" => TorchPlugin.Run(argv[0], rest, stdout, stderr),
                _ => throw new UsageException($"unknown command '{argv[0]}' (commands: inspect, analyze, merge, collapse, prune, track, train-lm, eval)"),
            };
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"cartan: {e.Message} (see cartan --help)");
            return ExitCodes.Usage;
        }
        catch (CartanFormatException e)
        {
            stderr.WriteLine($"cartan: {OneLine(e.Message)}");
            return ExitCodes.BadInput;
        }
        catch (Exception e)
        {
            stderr.WriteLine($"cartan: internal error: {OneLine(e.GetType().Name + ": " + e.Message)}");
            return ExitCodes.Internal;
        }
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim();

    private static MatrixView ConvView(Args a) => a.Get("--conv-view") switch
    {
        null or "out" => MatrixView.Out,
        "in" => MatrixView.In,
        "tap" => MatrixView.Tap,
        var v => throw new UsageException($"--conv-view takes out, in or tap, got '{v}'"),
    };

    private static (WeightModel Model, ModelGraph Graph, GraphOptions Options) Load(Args a)
    {
        if (a.Positionals.Count > 1) throw new UsageException($"expected one MODEL, got {a.Positionals.Count}: {string.Join(" ", a.Positionals)}");
        var pairs = a.All("--pair").Select(p => (p[0], p[1])).ToList();
        var pairsMode = a.Get("--pairs");
        if (pairsMode is not null and not "none" and not "auto") throw new UsageException("--pairs takes 'none' or 'auto'");
        var view = ConvView(a);
        var options = new GraphOptions
        {
            IncludeEmbeddings = a.Has("--include-embeddings"),
            Heads = a.GetInt("--heads", 1),
            KvHeads = a.GetInt("--kv-heads", 1),
            InferPairs = pairsMode != "none",
            ExplicitPairs = pairs,
            ConvView = view,
            Layers = Pattern(a, "--layers"),
            Exclude = Pattern(a, "--exclude"),
        };
        if (options.KvHeads is not null && options.Heads is null) throw new UsageException("--kv-heads needs --heads");
        if (options is { Heads: int h, KvHeads: int g } && h % g != 0) throw new UsageException($"--heads {h} is not a multiple of --kv-heads {g}");
        var model = a.Positionals.Count == 0 ? DefaultModel.Open() : WeightSource.Open(a.Positionals[0],
            new Cartan.Formats.Hub.HubOptions { CacheDir = a.Get("--cache-dir"), Endpoint = a.Get("--hub-endpoint") });
        try
        {
            var graph = ModelGraph.Build(model, options);
            if (graph.Errors.Count > 0) throw new UsageException(graph.Errors[0]);
            return (model, graph, options);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>A --layers/--exclude pattern: .NET regular expression, matched without backtracking (linear time).</summary>
    private static System.Text.RegularExpressions.Regex? Pattern(Args a, string option)
    {
        var p = a.Get(option);
        if (p is null) return null;
        try { return new System.Text.RegularExpressions.Regex(p, System.Text.RegularExpressions.RegexOptions.NonBacktracking | System.Text.RegularExpressions.RegexOptions.CultureInvariant); }
        catch (ArgumentException e) { throw new UsageException($"{option} '{p}' is not a valid regular expression: {OneLine(e.Message)}"); }
        catch (NotSupportedException e) { throw new UsageException($"{option} '{p}' uses a construct that linear-time matching does not support: {OneLine(e.Message)}"); }
    }

    private static string Describe(WeightModel m) => m.Source;

    // ------------------------------------------------------------------ inspect

    private static int Inspect(string[] argv, TextWriter stdout, TextWriter stderr)
    {
        var a = Args.Parse(argv, GraphArity);
        if (a.Has("--help")) { stdout.Write(Help); return ExitCodes.Ok; }
        var (model, graph, _) = Load(a);
        using var _m = model;
        var json = a.Get("--json");
        if (json is not null)
        {
            GuardOutput(json, model);
            AtomicFile.WriteText(json, InspectReport.ToJson(model, graph));
        }
        stdout.Write(InspectReport.ToText(model, graph));
        return ExitCodes.Ok;
    }

    // ------------------------------------------------------------------ analyze

    private static int Analyze(string[] argv, TextWriter stdout, TextWriter stderr)
    {
        var a = Args.Parse(argv, AnalyzeArity);
        if (a.Has("--help")) { stdout.Write(Help); return ExitCodes.Ok; }
        string? json = a.Get("--json"), csv = a.Get("--csv"), html = a.Get("--html"), outDir = a.Get("--out");
        int threads = a.GetInt("--threads", 1) ?? Environment.ProcessorCount;
        if (a.All("--compare") is { Count: > 0 } cmp) return CompareCommand(a, cmp, json, outDir, threads, stdout, stderr);
        var sw = Stopwatch.StartNew();
        // Compile the analysis and load OpenBLAS on the idle core while the model is opened (Warmup). Bad options are
        // reported by the real run, in their usual order; the warm-up is then simply skipped.
        var warmup = StartWarmup(a, threads);
        var (model, graph, gopts) = Load(a);
        using var _m = model;
        if (outDir is not null)
        {
            json ??= Path.Combine(outDir, "analysis.json");
            csv ??= Path.Combine(outDir, "layers.csv");
            html ??= Path.Combine(outDir, "report.html");
        }
        foreach (var p in new[] { json, csv, html }) if (p is not null) GuardOutput(p, model);

        var options = BuildOptions(a, gopts, threads, stderr);
        warmup.Wait();
        using var progress = ProgressDisplay.Create(stderr, quiet: a.Has("--quiet"), label: "analyze");
        var result = Analyzer.Run(model, graph, options, progress);
        progress.Finish();
        var figures = outDir is null ? null : new FigureOutput(Path.Combine(outDir, "figures"), Png: !a.Has("--no-png"), threads);
        return Finish(result, model, json, csv, html, figures, a.Has("--quiet"), sw, stdout, stderr);
    }

    private static Task StartWarmup(Args a, int threads)
    {
        if (threads <= 1) return Task.CompletedTask; // one thread asked for: no second core to warm up on
        try
        {
            return Warmup.Start(BuildOptions(a, new GraphOptions { ConvView = ConvView(a) }, threads, TextWriter.Null));
        }
        catch (UsageException) { return Task.CompletedTask; }
    }

    private static AnalyzeOptions BuildOptions(Args a, GraphOptions gopts, int threads, TextWriter stderr)
    {
        long? maxMemory = null;
        if (a.Get("--max-memory") is string mm)
        {
            try { maxMemory = JobScheduler.ParseSize(mm); }
            catch (ArgumentException e) { throw new UsageException($"--max-memory: {e.Message}"); }
        }
        (int, int)? shard = null;
        if (a.Get("--shard") is string sh)
        {
            var parts = sh.Split('/');
            if (parts.Length != 2 || !int.TryParse(parts[0], out var si) || !int.TryParse(parts[1], out var sn) || sn < 1 || si < 0 || si >= sn)
                throw new UsageException($"--shard takes I/N with 0 ≤ I < N, got '{sh}'");
            shard = (si, sn);
        }
        var rowGroups = a.Get("--row-groups") ?? "auto";
        if (rowGroups is not ("auto" or "heads" or "singletons") && !System.Text.RegularExpressions.Regex.IsMatch(rowGroups, @"^(blocks|kmeans):[1-9][0-9]*$"))
            throw new UsageException($"--row-groups takes auto, heads, blocks:N, kmeans:N or singletons, got '{rowGroups}'");
        double q = 0.9;
        if (a.Get("--q") is string qs && (!double.TryParse(qs, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out q) || q <= 0 || q >= 1))
            throw new UsageException($"--q takes a number in (0, 1), got '{qs}'");
        return new AnalyzeOptions
        {
            Graph = gopts, Parallelism = threads, Shard = shard, SpectraOnly = a.Has("--spectra-only"), NoCertificate = a.Has("--no-certificate"),
            RowGroups = rowGroups, BootstrapReplicates = a.GetInt("--bootstrap", 0) ?? 0, Seed = a.GetInt("--seed", 0) ?? 0,
            Transport = new Cartan.Transport.TransportOptions { Q = q },
            MaxMemory = maxMemory,
            Metrics = a.Get("--metrics") switch
            {
                null or "all" => LayerMetrics.All,
                "ww" => LayerMetrics.Ww,
                var v => throw new UsageException($"--metrics takes all or ww, got '{v}'"),
            },
            Notice = line => { lock (stderr) stderr.WriteLine($"cartan: note: {line}"); },
        };
    }

    /// <summary>Where the figure files go (--out DIR/figures), whether PNG copies are made, and on how many threads.</summary>
    private sealed record FigureOutput(string Dir, bool Png, int Threads);

    private static int Finish(AnalysisResult result, WeightModel model, string? json, string? csv, string? html, FigureOutput? figures, bool quiet, Stopwatch sw, TextWriter stdout, TextWriter stderr)
    {

        if (json is not null) JsonReport.Write(result, json);
        if (csv is not null) CsvReport.Write(result, csv);
        if (html is not null)
        {
            var figs = HtmlReport.Write(result, html, figures?.Dir);
            if (figures is { Png: true }) WritePngs(figs, figures, quiet, stderr);
        }

        int ok = result.Layers.Count(l => l.Status == "ok"), unreliable = result.Layers.Count(l => l.Status == "unreliable"),
            skipped = result.Layers.Count(l => l.Status == "skipped") + result.Skipped.Count, failed = result.Layers.Count(l => l.Status == "failed");
        if (json is null && csv is null && html is null)
            stdout.Write(SummaryTable(result));
        else if (!quiet)
            stdout.Write(ConsoleSummary.Build(result));
        var written = string.Join(", ", new[] { json, csv, html }.Where(p => p is not null));
        int withCert = result.Interfaces.Count(i => i.Extra.ContainsKey("certificate"));
        int certified = result.Interfaces.Count(i => i.Extra.TryGetValue("certificate", out var c) && c is IEnumerable<KeyValuePair<string, object?>> kv && kv.Any(x => x.Key == "pass" && x.Value is true));
        int chainsHold = result.Chains.Count(c => c.TryGetValue("bound_holds", out var v) && v is true);
        if (withCert > 0 || result.Chains.Count > 0)
            stdout.WriteLine($"cartan: certificates {certified}/{withCert} interfaces pass; chain budgets hold on {chainsHold}/{result.Chains.Count} chains; {result.Heads.Count} head-overlap records");
        stdout.WriteLine($"cartan: {result.Model.Architecture} model {Describe(model)}: {result.Layers.Count} layers analysed ({ok} ok, {unreliable} unreliable, {failed} failed), {skipped} tensors skipped, {result.Interfaces.Count} interfaces, in {sw.Elapsed.TotalSeconds:F1} s [lapack: {result.Tool.Lapack}]{(written.Length > 0 ? "; wrote " + written : "")}");
        return failed > 0 ? ExitCodes.LayersFailed : ExitCodes.Ok;
    }

    /// <summary>
    /// PNG twins of the SVG figures. The SVGs and the page are already written, so a machine where the native Skia
    /// cannot load loses only the PNGs: it says so on stderr and the run still succeeds.
    /// </summary>
    private static void WritePngs(IReadOnlyList<Figure> figures, FigureOutput output, bool quiet, TextWriter stderr)
    {
        var sw = Stopwatch.StartNew();
        try
        {
            FigurePng.Export(figures, output.Dir, output.Threads);
        }
        catch (Exception e) when (NativeLoadFailure(e))
        {
            stderr.WriteLine($"cartan: PNG figures not written: the native Skia library did not load here ({e.GetBaseException().Message.Split('\n')[0].Trim()}); the SVG figures are written (--no-png skips this step)");
            return;
        }
        if (!quiet) stderr.WriteLine($"cartan: {figures.Count} figures as SVG and PNG in {output.Dir} (PNG in {sw.Elapsed.TotalSeconds:F1} s)");
    }

    private static bool NativeLoadFailure(Exception e) =>
        e is DllNotFoundException or TypeInitializationException or BadImageFormatException or EntryPointNotFoundException
        || e is AggregateException ag && ag.InnerExceptions.Count > 0 && ag.InnerExceptions.All(NativeLoadFailure);

    // ------------------------------------------------------------------ compare

    private static int CompareCommand(Args a, IReadOnlyList<string[]> cmp, string? json, string? outDir, int threads, TextWriter stdout, TextWriter stderr)
    {
        if (cmp.Count > 1 || a.Positionals.Count > 0) throw new UsageException("--compare takes exactly two models A B and no other MODEL");
        if (json is null && outDir is null) throw new UsageException("--compare needs --json FILE or --out DIR");
        var results = new List<AnalysisResult>();
        foreach (var path in cmp[0])
        {
            var sub = Args.Parse([path, .. ArgsWithout(a)], AnalyzeArity);
            var (model, graph, gopts) = Load(sub);
            using var _m = model;
            using var progress = ProgressDisplay.Create(stderr, quiet: a.Has("--quiet"), label: $"analyze {Path.GetFileName(path)}");
            results.Add(Analyzer.Run(model, graph, BuildOptions(sub, gopts, threads, stderr), progress));
            progress.Finish();
        }
        var cmpJson = JsonReport.ToJsonValue(Compare.Of(results[0], results[1]));
        if (outDir is not null)
        {
            JsonReport.Write(results[0], Path.Combine(outDir, "a", "analysis.json"));
            JsonReport.Write(results[1], Path.Combine(outDir, "b", "analysis.json"));
            json ??= Path.Combine(outDir, "compare.json");
        }
        AtomicFile.WriteText(json!, cmpJson + "\n");
        int common = results[0].Layers.Count(l => results[1].Layers.Any(x => x.Name == l.Name));
        stdout.WriteLine($"cartan: compared {cmp[0][0]} and {cmp[0][1]}: {common} common layers; wrote {json}");
        return ExitCodes.Ok;
    }

    private static readonly Dictionary<string, int> AnalyzeArity = new(GraphArity)
    {
        ["--csv"] = 1, ["--html"] = 1, ["--out"] = 1, ["--no-png"] = 0, ["--threads"] = 1, ["--quiet"] = 0, ["--shard"] = 1, ["--max-memory"] = 1, ["--metrics"] = 1,
        ["--compare"] = 2, ["--spectra-only"] = 0, ["--no-certificate"] = 0, ["--row-groups"] = 1, ["--bootstrap"] = 1, ["--seed"] = 1, ["--q"] = 1,
    };

    /// <summary>The analysis options of a --compare run, minus the outputs and the pair of models.</summary>
    private static string[] ArgsWithout(Args a)
    {
        var list = new List<string>();
        foreach (var (name, n) in AnalyzeArity)
        {
            if (name is "--compare" or "--json" or "--csv" or "--html" or "--out" or "--no-png" or "--shard") continue;
            foreach (var values in a.All(name)) { list.Add(name); list.AddRange(values); }
        }
        return [.. list];
    }

    // ------------------------------------------------------------------ collapse

    private static int CollapseCommand(string[] argv, TextWriter stdout)
    {
        var a = Args.Parse(argv, new Dictionary<string, int> { ["--json"] = 1, ["--classifier"] = 1, ["--help"] = 0 });
        if (a.Has("--help")) { stdout.Write(Help); return ExitCodes.Ok; }
        if (a.Positionals.Count != 2) throw new UsageException("collapse needs FEATURES.npy and LABELS.npy");
        var (h, n, d) = ReadMatrix(a.Positionals[0], expectRank2: true);
        var (lab, ln, _) = ReadMatrix(a.Positionals[1], expectRank2: false);
        if (ln != n) throw new UsageException($"{a.Positionals[1]} holds {ln} labels for {n} feature rows");
        var labels = new int[ln];
        for (int i = 0; i < ln; i++)
        {
            if (lab[i] != Math.Floor(lab[i]) || lab[i] < 0 || lab[i] > int.MaxValue)
                throw new CartanFormatException(a.Positionals[1], $"label {i} is {lab[i]}: labels must be whole numbers ≥ 0");
            labels[i] = (int)lab[i];
        }
        int C = labels.Max() + 1;
        double[]? wc = null;
        if (a.Get("--classifier") is string spec)
        {
            int colon = spec.LastIndexOf(':');
            if (colon <= 0) throw new UsageException("--classifier takes MODEL:TENSOR");
            using var model = WeightSource.Open(spec[..colon]);
            var t = model.Find(spec[(colon + 1)..]) ?? throw new UsageException($"{spec[..colon]} has no tensor '{spec[(colon + 1)..]}'");
            if (t.Shape.Length != 2) throw new UsageException($"classifier {t.Name} is not a matrix");
            var data = t.ReadDoubles();
            if (t.Shape[0] == C && t.Shape[1] == d) wc = data;
            else if (t.Shape[0] == d && t.Shape[1] == C) wc = Cartan.Linalg.MatrixOps.Transpose(data, d, C);
            else throw new UsageException($"classifier {t.Name} is {t.Shape[0]}×{t.Shape[1]}; expected {C}×{d} (classes × features)");
        }
        Cartan.Alignment.CollapseResult r;
        try { r = Cartan.Alignment.NeuralCollapse.Compute(h, n, d, labels, wc); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        var json = a.Get("--json");
        if (json is not null)
            AtomicFile.WriteText(json, JsonReport.ToJsonValue(new List<KeyValuePair<string, object?>>
            {
                new("schema", "cartan.collapse/1"), new("samples", r.Samples), new("dimension", r.Dimension), new("classes", r.Classes),
                new("nc1", r.NC1), new("nc2", r.NC2), new("nc3", r.NC3), new("nc4", r.NC4), new("class_counts", r.ClassCounts),
                new("within_trace", r.WithinTrace), new("between_trace", r.BetweenTrace),
                new("subspace_cosines", r.SubspaceCosines), new("subspace_intersection", r.SubspaceIntersection),
                new("subspace_overlap", r.SubspaceOverlap), new("reading", r.Reading),
            }) + "\n");
        static string F(double? v) => v is double x ? x.ToString("G6", System.Globalization.CultureInfo.InvariantCulture) : "-";
        stdout.WriteLine($"NC1 {F(r.NC1)}  NC2 {F(r.NC2)}  NC3 {F(r.NC3)}  NC4 {F(r.NC4)}  ({r.Samples} samples, {r.Dimension} features, {r.Classes} classes)");
        if (r.Reading is not null) stdout.WriteLine($"reading: {r.Reading} (intersection {r.SubspaceIntersection}, overlap {F(r.SubspaceOverlap)})");
        return ExitCodes.Ok;
    }

    /// <summary>An .npy/.npz array as row-major doubles: a matrix (rows, cols) or a vector (n, 1).</summary>
    private static (double[] Data, int Rows, int Cols) ReadMatrix(string path, bool expectRank2)
    {
        using var m = WeightSource.Open(path);
        var t = m.Tensors.FirstOrDefault(x => x.HasNumericData) ?? throw new CartanFormatException(path, "holds no numeric array");
        if (expectRank2 && t.Shape.Length != 2) throw new CartanFormatException(path, $"expected a 2-D array (samples × features), got shape [{string.Join(",", t.Shape)}]");
        if (!expectRank2 && t.Shape.Length != 1) throw new CartanFormatException(path, $"expected a 1-D array of labels, got shape [{string.Join(",", t.Shape)}]");
        int rows = checked((int)t.Shape[0]), cols = expectRank2 ? checked((int)t.Shape[1]) : 1;
        return (t.ReadDoubles(), rows, cols);
    }

    // ------------------------------------------------------------------ prune

    private static int PruneCommand(string[] argv, TextWriter stdout, TextWriter stderr)
    {
        if (Cartan.Pruning.PruneArguments.WantsHelp(argv)) { stdout.Write(Help); return ExitCodes.Ok; }
        var req = Cartan.Pruning.PruneArguments.Parse(argv);
        // Calibration from text runs the network: the TorchSharp plugin parses the same options (PruneArguments) and prunes.
        if (req.CalibText is not null) return TorchPlugin.Run("prune", argv, stdout, stderr);
        var settings = req.Settings;
        Cartan.Pruning.PruneArguments.CheckPaths(req);
        var stats = req.CalibStatsFile is string cs ? Cartan.Pruning.CalibrationStatsFile.Read(cs) : null;

        var sw = Stopwatch.StartNew();
        using var model = WeightSource.Open(req.ModelPath);
        if (model.Format != "safetensors") throw new UsageException($"prune writes safetensors Hugging Face folders; {req.ModelPath} is {model.Format}");
        var graph = ModelGraph.Build(model, new GraphOptions { InferPairs = false });
        Cartan.Pruning.ModelPruneResult run;
        try { run = Cartan.Pruning.Pruner.PruneModel(model, graph, settings, stats); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        var replaced = new Dictionary<string, double[]>(StringComparer.Ordinal);
        for (int k = 0; k < run.Targets.Count; k++) replaced[run.Targets[k].TensorName] = Cartan.Pruning.Pruner.ToStored(run.Targets[k], run.Layers[k].Weights);
        string calib = stats is null ? "none (weights only)" : $"statistics from {Path.GetFileName(req.CalibStatsFile)}";
        string report = Cartan.Pruning.PruneReport.ToJson(run, settings, model.Source, sw.Elapsed.TotalSeconds, calib);
        try { Cartan.Pruning.PrunedModelWriter.Write(model, replaced, req.OutDir, new Dictionary<string, string> { ["prune.json"] = report }); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        stdout.WriteLine(Cartan.Pruning.PruneArguments.Summary(run, settings, req.OutDir));
        return ExitCodes.Ok;
    }

    // ------------------------------------------------------------------ merge

    private static int MergeCommand(string[] argv, TextWriter stdout, TextWriter stderr)
    {
        var a = Args.Parse(argv, new Dictionary<string, int> { ["--json"] = 1, ["--csv"] = 1, ["--html"] = 1, ["--out"] = 1, ["--no-png"] = 0, ["--help"] = 0 });
        if (a.Has("--help")) { stdout.Write(Help); return ExitCodes.Ok; }
        if (a.Positionals.Count == 0) throw new UsageException("merge needs the PART.json files of a --shard run");
        string? json = a.Get("--json"), csv = a.Get("--csv"), html = a.Get("--html"), outDir = a.Get("--out");
        if (outDir is not null)
        {
            json ??= Path.Combine(outDir, "analysis.json");
            csv ??= Path.Combine(outDir, "layers.csv");
            html ??= Path.Combine(outDir, "report.html");
        }
        if (json is null && csv is null && html is null) throw new UsageException("merge needs --json FILE or --out DIR");
        foreach (var p in new[] { json, csv, html })
            if (p is not null && a.Positionals.Any(x => Path.GetFullPath(x) == Path.GetFullPath(p)))
                throw new UsageException($"output {p} would overwrite an input part");
        AnalysisResult merged;
        try { merged = Merge.Parts(a.Positionals.Select(JsonRead.Read).ToList()); }
        catch (AnalysisReadException e) { throw new CartanFormatException("merge", e.Message); }
        if (json is not null) JsonReport.Write(merged, json);
        if (csv is not null) CsvReport.Write(merged, csv);
        if (html is not null)
        {
            // Like analyze --out: the figures as SVG and PNG files under DIR/figures.
            var figures = outDir is null ? null : new FigureOutput(Path.Combine(outDir, "figures"), Png: !a.Has("--no-png"), Environment.ProcessorCount);
            var figs = HtmlReport.Write(merged, html, figures?.Dir);
            if (figures is { Png: true }) WritePngs(figs, figures, quiet: true, stderr);
        }
        stdout.WriteLine($"cartan: merged {a.Positionals.Count} parts: {merged.Layers.Count} layers, {merged.Interfaces.Count} interfaces, {merged.Chains.Count} chains; wrote {string.Join(", ", new[] { json, csv, html }.Where(p => p is not null))}");
        return ExitCodes.Ok;
    }

    /// <summary>Refuses to write over an input file.</summary>
    private static void GuardOutput(string path, WeightModel model)
    {
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new UsageException($"output {path} is a folder");
        if (model.Tensors.Any(t => t.File is not null && Path.GetFullPath(t.File) == full) ||
            (File.Exists(model.Source) && Path.GetFullPath(model.Source) == full))
            throw new UsageException($"output {path} would overwrite the input");
    }

    private static string SummaryTable(AnalysisResult r)
    {
        var sb = new System.Text.StringBuilder();
        int w = Math.Min(60, Math.Max(4, r.Layers.Select(l => l.Name.Length).DefaultIfEmpty(4).Max()));
        sb.AppendLine($"{"layer".PadRight(w)}  {"role",-9} {"matrix",-11} {"rank",5} {"σ₁",10} {"stable_rank",11}  status");
        foreach (var l in r.Layers)
        {
            var name = l.Name.Length > w ? "…" + l.Name[^(w - 1)..] : l.Name.PadRight(w);
            sb.AppendLine($"{name}  {l.Role,-9} {$"{l.Matrix[0]}×{l.Matrix[1]}",-11} {l.Rank?.ToString() ?? "-",5} {Num(l.Sigma is { Length: > 0 } s ? s[0] : null),10} {Num(l.StableRank),11}  {l.Status}");
        }
        return sb.ToString();
    }

    private static string Num(double? v) => v is double d ? d.ToString("G5", System.Globalization.CultureInfo.InvariantCulture) : "-";
}

using System.Diagnostics;
using Cartan.Engine;
using Cartan.Formats;
using Cartan.Graph;
using Cartan.Report;

namespace Cartan.Cli;

/// <summary>Exit codes of the output contract.</summary>
public static class ExitCodes
{
    public const int Ok = 0, Internal = 1, Usage = 2, BadInput = 3, LayersFailed = 4;
}

/// <summary>The <c>cartan</c> command line: parses arguments, builds a plan, runs it with progress, writes.</summary>
public static class Cli
{
    private const string Help = """
        cartan — geometry of neural-network weights

        usage:
          cartan inspect [MODEL] [--json FILE] [graph options]
          cartan analyze [MODEL] [--json FILE] [--csv FILE] [--html FILE] [--out DIR] [graph options] [--threads N] [--quiet]
          cartan --version

        MODEL is a file or folder: safetensors (single or *.safetensors.index.json), ONNX, tfjs model.json or
        weights manifest, .npy/.npz, or a Hugging Face style folder (config.json + weights). Without MODEL the
        embedded default model (all-MiniLM-L6-v2) is used.

        graph options:
          --pair A B              add an explicit interface (tensor/layer names; repeatable)
          --pairs none            turn interface inference off
          --heads H               attention heads (overrides config.json)
          --kv-heads G            key/value heads (GQA/MQA)
          --include-embeddings    analyse embeddings and LM heads too
          --conv-view out|in|tap  reshape of convolution kernels for spectra (default out)

        exit codes: 0 ok, 2 bad usage, 3 unreadable or malformed input, 4 some layers failed.
        """;

    private static readonly Dictionary<string, int> GraphArity = new()
    {
        ["--pair"] = 2, ["--pairs"] = 1, ["--heads"] = 1, ["--kv-heads"] = 1, ["--include-embeddings"] = 0,
        ["--conv-view"] = 1, ["--json"] = 1, ["--help"] = 0,
    };

    public static int Run(string[] argv, TextWriter stdout, TextWriter stderr)
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
                _ => throw new UsageException($"unknown command '{argv[0]}' (commands: inspect, analyze)"),
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

    private static (WeightModel Model, ModelGraph Graph, GraphOptions Options) Load(Args a)
    {
        if (a.Positionals.Count > 1) throw new UsageException($"expected one MODEL, got {a.Positionals.Count}: {string.Join(" ", a.Positionals)}");
        var pairs = a.All("--pair").Select(p => (p[0], p[1])).ToList();
        var pairsMode = a.Get("--pairs");
        if (pairsMode is not null and not "none" and not "auto") throw new UsageException("--pairs takes 'none' or 'auto'");
        var view = a.Get("--conv-view") switch
        {
            null or "out" => MatrixView.Out,
            "in" => MatrixView.In,
            "tap" => MatrixView.Tap,
            var v => throw new UsageException($"--conv-view takes out, in or tap, got '{v}'"),
        };
        var options = new GraphOptions
        {
            IncludeEmbeddings = a.Has("--include-embeddings"),
            Heads = a.GetInt("--heads", 1),
            KvHeads = a.GetInt("--kv-heads", 1),
            InferPairs = pairsMode != "none",
            ExplicitPairs = pairs,
            ConvView = view,
        };
        if (options.KvHeads is not null && options.Heads is null) throw new UsageException("--kv-heads needs --heads");
        if (options is { Heads: int h, KvHeads: int g } && h % g != 0) throw new UsageException($"--heads {h} is not a multiple of --kv-heads {g}");
        var model = a.Positionals.Count == 0 ? DefaultModel.Open() : WeightSource.Open(a.Positionals[0]);
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
        var arity = new Dictionary<string, int>(GraphArity)
        {
            ["--csv"] = 1, ["--html"] = 1, ["--out"] = 1, ["--threads"] = 1, ["--quiet"] = 0,
        };
        var a = Args.Parse(argv, arity);
        if (a.Has("--help")) { stdout.Write(Help); return ExitCodes.Ok; }
        string? json = a.Get("--json"), csv = a.Get("--csv"), html = a.Get("--html"), outDir = a.Get("--out");
        int threads = a.GetInt("--threads", 1) ?? Environment.ProcessorCount;
        var sw = Stopwatch.StartNew();
        var (model, graph, gopts) = Load(a);
        using var _m = model;
        if (outDir is not null)
        {
            json ??= Path.Combine(outDir, "analysis.json");
            csv ??= Path.Combine(outDir, "layers.csv");
            html ??= Path.Combine(outDir, "report.html");
        }
        foreach (var p in new[] { json, csv, html }) if (p is not null) GuardOutput(p, model);

        var options = new AnalyzeOptions { Graph = gopts, Parallelism = threads };
        using var progress = ProgressDisplay.Create(stderr, quiet: a.Has("--quiet"), label: "analyze");
        var result = Analyzer.Run(model, graph, options, progress);
        progress.Finish();

        if (json is not null) JsonReport.Write(result, json);
        if (csv is not null) CsvReport.Write(result, csv);
        if (html is not null) HtmlReport.Write(result, html, outDir is null ? null : Path.Combine(outDir, "figures"));

        int ok = result.Layers.Count(l => l.Status == "ok"), unreliable = result.Layers.Count(l => l.Status == "unreliable"),
            skipped = result.Layers.Count(l => l.Status == "skipped") + result.Skipped.Count, failed = result.Layers.Count(l => l.Status == "failed");
        if (json is null && csv is null && html is null)
            stdout.Write(SummaryTable(result));
        var written = string.Join(", ", new[] { json, csv, html }.Where(p => p is not null));
        stdout.WriteLine($"cartan: {result.Model.Architecture} model {Describe(model)}: {result.Layers.Count} layers analysed ({ok} ok, {unreliable} unreliable, {failed} failed), {skipped} tensors skipped, {result.Interfaces.Count} interfaces, in {sw.Elapsed.TotalSeconds:F1} s [lapack: {result.Tool.Lapack}]{(written.Length > 0 ? "; wrote " + written : "")}");
        return failed > 0 ? ExitCodes.LayersFailed : ExitCodes.Ok;
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

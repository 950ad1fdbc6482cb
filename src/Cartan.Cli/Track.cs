using System.Diagnostics;
using System.Globalization;
using Cartan.Engine;
using Cartan.Report;

namespace Cartan.Cli;

/// <summary><c>cartan track DIR</c>: a series of checkpoints analysed one by one, reported over training.</summary>
public static partial class Cli
{
    private static readonly Dictionary<string, int> TrackArity = TrackArityOf();

    private static Dictionary<string, int> TrackArityOf()
    {
        var d = new Dictionary<string, int>(AnalyzeArity) { ["--order"] = 1 };
        foreach (var k in new[] { "--compare", "--shard", "--csv" }) d.Remove(k);
        return d;
    }

    private static int TrackCommand(string[] argv, TextWriter stdout, TextWriter stderr)
    {
        var a = Args.Parse(argv, TrackArity);
        if (a.Has("--help")) { stdout.Write(Help); return ExitCodes.Ok; }
        if (a.Positionals.Count != 1) throw new UsageException($"track needs one DIR of checkpoints, got {a.Positionals.Count}");
        var order = a.Get("--order") switch
        {
            null or "step" => TrackOrder.Step,
            "name" => TrackOrder.Name,
            "mtime" => TrackOrder.Mtime,
            var v => throw new UsageException($"--order takes step, name or mtime, got '{v}'"),
        };
        string dir = a.Positionals[0];
        string? json = a.Get("--json"), html = a.Get("--html"), outDir = a.Get("--out");
        int threads = a.GetInt("--threads", 1) ?? Environment.ProcessorCount;
        bool quiet = a.Has("--quiet");
        if (outDir is not null)
        {
            json ??= Path.Combine(outDir, "track.json");
            html ??= Path.Combine(outDir, "track.html");
        }
        foreach (var p in new[] { json, html })
            if (p is not null && Directory.Exists(p)) throw new UsageException($"output {p} is a folder");

        var sw = Stopwatch.StartNew();
        var (entries, skipped) = Track.Discover(dir, order, outDir is null ? null : [outDir]);
        var analysisArgs = ArgsWithout(a);
        // Open every checkpoint first (headers only), so that an unreadable one stops the run before any analysis or output.
        foreach (var e in entries)
        {
            var (model, _, _) = Load(Args.Parse([e.Path, .. analysisArgs], AnalyzeArity));
            model.Dispose();
        }
        var analyses = new List<AnalysisResult>();
        for (int i = 0; i < entries.Count; i++)
        {
            var sub = Args.Parse([entries[i].Path, .. analysisArgs], AnalyzeArity);
            var (model, graph, gopts) = Load(sub);
            using var _m = model;
            using var progress = ProgressDisplay.Create(stderr, quiet, label: $"track {i + 1}/{entries.Count} {entries[i].Name}");
            analyses.Add(Analyzer.Run(model, graph, BuildOptions(sub, gopts, threads, stderr), progress));
            progress.Finish();
        }
        var result = Track.Build(dir, order, entries, analyses, skipped, sw.Elapsed.TotalSeconds);
        if (json is not null) TrackReport.WriteJson(result, json);
        if (html is not null) TrackReport.WriteHtml(result, html, outDir is null ? null : Path.Combine(outDir, "figures"));

        if (json is null && html is null || !quiet) stdout.Write(TrackTable(result));
        int failed = result.Checkpoints.Sum(c => c.FailedLayers);
        int falling = result.Interfaces.Count(f => f.BetaLogSlope < 0), withSlope = result.Interfaces.Count(f => f.BetaLogSlope is not null);
        var written = string.Join(", ", new[] { json, html }.Where(p => p is not null));
        stdout.WriteLine($"cartan: tracked {entries.Count} checkpoints of {dir} (order {order.ToString().ToLowerInvariant()}): {result.Layers.Count} layers, " +
            $"{result.Interfaces.Count} interfaces, β falls on {falling}/{withSlope}, {failed} failed layer analyses, {skipped.Count} entries skipped, in {sw.Elapsed.TotalSeconds:F1} s" +
            (written.Length > 0 ? "; wrote " + written : ""));
        return failed > 0 ? ExitCodes.LayersFailed : ExitCodes.Ok;
    }

    /// <summary>Checkpoints, then β and κ of each interface at the first and last checkpoint with the slope of ln β.</summary>
    private static string TrackTable(TrackResult r)
    {
        var ci = CultureInfo.InvariantCulture;
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"{"#",3}  {"step",10}  checkpoint");
        foreach (var c in r.Checkpoints) sb.AppendLine($"{c.Index,3}  {(c.Entry.Step?.ToString(ci) ?? "-"),10}  {c.Entry.Name}");
        if (r.Interfaces.Count > 0)
        {
            int w = Math.Min(50, r.Interfaces.Max(f => f.From.Length + f.To.Length + 3));
            sb.AppendLine($"{"interface".PadRight(w)}  {"β first",10} {"β last",10} {"ln β slope",11} {"κ first",10} {"κ last",10}");
            foreach (var f in r.Interfaces)
            {
                var name = $"{f.From} → {f.To}";
                if (name.Length > w) name = "…" + name[^(w - 1)..];
                var beta = f.Series.First(kv => kv.Key == "imbalance.beta").Value;
                var kappa = f.Series.First(kv => kv.Key == "commutator").Value;
                sb.AppendLine($"{name.PadRight(w)}  {Num(beta.FirstOrDefault(v => v is not null)),10} {Num(beta.LastOrDefault(v => v is not null)),10} {Num(f.BetaLogSlope),11} {Num(kappa.FirstOrDefault(v => v is not null)),10} {Num(kappa.LastOrDefault(v => v is not null)),10}");
            }
        }
        return sb.ToString();
    }
}

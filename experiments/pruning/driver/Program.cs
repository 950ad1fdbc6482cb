// Driver of experiments/pruning (see ../README.md and ../run.sh).
//   run:       PruningDriver run --model DIR --calib FILE --test FILE --out DIR [--seeds 0,1,2] [--calib-samples 128]
//              [--seqlen 256] [--eval-tokens 32768] [--threads 1] [--only grid|alpha|profile] [--methods m1,m2]
//              [--sequential]   (layer groups pruned in forward order inside each block, as `cartan prune --sequential`)
//              PruningDriver run --random --out DIR ...   (a random small LLaMA and random tokens: debugging only)
//   summarize: PruningDriver summarize --out DIR          (results.tsv → table.md, fig_grid.svg, fig_alpha.svg)
//   outliers:  PruningDriver outliers --model DIR --calib FILE --out DIR [--calib-samples 16] [--seqlen 256] [--seed 0]
//              (activation-outlier statistics and Wanda-vs-magnitude mask agreement, Outliers.cs)
// Every pruning goes through the library (PruneArguments parses the same options as `cartan prune`, CalibratedPruner
// calibrates block by block and prunes with Pruner), with the model loaded and the splits tokenised once.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Cartan.Engine;
using Cartan.Formats;
using Cartan.Graph;
using Cartan.Pruning;
using Cartan.Report.Svg;
using Cartan.Torch;
using Cartan.Torch.Pruning;
using static TorchSharp.torch;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
if (args.Length == 0) { Console.Error.WriteLine("usage: PruningDriver run|summarize ..."); return 2; }
var a = Args.Parse(args[1..], new Dictionary<string, int>
{
    ["--model"] = 1, ["--calib"] = 1, ["--test"] = 1, ["--out"] = 1, ["--seeds"] = 1, ["--calib-samples"] = 1, ["--seqlen"] = 1,
    ["--eval-tokens"] = 1, ["--threads"] = 1, ["--random"] = 0, ["--random-config"] = 1, ["--only"] = 1, ["--patterns"] = 1, ["--ecs"] = 1, ["--sequential"] = 0, ["--methods"] = 1, ["--seed"] = 1,
});
string outDir = a.Get("--out") ?? throw new UsageException("--out DIR");
Directory.CreateDirectory(outDir);
if (args[0] == "summarize") { Summary.Write(outDir); return 0; }
if (args[0] == "outliers")
{
    string model = a.Get("--model") ?? throw new UsageException("--model DIR");
    set_num_threads(a.GetInt("--threads", 1) ?? 1);
    Outliers.Run(model, Data.Tokenize(model, a.Get("--calib") ?? throw new UsageException("--calib FILE")), a.GetInt("--calib-samples", 1) ?? 16,
        a.GetInt("--seqlen", 2) ?? 256, a.GetInt("--seed", 0) ?? 0, outDir);
    return 0;
}
if (args[0] != "run") throw new UsageException("run, summarize or outliers");

set_num_threads(a.GetInt("--threads", 1) ?? 1);
var seeds = (a.Get("--seeds") ?? "0,1,2").Split(',').Select(int.Parse).ToArray();
int calibSamples = a.GetInt("--calib-samples", 1) ?? 128;
int evalTokens = a.GetInt("--eval-tokens", 0) ?? 32768;
if (evalTokens == 0) evalTokens = int.MaxValue; // 0: the whole test split
string? only = a.Get("--only");
bool sequential = a.Has("--sequential");

string modelDir;
int[] calibTokens, testTokens;
if (a.Has("--random"))
{
    modelDir = Path.Combine(outDir, "random-model");
    (calibTokens, testTokens) = Data.Random(modelDir, a.Get("--random-config") is string rc ? File.ReadAllText(rc) : null);
}
else
{
    modelDir = a.Get("--model") ?? throw new UsageException("--model DIR");
    var sw0 = Stopwatch.StartNew();
    calibTokens = Data.Tokenize(modelDir, a.Get("--calib") ?? throw new UsageException("--calib FILE"));
    testTokens = Data.Tokenize(modelDir, a.Get("--test") ?? throw new UsageException("--test FILE"));
    Console.WriteLine($"tokenised calib {calibTokens.Length}, test {testTokens.Length} tokens in {sw0.Elapsed.TotalSeconds:F1} s");
}
using var weights = WeightSource.Open(modelDir);
var config = new HfConfig(weights.Config!.Value, Path.Combine(modelDir, "config.json"));
int context = config.Int("max_position_embeddings");
int seqLen = a.GetInt("--seqlen", 2) ?? context;
var graph = ModelGraph.Build(weights, new GraphOptions { InferPairs = false });
var evalIds = testTokens.Take(Math.Min(testTokens.Length, evalTokens)).ToArray();

string tsv = Path.Combine(outDir, "results.tsv");
var done = new HashSet<string>();
if (File.Exists(tsv)) foreach (var line in File.ReadLines(tsv).Skip(1)) done.Add(string.Join('\t', line.Split('\t').Take(7)));
else File.WriteAllText(tsv, "group\tmethod\tec\tpattern\talpha\tprofile\tseed\tppl\tsparsity\tlayer_seconds_mean\tprune_seconds\tcalib_seconds\twall_seconds\tcalib_tokens\teval_tokens\n");
File.WriteAllText(Path.Combine(outDir, "setup.txt"),
    $"model {modelDir}\ncalibration {calibSamples} x {seqLen} tokens per seed, seeds {string.Join(",", seeds)}" +
    (sequential ? ", layers sequential within blocks" : ", dense inputs within blocks") + "\n" +
    $"evaluation: first {evalIds.Length} tokens of the test split ({testTokens.Length} in all), non-overlapping windows of {context}\n" +
    $"torch threads {get_num_threads()}, started {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, machine {Environment.MachineName} ({Environment.ProcessorCount} logical CPUs, shared)\n");

void Record(string group, string method, string ec, string pattern, double alpha, string profile, int seed, double ppl, double sparsity,
    double layerMean, double pruneSeconds, double calibSeconds, double wall, int calibTok)
{
    File.AppendAllText(tsv, string.Join('\t', group, method, ec, pattern, alpha.ToString("R"), profile, seed, ppl.ToString("R"),
        sparsity.ToString("R"), layerMean.ToString("R"), pruneSeconds.ToString("R"), calibSeconds.ToString("R"), wall.ToString("R"), calibTok, evalIds.Length) + "\n");
    Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} {group,-7} {method,-9} ec={ec,-7} {pattern,-5} α={alpha,-4} {profile,-8} seed {seed}: ppl {ppl:F3}, sparsity {sparsity:F4}, {layerMean * 1000:F1} ms/layer, wall {wall:F1} s");
}

string Key(string group, string method, string ec, string pattern, double alpha, string profile, int seed) =>
    string.Join('\t', group, method, ec, pattern, alpha.ToString("R"), profile, seed);

// Dense reference.
if (!done.Contains(Key("dense", "dense", "none", "dense", 0, "none", 0)))
{
    var sw = Stopwatch.StartNew();
    using var net = HfModels.Load(modelDir);
    double ppl = Eval.Perplexity(net, evalIds, context);
    Record("dense", "dense", "none", "dense", 0, "none", 0, ppl, 0, 0, 0, 0, sw.Elapsed.TotalSeconds, 0);
}

// A libtorch error (e.g. TorchSharp's temporary Scalars finalised mid-call, seen once as an internal assert in pow)
// fails one run, not the experiment: the run is retried, and is recorded only when it completes.
void RunOne(string group, string method, string ec, string pattern, double alpha, string profile, int seed)
{
    for (int attempt = 1; ; attempt++)
    {
        try { RunOnce(group, method, ec, pattern, alpha, profile, seed); return; }
        catch (System.Runtime.InteropServices.ExternalException e) when (attempt < 3)
        {
            Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} retry {attempt} of {group} {method} {ec} {pattern} α={alpha} {profile} seed {seed}: {e.Message.Split('\n')[0]}");
            GC.Collect();
        }
    }
}

void RunOnce(string group, string method, string ec, string pattern, double alpha, string profile, int seed)
{
    if (done.Contains(Key(group, method, ec, pattern, alpha, profile, seed))) return;
    var argv = new List<string> { modelDir, "--method", method, pattern.Contains(':') ? "--pattern" : "--sparsity", pattern, "--ec", ec,
        "--alpha", alpha.ToString("R"), "--profile", profile, "--calib", "(in-process)", "--out", "(none)" };
    var settings = PruneArguments.Parse(argv).Settings;
    var sw = Stopwatch.StartNew();
    using var net = HfModels.Load(modelDir);
    // Magnitude reads no statistics: one short sample keeps the (unused) forward cheap.
    var samples = method == "magnitude" && profile != "owl"
        ? CalibrationSampler.Draw(calibTokens, 1, 2, seed)
        : CalibrationSampler.Draw(calibTokens, calibSamples, seqLen, seed);
    var r = CalibratedPruner.Run(net, weights, graph, settings, samples, new CalibrationOptions { SequentialWithinBlock = sequential });
    long total = r.Run.Targets.Sum(t => (long)t.Rows * t.Cols);
    double kept = r.Run.Layers.Select((l, k) => l.KeptFraction * r.Run.Targets[k].Rows * r.Run.Targets[k].Cols).Sum() / total;
    double pruneSeconds = r.Run.Layers.Sum(l => l.Seconds);
    double ppl = Eval.Perplexity(net, evalIds, context);
    Record(group, method, ec, pattern, alpha, profile, seed, ppl, 1 - kept, pruneSeconds / r.Run.Layers.Count, pruneSeconds,
        r.CalibrationSeconds, sw.Elapsed.TotalSeconds, samples.Length * samples[0].Length);
}

string[] methods = a.Get("--methods")?.Split(',') ?? ["magnitude", "wanda", "sparsegpt", "cvr"];
string[] ecs = a.Get("--ecs")?.Split(',') ?? ["none", "col", "col+row"];
var patternFilter = a.Get("--patterns")?.Split(',');
double[] alphas = [0, 0.5, 1, 2, 4];
// Order: everything at 50 % for every seed first (the grid's first column, the α sweep, the profiles), then 4:8 and
// 2:4, so that a run stopped early still has complete cells with all seeds.
// A 70 % unstructured column comes last: beyond the paper's grid, where the methods separate on a model this small.
foreach (var phase in new[] { new[] { "0.5" }, new[] { "4:8", "2:4" }, new[] { "0.7" } })
    foreach (int seed in seeds)
    {
        if (only is null or "grid")
            foreach (var p in phase.Where(x => patternFilter is null || patternFilter.Contains(x)))
                foreach (var m in methods)
                    foreach (var ec in ecs)
                    {
                        if (m == "magnitude" && seed != seeds[0]) continue; // no calibration: one run per cell
                        RunOne("grid", m, ec, p, 1, "uniform", seed);
                    }
        if (phase[0] != "0.5") continue;
        // α = 1 and the uniform 50 % profile are cells of the grid: not run twice.
        if (only is null or "alpha")
            foreach (var al in alphas.Where(x => x != 1)) RunOne("alpha", "cvr", "none", "0.5", al, "uniform", seed);
        if (only is null or "profile")
            foreach (var s in new[] { "0.5", "0.7" })
                foreach (var prof in new[] { "uniform", "owl", "spectral" })
                    if (!(s == "0.5" && prof == "uniform")) RunOne("profile", "wanda", "none", s, 1, prof, seed);
    }
Summary.Write(outDir);
return 0;

static class Data
{
    public static int[] Tokenize(string modelDir, string path) =>
        Cartan.Torch.Lm.LmTokenizer.Load(modelDir).Encode(Cartan.Torch.Lm.LmCorpus.ReadText(path));

    /// <summary>A random small LLaMA (tied head, GQA) and token streams from a fixed random bigram chain, so that the
    /// pipeline runs end to end before the tiny LM exists. Perplexities of this model mean nothing.</summary>
    public static (int[] Calib, int[] Test) Random(string dir, string? configJson)
    {
        var cfg = configJson is not null ? HfConfig.Parse(configJson) : HfConfig.Parse("""
            {"model_type":"llama","vocab_size":256,"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,
             "num_attention_heads":4,"num_key_value_heads":2,"max_position_embeddings":64,"rms_norm_eps":1e-5,
             "hidden_act":"silu","tie_word_embeddings":true}
            """);
        using var net = HfModels.Build(cfg);
        net.InitializeRandom(5);
        HfModels.Save(net, dir);
        var rng = new System.Random(9);
        int v = cfg.Int("vocab_size");
        var next = Enumerable.Range(0, v).Select(_ => Enumerable.Range(0, 4).Select(_ => rng.Next(v)).ToArray()).ToArray();
        int[] Stream(int n) { var s = new int[n]; for (int i = 1; i < n; i++) s[i] = next[s[i - 1]][rng.Next(4)]; return s; }
        return (Stream(80000), Stream(40000));
    }
}

static class Eval
{
    /// <summary>The tiny LM's perplexity (Cartan.Torch.Lm.Perplexity: non-overlapping windows, every token after a
    /// window's first predicted), the same number `cartan eval` prints.</summary>
    public static double Perplexity(HfModule net, int[] ids, int window) => Cartan.Torch.Lm.Perplexity.Evaluate(net, ids, window).Ppl;
}

static class Summary
{
    private sealed record Row(string Group, string Method, string Ec, string Pattern, double Alpha, string Profile, int Seed,
        double Ppl, double Sparsity, double LayerSeconds, double PruneSeconds, double CalibSeconds, double Wall);

    private static (double Mean, double Std, int N) Stat(IEnumerable<double> v)
    {
        var l = v.ToList();
        if (l.Count == 0) return (double.NaN, double.NaN, 0);
        double m = l.Average();
        double sd = l.Count > 1 ? Math.Sqrt(l.Sum(x => (x - m) * (x - m)) / (l.Count - 1)) : 0;
        return (m, sd, l.Count);
    }

    private static string Cell(IEnumerable<double> v)
    {
        var (m, sd, n) = Stat(v);
        return n == 0 ? "–" : n == 1 ? $"{m:F2}" : $"{m:F2} ± {sd:F2}";
    }

    private static double Median(IReadOnlyList<double> v)
    {
        var s = v.OrderBy(x => x).ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    private static string PatternName(string p) => p switch { "0.5" => "50 %", "0.7" => "70 %", _ => p };

    public static void Write(string dir)
    {
        string tsv = Path.Combine(dir, "results.tsv");
        if (!File.Exists(tsv)) return;
        var rows = File.ReadLines(tsv).Skip(1).Select(l => l.Split('\t')).Where(f => f.Length >= 13).Select(f => new Row(f[0], f[1], f[2], f[3],
            double.Parse(f[4]), f[5], int.Parse(f[6]), double.Parse(f[7]), double.Parse(f[8]), double.Parse(f[9]), double.Parse(f[10]), double.Parse(f[11]), double.Parse(f[12]))).ToList();
        var sb = new StringBuilder();
        var dense = rows.FirstOrDefault(r => r.Group == "dense");
        if (dense is not null) sb.AppendLine($"Dense perplexity: **{dense.Ppl:F2}**\n");

        string[] methods = ["magnitude", "wanda", "sparsegpt", "cvr"];
        string[] ecs = ["none", "col", "col+row"];
        var grid = rows.Where(r => r.Group == "grid").ToList();
        string[] patterns = new[] { "0.5", "4:8", "2:4", "0.7" }.Where(p => grid.Any(r => r.Pattern == p)).ToArray();
        sb.AppendLine("Test perplexity, mean ± std over calibration seeds (magnitude uses no calibration: one run):\n");
        sb.AppendLine("| method | EC | " + string.Join(" | ", patterns.Select(PatternName)) + " | seeds |");
        sb.AppendLine("|---|---|" + string.Concat(patterns.Select(_ => "---:|")) + "---:|");
        foreach (var m in methods)
            foreach (var ec in ecs)
            {
                var cells = patterns.Select(p => Cell(grid.Where(r => r.Method == m && r.Ec == ec && r.Pattern == p).Select(r => r.Ppl)));
                int n = grid.Where(r => r.Method == m && r.Ec == ec).Select(r => r.Seed).Distinct().Count();
                sb.AppendLine($"| {m} | {ec} | {string.Join(" | ", cells)} | {n} |");
            }

        var alpha = rows.Where(r => r.Group == "alpha" || (r.Group == "grid" && r.Method == "cvr" && r.Ec == "none" && r.Pattern == "0.5" && r.Alpha == 1)).ToList();
        if (alpha.Any(r => r.Group == "alpha"))
        {
            sb.AppendLine("\nCVR α sweep (50 % unstructured, EC none):\n");
            sb.AppendLine("| α | perplexity |\n|---:|---:|");
            foreach (var g in alpha.GroupBy(r => r.Alpha).OrderBy(g => g.Key)) sb.AppendLine($"| {g.Key} | {Cell(g.Select(r => r.Ppl))} |");
        }

        var prof = rows.Where(r => r.Group == "profile" || (r.Group == "grid" && r.Method == "wanda" && r.Ec == "none" && r.Pattern == "0.5")).ToList();
        if (prof.Any(r => r.Group == "profile"))
        {
            sb.AppendLine("\nLayerwise profiles (Wanda, EC none):\n");
            sb.AppendLine("| sparsity | uniform | OWL | spectral |\n|---|---:|---:|---:|");
            foreach (var s in new[] { "0.5", "0.7" })
                sb.AppendLine($"| {PatternName(s)} | " + string.Join(" | ", new[] { "uniform", "owl", "spectral" }.Select(p => Cell(prof.Where(r => r.Pattern == s && r.Profile == p).Select(r => r.Ppl)))) + " |");
        }

        // Runtime per layer of the pruning step itself (scores, mask, EC; SparseGPT's OBS updates), as a ratio to SparseGPT
        // at the same pattern in the same run.
        sb.AppendLine("\nPruning time per layer (mean over a run's layers; median over runs, against load spikes of the shared machine) as a ratio to SparseGPT (EC none) at the same pattern, same experiment:\n");
        sb.AppendLine("| method | EC | " + string.Join(" | ", patterns.Select(PatternName)) + " |");
        sb.AppendLine("|---|---|" + string.Concat(patterns.Select(_ => "---:|")));
        foreach (var m in methods)
            foreach (var ec in ecs)
            {
                var cells = patterns.Select(p =>
                {
                    var sg = grid.Where(r => r.Method == "sparsegpt" && r.Ec == "none" && r.Pattern == p).Select(r => r.LayerSeconds).ToList();
                    var me = grid.Where(r => r.Method == m && r.Ec == ec && r.Pattern == p).Select(r => r.LayerSeconds).ToList();
                    return sg.Count == 0 || me.Count == 0 ? "–" : $"{Median(me) / Median(sg):F3}";
                });
                sb.AppendLine($"| {m} | {ec} | {string.Join(" | ", cells)} |");
            }
        var sgAll = grid.Where(r => r.Method == "sparsegpt" && r.Ec == "none").Select(r => r.LayerSeconds).ToList();
        if (sgAll.Count > 0) sb.AppendLine($"\nSparseGPT itself: {Median(sgAll) * 1000:F1} ms per layer (median over runs).");
        sb.AppendLine("\nBlock-sequential calibration (forward passes and statistics; SparseGPT's XᵀX accumulation lands here, not in its per-layer time), seconds per run, and the whole run (calibration + pruning + evaluation):\n");
        sb.AppendLine("| method | calibration s | pruning s (all layers) | wall s |\n|---|---:|---:|---:|");
        foreach (var m in methods)
        {
            var g = grid.Where(r => r.Method == m).ToList();
            if (g.Count > 0) sb.AppendLine($"| {m} | {g.Average(r => r.CalibSeconds):F1} | {g.Average(r => r.PruneSeconds):F2} | {g.Average(r => r.Wall):F1} |");
        }
        sb.AppendLine($"\nTotal wall time of all runs: {rows.Sum(r => r.Wall) / 60:F1} min.");
        File.WriteAllText(Path.Combine(dir, "table.md"), sb.ToString());

        // Figure 1: perplexity by pattern, one line per method and EC mode.
        string[] colors = ["#888888", "#1f77b4", "#d62728", "#2ca02c"];
        var series = new List<Series>();
        for (int mi = 0; mi < methods.Length; mi++)
            foreach (var ec in new[] { "none", "col+row" })
            {
                var xs = new List<double>();
                var ys = new List<double>();
                for (int p = 0; p < patterns.Length; p++)
                {
                    var v = grid.Where(r => r.Method == methods[mi] && r.Ec == ec && r.Pattern == patterns[p]).Select(r => r.Ppl).ToList();
                    if (v.Count > 0) { xs.Add(p + 1); ys.Add(v.Average()); }
                }
                if (xs.Count > 0)
                    series.Add(new Series($"{methods[mi]}{(ec == "none" ? "" : " +EC col+row")}", xs, ys) { Color = colors[mi], Markers = true, Dashed = ec != "none" });
            }
        if (series.Count > 0)
            File.WriteAllText(Path.Combine(dir, "fig_grid.svg"), Plot.LinePlot(new LinePlotSpec
            {
                Title = "Tiny LM: test perplexity after pruning (" + string.Join(", ", patterns.Select((p, i) => $"{i + 1} = {PatternName(p)}")) + ")", XLabel = "pattern", YLabel = "perplexity",
                Series = series, HLines = dense is null ? [] : [new RefLine(dense.Ppl, "dense")], Width = 620, Height = 380,
            }));
        if (alpha.Any(r => r.Group == "alpha"))
        {
            var g = alpha.GroupBy(r => r.Alpha).OrderBy(g => g.Key).ToList();
            var wanda = grid.Where(r => r.Method == "wanda" && r.Ec == "none" && r.Pattern == "0.5").Select(r => r.Ppl).ToList();
            File.WriteAllText(Path.Combine(dir, "fig_alpha.svg"), Plot.LinePlot(new LinePlotSpec
            {
                Title = "CVR at 50 %: perplexity vs α (mean over seeds)", XLabel = "α", YLabel = "perplexity",
                Series = [new Series("CVR", g.Select(x => x.Key).ToList(), g.Select(x => x.Average(r => r.Ppl)).ToList()) { Markers = true, Color = "#2ca02c" }],
                HLines = wanda.Count == 0 ? [] : [new RefLine(wanda.Average(), "Wanda")],
            }));
        }
    }
}

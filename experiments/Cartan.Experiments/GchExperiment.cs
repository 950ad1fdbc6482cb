using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cartan.Data;
using Cartan.Noise;
using Cartan.Robustness;
using TorchSharp;
using static TorchSharp.torch;

namespace Cartan.Experiments;

/// <summary>experiments/gch: GCh vs baselines on Fashion-MNIST, clean and corrupted accuracy/NLL/ECE.</summary>
public static class GchExperiment
{
    public const double MainStrength = 1.0;
    public static readonly double[] Sweep = [0.25, 0.5, 1.0, 1.5];

    public static List<Config> Configs()
    {
        var c = new List<Config>
        {
            new("none", "none", Stage.Late, 0),
            new("dropout-late", "dropout", Stage.Late, MainStrength),
            new("dropblock-late", "dropblock", Stage.Late, MainStrength),
            new("additive-late", "additive", Stage.Late, MainStrength),
            new("gch-early", "gch", Stage.Early, MainStrength),
            new("gch-middle", "gch", Stage.Middle, MainStrength),
            new("gch-late", "gch", Stage.Late, MainStrength),
        };
        foreach (var s in Sweep.Where(s => s != MainStrength)) c.Add(new($"gch-late-s{s}", "gch", Stage.Late, s));
        return c;
    }

    /// <summary>
    /// Matched strength: the mean over the 7×7 map of Var(gate) of the sample-wise GCh gate at strength s, estimated from
    /// 20 000 gates; dropout and DropBlock use drop rate p with p/(1 − p) = that variance (the variance of their
    /// multiplicative factor).
    /// </summary>
    public static (double Variance, double Drop) MatchedDrop(double strength)
    {
        var sampler = new GChSampler(7, 7, new GChOptions { Strength = strength }, 777);
        const int N = 20000;
        var g = sampler.Sample(N);
        double v = 0;
        for (int t = 0; t < 49; t++)
        {
            double m = 0, q = 0;
            for (int i = 0; i < N; i++) { double x = g[i * 49 + t]; m += x; q += x * x; }
            m /= N;
            v += q / N - m * m;
        }
        v /= 49;
        return (v, v / (1 + v));
    }

    public static void Run(Dictionary<string, string> o)
    {
        string outDir = o.Get("out", "experiments/gch/results");
        string data = o.Get("data", FashionMnist.DefaultDirectory);
        int nTrain = o.GetInt("train", 10000), epochs = o.GetInt("epochs", 3), nClean = o.GetInt("test-clean", 10000), nCorrupt = o.GetInt("test-corrupt", 1000);
        int threads = o.GetInt("threads", 1), batch = o.GetInt("batch", 32);
        double lr = o.GetDouble("lr", 2e-3);
        var seeds = o.Get("seeds", "1,2,3").Split(',').Select(int.Parse).ToArray();
        var only = o.TryGetValue("configs", out var cs) ? cs.Split(',').ToHashSet() : null;
        Directory.CreateDirectory(outDir);
        torch.set_num_threads(threads);
        var sw = Stopwatch.StartNew();

        var train = FashionMnist.Load(data, train: true);
        var test = FashionMnist.Load(data, train: false);
        var pick = Enumerable.Range(0, train.Count).ToArray();
        new Random(12345).Shuffle(pick);
        var trImg = new float[nTrain * 784];
        var trLab = new int[nTrain];
        for (int i = 0; i < nTrain; i++) { train.Images.AsSpan(pick[i] * 784, 784).CopyTo(trImg.AsSpan(i * 784)); trLab[i] = train.Labels[pick[i]]; }
        var clImg = test.Images.AsSpan(0, nClean * 784).ToArray();
        var clLab = test.Labels[..nClean];
        var coLab = test.Labels[..nCorrupt];

        // corrupted test sets: the first nCorrupt test images, corruption k uses seed 1000 + k
        var corrupt = new Dictionary<(Corruption, int), float[]>();
        foreach (var c in Corruptions.All)
            for (int s = 1; s <= 5; s++)
                corrupt[(c, s)] = Corruptions.ApplyBatch(c, test.Images.AsSpan(0, nCorrupt * 784), nCorrupt, 28, 28, s, 1000 + (ulong)c);
        Console.WriteLine($"data ready in {sw.Elapsed.TotalSeconds:F1} s: train {nTrain}, clean test {nClean}, corrupted test {nCorrupt} × {corrupt.Count}");
        WriteFigures(outDir, test, corrupt);

        var (gateVar, drop) = MatchedDrop(MainStrength);
        Console.WriteLine($"matched: Var(gate) at s={MainStrength} on 7×7 = {gateVar:F4} → drop rate {drop:F4}");
        File.WriteAllText(Path.Combine(outDir, "setup.json"), new JsonObject
        {
            ["train"] = nTrain, ["epochs"] = epochs, ["test_clean"] = nClean, ["test_corrupt"] = nCorrupt, ["threads"] = threads,
            ["seeds"] = new JsonArray(seeds.Select(s => (JsonNode)s).ToArray()), ["main_strength"] = MainStrength,
            ["gate_variance"] = gateVar, ["matched_drop"] = drop, ["optimizer"] = $"Adam lr {lr} (last epoch lr/10), batch {batch}", ["train_subset_seed"] = 12345,
        }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

        string runsPath = Path.Combine(outDir, "runs.jsonl");
        var done = File.Exists(runsPath)
            ? File.ReadAllLines(runsPath).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!).Select(n => ((string)n["config"]!, (int)n["seed"]!)).ToHashSet()
            : [];
        foreach (var seed in seeds)
            foreach (var cfg in Configs())
            {
                if (only is not null && !only.Contains(cfg.Name)) continue;
                if (done.Contains((cfg.Name, seed))) { Console.WriteLine($"skip {cfg.Name} seed {seed} (done)"); continue; }
                var t0 = Stopwatch.StartNew();
                torch.random.manual_seed(seed);
                using var net = new SmallCnn(cfg, drop, (ulong)(seed * 7919 + 17));
                if (seed == seeds[0] && cfg.Name == "none")
                    Console.WriteLine($"parameters: {string.Join(", ", net.named_parameters().Select(p => $"{p.name} {string.Join("x", p.parameter.shape)}"))}");
                var opt = optim.Adam(net.parameters(), lr: lr);
                var rng = new Random(seed);
                double loss = 0;
                for (int e = 0; e < epochs; e++)
                {
                    // the last epoch at lr/10 (settles the weights and the BatchNorm statistics before evaluation)
                    if (e == epochs - 1 && epochs > 1) foreach (var g in opt.ParamGroups) g.LearningRate = lr / 10;
                    loss = Train.Epoch(net, opt, trImg, trLab, nTrain, batch, rng);
                }
                double trainSec = t0.Elapsed.TotalSeconds;
                var rec = new JsonObject
                {
                    ["config"] = cfg.Name, ["kind"] = cfg.Kind, ["stage"] = cfg.Stage.ToString(), ["strength"] = cfg.Strength, ["seed"] = seed,
                    ["train_loss"] = loss, ["train_seconds"] = trainSec,
                };
                var clean = Calibration.FromLogits(Train.Logits(net, clImg, nClean), nClean, 10, clLab);
                rec["clean"] = Metrics(clean, bins: true);
                var per = new JsonObject();
                var pooledLogits = new List<float>();
                foreach (var c in Corruptions.All)
                {
                    var arr = new JsonArray();
                    for (int s = 1; s <= 5; s++)
                    {
                        var lg = Train.Logits(net, corrupt[(c, s)], nCorrupt);
                        pooledLogits.AddRange(lg);
                        arr.Add(Metrics(Calibration.FromLogits(lg, nCorrupt, 10, coLab), bins: false));
                    }
                    per[c.ToString()] = arr;
                }
                rec["corrupt"] = per;
                int pooledN = pooledLogits.Count / 10;
                var pooledLab = Enumerable.Range(0, pooledN).Select(i => coLab[i % nCorrupt]).ToArray();
                rec["corrupt_pooled"] = Metrics(Calibration.FromLogits(pooledLogits.ToArray(), pooledN, 10, pooledLab), bins: true);
                rec["seconds"] = t0.Elapsed.TotalSeconds;
                File.AppendAllText(runsPath, rec.ToJsonString() + "\n");
                Console.WriteLine($"{cfg.Name,-18} seed {seed}: clean acc {clean.Accuracy:F4} ece {clean.Ece:F4}; train {trainSec:F0} s, total {t0.Elapsed.TotalSeconds:F0} s (elapsed {sw.Elapsed.TotalMinutes:F1} min)");
            }
        Console.WriteLine($"all runs done in {sw.Elapsed.TotalMinutes:F1} min");
        Report(o);
    }

    private static JsonObject Metrics(CalibrationResult r, bool bins)
    {
        var j = new JsonObject { ["acc"] = r.Accuracy, ["nll"] = r.Nll, ["ece"] = r.Ece };
        if (bins) j["bins"] = new JsonArray(r.Bins.Select(b => (JsonNode)new JsonArray(b.Count, b.Confidence, b.Accuracy)).ToArray());
        return j;
    }

    private static void WriteFigures(string outDir, ImageSet test, Dictionary<(Corruption, int), float[]> corrupt)
    {
        // corruptions × severities for two test images (clean first in each row)
        var tiles = new List<float[]>();
        foreach (int img in new[] { 0, 1 })
            foreach (var c in Corruptions.All)
            {
                tiles.Add(test.Images.AsSpan(img * 784, 784).ToArray());
                for (int s = 1; s <= 5; s++) tiles.Add(corrupt[(c, s)].AsSpan(img * 784, 784).ToArray());
            }
        // two images side by side: reorder into rows of 12 (image 0 row, image 1 row per corruption)
        var rows = new List<float[]>();
        int nc = Corruptions.All.Count;
        for (int k = 0; k < nc; k++) { rows.AddRange(tiles.GetRange(k * 6, 6)); rows.AddRange(tiles.GetRange((nc + k) * 6, 6)); }
        File.WriteAllBytes(Path.Combine(outDir, "corruptions.png"), Output.TilePng(rows, 28, 28, 12, 3));
        // gates at the three stages (s = MainStrength), 8 samples each, shown on a common grey scale [0, 2.5]
        var gates = new List<float[]>();
        foreach (int side in new[] { 28, 14, 7 })
        {
            var g = new GChSampler(side, side, new GChOptions { Strength = MainStrength }, 99).Sample(8);
            for (int i = 0; i < 8; i++)
            {
                var t = new float[784];
                int sc = 28 / side;
                for (int r = 0; r < 28; r++)
                    for (int c = 0; c < 28; c++) t[r * 28 + c] = (float)(g[i * side * side + (r / sc) * side + c / sc] / 2.5);
                gates.Add(t);
            }
        }
        File.WriteAllBytes(Path.Combine(outDir, "gates.png"), Output.TilePng(gates, 28, 28, 8, 3));
    }

    // ------------------------------------------------------------------ report

    private sealed record RunRec(string Config, int Seed, double Seconds, double[] Clean, double[] Corrupt, double[,] BySeverity, Dictionary<string, double> EceByCorruption,
        ReliabilityBin[] CleanBins, ReliabilityBin[] PooledBins);

    public static void Report(Dictionary<string, string> o)
    {
        string outDir = o.Get("out", "experiments/gch/results");
        var runs = File.ReadAllLines(Path.Combine(outDir, "runs.jsonl")).Where(l => l.Length > 0).Select(l => Parse(JsonNode.Parse(l)!)).ToList();
        var setup = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "setup.json")))!;
        var sb = new StringBuilder();
        string MS(IEnumerable<double> xs, string fmt = "0.0000")
        {
            var a = xs.ToArray();
            if (a.Length == 0) return "–";
            double m = a.Average(), sd = a.Length > 1 ? Math.Sqrt(a.Sum(x => (x - m) * (x - m)) / (a.Length - 1)) : 0;
            return $"{m.ToString(fmt)} ± {sd.ToString(fmt)}";
        }
        var configs = Configs().Select(c => c.Name).Where(n => runs.Any(r => r.Config == n)).ToList();
        sb.AppendLine($"Setup: {setup["train"]} training images, {setup["epochs"]} epochs, {setup["optimizer"]}; clean test {setup["test_clean"]}, corrupted test {setup["test_corrupt"]} images × 10 corruptions × 5 severities; seeds {string.Join(", ", runs.Select(r => r.Seed).Distinct().Order())}.");
        sb.AppendLine($"Matched strength: GCh s = {MainStrength}; mean Var(gate) on the 7×7 map = {(double)setup["gate_variance"]!:0.0000}, so dropout / DropBlock drop rate p = {(double)setup["matched_drop"]!:0.0000} (p/(1−p) = Var(gate)); additive noise uses the same field scaled by each sample's feature RMS.");
        sb.AppendLine();
        sb.AppendLine("### Main table (mean ± std over seeds; corrupted = mean over the 50 corruption × severity sets)");
        sb.AppendLine();
        sb.AppendLine("| config | runs | clean acc | clean NLL | clean ECE | corr. acc | corr. NLL | corr. ECE | s/run |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var c in configs)
        {
            var rs = runs.Where(r => r.Config == c).ToList();
            sb.AppendLine($"| {c} | {rs.Count} | {MS(rs.Select(r => r.Clean[0]))} | {MS(rs.Select(r => r.Clean[1]))} | {MS(rs.Select(r => r.Clean[2]))} | {MS(rs.Select(r => r.Corrupt[0]))} | {MS(rs.Select(r => r.Corrupt[1]))} | {MS(rs.Select(r => r.Corrupt[2]))} | {rs.Average(r => r.Seconds):F0} |");
        }
        sb.AppendLine();
        sb.AppendLine("### Paired differences vs no noise (same seed): Δ corrupted ECE and Δ corrupted NLL, mean ± std");
        sb.AppendLine();
        sb.AppendLine("| config | Δ corr. ECE | Δ corr. NLL | Δ clean ECE | Δ clean acc |");
        sb.AppendLine("|---|---|---|---|---|");
        foreach (var c in configs.Where(c => c != "none"))
        {
            var pairs = runs.Where(r => r.Config == c).Select(r => (r, b: runs.FirstOrDefault(x => x.Config == "none" && x.Seed == r.Seed))).Where(p => p.b is not null).ToList();
            sb.AppendLine($"| {c} | {MS(pairs.Select(p => p.r.Corrupt[2] - p.b!.Corrupt[2]))} | {MS(pairs.Select(p => p.r.Corrupt[1] - p.b!.Corrupt[1]))} | {MS(pairs.Select(p => p.r.Clean[2] - p.b!.Clean[2]))} | {MS(pairs.Select(p => p.r.Clean[0] - p.b!.Clean[0]))} |");
        }
        sb.AppendLine();
        sb.AppendLine("### Corrupted ECE by severity (mean over the 10 corruptions, then mean ± std over seeds)");
        sb.AppendLine();
        sb.AppendLine("| config | s1 | s2 | s3 | s4 | s5 |");
        sb.AppendLine("|---|---|---|---|---|---|");
        foreach (var c in configs)
        {
            var rs = runs.Where(r => r.Config == c).ToList();
            sb.AppendLine($"| {c} | " + string.Join(" | ", Enumerable.Range(0, 5).Select(s => MS(rs.Select(r => r.BySeverity[s, 2])))) + " |");
        }
        sb.AppendLine();
        sb.AppendLine("### Corrupted ECE by corruption (mean over severities and seeds)");
        sb.AppendLine();
        sb.AppendLine("| config | " + string.Join(" | ", Corruptions.All) + " |");
        sb.AppendLine("|---|" + string.Concat(Enumerable.Repeat("---|", Corruptions.All.Count)));
        foreach (var c in configs)
        {
            var rs = runs.Where(r => r.Config == c).ToList();
            sb.AppendLine($"| {c} | " + string.Join(" | ", Corruptions.All.Select(k => rs.Average(r => r.EceByCorruption[k.ToString()]).ToString("0.0000"))) + " |");
        }
        File.WriteAllText(Path.Combine(outDir, "tables.md"), sb.ToString());
        Console.Write(sb.ToString());

        // reliability diagrams, pooled over seeds
        ReliabilityBin[] Pool(IEnumerable<ReliabilityBin[]> all)
        {
            var list = all.ToList();
            var res = new ReliabilityBin[15];
            for (int b = 0; b < 15; b++)
            {
                int n = list.Sum(x => x[b].Count);
                double conf = n > 0 ? list.Sum(x => x[b].Count * x[b].Confidence) / n : 0, acc = n > 0 ? list.Sum(x => x[b].Count * x[b].Accuracy) / n : 0;
                res[b] = new ReliabilityBin(b / 15.0, (b + 1) / 15.0, n, conf, acc);
            }
            return res;
        }
        double Ece(ReliabilityBin[] bins) { int n = bins.Sum(b => b.Count); return bins.Sum(b => (double)b.Count / n * Math.Abs(b.Accuracy - b.Confidence)); }
        foreach (var (name, sel) in new (string, Func<RunRec, ReliabilityBin[]>)[] { ("clean", r => r.CleanBins), ("corrupted", r => r.PooledBins) })
        {
            var panels = new[] { "none", "dropout-late", "dropblock-late", "additive-late", "gch-early", "gch-late" }.Where(configs.Contains)
                .Select(c => { var b = Pool(runs.Where(r => r.Config == c).Select(sel)); return (c, b, Ece(b)); }).ToList();
            File.WriteAllText(Path.Combine(outDir, $"reliability-{name}.svg"), Output.ReliabilitySvg(panels));
        }
    }

    private static RunRec Parse(JsonNode n)
    {
        double[] M(JsonNode m) => [(double)m["acc"]!, (double)m["nll"]!, (double)m["ece"]!];
        ReliabilityBin[] B(JsonNode m) => m["bins"]!.AsArray().Select((b, i) => new ReliabilityBin(i / 15.0, (i + 1) / 15.0, (int)b![0]!, (double)b[1]!, (double)b[2]!)).ToArray();
        var per = n["corrupt"]!.AsObject();
        var sev = new double[5, 3];
        var byC = new Dictionary<string, double>();
        var mean = new double[3];
        foreach (var (k, v) in per)
        {
            var arr = v!.AsArray();
            double e = 0;
            for (int s = 0; s < 5; s++)
            {
                var m = M(arr[s]!);
                for (int q = 0; q < 3; q++) { sev[s, q] += m[q] / per.Count; mean[q] += m[q] / (5.0 * per.Count); }
                e += m[2] / 5;
            }
            byC[k] = e;
        }
        return new RunRec((string)n["config"]!, (int)n["seed"]!, (double)n["seconds"]!, M(n["clean"]!), mean, sev, byC, B(n["clean"]!), B(n["corrupt_pooled"]!));
    }
}

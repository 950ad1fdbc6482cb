using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cartan.Data;
using Cartan.Robustness;
using TorchSharp;
using static TorchSharp.torch;

namespace Cartan.Experiments;

/// <summary>
/// experiments/collapse: train the small CNN (no noise) on a balanced Fashion-MNIST subset far past zero training error,
/// saving penultimate features, labels and the classifier at checkpoints, for <c>cartan collapse</c>.
/// </summary>
public static class CollapseExperiment
{
    public static void Run(Dictionary<string, string> o)
    {
        string outDir = o.Get("out", "experiments/collapse/results");
        string data = o.Get("data", FashionMnist.DefaultDirectory);
        int perClass = o.GetInt("per-class", 100), batch = o.GetInt("batch", 100), epochs = o.GetInt("epochs", 150), every = o.GetInt("every", 10), seed = o.GetInt("seed", 1);
        double lr = o.GetDouble("lr", 0.05), wd = o.GetDouble("wd", 5e-4);
        torch.set_num_threads(o.GetInt("threads", 1));
        Directory.CreateDirectory(outDir);
        var sw = Stopwatch.StartNew();
        var train = FashionMnist.Load(data, train: true);
        var test = FashionMnist.Load(data, train: false);
        // balanced subset: the first perClass images of each class in the original order
        var idx = new List<int>();
        var seen = new int[10];
        for (int i = 0; i < train.Count && idx.Count < perClass * 10; i++)
            if (seen[train.Labels[i]] < perClass) { seen[train.Labels[i]]++; idx.Add(i); }
        int n = idx.Count;
        var img = new float[n * 784];
        var lab = new int[n];
        for (int i = 0; i < n; i++) { train.Images.AsSpan(idx[i] * 784, 784).CopyTo(img.AsSpan(i * 784)); lab[i] = train.Labels[idx[i]]; }
        Output.WriteNpy(Path.Combine(outDir, "labels.npy"), lab.Select(l => (long)l).ToArray(), n);
        int nTest = 2000;
        var teImg = test.Images.AsSpan(0, nTest * 784).ToArray();
        var teLab = test.Labels[..nTest];

        torch.random.manual_seed(seed);
        using var net = new SmallCnn(new Config("none", "none", Stage.Late, 0), 0, 0);
        var opt = optim.SGD(net.parameters(), lr, momentum: 0.9, weight_decay: wd);
        var rng = new Random(seed);
        var log = new JsonArray();
        var saveAt = new SortedSet<int> { 1, 2, 5 };
        for (int e = every; e <= epochs; e += every) saveAt.Add(e);
        saveAt.Add(epochs);
        for (int e = 1; e <= epochs; e++)
        {
            double rate = e <= epochs / 2 ? lr : e <= 3 * epochs / 4 ? lr / 10 : lr / 100;
            foreach (var g in opt.ParamGroups) g.LearningRate = rate;
            double loss = Train.Epoch(net, opt, img, lab, n, batch, rng);
            if (!saveAt.Contains(e)) continue;
            var tr = Calibration.FromLogits(Train.Logits(net, img, n), n, 10, lab);
            var te = Calibration.FromLogits(Train.Logits(net, teImg, nTest), nTest, 10, teLab);
            var feats = Train.Features(net, img, n);
            string tag = e.ToString("D3", CultureInfo.InvariantCulture);
            Output.WriteNpy(Path.Combine(outDir, $"features_e{tag}.npy"), feats, n, 64);
            Output.WriteNpy(Path.Combine(outDir, $"classifier_e{tag}.npy"), net.fc.weight!.data<float>().ToArray(), 10, 64);
            log.Add(new JsonObject { ["epoch"] = e, ["lr"] = rate, ["train_loss"] = loss, ["train_acc"] = tr.Accuracy, ["train_nll"] = tr.Nll, ["test_acc"] = te.Accuracy, ["seconds"] = sw.Elapsed.TotalSeconds });
            Console.WriteLine($"epoch {e}: lr {rate} loss {loss:F5} train acc {tr.Accuracy:F4} test acc {te.Accuracy:F4} ({sw.Elapsed.TotalMinutes:F1} min)");
        }
        File.WriteAllText(Path.Combine(outDir, "train_log.json"), new JsonObject
        {
            ["samples"] = n, ["per_class"] = perClass, ["epochs"] = epochs, ["seed"] = seed, ["lr"] = lr, ["weight_decay"] = wd, ["test_samples"] = nTest,
            ["optimizer"] = $"SGD momentum 0.9, batch {batch}, lr ÷10 at epochs/2 and 3·epochs/4", ["log"] = log,
        }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"training done in {sw.Elapsed.TotalMinutes:F1} min");
    }

    /// <summary>Tabulates the nc_eNNN.json files that <c>cartan collapse --json</c> wrote beside the training log.</summary>
    public static void Report(Dictionary<string, string> o)
    {
        string outDir = o.Get("out", "experiments/collapse/results");
        var log = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "train_log.json")))!;
        var sb = new StringBuilder();
        sb.AppendLine($"{log["samples"]} training images ({log["per_class"]} per class), seed {log["seed"]}, {log["epochs"]} epochs, {log["optimizer"]}, lr {log["lr"]}, weight decay {log["weight_decay"]}; test accuracy on the first {log["test_samples"]} test images.");
        sb.AppendLine();
        sb.AppendLine("| epoch | lr | train loss | train acc | test acc | NC1 | NC2 | NC3 | NC4 | span intersection | overlap | reading |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        string F(JsonNode? v, string fmt = "0.0000") => v is null ? "–" : ((double)v).ToString(fmt, CultureInfo.InvariantCulture);
        foreach (var e in log["log"]!.AsArray())
        {
            string tag = ((int)e!["epoch"]!).ToString("D3", CultureInfo.InvariantCulture);
            string p = Path.Combine(outDir, $"nc_e{tag}.json");
            if (!File.Exists(p)) continue;
            var r = JsonNode.Parse(File.ReadAllText(p))!;
            sb.AppendLine($"| {e["epoch"]} | {F(e["lr"], "0.####")} | {F(e["train_loss"], "0.00000")} | {F(e["train_acc"])} | {F(e["test_acc"])} | {F(r["nc1"])} | {F(r["nc2"])} | {F(r["nc3"])} | {F(r["nc4"])} | {r["subspace_intersection"]} | {F(r["subspace_overlap"])} | {r["reading"]} |");
        }
        File.WriteAllText(Path.Combine(outDir, "tables.md"), sb.ToString());
        Console.Write(sb.ToString());
    }
}

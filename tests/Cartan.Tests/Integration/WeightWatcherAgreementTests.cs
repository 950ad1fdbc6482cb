using System.Globalization;
using Cartan.Engine;
using Cartan.Formats;
using Cartan.Graph;
using Cartan.Report;

namespace Cartan.Tests.Integration;

/// <summary>
/// Our WW-compatible block against the real WeightWatcher 0.7.5.5: golden CSVs written by ww-run
/// (Fixtures/ww/make_ww_golden.py). Every layer WW analysed is matched by tensor name; dense layers use the default
/// view, convolutions the pooled per-tap view (<see cref="MatrixView.Tap"/>, λ = σ²/2 per tap).
/// </summary>
public class WeightWatcherAgreementTests
{
    public static TheoryData<string, string> Cases() => new()
    {
        { "ww/small.csv", "safetensors/small.safetensors" },
        { "ww/langdetect.csv", "safetensors/langdetect/langdetect.safetensors" },
        { "ww/resnet_mini.csv", "ww/resnet_mini.safetensors" },
        { "ww/vit_mini.csv", "ww/vit_mini.safetensors" },
    };

    internal static List<Dictionary<string, string>> ReadCsv(string path)
    {
        var lines = File.ReadAllLines(path);
        var head = lines[0].Split(',');
        // WW's CSV has no quoted fields in these files (names hold no commas): check rather than assume.
        return lines.Skip(1).Where(l => l.Length > 0).Select(l =>
        {
            var cells = l.Split(',');
            Assert.Equal(head.Length, cells.Length);
            return head.Zip(cells).ToDictionary(p => p.First, p => p.Second);
        }).ToList();
    }

    /// <summary>(csv, tensor, dtype, conv, |Δα|, |Δxmin|/xmin) of every compared layer (for the report).</summary>
    internal static readonly System.Collections.Concurrent.ConcurrentBag<(string Csv, string Tensor, string DType, bool Conv, double DAlpha, double RelXmin)> Diffs = [];

    private static double D(string s) => double.Parse(s, CultureInfo.InvariantCulture);

    private static double? Get(IReadOnlyDictionary<string, object?> extra, string block, string key)
    {
        if (!extra.TryGetValue(block, out var b) || b is not IEnumerable<KeyValuePair<string, object?>> kv) return null;
        var v = kv.FirstOrDefault(p => p.Key == key).Value;
        return v switch { double d => d, int i => i, _ => null };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void WwAlphaAndXmin_AgreeWithWeightWatcher(string csv, string modelPath)
    {
        var rows = ReadCsv(TestPaths.Fixture(csv.Split('/')));
        Assert.NotEmpty(rows);
        var gopts = new GraphOptions { ConvView = MatrixView.Tap, IncludeEmbeddings = true, InferPairs = false };
        using var model = WeightSource.Open(TestPaths.Fixture(modelPath.Split('/')));
        var graph = ModelGraph.Build(model, gopts);
        var result = Analyzer.Run(model, graph, new AnalyzeOptions { Graph = gopts, SpectraOnly = true });
        // Packed tensors (ViT in_proj_weight) give several layers per tensor; WW does not analyse them.
        var byTensor = graph.Layers.Zip(result.Layers).GroupBy(p => p.First.TensorName).Where(g => g.Count() == 1)
            .ToDictionary(g => g.Key, g => (Spec: g.First().First, Rec: g.First().Second));

        int compared = 0;
        var problems = new List<string>();
        foreach (var row in rows)
        {
            var name = row["tensor_name"];
            Assert.True(byTensor.TryGetValue(name, out var layer), $"{csv}: WW analysed {name} but our graph has no layer for it");
            var (spec, rec) = layer;
            Assert.Equal(row["layer_type"] == "conv2d", spec.IsConv);
            if (spec.IsConv) Assert.Equal("tap", rec.View);
            if (row["status"] != "success")
            {
                // WW fails on an all-zero matrix (alpha = -1); we skip it with a reason.
                Assert.True(rec.Status == "skipped" || Get(rec.Extra, "ww", "alpha") is null, $"{name}: WW failed but we fitted");
                continue;
            }
            double? alpha = Get(rec.Extra, "ww", "alpha"), xmin = Get(rec.Extra, "ww", "xmin"), ks = Get(rec.Extra, "ww", "ks_d");
            double? spikes = Get(rec.Extra, "ww", "num_pl_spikes"), logNorm = Get(rec.Extra, "ww", "log_norm"), logSpec = Get(rec.Extra, "ww", "log_spectral_norm");
            if (alpha is null || xmin is null) { problems.Add($"{name}: no ww fit ({rec.Status}: {rec.Reason})"); continue; }
            double wa = D(row["alpha"]), wx = D(row["xmin"]);
            // WW rounds its input to float32 (RMT_Util.torch_T_to_np = T.float().numpy()) and multiplies conv taps by
            // √½ in float32 (numpy keeps float32 for a float32 array times a float64 scalar, weightwatcher.py:2868);
            // its SVD is float64. So F32 dense layers are bit-comparable (1e-9), while F64 layers and conv taps carry
            // WW's float32 rounding (relative ~1e-7 on λ): there xmin must be the same order statistic (num_pl_spikes
            // equal, checked below) and equal to 1e-6 relative.
            bool wwRounds = spec.IsConv || spec.DType == "F64";
            double rel = wwRounds ? 1e-6 : 1e-9;
            Diffs.Add((csv, name, spec.DType, spec.IsConv, Math.Abs(alpha.Value - wa), Math.Abs(xmin.Value - wx) / Math.Abs(wx)));
            if (Math.Abs(alpha.Value - wa) > 1e-3) problems.Add($"{name}: alpha {alpha} vs WW {wa}");
            if (Math.Abs(xmin.Value - wx) > rel * Math.Abs(wx)) problems.Add($"{name}: xmin {xmin} vs WW {wx}");
            if (Math.Abs(ks!.Value - D(row["D"])) > 1e-6) problems.Add($"{name}: D {ks} vs WW {row["D"]}");
            if (spikes != D(row["num_pl_spikes"])) problems.Add($"{name}: num_pl_spikes {spikes} vs WW {row["num_pl_spikes"]}");
            if (Math.Abs(logNorm!.Value - D(row["log_norm"])) > rel) problems.Add($"{name}: log_norm {logNorm} vs WW {row["log_norm"]}");
            if (Math.Abs(logSpec!.Value - D(row["log_spectral_norm"])) > rel) problems.Add($"{name}: log_spectral_norm {logSpec} vs WW {row["log_spectral_norm"]}");
            compared++;
        }
        foreach (var d in Diffs.Where(d => d.Csv == csv))
            Console.WriteLine($"WWDIFF {d.Csv} {d.Tensor} {d.DType} {(d.Conv ? "conv" : "dense")} dalpha={d.DAlpha:E2} relxmin={d.RelXmin:E2}");
        Assert.True(problems.Count == 0, $"{csv}: {problems.Count} disagreement(s): {string.Join("; ", problems)}");
        Assert.True(compared >= rows.Count - 1, $"{csv}: compared only {compared} of {rows.Count} layers");
    }
}

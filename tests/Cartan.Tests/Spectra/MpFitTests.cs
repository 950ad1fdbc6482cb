using System.Globalization;
using Cartan.Engine;
using Cartan.Formats;
using Cartan.Graph;
using Cartan.Spectra;
using Cartan.Tests.Integration;

namespace Cartan.Tests.Spectra;

/// <summary>
/// The Marchenko–Pastur bulk fit against the real WeightWatcher 0.7.5.5 run with <c>--mp-fit</c>
/// (golden CSVs in Fixtures/ww/mp, command in its README). Two levels:
/// (1) <see cref="MpFit.Compute"/> on WW's own input (the weights rounded to float32, conv taps multiplied by √½ in
/// float32, as WW does), so the fit itself is compared: σ_mp, W_scale, bulk_max, mp_softrank to 1e-12 relative
/// (measured ≤ 2e-15: the grid, the Nelder–Mead polish and numpy's pairwise sums are replicated step by step; what is
/// left is the SVD's last bits), num_spikes exactly;
/// (2) the analyzer's <c>ww</c> block (λ = σ²/2 per tap in float64, no float32 rounding, which moves conv λ by up to
/// 1e-6 relative and σ_mp by ~1e-8, but not the scale-free λ₊/λ_max): mp_softrank to 1e-9 relative, num_spikes exactly.
/// </summary>
public class MpFitTests
{
    public static TheoryData<string, string> Cases() => new()
    {
        { "ww/mp/small.csv", "safetensors/small.safetensors" },
        { "ww/mp/langdetect.csv", "safetensors/langdetect/langdetect.safetensors" },
        { "ww/mp/resnet_mini.csv", "ww/resnet_mini.safetensors" },
        { "ww/mp/vit_mini.csv", "ww/vit_mini.safetensors" },
    };

    private static double D(string s) => double.Parse(s, CultureInfo.InvariantCulture);
    private static double Rel(double a, double b) => Math.Abs(a - b) / Math.Max(Math.Abs(b), 1e-300);

    private static double? Get(IReadOnlyDictionary<string, object?> extra, string key)
    {
        if (!extra.TryGetValue("ww", out var b) || b is not IEnumerable<KeyValuePair<string, object?>> kv) return null;
        var v = kv.FirstOrDefault(p => p.Key == key).Value;
        return v switch { double d => d, int i => i, _ => null };
    }

    /// <summary>WW's ESD of a layer: weights rounded to float32, conv taps scaled by √½ in float32, SVD in float64, taps pooled.</summary>
    private static double[] WwEigenvalues(LayerSpec spec)
    {
        var a = spec.Load();
        bool tap = spec.IsConv && spec.View == MatrixView.Tap;
        float half = (float)Math.Sqrt(0.5);
        for (int i = 0; i < a.Length; i++) a[i] = tap ? (float)a[i] * half : (float)a[i];
        int block = spec.Rows * spec.Cols, taps = a.Length / block;
        var ev = new List<double>();
        for (int t = 0; t < taps; t++)
            foreach (var s in Cartan.Linalg.Lapack.SingularValues(a.AsSpan(t * block, block), spec.Rows, spec.Cols)) ev.Add(s * s);
        return [.. ev];
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MpFit_AgreesWithWeightWatcher(string csv, string modelPath)
    {
        var rows = WeightWatcherAgreementTests.ReadCsv(TestPaths.Fixture(csv.Split('/')));
        Assert.NotEmpty(rows);
        var gopts = new GraphOptions { ConvView = MatrixView.Tap, IncludeEmbeddings = true, InferPairs = false };
        using var model = WeightSource.Open(TestPaths.Fixture(modelPath.Split('/')));
        var graph = ModelGraph.Build(model, gopts);
        var result = Analyzer.Run(model, graph, new AnalyzeOptions { Graph = gopts, SpectraOnly = true });
        var byTensor = graph.Layers.Zip(result.Layers).GroupBy(p => p.First.TensorName).Where(g => g.Count() == 1)
            .ToDictionary(g => g.Key, g => (Spec: g.First().First, Rec: g.First().Second));

        int compared = 0, failed = 0;
        double maxSigma = 0, maxSoft = 0, maxAnalyzerSoft = 0;
        var problems = new List<string>();
        foreach (var row in rows)
        {
            var name = row["tensor_name"];
            Assert.True(byTensor.TryGetValue(name, out var layer), $"{csv}: WW analysed {name} but our graph has no layer for it");
            var (spec, rec) = layer;
            if (D(row["sigma_mp"]) == -1)
            {
                // WW's fit raised (all-zero matrix: W_scale = ∞): we skip the layer or give no MP values.
                Assert.True(rec.Status == "skipped" || Get(rec.Extra, "mp_softrank") is null, $"{name}: WW's MP fit failed but we fitted");
                failed++;
                continue;
            }
            Assert.Equal(D(row["N"]), Math.Max(spec.Rows, spec.Cols));
            Assert.Equal(D(row["M"]), Math.Min(spec.Rows, spec.Cols));

            // (1) The fit on WW's own eigenvalues.
            var ev = WwEigenvalues(spec);
            Assert.Equal((int)D(row["num_evals"]), ev.Length);
            var fit = MpFit.Compute(ev, spec.Rows, spec.Cols);
            Assert.NotNull(fit);
            double ds = Rel(fit.SigmaMp, D(row["sigma_mp"])), dso = Rel(fit.MpSoftrank, D(row["mp_softrank"]));
            maxSigma = Math.Max(maxSigma, ds); maxSoft = Math.Max(maxSoft, dso);
            if (ds > 1e-12) problems.Add($"{name}: sigma_mp {fit.SigmaMp:R} vs WW {row["sigma_mp"]}");
            if (dso > 1e-12) problems.Add($"{name}: mp_softrank {fit.MpSoftrank:R} vs WW {row["mp_softrank"]}");
            if (Rel(fit.WScale, D(row["W_scale"])) > 1e-12) problems.Add($"{name}: W_scale {fit.WScale:R} vs WW {row["W_scale"]}");
            if (Rel(fit.BulkMax, D(row["bulk_max"])) > 1e-12) problems.Add($"{name}: bulk_max {fit.BulkMax:R} vs WW {row["bulk_max"]}");
            if (fit.NumSpikes != D(row["num_spikes"])) problems.Add($"{name}: num_spikes {fit.NumSpikes} vs WW {row["num_spikes"]}");
            Assert.Equal(D(row["Q"]), fit.Q);

            // (2) The analyzer's ww block (its own float64 λ).
            double? soft = Get(rec.Extra, "mp_softrank"), spikes = Get(rec.Extra, "num_spikes");
            if (soft is null || spikes is null) { problems.Add($"{name}: analyzer gave no mp_softrank/num_spikes"); continue; }
            double da = Rel(soft.Value, D(row["mp_softrank"]));
            maxAnalyzerSoft = Math.Max(maxAnalyzerSoft, da);
            if (da > 1e-9) problems.Add($"{name}: analyzer mp_softrank {soft:R} vs WW {row["mp_softrank"]}");
            if (spikes != D(row["num_spikes"])) problems.Add($"{name}: analyzer num_spikes {spikes} vs WW {row["num_spikes"]}");
            compared++;
        }
        Console.WriteLine($"MPDIFF {csv}: layers={compared} failed={failed} max rel sigma_mp={maxSigma:E2} mp_softrank={maxSoft:E2} analyzer mp_softrank={maxAnalyzerSoft:E2}");
        Assert.True(problems.Count == 0, $"{csv}: {problems.Count} disagreement(s): {string.Join("; ", problems)}");
        Assert.Equal(rows.Count, compared + failed);
        Assert.True(compared >= rows.Count - 1);
    }
}

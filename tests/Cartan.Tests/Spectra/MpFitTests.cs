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

    /// <summary>
    /// WW's own <c>mp_fit</c> on synthetic ESDs (Fixtures/ww/mp/make_mp_synthetic.py): spiked Wishart for Q = 1, 1.5, 2, 4,
    /// 5, 10, heavy tails, a pooled conv ESD, M = 2 and 3, an orthogonal matrix, a near-degenerate one, an all-zero one
    /// (WW fails: we return null). Same eigenvalues in, so σ_mp, mp_softrank, W_scale, bulk_max/min to 1e-12 relative,
    /// num_spikes exactly; plus the closed forms λ± = (σ_mp(1 ± 1/√Q))², TW = Q^{-1/2}λ₊^{2/3}M^{-2/3}.
    /// </summary>
    [Fact]
    public void MpFit_SyntheticEsds_AgreeWithWeightWatcher()
    {
        var rows = WeightWatcherAgreementTests.ReadCsv(TestPaths.Fixture("ww", "mp", "synthetic.csv"));
        Assert.True(rows.Count >= 14);
        int withSpikes = 0, quarter = 0;
        double worst = 0;
        var problems = new List<string>();
        foreach (var row in rows)
        {
            var name = row["case"];
            var ev = row["evals"].Split(' ').Select(D).ToArray();
            int n = (int)D(row["N"]), m = (int)D(row["M"]);
            var fit = MpFit.Compute(ev, n, m);
            if (D(row["sigma_mp"]) == -1) { Assert.True(fit is null, $"{name}: WW failed but we fitted"); continue; }
            Assert.True(fit is not null, $"{name}: WW fitted but we returned null");
            foreach (var (col, ours) in new[] { ("sigma_mp", fit.SigmaMp), ("mp_softrank", fit.MpSoftrank), ("W_scale", fit.WScale),
                         ("bulk_max", fit.BulkMax), ("bulk_min", fit.BulkMin) })
            {
                double want = D(row[col]);
                double r = col == "bulk_min" && want == 0 ? Math.Abs(ours) : Rel(ours, want);
                worst = Math.Max(worst, r);
                if (r > 1e-12) problems.Add($"{name}: {col} {ours:R} vs WW {row[col]}");
            }
            if (fit.NumSpikes != (int)D(row["num_spikes"])) problems.Add($"{name}: num_spikes {fit.NumSpikes} vs WW {row["num_spikes"]}");
            if (fit.NumSpikes > 0) withSpikes++;
            if (fit.QuarterCircle) quarter++;
            // Closed forms of the edges and the Tracy–Widom cut.
            double q = (double)Math.Max(n, m) / Math.Min(n, m);
            Assert.Equal(q == 1, fit.QuarterCircle);
            Assert.Equal(Math.Pow(fit.SigmaMp * (1 + 1 / Math.Sqrt(q)), 2), fit.LambdaPlus, 12);
            Assert.Equal(Math.Pow(fit.SigmaMp * (1 - 1 / Math.Sqrt(q)), 2), fit.LambdaMinus, 12);
            Assert.Equal(Math.Pow(q, -0.5) * Math.Pow(fit.LambdaPlus, 2.0 / 3) * Math.Pow(Math.Min(n, m), -2.0 / 3), fit.TracyWidom, 12);
            double s2 = fit.WScale * fit.WScale, cut = fit.LambdaPlus + Math.Sqrt(fit.TracyWidom);
            Assert.Equal(ev.Count(v => s2 * v > cut), fit.NumSpikes);
            Assert.Equal(fit.LambdaPlus / (s2 * ev.Max()), fit.MpSoftrank, 12);
            Assert.Equal(ev.Length, s2 * ev.Sum(), 9); // rescaled to mean 1
        }
        Console.WriteLine($"MPDIFF synthetic: cases={rows.Count} with spikes={withSpikes} quarter-circle={quarter} max rel diff={worst:E2}");
        Assert.True(problems.Count == 0, $"{problems.Count} disagreement(s): {string.Join("; ", problems)}");
        Assert.True(withSpikes >= 5 && quarter >= 3);
    }

    [Fact]
    public void MpFit_RejectsBadInput()
    {
        Assert.Null(MpFit.Compute([], 4, 2));
        Assert.Null(MpFit.Compute([1.0, double.NaN], 4, 2));
        Assert.Null(MpFit.Compute([1.0, -1.0], 4, 2));
        Assert.Null(MpFit.Compute([0.0, 0.0], 4, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => MpFit.Compute([1.0], 0, 2));
        // Scale invariance: the fit sees λ rescaled to mean 1, so multiplying W by c changes only W_scale (and bulk_max by c²).
        var rng = new Random(7);
        var ev = Enumerable.Range(0, 60).Select(_ => Math.Pow(rng.NextDouble(), 2) * 3).ToArray();
        var a = MpFit.Compute(ev, 120, 60)!;
        var b = MpFit.Compute(ev.Select(v => v * 4).ToArray(), 120, 60)!; // c = 2: exact in binary
        Assert.Equal(a.SigmaMp, b.SigmaMp);
        Assert.Equal(a.NumSpikes, b.NumSpikes);
        Assert.Equal(a.WScale / 2, b.WScale);
        Assert.Equal(a.BulkMax * 4, b.BulkMax, 12);
    }
}

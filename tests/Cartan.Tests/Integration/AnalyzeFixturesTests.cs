using System.Collections;
using System.Text.Json;
using Cartan.Engine;
using Cartan.Formats;
using Cartan.Graph;
using Cartan.Report;

namespace Cartan.Tests.Integration;

/// <summary>
/// End-to-end: every fixture model (and the embedded default) goes through ModelGraph.Build + Analyzer.Run and the
/// JSON writer, and through the CLI in-process. Checks the output contract's invariants and the two theorems that
/// must hold on real weights: the interface truncation bound (oracle 5) and the chain budget of variant A.
/// </summary>
public class AnalyzeFixturesTests
{
    /// <summary>Fixture models (path relative to Fixtures/), with whether the full analysis is run or spectra only.</summary>
    public static readonly (string Path, bool SpectraOnly)[] Models =
    [
        ("safetensors/small.safetensors", false),
        ("safetensors/sharded/model.safetensors.index.json", false),
        ("safetensors/langdetect/langdetect.safetensors", false),
        ("npy/f2.npy", false), ("npy/f4.npy", false), ("npy/f8.npy", false), ("npy/fortran.npy", false),
        ("npy/fortran3d.npy", false), ("npy/bigendian.npy", false), ("npy/v2.npy", false), ("npy/v3.npy", false),
        ("npy/i1.npy", false), ("npy/i2.npy", false), ("npy/i4.npy", false), ("npy/i8.npy", false),
        ("npy/u1.npy", false), ("npy/u2.npy", false), ("npy/b1.npy", false),
        ("npy/stored.npz", false), ("npy/deflated.npz", false),
        ("onnx/generated/dtypes/model.onnx", false), ("onnx/generated/external/model.onnx", false),
        ("onnx/generated/gemm/model.onnx", false), ("onnx/generated/if/model.onnx", false),
        ("onnx/testdata/Conv1d_groups/model.onnx", false), ("onnx/testdata/Conv2d/model.onnx", false),
        ("onnx/testdata/ConvTranspose2d/model.onnx", false), ("onnx/testdata/Linear/model.onnx", false),
        ("onnx/testdata/constant/model.onnx", false), ("onnx/testdata/non_float_params/model.onnx", false),
        ("onnx/testdata/sequence_model2/model.onnx", false),
        ("onnx/ppocr_rec/ch_PP-OCRv4_rec_infer.onnx", false),
        ("onnx/silero_vad/silero_vad_v5.onnx", false),
        ("tfjs/vscode-languagedetection/model.json", false),
        ("tfjs/esrgan-slim-x2/model.json", false),
        ("tfjs/face-api-landmark68tiny/face_landmark_68_tiny_model-weights_manifest.json", false),
        ("tfjs/energetic-embeddings-en/model.json", false),
        ("gguf/all_types.gguf", false), ("gguf/tiny_llama.gguf", false),
        ("pytorch/model.pt", false), ("pytorch/model_p4.pt", false), ("pytorch/nested.pt", false),
    ];

    public static TheoryData<string> ModelPaths()
    {
        var d = new TheoryData<string>();
        foreach (var (p, _) in Models) d.Add(p);
        return d;
    }

    private static AnalyzeOptions OptionsFor(string path) =>
        new() { SpectraOnly = Models.First(m => m.Path == path).SpectraOnly, Parallelism = Environment.ProcessorCount };

    [Theory]
    [MemberData(nameof(ModelPaths))]
    public void Analyze_FixtureModel_ContractHolds(string path)
    {
        using var model = WeightSource.Open(TestPaths.Fixture(path.Split('/')));
        var graph = ModelGraph.Build(model, new GraphOptions());
        Assert.Empty(graph.Errors);
        var result = Analyzer.Run(model, graph, OptionsFor(path));
        CheckResult(result, path);
    }

    [Fact]
    public void Analyze_EmbeddedDefault_ContractHolds()
    {
        using var model = Cartan.Cli.DefaultModel.Open();
        var graph = ModelGraph.Build(model, new GraphOptions());
        Assert.Empty(graph.Errors);
        var result = Analyzer.Run(model, graph, new AnalyzeOptions());
        Assert.NotEmpty(result.Layers);
        Assert.NotEmpty(result.Interfaces);
        Assert.NotEmpty(result.Chains);
        CheckResult(result, "default");
    }

    [Theory]
    [MemberData(nameof(ModelPaths))]
    public void Analyze_FixtureModel_ConvTapView_ContractHolds(string path)
    {
        // The WW-compatible per-tap view only changes conv layers: run it spectra-only on the models that have any.
        using var model = WeightSource.Open(TestPaths.Fixture(path.Split('/')));
        var graph = ModelGraph.Build(model, new GraphOptions { ConvView = MatrixView.Tap });
        if (!graph.Layers.Any(l => l.IsConv)) return;
        var result = Analyzer.Run(model, graph, new AnalyzeOptions { SpectraOnly = true, Graph = new GraphOptions { ConvView = MatrixView.Tap } });
        CheckResult(result, path + " (tap)");
        Assert.Contains(result.Layers, l => l.View == "tap");
    }

    public static TheoryData<string> CliPaths()
    {
        // The CLI is a thin shell over Analyzer.Run (checked above on every model): one model per format plus the default.
        return new TheoryData<string>
        {
            "", "safetensors/langdetect/langdetect.safetensors", "npy/deflated.npz", "onnx/silero_vad/silero_vad_v5.onnx",
            "tfjs/vscode-languagedetection/model.json", "gguf/tiny_llama.gguf", "pytorch/nested.pt",
        };
    }

    [Theory]
    [MemberData(nameof(CliPaths))]
    public void Cli_Analyze_WritesAllOutputs(string path)
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            var args = new List<string> { "analyze" };
            if (path.Length > 0) args.Add(TestPaths.Fixture(path.Split('/')));
            args.AddRange(["--out", dir, "--quiet"]);
            var (stdout, stderr) = (new StringWriter(), new StringWriter());
            int rc = Cartan.Cli.Cli.Run([.. args], stdout, stderr);
            Assert.True(rc == 0, $"cartan analyze {path} exited {rc}: {stderr}");
            foreach (var f in new[] { "analysis.json", "layers.csv", "report.html" })
                Assert.True(File.Exists(Path.Combine(dir, f)) && new FileInfo(Path.Combine(dir, f)).Length > 0, $"{f} missing or empty");
            var text = File.ReadAllText(Path.Combine(dir, "analysis.json"));
            CheckJson(text, path);
            using var doc = JsonDocument.Parse(text);
            Assert.Equal(File.ReadAllLines(Path.Combine(dir, "layers.csv")).Length - 1, doc.RootElement.GetProperty("layers").GetArrayLength());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    // ------------------------------------------------------------------ checks

    internal static void CheckResult(AnalysisResult result, string what)
    {
        var bad = new List<string>();
        NonFinite(result.Layers.Select(l => (l.Name, (object?)l.Extra)), bad);
        NonFinite(result.Interfaces.Select(i => ($"{i.From} → {i.To}", (object?)i.Extra)), bad);
        NonFinite(result.Chains.Select(c => (c["name"]?.ToString() ?? "?", (object?)c)), bad);
        NonFinite(result.Heads.Select(h => (h["layer"]?.ToString() ?? "?", (object?)h)), bad);
        foreach (var l in result.Layers)
        {
            if (l.Sigma is { } s && s.Any(v => !double.IsFinite(v))) bad.Add($"{l.Name}: sigma");
            if (l.Frobenius is double f && !double.IsFinite(f)) bad.Add($"{l.Name}: frobenius");
            if (l.StableRank is double r && !double.IsFinite(r)) bad.Add($"{l.Name}: stable_rank");
        }
        Assert.True(bad.Count == 0, $"{what}: non-finite values: {string.Join("; ", bad.Take(10))}");
        CheckJson(JsonReport.ToJson(result), what);
    }

    private static void NonFinite(IEnumerable<(string Where, object? Value)> items, List<string> bad)
    {
        foreach (var (where, v) in items) Walk(where, v, bad);
    }

    private static void Walk(string where, object? v, List<string> bad)
    {
        switch (v)
        {
            case double d when !double.IsFinite(d): bad.Add(where); break;
            case float f when !float.IsFinite(f): bad.Add(where); break;
            case null or string or bool or int or long or double or float: break;
            case IEnumerable<KeyValuePair<string, object?>> dict:
                foreach (var kv in dict) Walk(where + "." + kv.Key, kv.Value, bad);
                break;
            case IEnumerable e:
                int i = 0;
                foreach (var x in e) Walk($"{where}[{i++}]", x, bad);
                break;
        }
    }

    /// <summary>The contract checks on the written JSON.</summary>
    internal static void CheckJson(string text, string what)
    {
        foreach (var token in new[] { "NaN", "Infinity" })
            Assert.False(System.Text.RegularExpressions.Regex.IsMatch(text, $@"[:\[,]\s*-?{token}\b"), $"{what}: JSON holds a {token} token");
        using var doc = JsonDocument.Parse(text);
        var root = doc.RootElement;
        Assert.Equal("cartan.analysis/1", root.GetProperty("schema").GetString());
        foreach (var l in root.GetProperty("layers").EnumerateArray())
        {
            var name = l.GetProperty("name").GetString();
            var status = l.GetProperty("status").GetString();
            Assert.Contains(status, new[] { "ok", "unreliable", "skipped", "failed" });
            if (status != "ok")
                Assert.True(l.GetProperty("reason").ValueKind == JsonValueKind.String && l.GetProperty("reason").GetString()!.Length > 0,
                    $"{what}: layer {name} has status {status} but no reason");
        }
        foreach (var i in root.GetProperty("interfaces").EnumerateArray())
        {
            var name = $"{i.GetProperty("from").GetString()} → {i.GetProperty("to").GetString()}";
            var status = i.GetProperty("status").GetString();
            if (status != "ok")
                Assert.True(i.GetProperty("reason").ValueKind == JsonValueKind.String, $"{what}: interface {name} has status {status} but no reason");
            if (i.TryGetProperty("transport", out var t))
                Assert.True(t.GetProperty("bound_holds").GetBoolean(),
                    $"{what}: interface {name}: transport error {t.GetProperty("error")} > bound {t.GetProperty("bound")} (oracle 5 violated)");
            else
                Assert.NotEqual("ok", status);
        }
        foreach (var c in root.GetProperty("chains").EnumerateArray())
        {
            var name = c.GetProperty("name").GetString();
            Assert.True(c.GetProperty("bound_holds").GetBoolean(),
                $"{what}: chain {name}: total variation {c.GetProperty("total_variation")} vs bound {c.GetProperty("bound")} (variant A violated: a bug)");
        }
    }
}

using System.Text.Json;
using System.Text.Json.Nodes;
using Cartan.Engine;
using Cartan.Formats;
using Cartan.Graph;
using Cartan.Report;
using Cartan.Tensors;

namespace Cartan.Tests.Engine;

/// <summary>
/// These tests compare analyses bit for bit. OpenBLAS's thread count is process-wide (the analyzer sets it per phase),
/// and a different count can change the last bits of a product; so they run alone, not while other test classes in the
/// same process change it. (One `cartan` process runs one analysis, so the CLI is not affected.)
/// </summary>
[Collection("timing")]
public class ShardMergeTests
{
    /// <summary>A 3-block LLaMA-style model with seeded Gaussian weights (in memory).</summary>
    private static WeightModel RandomLlama(int seed)
    {
        var rng = new Random(seed);
        int d = 48, H = 4, G = 2, ff = 64, hd = d / H;
        var tensors = new List<WeightTensor>();
        void Add(string name, params long[] shape)
        {
            long n = shape.Aggregate(1L, (a, b) => a * b);
            var data = new double[n];
            for (long i = 0; i < n; i++) data[i] = Cartan.Alignment.HeadOverlap.Gaussian(rng) / Math.Sqrt(shape[^1]);
            tensors.Add(new WeightTensor(name, shape, DType.F64, "F64", () => (double[])data.Clone()));
        }
        for (int b = 0; b < 3; b++)
        {
            var p = $"model.layers.{b}.";
            Add(p + "self_attn.q_proj.weight", H * hd, d);
            Add(p + "self_attn.k_proj.weight", G * hd, d);
            Add(p + "self_attn.v_proj.weight", G * hd, d);
            Add(p + "self_attn.o_proj.weight", d, H * hd);
            Add(p + "mlp.gate_proj.weight", ff, d);
            Add(p + "mlp.up_proj.weight", ff, d);
            Add(p + "mlp.down_proj.weight", d, ff);
        }
        var m = new WeightModel("random-llama", "safetensors", tensors);
        using var cfg = JsonDocument.Parse($$"""{"model_type":"llama","num_attention_heads":{{H}},"num_key_value_heads":{{G}},"hidden_size":{{d}}}""");
        m.Config = cfg.RootElement.Clone();
        return m;
    }

    private static JsonNode Strip(string json)
    {
        var node = JsonNode.Parse(json)!;
        node.AsObject().Remove("seconds");
        return node;
    }

    private static AnalyzeOptions Options(int parallelism, (int, int)? shard = null) =>
        new() { Parallelism = parallelism, Shard = shard, Heads = new() { Draws = 20 }, Pam = new() { PerturbationCount = 4 } };

    [Fact]
    public void Merged_shards_equal_a_single_run()
    {
        using var model = RandomLlama(1);
        var graph = ModelGraph.Build(model);
        Assert.NotEmpty(graph.Interfaces);
        var single = JsonReport.ToJson(Analyzer.Run(model, graph, Options(2)));
        var dir = TestPaths.NewTempDir();
        var parts = new List<AnalysisResult>();
        for (int i = 0; i < 3; i++)
        {
            var part = Analyzer.Run(model, graph, Options(2, (i, 3)));
            Assert.All(part.Layers, l => Assert.Equal(i, graph.Layers.ToList().FindIndex(x => x.Name == l.Name) % 3));
            Assert.Empty(part.Chains);
            var path = Path.Combine(dir, $"part{i}.json");
            JsonReport.Write(part, path);
            parts.Add(JsonRead.Read(path));
        }
        parts.Reverse(); // order of the parts on the command line does not matter
        var merged = JsonReport.ToJson(Merge.Parts(parts));
        if (!JsonNode.DeepEquals(Strip(single), Strip(merged)))
        {
            File.WriteAllText(Path.Combine(dir, "single.json"), single);
            File.WriteAllText(Path.Combine(dir, "merged.json"), merged);
            var a = Strip(single).AsObject();
            var b = Strip(merged).AsObject();
            var diff = a.Select(kv => kv.Key).Where(k => !JsonNode.DeepEquals(a[k], b[k]));
            Assert.Fail($"merged JSON differs from the single run in: {string.Join(", ", diff)} (files in {dir})");
        }
        using var doc = JsonDocument.Parse(merged);
        Assert.NotEqual(0, doc.RootElement.GetProperty("chains").GetArrayLength());
        Assert.NotEqual(0, doc.RootElement.GetProperty("heads").GetArrayLength());
        Assert.False(doc.RootElement.TryGetProperty("shard", out _));
    }

    [Fact]
    public void Results_do_not_depend_on_the_parallelism()
    {
        using var model = RandomLlama(2);
        var graph = ModelGraph.Build(model);
        var one = JsonReport.ToJson(Analyzer.Run(model, graph, Options(1)));
        var two = JsonReport.ToJson(Analyzer.Run(model, graph, Options(2)));
        Assert.True(JsonNode.DeepEquals(Strip(one), Strip(two)));
    }

    [Fact]
    public void Results_do_not_depend_on_the_memory_budget()
    {
        using var model = RandomLlama(4);
        var graph = ModelGraph.Build(model);
        var notices = new List<string>();
        var free = Strip(JsonReport.ToJson(Analyzer.Run(model, graph, Options(2))));
        var tight = Strip(JsonReport.ToJson(Analyzer.Run(model, graph, Options(2) with { MaxMemory = 1, Notice = n => { lock (notices) notices.Add(n); } })));
        // Every job is larger than 1 byte: each runs alone, with a note, and the numbers are the same.
        Assert.Equal(graph.Layers.Count + graph.Interfaces.Count, notices.Count(n => !n.StartsWith("heads", StringComparison.Ordinal) && !n.StartsWith("head composition", StringComparison.Ordinal)));
        Assert.Contains(notices, n => n.Contains("more than --max-memory", StringComparison.Ordinal));
        foreach (var key in new[] { "layers", "interfaces", "heads", "chains", "summary" })
            Assert.True(JsonNode.DeepEquals(free[key], tight[key]), $"{key} differs with a memory budget");
    }

    [Fact]
    public void Merge_refuses_incomplete_or_mismatched_parts()
    {
        using var model = RandomLlama(3);
        var graph = ModelGraph.Build(model);
        var p0 = Analyzer.Run(model, graph, Options(2, (0, 2)) with { SpectraOnly = true });
        var p1 = Analyzer.Run(model, graph, Options(2, (1, 2)) with { SpectraOnly = true });
        Assert.Throws<AnalysisReadException>(() => Merge.Parts([p0]));
        Assert.Throws<AnalysisReadException>(() => Merge.Parts([p0, p0]));
        var other = Analyzer.Run(model, graph, Options(2, (1, 2)) with { SpectraOnly = true, Seed = 5 });
        Assert.Throws<AnalysisReadException>(() => Merge.Parts([p0, other]));
        var full = Analyzer.Run(model, graph, Options(2) with { SpectraOnly = true });
        Assert.Throws<AnalysisReadException>(() => Merge.Parts([full]));
        Assert.Equal(graph.Layers.Count, Merge.Parts([p1, p0]).Layers.Count);
    }
}

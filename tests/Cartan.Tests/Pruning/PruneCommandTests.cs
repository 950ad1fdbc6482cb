using System.Security.Cryptography;
using System.Text.Json;
using Cartan.Cli;
using Cartan.Formats;
using Cartan.Pruning;
using Cartan.Tensors;

namespace Cartan.Tests.Pruning;

/// <summary><c>cartan prune</c> end to end on a tiny LLaMA-style safetensors folder written here.</summary>
public class PruneCommandTests
{
    private const int Hidden = 16, Inter = 32, Vocab = 20, Blocks = 2;

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Cartan.Cli.Cli.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    private static readonly string[] Linear = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];

    private static (int Rows, int Cols) Shape(string l) => l switch
    {
        "mlp.gate_proj" or "mlp.up_proj" => (Inter, Hidden),
        "mlp.down_proj" => (Hidden, Inter),
        _ => (Hidden, Hidden),
    };

    /// <summary>A tiny model: F32 weights except block 1's MLP in BF16; embeddings, norms, LM head and an I64 buffer.</summary>
    private static string MakeModel()
    {
        var dir = TestPaths.NewTempDir();
        var r = new Random(11);
        double Rn() => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble()) * Math.Exp(0.5 * r.NextDouble());
        var list = new List<(string, long[], DType, ReadOnlyMemory<byte>)>();
        void Add(string name, long[] shape, DType dt)
        {
            long n = shape.Aggregate(1L, (a, b) => a * b);
            var d = new double[n];
            for (int i = 0; i < n; i++) d[i] = dt == DType.I64 ? i : Rn();
            byte[] bytes = dt == DType.I64 ? d.SelectMany(v => BitConverter.GetBytes((long)v)).ToArray() : Cartan.Formats.SafetensorsWriter.Encode(d, dt);
            list.Add((name, shape, dt, bytes));
        }
        Add("model.embed_tokens.weight", [Vocab, Hidden], DType.F32);
        for (int b = 0; b < Blocks; b++)
        {
            Add($"model.layers.{b}.input_layernorm.weight", [Hidden], DType.F32);
            foreach (var l in Linear)
            {
                var (rows, cols) = Shape(l);
                Add($"model.layers.{b}.{l}.weight", [rows, cols], b == 1 && l.StartsWith("mlp") ? DType.BF16 : DType.F32);
            }
        }
        Add("model.norm.weight", [Hidden], DType.F32);
        Add("lm_head.weight", [Vocab, Hidden], DType.F32);
        Add("model.position_ids", [1, 8], DType.I64);
        SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), list, new Dictionary<string, string> { ["format"] = "pt" });
        File.WriteAllText(Path.Combine(dir, "config.json"),
            $$"""{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":{{Hidden}},"intermediate_size":{{Inter}},"num_attention_heads":4,"num_key_value_heads":4,"num_hidden_layers":{{Blocks}},"vocab_size":{{Vocab}}}""");
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), """{"version":"1.0","model":{"type":"BPE"}}""");
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), "{}");
        return dir;
    }

    private static string Checksum(string dir)
    {
        using var sha = SHA256.Create();
        var parts = Directory.GetFiles(dir, "*", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal)
            .Select(f => Path.GetFileName(f) + ":" + Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));
        return string.Join("\n", parts);
    }

    private static string OutPath() => Path.Combine(TestPaths.NewTempDir(), "pruned");

    [Fact]
    public void Magnitude_half_sparsity_round_trips_with_the_input_untouched()
    {
        var model = MakeModel();
        var before = Checksum(model);
        var outDir = OutPath();
        var (code, stdout, err) = Run("prune", model, "--method", "magnitude", "--sparsity", "0.5", "--out", outDir);
        Assert.True(code == ExitCodes.Ok, err);
        Assert.Contains("sparsity 0.5000", stdout);
        Assert.Equal(before, Checksum(model));
        Assert.True(File.Exists(Path.Combine(outDir, "config.json")));
        Assert.True(File.Exists(Path.Combine(outDir, "tokenizer.json")));
        Assert.True(File.Exists(Path.Combine(outDir, "tokenizer_config.json")));
        Assert.DoesNotContain(Directory.GetDirectories(Path.GetDirectoryName(outDir)!), d => Path.GetFileName(d).StartsWith('.'));

        using var dense = WeightSource.Open(model);
        using var pruned = WeightSource.Open(outDir);
        Assert.Equal(dense.Tensors.Select(t => (t.Name, t.DType, string.Join(",", t.Shape))), pruned.Tensors.Select(t => (t.Name, t.DType, string.Join(",", t.Shape))));
        long zeros = 0, total = 0;
        foreach (var t in dense.Tensors)
        {
            var a = t.ReadDoubles();
            var b = pruned.Find(t.Name)!.ReadDoubles();
            bool target = Linear.Any(l => t.Name.EndsWith(l + ".weight"));
            if (!target) { Assert.Equal(a, b); continue; } // embeddings, norms, LM head, buffers: bit-identical
            int rows = (int)t.Shape[0], cols = (int)t.Shape[1];
            for (int i = 0; i < rows; i++)
            {
                int z = 0;
                for (int j = 0; j < cols; j++)
                {
                    double v = b[i * cols + j];
                    if (v == 0) z++; else Assert.Equal(a[i * cols + j], v); // kept values unchanged (no EC)
                }
                Assert.Equal(cols / 2, z); // per row exact
                zeros += z;
            }
            total += a.Length;
        }
        Assert.Equal(0.5, (double)zeros / total);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "prune.json")));
        var root = doc.RootElement;
        Assert.Equal("cartan.prune/1", root.GetProperty("schema").GetString());
        Assert.Equal(0.5, root.GetProperty("sparsity_realised").GetDouble());
        Assert.Equal(Blocks * Linear.Length, root.GetProperty("layers").GetArrayLength());
        Assert.Equal(2.0, root.GetProperty("settings").GetProperty("ec").GetProperty("r_hi").GetDouble());
    }

    [Fact]
    public void Two_four_with_EC_keeps_exactly_two_per_group_and_writes_ratio_histograms()
    {
        var model = MakeModel();
        var outDir = OutPath();
        var (code, _, err) = Run("prune", model, "--method", "magnitude", "--pattern", "2:4", "--ec", "col+row", "--out", outDir);
        Assert.True(code == ExitCodes.Ok, err);
        using var pruned = WeightSource.Open(outDir);
        foreach (var t in pruned.Tensors.Where(t => Linear.Any(l => t.Name.EndsWith(l + ".weight"))))
        {
            var b = t.ReadDoubles();
            int rows = (int)t.Shape[0], cols = (int)t.Shape[1];
            for (int i = 0; i < rows; i++)
                for (int g = 0; g < cols; g += 4)
                    Assert.Equal(2, Enumerable.Range(g, 4).Count(j => b[i * cols + j] != 0));
        }
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "prune.json")));
        var layer = doc.RootElement.GetProperty("layers")[0];
        int counted = layer.GetProperty("ec").GetProperty("column_ratio_histogram").GetProperty("counts").EnumerateArray().Sum(e => e.GetInt32());
        Assert.Equal(layer.GetProperty("matrix")[1].GetInt32() - layer.GetProperty("ec").GetProperty("columns_skipped").GetInt32(), counted);
        Assert.True(layer.GetProperty("ec").TryGetProperty("row_ratio_histogram", out _));
    }

    [Fact]
    public void Spectral_profile_and_Wanda_from_statistics_file_run()
    {
        var model = MakeModel();
        var outDir = OutPath();
        var (code, _, err) = Run("prune", model, "--method", "magnitude", "--sparsity", "0.6", "--profile", "spectral", "--spectral-metric", "alpha_mle", "--out", outDir);
        Assert.True(code == ExitCodes.Ok, err);
        using (var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "prune.json"))))
        {
            var layers = doc.RootElement.GetProperty("layers").EnumerateArray().ToList();
            double wsum = layers.Sum(l => l.GetProperty("target_sparsity").GetDouble() * l.GetProperty("matrix")[0].GetInt32() * l.GetProperty("matrix")[1].GetInt32());
            double w = layers.Sum(l => (double)l.GetProperty("matrix")[0].GetInt32() * l.GetProperty("matrix")[1].GetInt32());
            Assert.Equal(0.6, wsum / w, 1e-12);
            Assert.Equal("block", doc.RootElement.GetProperty("settings").GetProperty("profile").GetProperty("unit").GetString());
        }

        // Statistics computed "elsewhere": one accumulator per input, shared by q/k/v and gate/up.
        var r = new Random(2);
        var stats = new Dictionary<string, CalibrationStats>();
        for (int b = 0; b < Blocks; b++)
        {
            var attnIn = new CalibrationStats(Hidden);
            attnIn.Add(Enumerable.Range(0, 10 * Hidden).Select(_ => r.NextDouble() - 0.5).ToArray(), 10);
            var downIn = new CalibrationStats(Inter);
            downIn.Add(Enumerable.Range(0, 10 * Inter).Select(_ => r.NextDouble()).ToArray(), 10);
            foreach (var l in Linear) stats[$"model.layers.{b}.{l}"] = l == "mlp.down_proj" ? downIn : attnIn;
        }
        var npz = Path.Combine(TestPaths.NewTempDir(), "stats.npz");
        CalibrationStatsFile.Write(npz, stats);
        var out2 = OutPath();
        (code, _, err) = Run("prune", model, "--method", "wanda", "--sparsity", "0.5", "--ec", "col", "--calib-stats", npz, "--out", out2);
        Assert.True(code == ExitCodes.Ok, err);
        (code, _, err) = Run("prune", model, "--method", "sparsegpt", "--sparsity", "0.5", "--calib-stats", npz, "--out", OutPath());
        Assert.Equal(ExitCodes.Usage, code); // no Hessian in the file
        Assert.Contains("Hessian", err);
    }

    [Fact]
    public void Bad_requests_exit_2_with_one_line_and_write_nothing()
    {
        var model = MakeModel();
        var before = Checksum(model);
        var cases = new List<string[]>
        {
            new[] { "--method", "magnitude", "--sparsity", "0" },
            new[] { "--method", "magnitude", "--sparsity", "1" },
            new[] { "--method", "magnitude", "--sparsity", "1.5" },
            new[] { "--method", "magnitude", "--sparsity", "-0.2" },
            new[] { "--method", "magnitude", "--pattern", "4:2" },
            new[] { "--method", "magnitude", "--pattern", "2:2" },
            new[] { "--method", "magnitude", "--pattern", "x" },
            new[] { "--method", "foo", "--sparsity", "0.5" },
            new[] { "--method", "magnitude" },
            new[] { "--method", "magnitude", "--sparsity", "0.5", "--pattern", "2:4" },
            new[] { "--method", "wanda", "--sparsity", "0.5" },
            new[] { "--method", "magnitude", "--sparsity", "0.5", "--ec", "diag" },
            new[] { "--method", "magnitude", "--pattern", "2:4", "--profile", "owl" },
            new[] { "--method", "magnitude", "--sparsity", "0.5", "--profile", "owl" },
        };
        foreach (var c in cases)
        {
            var outDir = OutPath();
            var (code, _, err) = Run(["prune", model, .. c, "--out", outDir]);
            Assert.True(code == ExitCodes.Usage, $"{string.Join(" ", c)} → {code}: {err}");
            Assert.Single(err.Trim().Split('\n'));
            Assert.False(Directory.Exists(outDir));
            Assert.Empty(Directory.GetFileSystemEntries(Path.GetDirectoryName(outDir)!));
        }
        foreach (var outDir in new[] { model, Path.Combine(model, "sub"), Path.GetDirectoryName(model)! })
        {
            var (code, _, err) = Run("prune", model, "--method", "magnitude", "--sparsity", "0.5", "--out", outDir);
            Assert.Equal(ExitCodes.Usage, code);
            Assert.Single(err.Trim().Split('\n'));
        }
        Assert.False(Directory.Exists(Path.Combine(model, "sub")));
        Assert.Equal(before, Checksum(model));
        var msg = Run("prune", model, "--method", "wanda", "--sparsity", "0.5", "--out", OutPath()).Err;
        Assert.Contains("TorchSharp", msg);
    }
}

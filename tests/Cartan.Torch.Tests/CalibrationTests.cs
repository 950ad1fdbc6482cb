using System.Security.Cryptography;
using Cartan.Formats;
using Cartan.Graph;
using Cartan.Pruning;
using Cartan.Torch.Pruning;
using static TorchSharp.torch;

namespace Cartan.Torch.Tests;

/// <summary>
/// Block-sequential calibration (<see cref="BlockCalibration"/>, <see cref="CalibratedPruner"/>) against statistics
/// computed independently by Fixtures/calib/make_calib_reference.py (python3-torch 1.13, float64) on the tiny random
/// LLaMA and GPT-2 of Fixtures/reference, and <c>cartan prune --calib</c> end to end.
/// </summary>
public class CalibrationTests
{
    private const double Tol = 1e-6;

    private sealed class Golden : IDisposable
    {
        private readonly WeightModel _file;
        public Golden(string model)
        {
            _file = WeightSource.Open(Path.Combine(AppContext.BaseDirectory, "Fixtures", "calib", model + ".safetensors"));
            Folder = Path.Combine(AppContext.BaseDirectory, "Fixtures", "reference", model, "model");
            var ids = _file.Find("ids")!;
            int rows = (int)ids.Shape[0], cols = (int)ids.Shape[1];
            var d = ids.ReadDoubles();
            Samples = Enumerable.Range(0, rows).Select(r => Enumerable.Range(0, cols).Select(c => (int)d[r * cols + c]).ToArray()).ToArray();
        }
        public string Folder { get; }
        public int[][] Samples { get; }
        public IEnumerable<string> Names(string mode) =>
            _file.Tensors.Select(t => t.Name).Where(n => n.StartsWith(mode + ".") && n.EndsWith(".sum")).Select(n => n[(mode.Length + 1)..^4]);
        public double[]? Get(string name) => _file.Find(name)?.ReadDoubles();
        public void Dispose() => _file.Dispose();
    }

    /// <summary>max |got − want| ≤ tol · max |want|.</summary>
    private static void Close(double[] want, ReadOnlySpan<double> got, string what)
    {
        Assert.Equal(want.Length, got.Length);
        double scale = Math.Max(want.Max(Math.Abs), 1e-300), worst = 0;
        for (int i = 0; i < want.Length; i++) worst = Math.Max(worst, Math.Abs(got[i] - want[i]));
        Assert.True(worst <= Tol * scale, $"{what}: max |diff| {worst:E3} exceeds {Tol} × {scale:E3}");
    }

    private static void Matches(Golden g, string mode, IReadOnlyDictionary<string, CalibrationStats> stats, bool hessian)
    {
        var names = g.Names(mode).ToList();
        Assert.NotEmpty(names);
        Assert.Equal(names.OrderBy(n => n), stats.Keys.OrderBy(n => n));
        foreach (var n in names)
        {
            var s = stats[n];
            Assert.Equal((long)g.Get($"{mode}.{n}.n")![0], s.Count);
            Close(g.Get($"{mode}.{n}.sum")!, s.Sum, $"{mode} Σx of {n}");
            Close(g.Get($"{mode}.{n}.sumsq")!, s.SumSq, $"{mode} Σx² of {n}");
            if (hessian) Close(g.Get($"{mode}.{n}.hessian")!, s.Hessian!, $"{mode} XᵀX of {n}");
        }
    }

    private static PruneSettings Magnitude50 => new() { Method = PruneMethod.Magnitude, Pattern = SparsityPattern.Unstructured(0.5) };

    private static CalibratedPruneResult Calibrate(Golden g, PruneSettings settings, bool denseInputs, int batch = 3)
    {
        using var weights = WeightSource.Open(g.Folder);
        using var net = HfModels.Load(g.Folder, ScalarType.Float64);
        var graph = ModelGraph.Build(weights, new GraphOptions { InferPairs = false });
        return CalibratedPruner.Run(net, weights, graph, settings, g.Samples, new CalibrationOptions { DenseInputs = denseInputs, BatchSize = batch });
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void Dense_statistics_and_hessians_match_pytorch(string model)
    {
        using var g = new Golden(model);
        using var net = HfModels.Load(g.Folder, ScalarType.Float64);
        var stats = BlockCalibration.Run((IBlockDecoder)net, g.Samples, withHessian: true, new CalibrationOptions { BatchSize = 2 });
        Matches(g, "dense", stats, hessian: true);
        if (model == "llama")
        {
            // q/k/v and gate/up read one input: one accumulator each.
            Assert.Same(stats["model.layers.1.self_attn.q_proj.weight"], stats["model.layers.1.self_attn.v_proj.weight"]);
            Assert.Same(stats["model.layers.0.mlp.gate_proj.weight"], stats["model.layers.0.mlp.up_proj.weight"]);
            Assert.NotSame(stats["model.layers.0.mlp.gate_proj.weight"], stats["model.layers.0.mlp.down_proj.weight"]);
        }
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void Block_sequential_statistics_match_pytorch_with_pruned_inputs(string model)
    {
        using var g = new Golden(model);
        var r = Calibrate(g, Magnitude50, denseInputs: false);
        Matches(g, "seq", r.Statistics, hessian: false);
        // The pruned weights are the library's magnitude masks: exactly half of each row zero.
        foreach (var (t, l) in r.Run.Targets.Zip(r.Run.Layers)) Assert.Equal(0.5, l.KeptFraction, 12);
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void Dense_inputs_differ_from_block_sequential_only_after_block_zero(string model)
    {
        using var g = new Golden(model);
        var seq = Calibrate(g, Magnitude50, denseInputs: false);
        var dense = Calibrate(g, Magnitude50, denseInputs: true);
        Matches(g, "dense", dense.Statistics, hessian: false);
        var targets = seq.Run.Targets.ToDictionary(t => t.TensorName);
        bool laterDiffer = false;
        foreach (var (name, s) in seq.Statistics)
        {
            var d = dense.Statistics[name];
            int block = targets[name].Block!.Value;
            // Block 0 reads the embeddings, and its own inputs before it is pruned: identical in both modes.
            double diff = 0, scale = 0;
            for (int j = 0; j < s.Features; j++) { diff = Math.Max(diff, Math.Abs(s.SumSq[j] - d.SumSq[j])); scale = Math.Max(scale, d.SumSq[j]); }
            if (block == 0) Assert.True(diff == 0, $"{name}: block 0 statistics differ by {diff}");
            else if (diff > 1e-6 * scale) laterDiffer = true;
        }
        Assert.True(laterDiffer, "no statistic of a later block changed when earlier blocks were pruned");
    }

    [Fact]
    public void Batch_size_does_not_change_the_statistics()
    {
        using var g = new Golden("llama");
        var a = Calibrate(g, Magnitude50, denseInputs: false, batch: 1);
        var b = Calibrate(g, Magnitude50, denseInputs: false, batch: 5);
        foreach (var (n, s) in a.Statistics) Close(s.SumSq.ToArray(), b.Statistics[n].SumSq, n);
    }

    [Fact]
    public void Calibrated_run_with_dense_inputs_prunes_like_a_statistics_file_run()
    {
        // With dense inputs the statistics do not depend on pruning, so writing them to an .npz and pruning with
        // --calib-stats must reproduce the calibrated run's weights: both go through the same library calls.
        using var g = new Golden("llama");
        var settings = new PruneSettings
        {
            Method = PruneMethod.SparseGpt, Pattern = SparsityPattern.NM(2, 4), SparseGpt = new SparseGptOptions { BlockSize = 16 },
            Ec = new EcOptions { Mode = EcMode.ColRow },
        };
        var r = Calibrate(g, settings, denseInputs: true);
        string dir = TempDir();
        string npz = Path.Combine(dir, "stats.npz"), outDir = Path.Combine(dir, "pruned");
        CalibrationStatsFile.Write(npz, r.Statistics);
        var (code, _, err) = Cli("prune", g.Folder, "--method", "sparsegpt", "--pattern", "2:4", "--blocksize", "16", "--ec", "col+row", "--calib-stats", npz, "--out", outDir);
        Assert.True(code == 0, err);
        using var pruned = WeightSource.Open(outDir);
        foreach (var (name, w) in r.Replaced)
        {
            var f = pruned.Find(name)!.ReadDoubles();
            for (int i = 0; i < w.Length; i++) Assert.Equal((float)w[i], (float)f[i]);
        }
    }

    [Fact]
    public void Sampler_draws_seeded_windows_inside_the_stream()
    {
        var tokens = Enumerable.Range(0, 1000).ToArray();
        var a = CalibrationSampler.Draw(tokens, 64, 37, seed: 4);
        var b = CalibrationSampler.Draw(tokens, 64, 37, seed: 4);
        var c = CalibrationSampler.Draw(tokens, 64, 37, seed: 5);
        Assert.Equal(64, a.Length);
        foreach (var w in a)
        {
            Assert.Equal(37, w.Length);
            for (int t = 1; t < w.Length; t++) Assert.Equal(w[0] + t, w[t]); // contiguous
            Assert.InRange(w[0], 0, 1000 - 37);
        }
        Assert.Equal(a, b);
        Assert.NotEqual(a.Select(w => w[0]), c.Select(w => w[0]));
        Assert.Contains(a, w => w[0] < 300);
        Assert.Contains(a, w => w[0] > 600);
        Assert.Equal(tokens, CalibrationSampler.Draw(tokens, 3, 1000, 0)[2]); // the one window that fits
        Assert.Throws<ArgumentException>(() => CalibrationSampler.Draw(tokens, 1, 1001, 0));
    }

    // ------------------------------------------------------------------ cartan prune --calib

    internal static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Cartan.Cli.Cli.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    internal static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"cartan-calib-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>A copy of a reference model folder and a token-id .npy drawn from its vocabulary.</summary>
    private static (string Model, string Ids) Setup(string model)
    {
        string dir = TempDir(), m = Path.Combine(dir, "model");
        Directory.CreateDirectory(m);
        foreach (var f in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Fixtures", "reference", model, "model")))
            File.Copy(f, Path.Combine(m, Path.GetFileName(f)));
        int vocab = model == "llama" ? 61 : 53;
        var r = new Random(7);
        var ids = Enumerable.Range(0, 400).Select(_ => (double)r.Next(vocab)).ToArray();
        string npy = Path.Combine(dir, "calib.npy");
        WriteNpyInt64(npy, ids);
        return (m, npy);
    }

    private static void WriteNpyInt64(string path, double[] values)
    {
        string dict = $"{{'descr': '<i8', 'fortran_order': False, 'shape': ({values.Length},), }}";
        int pad = (64 - (10 + dict.Length + 1) % 64) % 64;
        string header = dict + new string(' ', pad) + "\n";
        using var s = File.Create(path);
        s.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, (byte)header.Length, (byte)(header.Length >> 8)]);
        s.Write(System.Text.Encoding.ASCII.GetBytes(header));
        foreach (var v in values) s.Write(BitConverter.GetBytes((long)v));
    }

    private static string Checksum(string dir) => string.Join("\n", Directory.GetFiles(dir, "*", SearchOption.AllDirectories)
        .OrderBy(f => f, StringComparer.Ordinal).Select(f => Path.GetFileName(f) + ":" + Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f)))));

    /// <summary>model, request, requested sparsity, how the realised count is judged: "exact" (per-row ⌊s·in⌋ and N:M
    /// give exactly the request), "profile" (each layer exactly ⌊s_l·in⌋ per row for the allocated s_l, whose
    /// parameter-weighted mean is the request), "sparsegpt" (the reference rule prunes ⌊numel·s⌋ + 1 per column block).</summary>
    public static TheoryData<string, string[], double, string> Requests() => new()
    {
        { "llama", ["--method", "wanda", "--sparsity", "0.5"], 0.5, "exact" },
        { "llama", ["--method", "cvr", "--sparsity", "0.5", "--ec", "col+row", "--alpha", "0.5"], 0.5, "exact" },
        { "llama", ["--method", "sparsegpt", "--pattern", "2:4", "--blocksize", "16"], 0.5, "exact" },
        { "llama", ["--method", "wanda", "--sparsity", "0.6", "--profile", "owl", "--dense-inputs"], 0.6, "profile" },
        { "gpt2", ["--method", "sparsegpt", "--sparsity", "0.5", "--blocksize", "16"], 0.5, "sparsegpt" },
        { "gpt2", ["--method", "wanda", "--pattern", "4:8", "--ec", "col"], 0.5, "exact" },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public void Prune_calib_writes_a_model_with_the_requested_sparsity_that_analyze_reads(string model, string[] request, double sparsity, string rule)
    {
        var (m, ids) = Setup(model);
        string before = Checksum(m);
        string outDir = Path.Combine(TempDir(), "pruned");
        var (code, stdout, err) = Cli(["prune", m, .. request, "--calib", ids, "--calib-samples", "6", "--seqlen", "10", "--seed", "3", "--out", outDir]);
        Assert.True(code == 0, err);
        Assert.Contains("sparsity", stdout);
        Assert.Equal(before, Checksum(m));

        using var report = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "prune.json")));
        var layers = report.RootElement.GetProperty("layers").EnumerateArray()
            .ToDictionary(l => l.GetProperty("tensor").GetString()!, l => (Target: l.GetProperty("target_sparsity").GetDouble(),
                Rows: l.GetProperty("matrix")[0].GetInt32(), Cols: l.GetProperty("matrix")[1].GetInt32()));
        Assert.Contains("block-sequential", report.RootElement.GetProperty("settings").GetProperty("calibration").GetString());
        using (var dense = WeightSource.Open(m))
        using (var pruned = WeightSource.Open(outDir))
        {
            long zeros = 0, total = 0, blocks = 0;
            foreach (var t in dense.Tensors)
            {
                var a = t.ReadDoubles();
                var b = pruned.Find(t.Name)!.ReadDoubles();
                if (!layers.TryGetValue(t.Name, out var l)) { Assert.Equal(a, b); continue; } // embeddings, norms, biases, head untouched
                long z = b.Count(v => v == 0);
                if (rule == "profile") Assert.Equal((long)l.Rows * (long)Math.Floor(l.Cols * l.Target), z);
                zeros += z;
                total += b.Length;
                blocks += (l.Cols + 15) / 16;
            }
            Assert.Equal(layers.Count, dense.Tensors.Count(t => layers.ContainsKey(t.Name)));
            double realised = (double)zeros / total;
            if (rule == "exact") Assert.Equal(sparsity, realised, 12);
            else if (rule == "sparsegpt") Assert.InRange(realised, sparsity, sparsity + (double)blocks / total);
            else
            {
                double weighted = layers.Values.Sum(l => l.Target * l.Rows * l.Cols) / layers.Values.Sum(l => (double)l.Rows * l.Cols);
                Assert.Equal(sparsity, weighted, 12);
                Assert.Contains(layers.Values, l => Math.Abs(l.Target - sparsity) > 1e-3); // OWL did move some blocks
            }
        }
        string json = Path.Combine(TempDir(), "analysis.json");
        (code, _, err) = Cli("analyze", outDir, "--json", json, "--quiet");
        Assert.True(code == 0, err);
        using var analysis = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(json));
        var analysed = analysis.RootElement.GetProperty("layers").EnumerateArray().ToList();
        Assert.True(analysed.Count >= layers.Count, $"{analysed.Count} layers analysed for {layers.Count} pruned matrices"); // GPT-2's c_attn is analysed as q, k, v
        Assert.DoesNotContain(analysed, l => l.GetProperty("status").GetString() == "failed");
    }

    [Fact]
    public void Prune_calib_from_text_uses_the_model_tokenizer()
    {
        // A random LLaMA whose vocabulary is a byte-level BPE trained here on the text itself.
        string dir = TempDir(), m = Path.Combine(dir, "model"), text = Path.Combine(dir, "calib.txt");
        string sentence = "The pruned model keeps half of its weights, and the calibration text decides which half. ";
        File.WriteAllText(text, string.Concat(Enumerable.Repeat(sentence, 40)));
        var bpe = global::Cartan.Torch.Lm.BpeTrainer.Train([File.ReadAllText(text)], 300);
        Directory.CreateDirectory(m);
        global::Cartan.Torch.Lm.BpeTrainer.Save(bpe, m);
        var cfg = HfConfig.Parse($$"""
            {"model_type":"llama","vocab_size":{{bpe.Tokens.Count}},"hidden_size":32,"intermediate_size":64,"num_hidden_layers":2,
             "num_attention_heads":4,"num_key_value_heads":2,"max_position_embeddings":64,"hidden_act":"silu","tie_word_embeddings":true}
            """);
        using (var net = HfModels.Build(cfg)) { net.InitializeRandom(3); HfModels.Save(net, m); }
        int tokens = global::Cartan.Torch.Lm.LmTokenizer.Load(m).Encode(File.ReadAllText(text)).Length;
        Assert.InRange(tokens, 64, 4000);

        string outDir = Path.Combine(TempDir(), "pruned");
        var (code, _, err) = Cli("prune", m, "--method", "cvr", "--sparsity", "0.5", "--ec", "col", "--calib", text, "--calib-samples", "4", "--seqlen", "32", "--out", outDir);
        Assert.True(code == 0, err);
        using var report = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "prune.json")));
        Assert.StartsWith("4 × 32 tokens from calib.txt", report.RootElement.GetProperty("settings").GetProperty("calibration").GetString());
        Assert.Equal(0.5, report.RootElement.GetProperty("sparsity_realised").GetDouble(), 12);

        // A text without a tokenizer beside the model, and a text shorter than one sequence: exit 2, nothing written.
        var (model2, _) = Setup("llama");
        string parent = TempDir();
        (code, _, err) = Cli("prune", model2, "--method", "wanda", "--sparsity", "0.5", "--calib", text, "--out", Path.Combine(parent, "p"));
        Assert.True(code == 2, err);
        Assert.Single(err.Trim().Split('\n'));
        string shortText = Path.Combine(dir, "short.txt");
        File.WriteAllText(shortText, "The pruned model.");
        (code, _, err) = Cli("prune", m, "--method", "wanda", "--sparsity", "0.5", "--calib", shortText, "--seqlen", "32", "--out", Path.Combine(parent, "p"));
        Assert.True(code == 2, err);
        Assert.Contains("fewer than one calibration sequence", err);
        Assert.Empty(Directory.GetFileSystemEntries(parent));
    }

    [Fact]
    public void Gpt2_hub_layout_without_prefix_in_bf16_is_calibrated_and_keeps_names_and_dtypes()
    {
        // The hub's gpt2 files name tensors without "transformer."; the network's weights map to them by alias.
        var (m, ids) = Setup("gpt2");
        string file = Path.Combine(m, "model.safetensors");
        List<(string, long[], double[])> tensors;
        using (var src = WeightSource.Open(file))
            tensors = src.Tensors.Select(t => (t.Name.StartsWith("transformer.") ? t.Name["transformer.".Length..] : t.Name, t.Shape, t.ReadDoubles())).ToList();
        Cartan.Formats.SafetensorsWriter.Write(file, tensors, Cartan.Tensors.DType.BF16, new Dictionary<string, string> { ["format"] = "pt" });
        string before = Checksum(m);
        string outDir = Path.Combine(TempDir(), "pruned");
        var (code, _, err) = Cli("prune", m, "--method", "wanda", "--sparsity", "0.5", "--ec", "col+row", "--calib", ids, "--calib-samples", "4", "--seqlen", "12", "--out", outDir);
        Assert.True(code == 0, err);
        Assert.Equal(before, Checksum(m));
        using var dense = WeightSource.Open(m);
        using var pruned = WeightSource.Open(outDir);
        Assert.Equal(dense.Tensors.Select(t => (t.Name, t.DType)), pruned.Tensors.Select(t => (t.Name, t.DType)));
        int targets = 0;
        foreach (var t in dense.Tensors)
        {
            var b = pruned.Find(t.Name)!.ReadDoubles();
            if (!t.Name.EndsWith("c_attn.weight") && !t.Name.EndsWith("c_proj.weight") && !t.Name.EndsWith("c_fc.weight")) { Assert.Equal(t.ReadDoubles(), b); continue; }
            Assert.StartsWith("h.", t.Name);
            Assert.Equal(0.5, b.Count(v => v == 0) / (double)b.Length, 12);
            targets++;
        }
        Assert.Equal(8, targets);
    }

    [Fact]
    public void Bad_calibrated_requests_exit_2_with_one_line_and_write_nothing()
    {
        var (m, ids) = Setup("llama");
        string before = Checksum(m);
        string bert = Path.Combine(AppContext.BaseDirectory, "Fixtures", "reference", "bert", "model");
        string onnx = Path.Combine(AppContext.BaseDirectory, "Fixtures", "calib", "tiny.onnx");
        var cases = new List<string[]>
        {
            new[] { m, "--method", "wanda", "--sparsity", "0" },
            new[] { m, "--method", "wanda", "--sparsity", "1" },
            new[] { m, "--method", "wanda", "--sparsity", "1.2" },
            new[] { m, "--method", "wanda", "--pattern", "5:4" },
            new[] { m, "--method", "wanda", "--sparsity", "0.5", "--calib-stats", ids },
            new[] { m, "--method", "wanda", "--sparsity", "0.5", "--calib-samples", "0" },
            new[] { m, "--method", "wanda", "--sparsity", "0.5", "--seqlen", "65" },   // beyond max_position_embeddings 64
            new[] { m, "--method", "wanda", "--sparsity", "0.5", "--seqlen", "1" },
            new[] { bert, "--method", "wanda", "--sparsity", "0.5" },
            new[] { onnx, "--method", "wanda", "--sparsity", "0.5" },
        };
        foreach (var c in cases)
        {
            string parent = TempDir(), outDir = Path.Combine(parent, "pruned");
            var (code, _, err) = Cli(["prune", .. c, "--calib", ids, "--out", outDir]);
            Assert.True(code == 2, $"{string.Join(" ", c)} → {code}: {err}");
            Assert.Single(err.Trim().Split('\n'));
            Assert.Empty(Directory.GetFileSystemEntries(parent));
        }
        // Options of calibrated runs are refused without --calib, by the same parser, before anything runs.
        foreach (var opt in new[] { new[] { "--seed", "1" }, new[] { "--dense-inputs" }, new[] { "--seqlen", "8" } })
        {
            string parent = TempDir();
            var (code, _, err) = Cli(["prune", m, "--method", "magnitude", "--sparsity", "0.5", .. opt, "--out", Path.Combine(parent, "p")]);
            Assert.True(code == 2, err);
            Assert.Empty(Directory.GetFileSystemEntries(parent));
        }
        Assert.Equal(before, Checksum(m));
    }
}

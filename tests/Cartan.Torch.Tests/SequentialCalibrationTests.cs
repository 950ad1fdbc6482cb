using Cartan.Formats;
using Cartan.Graph;
using Cartan.Pruning;
using Cartan.Torch.Pruning;
using static TorchSharp.torch;

namespace Cartan.Torch.Tests;

/// <summary>
/// Sequential pruning inside a block (<see cref="CalibrationOptions.SequentialWithinBlock"/>, <c>--sequential</c>) on
/// the tiny random LLaMA and GPT-2 of Fixtures/reference. The oracle of the main property is the ordinary (dense within
/// the block) calibration run on a network into which the weights that must already be pruned were loaded by hand: the
/// layer groups of a block are written out here, in forward order, independently of how the implementation finds them.
/// </summary>
public class SequentialCalibrationTests
{
    private static string Folder(string model) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "reference", model, "model");

    /// <summary>The input groups of block <paramref name="b"/> in forward order, by tensor name of the file.</summary>
    private static string[][] Groups(string model, int b) => model == "llama"
        ?
        [
            [$"model.layers.{b}.self_attn.q_proj.weight", $"model.layers.{b}.self_attn.k_proj.weight", $"model.layers.{b}.self_attn.v_proj.weight"],
            [$"model.layers.{b}.self_attn.o_proj.weight"],
            [$"model.layers.{b}.mlp.gate_proj.weight", $"model.layers.{b}.mlp.up_proj.weight"],
            [$"model.layers.{b}.mlp.down_proj.weight"],
        ]
        :
        [
            [$"transformer.h.{b}.attn.c_attn.weight"], [$"transformer.h.{b}.attn.c_proj.weight"],
            [$"transformer.h.{b}.mlp.c_fc.weight"], [$"transformer.h.{b}.mlp.c_proj.weight"],
        ];

    private const int Blocks = 2; // both reference models

    /// <summary>Calibration windows of random ids (vocabularies 61 and 53; GPT-2's context is 16 positions).</summary>
    private static int[][] Samples(string model)
    {
        int vocab = model == "llama" ? 61 : 53;
        var r = new Random(11);
        return Enumerable.Range(0, 5).Select(_ => Enumerable.Range(0, 12).Select(_ => r.Next(vocab)).ToArray()).ToArray();
    }

    private static PruneSettings Settings(string method) => method switch
    {
        "wanda" => new PruneSettings { Method = PruneMethod.Wanda, Pattern = SparsityPattern.Unstructured(0.5) },
        "sparsegpt" => new PruneSettings
        {
            Method = PruneMethod.SparseGpt, Pattern = SparsityPattern.Unstructured(0.5), SparseGpt = new SparseGptOptions { BlockSize = 16 },
        },
        _ => throw new ArgumentException(method),
    };

    private static CalibratedPruneResult Prune(string model, PruneSettings settings, CalibrationOptions options)
    {
        using var weights = WeightSource.Open(Folder(model));
        using var net = HfModels.Load(Folder(model), ScalarType.Float64);
        var graph = ModelGraph.Build(weights, new GraphOptions { InferPairs = false });
        return CalibratedPruner.Run(net, weights, graph, settings, Samples(model), options);
    }

    /// <summary>Statistics of an ordinary calibration run without pruning, by tensor name of the file, on the reference
    /// network with the weights of <paramref name="load"/> (file name → stored values) put in first.</summary>
    private static Dictionary<string, CalibrationStats> PlainStats(string model, IReadOnlyDictionary<string, double[]> load, bool hessian)
    {
        using var weights = WeightSource.Open(Folder(model));
        using var net = HfModels.Load(Folder(model), ScalarType.Float64);
        var files = new HashSet<string>(weights.Tensors.Select(t => t.Name));
        var toFile = new Dictionary<string, string>();
        int loaded = 0;
        foreach (var (name, p) in net.Weights)
        {
            var file = net.CheckpointNames(name).First(files.Contains);
            toFile[name] = file;
            if (!load.TryGetValue(file, out var w)) continue;
            using var _ = no_grad();
            using var src = tensor(w, p.shape, dtype: ScalarType.Float64);
            p.copy_(src);
            loaded++;
        }
        Assert.Equal(load.Count, loaded);
        var stats = BlockCalibration.Run((IBlockDecoder)net, Samples(model), hessian, new CalibrationOptions { BatchSize = 2 });
        return stats.ToDictionary(kv => toFile[kv.Key], kv => kv.Value);
    }

    /// <summary>max |got − want| ≤ tol · max |want| over one statistic.</summary>
    private static void Close(ReadOnlySpan<double> want, ReadOnlySpan<double> got, string what, double tol = 1e-12)
    {
        Assert.Equal(want.Length, got.Length);
        double scale = 1e-300, worst = 0;
        for (int i = 0; i < want.Length; i++) { scale = Math.Max(scale, Math.Abs(want[i])); worst = Math.Max(worst, Math.Abs(got[i] - want[i])); }
        Assert.True(worst <= tol * scale, $"{what}: max |diff| {worst:E3} exceeds {tol} × {scale:E3}");
    }

    private static void Same(CalibrationStats want, CalibrationStats got, string what, bool hessian)
    {
        Assert.Equal(want.Count, got.Count);
        Close(want.Sum, got.Sum, what + " Σx");
        Close(want.SumSq, got.SumSq, what + " Σx²");
        Close(want.L2Norms(), got.L2Norms(), what + " ‖X_j‖");
        Close(want.Variances(), got.Variances(), what + " var");
        if (hessian) Close(want.Hessian!, got.Hessian!, what + " XᵀX");
    }

    /// <summary>Relative max difference of Σx² between two statistics.</summary>
    private static double Diff(CalibrationStats a, CalibrationStats b)
    {
        double d = 0, s = 1e-300;
        for (int j = 0; j < a.Features; j++) { d = Math.Max(d, Math.Abs(a.SumSq[j] - b.SumSq[j])); s = Math.Max(s, Math.Abs(a.SumSq[j])); }
        return d / s;
    }

    [Theory]
    [InlineData("llama", "wanda", false)]
    [InlineData("llama", "sparsegpt", false)]
    [InlineData("gpt2", "wanda", false)]
    [InlineData("gpt2", "sparsegpt", false)]
    [InlineData("llama", "wanda", true)]
    [InlineData("gpt2", "sparsegpt", true)]
    public void Each_group_sees_the_inputs_of_the_model_with_the_earlier_groups_already_pruned(string model, string method, bool denseInputs)
    {
        bool hessian = method == "sparsegpt";
        var seq = Prune(model, Settings(method), new CalibrationOptions { SequentialWithinBlock = true, DenseInputs = denseInputs, BatchSize = 3 });
        Assert.Equal(Blocks * Groups(model, 0).SelectMany(g => g).Count(), seq.Replaced.Count);
        int compared = 0;
        for (int b = 0; b < Blocks; b++)
        {
            var groups = Groups(model, b);
            for (int g = 0; g < groups.Length; g++)
            {
                // Already pruned when group g of block b is calibrated: groups < g of block b and, unless the next block
                // reads dense inputs, every layer of the earlier blocks.
                var load = new Dictionary<string, double[]>();
                for (int eb = 0; eb < (denseInputs ? 0 : b); eb++)
                    foreach (var n in Groups(model, eb).SelectMany(x => x)) load[n] = seq.Replaced[n];
                foreach (var n in groups.Take(g).SelectMany(x => x)) load[n] = seq.Replaced[n];
                var plain = PlainStats(model, load, hessian);
                foreach (var n in groups[g])
                {
                    Same(plain[n], seq.Statistics[n], $"block {b} group {g} {n}", hessian);
                    compared++;
                }
            }
        }
        Assert.Equal(seq.Replaced.Count, compared);
    }

    [Theory]
    [InlineData("llama", "wanda")]
    [InlineData("gpt2", "wanda")]
    [InlineData("llama", "sparsegpt")]
    public void Sequential_differs_from_dense_within_block_after_the_first_group(string model, string method)
    {
        var dense = Prune(model, Settings(method), new CalibrationOptions { BatchSize = 3 });
        var seq = Prune(model, Settings(method), new CalibrationOptions { SequentialWithinBlock = true, BatchSize = 3 });
        var groups = Groups(model, 0);
        // Block 0, group 0 reads the embeddings through the dense block in both modes: identical statistics, identical weights.
        foreach (var n in groups[0])
        {
            Assert.Equal(0, Diff(dense.Statistics[n], seq.Statistics[n]));
            Assert.Equal(dense.Replaced[n], seq.Replaced[n]);
        }
        // The attention output projection reads attention computed with pruned q/k/v in sequential mode only.
        foreach (var n in groups[1])
            Assert.True(Diff(dense.Statistics[n], seq.Statistics[n]) > 1e-6, $"{n}: statistics did not change");
        // And some pruned weights (masks, or SparseGPT's updates) differ.
        Assert.Contains(groups.Skip(1).SelectMany(x => x), n => !dense.Replaced[n].SequenceEqual(seq.Replaced[n]));
        foreach (var (n, w) in seq.Replaced) Assert.Equal(w.Length / 2, w.Count(v => v == 0), (double)w.Length / 32); // still 50 %
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void With_a_callback_that_prunes_nothing_sequential_statistics_equal_the_ordinary_ones(string model)
    {
        // The weights never change, so one pass per group must give each group exactly what the one ordinary pass gives;
        // the callback must see each group once, alone, in forward order.
        using var net = HfModels.Load(Folder(model), ScalarType.Float64);
        var seen = new List<(int Block, string[] Names)>();
        var a = BlockCalibration.Run((IBlockDecoder)net, Samples(model), true, new CalibrationOptions(), (_, _) => { });
        var b = BlockCalibration.Run((IBlockDecoder)net, Samples(model), true, new CalibrationOptions { SequentialWithinBlock = true, BatchSize = 2 },
            (block, stats) => seen.Add((block, stats.Keys.ToArray())));
        Assert.Equal(a.Keys.OrderBy(k => k), b.Keys.OrderBy(k => k));
        foreach (var (n, s) in a) Same(s, b[n], n, hessian: true);
        var files = new HashSet<string>(Groups(model, 0).SelectMany(g => g).Concat(Groups(model, 1).SelectMany(g => g)));
        var toFile = net.Weights.Select(w => (Net: w.Name, File: net.CheckpointNames(w.Name).FirstOrDefault(files.Contains)))
            .Where(x => x.File is not null).ToDictionary(x => x.Net, x => x.File!);
        var want = Enumerable.Range(0, Blocks).SelectMany(blk => Groups(model, blk).Select(g => (blk, string.Join(",", g.Order())))).ToList();
        var got = seen.Select(x => (x.Block, string.Join(",", x.Names.Select(n => toFile[n]).Order()))).ToList();
        Assert.Equal(want, got);
    }

    // ------------------------------------------------------------------ cartan prune --sequential

    private static (int Code, string Out, string Err) Cli(params string[] args) => CalibrationTests.Cli(args);

    private static string TempDir() => CalibrationTests.TempDir();

    private static string Ids(string dir, int vocab)
    {
        var r = new Random(5);
        string dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (300,), }";
        int pad = (64 - (10 + dict.Length + 1) % 64) % 64;
        string header = dict + new string(' ', pad) + "\n";
        string path = Path.Combine(dir, "calib.npy");
        using var s = File.Create(path);
        s.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, (byte)header.Length, (byte)(header.Length >> 8)]);
        s.Write(System.Text.Encoding.ASCII.GetBytes(header));
        for (int i = 0; i < 300; i++) s.Write(BitConverter.GetBytes((long)r.Next(vocab)));
        return path;
    }

    [Fact]
    public void Sequential_flag_reaches_prune_json_and_changes_the_weights()
    {
        string dir = TempDir(), ids = Ids(dir, 61);
        string Run(params string[] extra)
        {
            string outDir = Path.Combine(TempDir(), "pruned");
            var (code, stdout, err) = Cli(["prune", Folder("llama"), "--method", "wanda", "--sparsity", "0.5", "--calib", ids,
                "--calib-samples", "4", "--seqlen", "12", .. extra, "--out", outDir]);
            Assert.True(code == 0, err);
            Assert.Single(stdout.Trim().Split('\n'));
            Assert.Contains("sparsity 0.5000", stdout);
            Assert.Equal(extra.Contains("--sequential"), stdout.Contains("EC none, sequential within blocks: sparsity"));
            return outDir;
        }
        (bool Flag, string Calib) Report(string outDir)
        {
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "prune.json")));
            var s = doc.RootElement.GetProperty("settings");
            return (s.GetProperty("sequential_within_block").GetBoolean(), s.GetProperty("calibration").GetString()!);
        }
        string plain = Run(), seq = Run("--sequential"), both = Run("--dense-inputs", "--sequential");
        Assert.Equal((false, false), (Report(plain).Flag, Report(plain).Calib.Contains("sequential within blocks")));
        Assert.Equal((true, true), (Report(seq).Flag, Report(seq).Calib.Contains("sequential within blocks")));
        Assert.True(Report(both).Flag);
        Assert.Contains("dense inputs", Report(both).Calib);

        using var a = WeightSource.Open(plain);
        using var b = WeightSource.Open(seq);
        Assert.Equal(a.Find("model.layers.0.self_attn.q_proj.weight")!.ReadDoubles(), b.Find("model.layers.0.self_attn.q_proj.weight")!.ReadDoubles());
        Assert.NotEqual(a.Find("model.layers.1.mlp.down_proj.weight")!.ReadDoubles(), b.Find("model.layers.1.mlp.down_proj.weight")!.ReadDoubles());

        // A weights-only prune has no calibration: the report says false.
        string mag = Path.Combine(TempDir(), "pruned");
        var (c, _, e) = Cli("prune", Folder("llama"), "--method", "magnitude", "--sparsity", "0.5", "--out", mag);
        Assert.True(c == 0, e);
        Assert.False(Report(mag).Flag);
    }

    [Fact]
    public void Sequential_without_calib_is_a_usage_error_that_writes_nothing()
    {
        foreach (var method in new[] { "magnitude", "wanda" })
        {
            string parent = TempDir();
            string[] extra = method == "wanda" ? ["--calib-stats", Path.Combine(parent, "none.npz")] : [];
            var (code, stdout, err) = Cli(["prune", Folder("llama"), "--method", method, "--sparsity", "0.5", .. extra, "--sequential",
                "--out", Path.Combine(parent, "p")]);
            Assert.Equal(2, code);
            Assert.Empty(stdout);
            Assert.Single(err.Trim().Split('\n'));
            Assert.Contains("--sequential", err);
            Assert.Empty(Directory.GetFileSystemEntries(parent));
        }
    }

    [Fact]
    public void Help_lists_the_flag()
    {
        var (_, stdout, err) = Cli("--help");
        Assert.Contains("[--sequential]", stdout + err);
    }
}

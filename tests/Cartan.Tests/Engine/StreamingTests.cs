using System.Diagnostics;
using System.Text.Json;
using Cartan.Engine;
using Cartan.Formats;
using Cartan.Graph;
using Cartan.Linalg;
using Cartan.Report;
using Cartan.Tensors;

namespace Cartan.Tests.Engine;

/// <summary>
/// Band-by-band spectra: range reads of the readers, block reads of layer matrices, the banded Gram route, and an
/// analysis that never holds a float64 copy of a layer.
/// </summary>
public class StreamingTests
{
    public static TheoryData<string> RangeFiles => new()
    {
        "safetensors/small.safetensors", "pytorch/model.pt", "pytorch/model_p4.pt", "gguf/all_types.gguf", "gguf/tiny_llama.gguf",
        "gguf/llamacpp/tiny-Q4_0.gguf", "gguf/llamacpp/tiny-Q4_K_M.gguf", "gguf/llamacpp/tiny-Q5_K_M.gguf",
        "gguf/llamacpp/tiny-Q6_K.gguf", "gguf/llamacpp/tiny-Q8_0.gguf", "gguf/llamacpp/original_f16.gguf",
    };

    [Theory]
    [MemberData(nameof(RangeFiles))]
    public void Range_reads_equal_the_same_slice_of_the_whole_decode(string fixture)
    {
        using var model = WeightSource.Open(TestPaths.Fixture(fixture.Split('/')));
        var rng = new Random(fixture.Length);
        int checkedTensors = 0;
        foreach (var t in model.Tensors.Where(t => t.HasNumericData && t.CanReadRange))
        {
            var all = t.ReadDoubles();
            long n = all.LongLength;
            if (n == 0) continue;
            checkedTensors++;
            // Whole tensor, single elements at both ends, and random (mostly block-unaligned) ranges.
            var ranges = new List<(long, int)> { (0, (int)n), (0, 1), (n - 1, 1) };
            for (int k = 0; k < 12; k++)
            {
                long s = rng.NextInt64(n);
                ranges.Add((s, 1 + rng.Next((int)Math.Min(n - s, 700))));
            }
            foreach (var (s, len) in ranges)
            {
                var dst = new double[len];
                t.ReadRange(s, dst);
                for (int i = 0; i < len; i++)
                    Assert.True(BitConverter.DoubleToInt64Bits(dst[i]) == BitConverter.DoubleToInt64Bits(all[s + i]),
                        $"{t.Name} [{s}+{i}]: {dst[i]} vs {all[s + i]}");
            }
            Assert.Throws<ArgumentOutOfRangeException>(() => t.ReadRange(n, new double[1]));
            Assert.Throws<ArgumentOutOfRangeException>(() => t.ReadRange(-1, new double[1]));
        }
        Assert.True(checkedTensors > 0, "no tensor of the fixture offers range reads");
    }

    /// <summary>A temporary safetensors model with a dense layer (F16), a fused ViT in_proj (F32), a convolution (BF16) and a Keras kernel.</summary>
    private static string MixedModel(string dir)
    {
        var rng = new Random(5);
        double[] R(long n) => Enumerable.Range(0, (int)n).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        var path = Path.Combine(dir, "mixed.safetensors");
        SafetensorsWriter.Write(path,
        [
            ("model.layers.0.mlp.up_proj.weight", [12L, 7L], DType.F16, SafetensorsWriter.Encode(R(84), DType.F16)),
            ("encoder.layers.encoder_layer_0.self_attention.in_proj_weight", [24L, 8L], DType.F32, SafetensorsWriter.Encode(R(192), DType.F32)),
            ("layer1.0.conv1.weight", [6L, 4L, 3L, 3L], DType.BF16, SafetensorsWriter.Encode(R(216), DType.BF16)),
            ("dense/kernel", [5L, 9L], DType.F32, SafetensorsWriter.Encode(R(45), DType.F32)),
        ]);
        return path;
    }

    [Fact]
    public void Convolution_in_and_tap_views_read_from_the_file_equal_the_reordered_decode()
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            using var model = WeightSource.Open(MixedModel(dir));
            var t = model.Tensors.Single(x => x.Name == "layer1.0.conv1.weight");
            Assert.True(t.CanReadRange);
            foreach (var view in new[] { MatrixView.In, MatrixView.Tap })
            {
                var graph = ModelGraph.Build(model, new GraphOptions { ConvView = view });
                var l = graph.Layer("layer1.0.conv1.weight")!;
                var want = Canonical.Matrix(t.ReadDoubles(), t.Shape, TensorLayout.OIHW, view);
                var got = l.Load();
                Assert.Equal(want.Length, got.Length);
                for (int i = 0; i < want.Length; i++)
                    Assert.True(BitConverter.DoubleToInt64Bits(want[i]) == BitConverter.DoubleToInt64Bits(got[i]), $"{view} element {i}");
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Layer_blocks_equal_blocks_of_the_loaded_matrix()
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            using var model = WeightSource.Open(MixedModel(dir));
            var graph = ModelGraph.Build(model);
            var rng = new Random(2);
            var streamed = graph.Layers.Where(l => l.Blocks is not null).Select(l => l.Name).ToList();
            // Dense, the three fused parts and the convolution (out view) stream; the [in, out] Keras kernel cannot.
            Assert.Contains("model.layers.0.mlp.up_proj.weight", streamed);
            Assert.Contains("encoder.layers.encoder_layer_0.self_attention.in_proj_weight#k", streamed);
            Assert.Contains("layer1.0.conv1.weight", streamed);
            Assert.Null(graph.Layer("dense/kernel")?.Blocks);
            Assert.Equal(5, streamed.Count);
            foreach (var l in graph.Layers.Where(l => l.Blocks is not null))
            {
                // A block past the layer's last row or column is refused, even inside a fused tensor (q runs into k).
                Assert.Throws<ArgumentOutOfRangeException>(() => l.Blocks!(l.Rows - 1, 2, 0, 1, new double[2]));
                Assert.Throws<ArgumentOutOfRangeException>(() => l.Blocks!(0, 1, l.Cols - 1, 2, new double[2]));
                var a = l.Load();
                for (int k = 0; k < 20; k++)
                {
                    int r0 = rng.Next(l.Rows), rc = 1 + rng.Next(l.Rows - r0), c0 = rng.Next(l.Cols), cc = 1 + rng.Next(l.Cols - c0);
                    if (k == 0) (r0, rc, c0, cc) = (0, l.Rows, 0, l.Cols);
                    var b = new double[rc * cc];
                    l.Blocks!(r0, rc, c0, cc, b);
                    for (int i = 0; i < rc; i++)
                        for (int j = 0; j < cc; j++)
                            Assert.Equal(a[(r0 + i) * l.Cols + c0 + j], b[i * cc + j]);
                }
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Banded_singular_values_of_a_scaled_permutation_are_its_scales()
    {
        // A wide 6×20 matrix whose row i is s_i at column π(i): its singular values are |s_i|, exactly.
        double[] s = [3.5, -2.25, 1e-3, 7, 0.5, 1];
        int[] pi = [19, 0, 7, 8, 13, 2];
        var a = new double[6 * 20];
        for (int i = 0; i < 6; i++) a[i * 20 + pi[i]] = s[i];
        foreach (long band in new long[] { 1, 6 * 3, 1 << 20 })
        {
            var sigma = Lapack.SingularValuesBanded(6, 20, (start, count, dst) =>
            {
                for (int i = 0; i < 6; i++) for (int j = 0; j < count; j++) dst[i * count + j] = a[i * 20 + start + j];
            }, band);
            var want = s.Select(Math.Abs).OrderDescending().ToArray();
            for (int i = 0; i < 6; i++) Assert.Equal(want[i], sigma[i], 1e-14 * want[0]);
        }
    }

    [Theory]
    [InlineData(37, 11)]
    [InlineData(9, 40)]
    [InlineData(16, 16)]
    public void Banded_singular_values_equal_the_one_call_route(int m, int n)
    {
        var rng = new Random(m * 100 + n);
        var a = Enumerable.Range(0, m * n).Select(_ => rng.NextDouble() - 0.5).ToArray();
        var want = Lapack.SingularValues(a, m, n);
        int calls = 0;
        foreach (long band in new long[] { 1, 5 * Math.Min(m, n), 1 << 20 })
        {
            calls = 0;
            var got = Lapack.SingularValuesBanded(m, n, (start, count, dst) =>
            {
                calls++;
                if (m > n) a.AsSpan(start * n, count * n).CopyTo(dst);                     // rows [start, start+count)
                else for (int i = 0; i < m; i++) a.AsSpan(i * n + start, count).CopyTo(dst.Slice(i * count, count)); // columns
            }, band);
            Assert.Equal(want.Length, got.Length);
            for (int i = 0; i < want.Length; i++) Assert.Equal(want[i], got[i], 1e-13 * want[0]);
            if (band == 1) Assert.Equal(Math.Max(m, n), calls); // one row or column per band
        }
        Assert.Equal(1, calls);
    }

    /// <summary>A 2-block LLaMA-style model as an F32 safetensors file (so its tensors offer range reads).</summary>
    private static string LlamaFile(string dir, Action<string, double[]>? edit = null)
    {
        var rng = new Random(11);
        int d = 32, ff = 48;
        var tensors = new List<(string, long[], double[])>();
        void Add(string name, int r, int c)
        {
            var x = Enumerable.Range(0, r * c).Select(_ => (rng.NextDouble() - 0.5) / Math.Sqrt(c)).ToArray();
            edit?.Invoke(name, x);
            tensors.Add((name, [r, c], x));
        }
        for (int b = 0; b < 2; b++)
        {
            var p = $"model.layers.{b}.";
            Add(p + "self_attn.q_proj.weight", d, d); Add(p + "self_attn.k_proj.weight", d, d); Add(p + "self_attn.v_proj.weight", d, d);
            Add(p + "self_attn.o_proj.weight", d, d); Add(p + "mlp.gate_proj.weight", ff, d); Add(p + "mlp.up_proj.weight", ff, d);
            Add(p + "mlp.down_proj.weight", d, ff);
        }
        var path = Path.Combine(dir, "model.safetensors");
        SafetensorsWriter.Write(path, tensors, DType.F32);
        File.WriteAllText(Path.Combine(dir, "config.json"), """{"model_type":"llama","num_attention_heads":4,"num_key_value_heads":4,"hidden_size":32}""");
        return dir;
    }

    [Fact]
    public void A_streamed_analysis_equals_the_whole_matrix_analysis()
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            using var model = WeightSource.Open(LlamaFile(dir));
            var graph = ModelGraph.Build(model);
            Assert.All(graph.Layers, l => Assert.NotNull(l.Blocks));
            var o = new AnalyzeOptions { Parallelism = 1, SpectraOnly = true, StreamBandElements = 100 }; // several bands per layer
            var streamed = Analyzer.Run(model, graph, o);
            var whole = Analyzer.Run(model, graph, o with { NoStreaming = true });
            Assert.Equal(whole.Layers.Count, streamed.Layers.Count);
            for (int i = 0; i < whole.Layers.Count; i++)
            {
                var (a, b) = (streamed.Layers[i], whole.Layers[i]);
                Assert.Equal(b.Status, a.Status);
                Assert.Equal(b.Frobenius!.Value, a.Frobenius!.Value, 1e-13 * b.Frobenius.Value);
                // Both routes take σ from a Gram matrix, summed in a different order: σ_k carries an absolute error of order
                // ε·σ₁²/σ_k there (rounding in λ = σ² of size ε·σ₁², divided by 2σ_k), so small σ get a wider band.
                for (int k = 0; k < b.Spectrum!.Length; k++)
                    Assert.Equal(b.Spectrum[k], a.Spectrum![k], 1e-13 * b.Spectrum[0] * Math.Max(1, b.Spectrum[0] / b.Spectrum[k]));
                double wa = WwAlpha(a), wb = WwAlpha(b);
                Assert.Equal(wb, wa, 1e-9 * Math.Abs(wb));
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    private static double WwAlpha(LayerRecord r) =>
        (double)((List<KeyValuePair<string, object?>>)r.Extra!["ww"]!).Single(kv => kv.Key == "alpha").Value!;

    [Fact]
    public void A_streamed_layer_with_NaN_fails_and_an_all_zero_layer_is_skipped()
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            using var model = WeightSource.Open(LlamaFile(dir, (name, x) =>
            {
                if (name == "model.layers.0.mlp.up_proj.weight") x[700] = double.NaN;
                if (name == "model.layers.1.mlp.up_proj.weight") Array.Clear(x);
            }));
            var graph = ModelGraph.Build(model);
            var r = Analyzer.Run(model, graph, new AnalyzeOptions { Parallelism = 1, SpectraOnly = true, StreamBandElements = 64 });
            var nan = r.Layers.Single(l => l.Name == "model.layers.0.mlp.up_proj.weight");
            Assert.Equal("failed", nan.Status);
            Assert.Equal("matrix holds NaN or Infinity", nan.Reason);
            var zero = r.Layers.Single(l => l.Name == "model.layers.1.mlp.up_proj.weight");
            Assert.Equal("skipped", zero.Status);
            Assert.Equal(0, zero.Frobenius);
            Assert.Equal("ok", r.Layers.Single(l => l.Name == "model.layers.0.mlp.gate_proj.weight").Status);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Layers_and_exclude_select_by_name_and_say_why_in_skipped()
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            using var model = WeightSource.Open(LlamaFile(dir));
            var graph = ModelGraph.Build(model, new GraphOptions
            {
                Layers = new System.Text.RegularExpressions.Regex(@"layers\.1\."),
                Exclude = new System.Text.RegularExpressions.Regex(@"self_attn\.(q|k)_proj"),
            });
            // Not matched by --layers: block 0's seven layers. Excluded: block 1's q and k.
            Assert.Equal(new[] { "model.layers.1.mlp.down_proj.weight", "model.layers.1.mlp.gate_proj.weight", "model.layers.1.mlp.up_proj.weight",
                "model.layers.1.self_attn.o_proj.weight", "model.layers.1.self_attn.v_proj.weight" }, graph.Layers.Select(l => l.Name).Order().ToArray());
            Assert.Equal(7, graph.Skipped.Count(s => s.Reason.StartsWith("not selected by --layers", StringComparison.Ordinal)));
            Assert.Equal(2, graph.Skipped.Count(s => s.Reason.StartsWith("excluded by --exclude", StringComparison.Ordinal)));
            Assert.All(graph.Interfaces, f => Assert.Contains("layers.1.", f.From));
            Assert.Equal("llama", graph.Architecture);
            Assert.Empty(graph.Errors);
            // A selection that leaves nothing is an error the CLI reports as a usage error (exit 2).
            var none = ModelGraph.Build(model, new GraphOptions { Layers = new System.Text.RegularExpressions.Regex("no-such-layer") });
            Assert.Contains("selects none of the 14 analysable layers", Assert.Single(none.Errors));
            var output = new StringWriter();
            var error = new StringWriter();
            Assert.Equal(2, Cartan.Cli.Cli.Run(["analyze", dir, "--exclude", ".", "--json", Path.Combine(dir, "a.json")], output, error));
            Assert.Contains("--exclude '.' selects none of the 14 analysable layers", error.ToString());
            Assert.False(File.Exists(Path.Combine(dir, "a.json")));
            Assert.Equal(2, Cartan.Cli.Cli.Run(["analyze", dir, "--layers", "("], output, error));
            Assert.Contains("is not a valid regular expression", error.ToString());
        }
        finally { Directory.Delete(dir, true); }
    }
}

/// <summary>The memory goal of issue 8 on a layer large enough that a float64 copy would break it.</summary>
[Collection("timing")]
public class StreamingMemoryTests
{
    [Fact]
    public async Task Spectra_of_a_64_MiB_layer_stay_under_twice_the_tensor_plus_200_MB()
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            // 32768×1024 BF16 = 64 MiB; its float64 copy alone would be 256 MiB.
            const int rows = 32768, cols = 1024;
            var bytes = new byte[(long)rows * cols * 2];
            var rng = new Random(3);
            for (long i = 0; i < bytes.Length; i += 2)
            {
                float v = (float)((rng.NextDouble() - 0.5) * 0.05);
                ushort bf = (ushort)(BitConverter.SingleToInt32Bits(v) >> 16);
                bytes[i] = (byte)bf; bytes[i + 1] = (byte)(bf >> 8);
            }
            var path = Path.Combine(dir, "big.safetensors");
            SafetensorsWriter.Write(path, [("model.layers.0.mlp.up_proj.weight", [rows, cols], DType.BF16, bytes)]);
            bytes = null!;
            var json = Path.Combine(dir, "a.json");
            var cli = Path.Combine(AppContext.BaseDirectory, "Cartan.Cli.dll");
            var psi = new ProcessStartInfo("dotnet", [cli, "analyze", path, "--spectra-only", "--quiet", "--json", json])
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            psi.Environment["CARTAN_REPORT_RSS"] = "1";
            using var p = Process.Start(psi)!;
            var stdoutTask = p.StandardOutput.ReadToEndAsync();
            var stderr = await p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync();
            await stdoutTask;
            Assert.True(p.ExitCode == 0, stderr);
            var rss = double.Parse(stderr.Split('\n').Single(l => l.StartsWith("peak_rss_mib:"))[13..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            double bound = (2 * 64.0 * 1024 * 1024 + 200e6) / (1024 * 1024); // 2× the largest tensor + 200 MB, in MiB
            Assert.True(rss < bound, $"peak RSS {rss:F1} MiB ≥ {bound:F1} MiB");
            using var doc = JsonDocument.Parse(File.ReadAllText(json));
            var layer = doc.RootElement.GetProperty("layers")[0];
            Assert.Equal("ok", layer.GetProperty("status").GetString());
            // Uniform entries of variance (0.05)²/12: σ₁² ≈ rows·cols·var·(1+√(cols/rows))² (Marchenko–Pastur edge), to 5 %.
            double var = 0.05 * 0.05 / 12, edge = Math.Sqrt(rows * var) * (1 + Math.Sqrt((double)cols / rows));
            Assert.Equal(edge, layer.GetProperty("sigma")[0].GetDouble(), 0.05 * edge);
        }
        finally { Directory.Delete(dir, true); }
    }
}

using System.Text.Json;
using Cartan.Formats;
using Xunit.Abstractions;

namespace Cartan.Tests.Formats;

/// <summary>
/// GGUF files quantised by llama.cpp itself (Fixtures/gguf/llamacpp, see the README there): every tensor must come out
/// of our reader with the type llama.cpp wrote and the values ggml's own dequantisers give, within each type's
/// quantisation error of the original weights, and the metadata must give architecture, heads and KV heads.
/// </summary>
public class GgufLlamaCppTests(ITestOutputHelper output)
{
    private static string Dir => TestPaths.Fixture("gguf", "llamacpp");

    private static JsonElement Golden()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Dir, "ggml_golden.json")));
        return doc.RootElement.GetProperty("files").Clone();
    }

    public static TheoryData<string> Files()
    {
        var d = new TheoryData<string>();
        foreach (var f in Golden().EnumerateObject()) d.Add(f.Name);
        return d;
    }

    public static TheoryData<string> QuantisedFiles()
    {
        var d = new TheoryData<string>();
        foreach (var f in Golden().EnumerateObject())
            if (f.Name != "original_f16.gguf") d.Add(f.Name);
        return d;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Every_tensor_has_llama_cpps_type_shape_and_ggml_values(string file)
    {
        var g = Golden().GetProperty(file).GetProperty("tensors");
        using var model = GgufReader.Open(Path.Combine(Dir, file));
        Assert.Empty(model.Skipped);
        Assert.Equal(g.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal),
            model.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));
        foreach (var t in model.Tensors)
        {
            var e = g.GetProperty(t.Name);
            Assert.True(e.GetProperty("type").GetString() == t.StoredType, $"{file} {t.Name}: type {t.StoredType}, llama.cpp wrote {e.GetProperty("type").GetString()}");
            Assert.Equal(e.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray(), t.Shape);
            var y = t.ReadDoubles();
            var (sum, sumsq, wsum) = GgufTests.Checksums(y);
            // ggml dequantises in float32, we in float64: agreement to float32 rounding of each value.
            double rms = Math.Sqrt(sumsq / y.Length);
            double tol = 1e-6 * rms;
            Assert.True(Math.Abs(sumsq - e.GetProperty("sumsq").GetDouble()) <= 1e-5 * sumsq, $"{file} {t.Name}: sum of squares {sumsq:R} vs ggml {e.GetProperty("sumsq").GetDouble():R}");
            Assert.True(Math.Abs(sum - e.GetProperty("sum").GetDouble()) <= tol * y.Length, $"{file} {t.Name}: sum {sum:R} vs ggml {e.GetProperty("sum").GetDouble():R}");
            Assert.True(Math.Abs(wsum - e.GetProperty("wsum").GetDouble()) <= 97 * tol * y.Length, $"{file} {t.Name}: weighted sum {wsum:R} vs ggml");
            var first = e.GetProperty("first").EnumerateArray().Select(x => x.GetDouble()).ToArray();
            for (int i = 0; i < first.Length; i++)
                Assert.True(Math.Abs(first[i] - y[i]) <= 1e-6 * Math.Abs(first[i]) + tol, $"{file} {t.Name}[{i}]: {y[i]:R} vs ggml {first[i]:R}");
            var sampled = e.GetProperty("every1009").EnumerateArray().Select(x => x.GetDouble()).ToArray();
            Assert.Equal((y.Length + 1008) / 1009, sampled.Length);
            for (int k = 0; k < sampled.Length; k++)
                Assert.True(Math.Abs(sampled[k] - y[k * 1009]) <= 1e-6 * Math.Abs(sampled[k]) + tol, $"{file} {t.Name}[{k * 1009}]: {y[k * 1009]:R} vs ggml {sampled[k]:R}");
        }
    }

    /// <summary>
    /// Per block, max |dequantised − original| ≤ <c>MaxStep</c> × the block's largest |original| (the block is the
    /// type's scale block: 32 values for Q8_0/Q4_0, the 256-value super-block for K-quants, whose sub-block scales are
    /// themselves quantised against it), and over the whole tensor the RMS error relative to the RMS weight stays under
    /// <c>Rms</c>. The step bounds come from the layouts: Q8_0 rounds to amax/127 steps (half a step, plus float16
    /// rounding of the scale); Q4_0 uses steps of amax/8 and clamps the extreme on one side by up to a full step;
    /// a b-bit K-quant resolves its super-block range (at most 2·amax) into 2^b − 1 steps, and llama.cpp's
    /// scale search may clip by up to a step.
    /// </summary>
    private static (int Block, double MaxStep, double Rms) Bound(string type) => type switch
    {
        "Q8_0" => (32, 0.5 / 127 + 1.0 / 2048, 0.01),
        "Q4_0" => (32, 1.0 / 8 + 1.0 / 1024, 0.1),
        "Q4_K" => (256, 2.0 / 15, 0.1),
        "Q5_K" => (256, 2.0 / 31, 0.05),
        "Q6_K" => (256, 2.0 / 63, 0.025),
        "F32" or "F16" => (1, 0, 0),
        _ => throw new ArgumentException($"no error bound for {type}"),
    };

    [Theory]
    [MemberData(nameof(QuantisedFiles))]
    public void Dequantised_values_are_within_quantisation_error_of_the_original(string file)
    {
        using var original = GgufReader.Open(Path.Combine(Dir, "original_f16.gguf"));
        using var model = GgufReader.Open(Path.Combine(Dir, file));
        Assert.Equal(original.Tensors.Count, model.Tensors.Count);
        foreach (var t in model.Tensors)
        {
            var o = original.Find(t.Name)!.ReadDoubles();
            var y = t.ReadDoubles();
            Assert.Equal(o.Length, y.Length);
            var (block, maxStep, rmsBound) = Bound(t.StoredType);
            double worstRatio = 0, se = 0, so = 0;
            for (int b = 0; b < o.Length; b += block)
            {
                double amax = 0, err = 0;
                for (int i = b; i < b + block; i++)
                {
                    amax = Math.Max(amax, Math.Abs(o[i]));
                    double d = y[i] - o[i];
                    err = Math.Max(err, Math.Abs(d));
                    se += d * d;
                    so += o[i] * o[i];
                }
                if (amax > 0) worstRatio = Math.Max(worstRatio, err / amax);
                else Assert.Equal(0, err);
            }
            double rel = Math.Sqrt(se / so);
            output.WriteLine($"{file} {t.Name} {t.StoredType}: max err/amax {worstRatio:F5} (bound {maxStep:F5}), rms rel {rel:F5} (bound {rmsBound})");
            Assert.True(worstRatio <= maxStep, $"{file} {t.Name} ({t.StoredType}): a block's max error is {worstRatio:F5} of its amax, over {maxStep:F5}");
            Assert.True(rel <= rmsBound, $"{file} {t.Name} ({t.StoredType}): relative RMS error {rel:F5} over {rmsBound}");
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Metadata_gives_architecture_heads_and_kv_heads(string file)
    {
        var meta = Golden().GetProperty(file).GetProperty("metadata");
        using var model = GgufReader.Open(Path.Combine(Dir, file));
        var cfg = model.Config!.Value;
        Assert.Equal(meta.GetProperty("general.architecture").GetString(), cfg.GetProperty("model_type").GetString());
        Assert.Equal("llama", cfg.GetProperty("model_type").GetString());
        Assert.Equal(meta.GetProperty("llama.attention.head_count").GetInt64(), cfg.GetProperty("num_attention_heads").GetInt64());
        Assert.Equal(meta.GetProperty("llama.attention.head_count_kv").GetInt64(), cfg.GetProperty("num_key_value_heads").GetInt64());
        Assert.Equal(meta.GetProperty("llama.embedding_length").GetInt64(), cfg.GetProperty("hidden_size").GetInt64());
        Assert.Equal(meta.GetProperty("llama.block_count").GetInt64(), cfg.GetProperty("num_hidden_layers").GetInt64());
        Assert.Equal(320, cfg.GetProperty("vocab_size").GetInt64());
        var h = GgufReader.ReadHeader(Path.Combine(Dir, file));
        Assert.Equal((uint)meta.GetProperty("general.file_type").GetInt64(), h.Metadata["general.file_type"]);
        // GQA as the shapes show it: K projects to head_count_kv × head_dim = 2 × 64 rows.
        Assert.Equal(new long[] { 128, 256 }, model.Find("blk.0.attn_k.weight")!.Shape);
    }

    /// <summary>Mutations of a llama.cpp file with mixed Q4_K / Q6_K / F32 tensors: every case opens and decodes or is
    /// refused with a one-line <see cref="CartanFormatException"/>.</summary>
    [Fact]
    public void Fuzz_llama_cpp_q4_k_m()
    {
        var s = FuzzHarness.Run(Dir, "tiny-Q4_K_M.gguf", "tiny-Q4_K_M.gguf", 150, 21, GgufReader.Open);
        Assert.True(s.Rejected > 0 && s.Opened > 0, $"opened {s.Opened}, rejected {s.Rejected}");
    }
}

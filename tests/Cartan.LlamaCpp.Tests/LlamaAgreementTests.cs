using Cartan.Formats;
using Cartan.Torch;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Cartan.LlamaCpp.Tests;

/// <summary>
/// Our LLaMA builder (float64) against llama.cpp, an independent implementation, on the same random weights: the HF
/// folder goes to <see cref="HfModels.Load"/>, the GGUF (with llama.cpp's Q/K row permutation) to llama.cpp.
/// llama.cpp computes in float32, so agreement is expected to about 1e-6 of the logit scale; the test asks 1e-4.
/// </summary>
public class LlamaAgreementTests(ITestOutputHelper output)
{
    private static readonly int[] Tokens = [1, 72, 101, 108, 108, 111, 260, 319, 3, 258, 4, 77, 77, 77, 300, 2, 150, 9, 270, 33, 1, 5, 64, 311];

    private static double[][] Ours(string folder, int[] tokens)
    {
        using var scope = NewDisposeScope();
        using var model = HfModels.Load(folder, ScalarType.Float64);
        using var ids = tensor(tokens.Select(t => (long)t).ToArray(), [1, tokens.Length], dtype: ScalarType.Int64);
        using var logits = model.forward(ids);
        var flat = logits.contiguous().data<double>().ToArray();
        int v = (int)logits.shape[2];
        return [.. Enumerable.Range(0, tokens.Length).Select(i => flat.AsSpan(i * v, v).ToArray())];
    }

    private (double worst, double scale) Compare(TinyLlama m, GgufWriter.TensorType type, string tag)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"cartan-llamacpp-{Guid.NewGuid():N}");
        try
        {
            m.SaveHf(Path.Combine(dir, "hf"));
            string gguf = Path.Combine(dir, "model.gguf");
            m.SaveGguf(gguf, type);
            var theirs = LlamaCpp.Logits(gguf, Tokens);
            var ours = Ours(Path.Combine(dir, "hf"), Tokens);
            Assert.Equal(Tokens.Length, theirs.Length);
            double worst = 0, scale = 0;
            for (int i = 0; i < Tokens.Length; i++)
            {
                Assert.Equal(m.Vocab, theirs[i].Length);
                for (int j = 0; j < m.Vocab; j++)
                {
                    scale = Math.Max(scale, Math.Abs(ours[i][j]));
                    worst = Math.Max(worst, Math.Abs(ours[i][j] - theirs[i][j]));
                }
            }
            output.WriteLine($"{tag}: max |ours - llama.cpp| = {worst:E3}, logit scale {scale:F3}, relative {worst / scale:E3}");
            return (worst, scale);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LogitsAgreeWithLlamaCppForEveryPosition(bool tied)
    {
        var m = new TinyLlama { Tied = tied }.Randomize(seed: tied ? 11 : 7);
        var (worst, scale) = Compare(m, GgufWriter.TensorType.F32, tied ? "tied head" : "separate head");
        Assert.True(scale > 1, $"logit scale {scale} too small for a meaningful comparison");
        Assert.True(worst <= 1e-4 * scale, $"max |diff| {worst:E3} exceeds 1e-4 x {scale:E3}");
    }

    /// <summary>The F16 GGUF holds exactly the same (half-rounded) weights, so llama.cpp's F16 matmuls must agree too,
    /// to float16 activation rounding (llama.cpp converts activations to F16 for F16 weights).</summary>
    [Fact]
    public void F16GgufAgreesToHalfPrecision()
    {
        var m = new TinyLlama().Randomize(seed: 5);
        var (worst, scale) = Compare(m, GgufWriter.TensorType.F16, "F16 weights");
        Assert.True(worst <= 2e-2 * scale, $"max |diff| {worst:E3} exceeds 2e-2 x {scale:E3}");
    }

    /// <summary>Without llama.cpp's Q/K permutation the file still loads but computes a different rotation: the
    /// comparison must see it (so the agreement above is not vacuous).</summary>
    [Fact]
    public void UnpermutedQkIsDetected()
    {
        var m = new TinyLlama().Randomize(seed: 7);
        string dir = Path.Combine(Path.GetTempPath(), $"cartan-llamacpp-{Guid.NewGuid():N}");
        try
        {
            m.SaveHf(Path.Combine(dir, "hf"));
            // Undo the permutation by pre-applying its inverse, so SaveGguf writes the HF row order.
            var inv = new TinyLlama { Tied = m.Tied };
            foreach (var (name, shape, data) in m.Weights)
            {
                int heads = name.EndsWith("q_proj.weight", StringComparison.Ordinal) ? m.Heads
                    : name.EndsWith("k_proj.weight", StringComparison.Ordinal) ? m.KvHeads : 0;
                inv.Weights.Add((name, shape, heads == 0 ? data : Unpermute(data, shape[0], shape[1], heads)));
            }
            string gguf = Path.Combine(dir, "plain.gguf");
            inv.SaveGguf(gguf);
            var theirs = LlamaCpp.Logits(gguf, Tokens);
            var ours = Ours(Path.Combine(dir, "hf"), Tokens);
            double worst = 0, scale = 0;
            for (int i = 1; i < Tokens.Length; i++)
                for (int j = 0; j < m.Vocab; j++)
                {
                    scale = Math.Max(scale, Math.Abs(ours[i][j]));
                    worst = Math.Max(worst, Math.Abs(ours[i][j] - theirs[i][j]));
                }
            output.WriteLine($"unpermuted Q/K: max |diff| {worst:E3} (scale {scale:F3})");
            Assert.True(worst > 1e-2 * scale, $"a wrong RoPE pairing went unnoticed (max |diff| {worst:E3})");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    private static double[] Unpermute(double[] w, long rows, long cols, int heads)
    {
        long d = rows / heads, half = d / 2;
        var o = new double[w.Length];
        for (long h = 0; h < heads; h++)
            for (long i = 0; i < half; i++)
                for (long j = 0; j < 2; j++)
                    Array.Copy(w, (h * d + 2 * i + j) * cols, o, (h * d + j * half + i) * cols, cols);
        return o;
    }

    [Fact]
    public void PermutationMatchesConverterDefinition()
    {
        // 2 heads of dimension 4, one column: rows [h, 2, d/2] transposed to [h, d/2, 2].
        double[] w = [0, 1, 2, 3, 4, 5, 6, 7];
        Assert.Equal([0, 2, 1, 3, 4, 6, 5, 7], TinyLlama.PermuteForGguf(w, 8, 1, 2));
        Assert.Equal(w, Unpermute(TinyLlama.PermuteForGguf(w, 8, 1, 2), 8, 1, 2));
    }
}

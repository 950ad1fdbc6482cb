using Cartan.Formats;
using TorchSharp;
using static TorchSharp.torch;

namespace Cartan.Torch.Tests;

/// <summary>The builders against the PyTorch reference: forward to 1e-4 relative and gradients of one cross-entropy
/// step to 1e-3 in float32; in float64 the same computation must agree far tighter (1e-9 / 1e-8), which catches
/// small formula slips (a wrong epsilon, GELU variant or RoPE convention) that float32 tolerances could hide.</summary>
public class BuilderTests
{
    public static TheoryData<string, ScalarType> Cases()
    {
        var d = new TheoryData<string, ScalarType>();
        foreach (var m in new[] { "llama", "qwen2", "mistral", "gpt2", "bert", "mlp" })
        {
            d.Add(m, ScalarType.Float32);
            d.Add(m, ScalarType.Float64);
        }
        return d;
    }

    private static (double fwd, double grad) Tolerances(ScalarType dtype) =>
        dtype == ScalarType.Float32 ? (1e-4, 1e-3) : (1e-9, 1e-8);

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardAndGradientsMatchPyTorch(string name, ScalarType dtype)
    {
        var (fwdTol, gradTol) = Tolerances(dtype);
        using var reference = new Reference(name);
        using var scope = NewDisposeScope();
        using var model = HfModels.Load(reference.Folder, dtype);
        Tensor output;
        switch (model)
        {
            case BertModel bert:
                var hidden = bert.Encode(reference.Long("input_ids"), reference.Long("attention_mask"), reference.Long("token_type_ids"));
                Reference.Close(reference.Doubles("hidden"), hidden, fwdTol, "bert hidden state");
                output = matmul(hidden, bert.WordEmbeddings.t());
                break;
            case MlpModel mlp:
                output = mlp.forward(reference.Double("inputs", dtype));
                break;
            default:
                output = model.forward(reference.Long("input_ids"));
                break;
        }
        Reference.Close(reference.Doubles("output"), output, fwdTol, $"{name} output");

        var targets = reference.Long("targets");
        var loss = nn.functional.cross_entropy(output.reshape(-1, output.shape[^1]), targets.reshape(-1));
        Reference.Close(reference.Doubles("loss"), loss.reshape(1), fwdTol, $"{name} loss");
        loss.backward();
        Assert.NotEmpty(model.Weights);
        double global = model.Weights.Max(w => reference.Doubles("grad." + w.Name).Max(Math.Abs));
        foreach (var (hfName, p) in model.Weights)
        {
            // A key bias adds the same q·b to every score of a row, which softmax ignores: its exact gradient is zero
            // and both sides hold only rounding noise, so it is judged against the model's gradient scale.
            double floor = hfName.EndsWith("attention.self.key.bias", StringComparison.Ordinal) ? global : 0;
            Reference.Close(reference.Doubles("grad." + hfName), p.grad!, gradTol, $"{name} gradient of {hfName}", floor);
        }
    }

    [Fact]
    public void Qwen2HasQkvBiasesAndMistralASlidingWindow()
    {
        using (var reference = new Reference("qwen2"))
        using (var qwen = (LlamaModel)HfModels.Load(reference.Folder))
        {
            var names = qwen.Weights.Select(w => w.Name).ToHashSet();
            Assert.Contains("model.layers.1.self_attn.k_proj.bias", names);
            Assert.DoesNotContain("model.layers.1.self_attn.o_proj.bias", names);
            Assert.Null(qwen.SlidingWindow);
        }
        using (var reference = new Reference("mistral"))
        using (var mistral = (LlamaModel)HfModels.Load(reference.Folder))
        {
            Assert.Equal(4, mistral.SlidingWindow);
            // Without the window the same weights give other logits: the reference really exercises it.
            using var scope = NewDisposeScope();
            var cfg = HfConfig.Parse(File.ReadAllText(Path.Combine(reference.Folder, "config.json")).Replace("\"mistral\"", "\"llama\""));
            using var plain = (LlamaModel)HfModels.Load(reference.Folder, ScalarType.Float64, cfg);
            Assert.Null(plain.SlidingWindow);
            var ids = reference.Long("input_ids");
            using var windowed = (LlamaModel)HfModels.Load(reference.Folder, ScalarType.Float64);
            double diff = (windowed.forward(ids) - plain.forward(ids)).abs().max().item<double>();
            Assert.True(diff > 1e-3, $"window changed logits by only {diff}");
        }
    }

    [Fact]
    public void LlamaUsesGroupedQueryAttention()
    {
        using var reference = new Reference("llama");
        using var model = (LlamaModel)HfModels.Load(reference.Folder);
        Assert.Equal(4, model.Heads);
        Assert.Equal(2, model.KvHeads);
        var k = model.Weights.Single(w => w.Name == "model.layers.0.self_attn.k_proj.weight").Param;
        Assert.Equal(new long[] { 16, 32 }, k.shape);
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("qwen2")]
    [InlineData("mistral")]
    [InlineData("gpt2")]
    [InlineData("bert")]
    [InlineData("mlp")]
    public void SavedFolderReadsBackWithHfNamesAndSameNumbers(string name)
    {
        using var reference = new Reference(name);
        string dir = Path.Combine(Path.GetTempPath(), $"cartan-torch-{name}-{Guid.NewGuid():N}");
        try
        {
            using (var model = HfModels.Load(reference.Folder))
                HfModels.Save(model, dir);
            using var original = WeightSource.Open(reference.Folder);
            using var saved = WeightSource.Open(dir);
            Assert.Equal("safetensors", saved.Format);
            Assert.NotNull(saved.Config);
            Assert.Equal(name, saved.Config!.Value.GetProperty("model_type").GetString());
            Assert.Equal(original.Tensors.Select(t => t.Name).Order(), saved.Tensors.Select(t => t.Name).Order());
            foreach (var t in original.Tensors)
            {
                var s = saved.Find(t.Name)!;
                Assert.Equal(t.Shape, s.Shape);
                Assert.Equal("F32", s.StoredType);
                Assert.Equal(t.ReadDoubles(), s.ReadDoubles());
            }
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void MissingOrMisshapedWeightsAreFormatErrors()
    {
        using var reference = new Reference("gpt2");
        using var weights = WeightSource.Open(reference.Folder);
        var cfg = new HfConfig(weights.Config!.Value);
        using var model = HfModels.Build(cfg);
        var byName = weights.Tensors.ToDictionary(t => t.Name);
        var missing = Assert.Throws<CartanFormatException>(() =>
            model.LoadWeights(n => n == "transformer.h.1.attn.c_attn.weight" ? null : byName.GetValueOrDefault(n), "x"));
        Assert.Contains("transformer.h.1.attn.c_attn.weight", missing.Message);
        var wrong = Assert.Throws<CartanFormatException>(() =>
            model.LoadWeights(n => n == "transformer.wpe.weight" ? byName["transformer.wte.weight"] : byName.GetValueOrDefault(n), "x"));
        Assert.Contains("shape", wrong.Message);
        Assert.Throws<CartanFormatException>(() => HfModels.Build(HfConfig.Parse("""{"model_type": "t5"}""")));
        Assert.Throws<CartanFormatException>(() => HfModels.Build(HfConfig.Parse("""{"model_type": "llama", "vocab_size": 10}""")));
    }

    [Fact]
    public void Gpt2ReadsHubNamesWithoutTransformerPrefix()
    {
        using var reference = new Reference("gpt2");
        using var weights = WeightSource.Open(reference.Folder);
        var stripped = weights.Tensors.ToDictionary(t => t.Name["transformer.".Length..]);
        using var a = HfModels.Build(new HfConfig(weights.Config!.Value));
        a.LoadWeights(n => stripped.GetValueOrDefault(n), "hub");
        using var ids = reference.Long("input_ids");
        using var logits = a.forward(ids);
        Reference.Close(reference.Doubles("output"), logits, 1e-4, "gpt2 from hub names");
    }
}

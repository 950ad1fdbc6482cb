using Cartan.Cli;
using static TorchSharp.torch;

namespace Cartan.Torch.Tests;

/// <summary>The embedded all-MiniLM-L6-v2 run through <see cref="BertModel"/> against a numpy run of its own ONNX graph.</summary>
public class MiniLmTests
{
    private const string Config = """
        {"model_type": "bert", "vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
         "intermediate_size": 1536, "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
         "hidden_act": "gelu"}
        """;

    [Fact]
    public void OnnxWeightsGetTheirHfNames()
    {
        using var onnx = DefaultModel.Open();
        var w = OnnxBert.HfWeights(onnx);
        for (int i = 0; i < 6; i++)
            foreach (var n in new[] { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense", "intermediate.dense", "output.dense" })
                Assert.True(w.ContainsKey($"encoder.layer.{i}.{n}.weight"), $"layer {i} {n}");
        Assert.Equal(new long[] { 1536, 384 }, w["encoder.layer.3.intermediate.dense.weight"].Shape);
        Assert.Equal(new long[] { 384, 1536 }, w["encoder.layer.3.output.dense.weight"].Shape);
    }

    [Fact]
    public void MeanPooledEmbeddingsMatchTheOnnxGraph()
    {
        using var reference = new Reference("minilm");
        using var onnx = DefaultModel.Open();
        using var model = new BertModel(HfConfig.Parse(Config));
        var weights = OnnxBert.HfWeights(onnx);
        model.LoadWeights(n => weights.GetValueOrDefault(n), onnx.Source);
        using var scope = NewDisposeScope();
        var mask = reference.Long("attention_mask");
        var hidden = model.Encode(reference.Long("input_ids"), mask, reference.Long("token_type_ids"));
        var pooled = BertModel.MeanPool(hidden, mask);
        Reference.Close(reference.Doubles("embeddings"), pooled, 1e-4, "MiniLM mean-pooled embeddings");
        Reference.Close(reference.Doubles("hidden_first_tokens"), hidden.narrow(1, 0, 3), 1e-4, "MiniLM hidden states");
    }
}

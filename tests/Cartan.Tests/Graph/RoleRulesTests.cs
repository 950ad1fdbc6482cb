using Cartan.Graph;

namespace Cartan.Tests.Graph;

public class RoleRulesTests
{
    [Theory]
    // LLaMA / Mistral / Qwen
    [InlineData("model.layers.3.self_attn.q_proj.weight", Roles.Q, 3)]
    [InlineData("model.layers.3.self_attn.k_proj.weight", Roles.K, 3)]
    [InlineData("model.layers.3.self_attn.v_proj.weight", Roles.V, 3)]
    [InlineData("model.layers.3.self_attn.o_proj.weight", Roles.O, 3)]
    [InlineData("model.layers.11.mlp.gate_proj.weight", Roles.Gate, 11)]
    [InlineData("model.layers.11.mlp.up_proj.weight", Roles.Up, 11)]
    [InlineData("model.layers.11.mlp.down_proj.weight", Roles.Down, 11)]
    [InlineData("model.embed_tokens.weight", Roles.Embedding, null)]
    [InlineData("lm_head.weight", Roles.LmHead, null)]
    // GPT-2
    [InlineData("h.5.attn.c_attn.weight", Roles.Qkv, 5)]
    [InlineData("transformer.h.5.attn.c_proj.weight", Roles.O, 5)]
    [InlineData("h.5.mlp.c_fc.weight", Roles.Up, 5)]
    [InlineData("h.5.mlp.c_proj.weight", Roles.Down, 5)]
    [InlineData("wte.weight", Roles.Embedding, null)]
    [InlineData("wpe.weight", Roles.Embedding, null)]
    // BERT (also the dotted form of ONNX node paths)
    [InlineData("encoder.layer.0.attention.self.query.weight", Roles.Q, 0)]
    [InlineData("encoder.layer.0.attention.self.key.weight", Roles.K, 0)]
    [InlineData("encoder.layer.0.attention.self.value.weight", Roles.V, 0)]
    [InlineData("encoder.layer.0.attention.output.dense.weight", Roles.O, 0)]
    [InlineData("encoder.layer.0.intermediate.dense.weight", Roles.Up, 0)]
    [InlineData("encoder.layer.0.output.dense.weight", Roles.Down, 0)]
    [InlineData("/encoder/layer.4/attention/self/query", Roles.Q, 4)]
    [InlineData("embeddings.word_embeddings.weight", Roles.Embedding, null)]
    // ViT / nn.MultiheadAttention (torchvision naming)
    [InlineData("encoder.layers.encoder_layer_7.self_attention.in_proj_weight", Roles.Qkv, 7)]
    [InlineData("encoder.layers.encoder_layer_7.self_attention.out_proj.weight", Roles.O, 7)]
    [InlineData("encoder.layers.encoder_layer_7.mlp.0.weight", Roles.Up, 7)]
    [InlineData("encoder.layers.encoder_layer_7.mlp.3.weight", Roles.Down, 7)]
    [InlineData("blocks.2.attn.qkv.weight", Roles.Qkv, 2)]
    [InlineData("blocks.2.attn.proj.weight", Roles.O, 2)]
    [InlineData("blocks.2.mlp.fc1.weight", Roles.Up, 2)]
    [InlineData("blocks.2.mlp.fc2.weight", Roles.Down, 2)]
    // TF/tfjs transformer (Universal Sentence Encoder style)
    [InlineData("Encode/TransformerStack/Layer_0/TransformerLayer/MultiheadAttention/qkv_transform_single/kernel/part_0", Roles.Qkv, 0)]
    [InlineData("Encode/TransformerStack/Layer_1/TransformerLayer/MultiheadAttention/output_transform_single/kernel/part_0", Roles.O, 1)]
    [InlineData("Encode/TransformerStack/Layer_1/TransformerLayer/FFN/conv1/Tensordot/Reshape_1", Roles.Up, 1)]
    [InlineData("Encode/TransformerStack/Layer_1/TransformerLayer/FFN/conv2/Tensordot/Reshape_1", Roles.Down, 1)]
    // Keras / tfjs
    [InlineData("dnn/input_from_feature_columns/input_layer/content_embedding/embedding_weights", Roles.Embedding, null)]
    public void Known_names_get_their_role_and_block(string name, string role, int? block)
    {
        var m = RoleRules.Classify(name);
        Assert.NotNull(m);
        Assert.Equal(role, m!.Role);
        Assert.Equal(block, m.Block);
    }

    [Theory]
    [InlineData("layer1.0.conv1.weight")]
    [InlineData("fc.weight")]
    [InlineData("dnn/hiddenlayer_0/kernel")]
    [InlineData("features.3.weight")]
    public void Unknown_names_get_no_rule(string name) => Assert.Null(RoleRules.Classify(name));

    [Fact]
    public void Attention_output_is_not_mistaken_for_the_mlp_output()
    {
        Assert.Equal(Roles.O, RoleRules.Classify("bert.encoder.layer.2.attention.output.dense.weight")!.Role);
        Assert.Equal(Roles.Down, RoleRules.Classify("bert.encoder.layer.2.output.dense.weight")!.Role);
    }
}

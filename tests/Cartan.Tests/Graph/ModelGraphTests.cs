using Cartan.Formats;
using Cartan.Graph;
using Cartan.Tensors;
using static Cartan.Tests.Graph.GraphTestModels;

namespace Cartan.Tests.Graph;

public class ModelGraphTests
{
    [Fact]
    public void Llama_roles_heads_gqa_and_block_interfaces()
    {
        using var m = Llama(L: 2, d: 64, H: 8, G: 2, ff: 96);
        var g = ModelGraph.Build(m);
        Assert.Equal("llama", g.Architecture);
        Assert.Equal(14, g.Layers.Count);
        Assert.Equal(new HeadInfo(8, 2, 8, "config.json"), g.Heads);
        var k = g.Layer("model.layers.0.self_attn.k_proj.weight")!;
        Assert.Equal(Roles.K, k.Role);
        Assert.Equal(2, k.Heads!.NumHeads);
        Assert.Equal(8, k.Heads.HeadDim);
        var o = g.Layer("model.layers.1.self_attn.o_proj.weight")!;
        Assert.Equal(8, o.Heads!.NumHeads);
        Assert.Contains(g.Skipped, s => s.Name == "model.embed_tokens.weight" && s.Reason.Contains("embedding"));
        Assert.Contains(g.Skipped, s => s.Name == "lm_head.weight" && s.Role == Roles.LmHead);
        Assert.Contains(g.Skipped, s => s.Name == "model.norm.weight" && s.Reason.Contains("1-D"));

        string P(int b, string s) => $"model.layers.{b}.{s}.weight";
        var pairs = g.Interfaces.Select(i => (i.From, i.To, i.Dim)).ToHashSet();
        // v (16 rows with GQA) does not feed o (64 columns) directly: no v→o pair with mismatched dims.
        Assert.DoesNotContain(g.Interfaces, i => i.From == P(0, "self_attn.v_proj") && i.To == P(0, "self_attn.o_proj"));
        Assert.Contains((P(0, "self_attn.o_proj"), P(0, "mlp.up_proj"), 64), pairs);
        Assert.Contains((P(0, "self_attn.o_proj"), P(0, "mlp.gate_proj"), 64), pairs);
        Assert.Contains((P(0, "mlp.up_proj"), P(0, "mlp.down_proj"), 96), pairs);
        Assert.Contains((P(0, "mlp.gate_proj"), P(0, "mlp.down_proj"), 96), pairs);
        Assert.Contains((P(0, "mlp.down_proj"), P(1, "self_attn.q_proj"), 64), pairs);
        Assert.Contains((P(0, "mlp.down_proj"), P(1, "self_attn.k_proj"), 64), pairs);
        Assert.Contains((P(0, "mlp.down_proj"), P(1, "self_attn.v_proj"), 64), pairs);
        Assert.DoesNotContain(g.Interfaces, i => i.From == P(1, "mlp.down_proj")); // no block after the last
    }

    [Fact]
    public void Multihead_v_to_o_pair_exists_without_gqa()
    {
        using var m = Llama(L: 1, d: 32, H: 4, G: 4, ff: 48);
        var g = ModelGraph.Build(m);
        Assert.Contains(g.Interfaces, i => i.From.EndsWith("v_proj.weight") && i.To.EndsWith("o_proj.weight") && i.Dim == 32);
    }

    [Fact]
    public void Embeddings_are_included_on_request()
    {
        using var m = Llama(L: 1);
        var g = ModelGraph.Build(m, new GraphOptions { IncludeEmbeddings = true });
        Assert.Equal(Roles.Embedding, g.Layer("model.embed_tokens.weight")!.Role);
        Assert.Equal(Roles.LmHead, g.Layer("lm_head.weight")!.Role);
    }

    [Fact]
    public void Gpt2_c_attn_is_transposed_and_split_into_q_k_v()
    {
        int d = 12;
        using var m = Model("safetensors",
        [
            T("h.0.attn.c_attn.weight", d, 3 * d), T("h.0.attn.c_proj.weight", d, d),
            T("h.0.mlp.c_fc.weight", d, 4 * d), T("h.0.mlp.c_proj.weight", 4 * d, d),
        ], """{"model_type":"gpt2","n_head":3,"n_embd":12}""");
        var g = ModelGraph.Build(m);
        var q = g.Layer("h.0.attn.c_attn.weight#q")!;
        var k = g.Layer("h.0.attn.c_attn.weight#k")!;
        var v = g.Layer("h.0.attn.c_attn.weight#v")!;
        Assert.Equal((Roles.Q, 12, 12), (q.Role, q.Rows, q.Cols));
        Assert.Equal(Roles.K, k.Role);
        Assert.Equal(3, v.Heads!.NumHeads);
        Assert.Equal(4, v.Heads.HeadDim);
        // Canonical = transpose of [in, 3·out]; v holds stored columns 2d..3d-1.
        var stored = m.Find("h.0.attn.c_attn.weight")!.ReadDoubles();
        var vm = v.Load();
        for (int r = 0; r < d; r++)
            for (int c = 0; c < d; c++)
                Assert.Equal(stored[c * 3 * d + 2 * d + r], vm[r * d + c]);
        var up = g.Layer("h.0.mlp.c_fc.weight")!;
        Assert.Equal((48, 12), (up.Rows, up.Cols));
        Assert.Contains(g.Interfaces, i => i.From == "h.0.attn.c_attn.weight#v" && i.To == "h.0.attn.c_proj.weight");
        Assert.Contains(g.Interfaces, i => i.From == "h.0.mlp.c_fc.weight" && i.To == "h.0.mlp.c_proj.weight" && i.Dim == 48);
    }

    [Fact]
    public void Vit_in_proj_rows_are_q_k_v_blocks()
    {
        int d = 8;
        using var m = Model("safetensors",
        [
            T("encoder.layers.encoder_layer_0.self_attention.in_proj_weight", 3 * d, d),
            T("encoder.layers.encoder_layer_0.self_attention.out_proj.weight", d, d),
        ]);
        var g = ModelGraph.Build(m, new GraphOptions { Heads = 2 });
        var stored = m.Tensors[0].ReadDoubles();
        var k = g.Layer("encoder.layers.encoder_layer_0.self_attention.in_proj_weight#k")!;
        Assert.Equal(stored[(d * d)..(2 * d * d)], k.Load());
        Assert.Equal(2, k.Heads!.NumHeads);
        Assert.Equal("command line", g.Heads!.Source);
    }

    [Fact]
    public void Convnet_without_op_graph_chains_by_order_when_channels_match()
    {
        using var m = Model("safetensors",
        [
            T("conv1.weight", 8, 3, 3, 3), T("bn1.weight", 8), T("conv2.weight", 16, 8, 3, 3), T("fc.weight", 10, 16),
        ]);
        var g = ModelGraph.Build(m);
        Assert.Equal("cnn", g.Architecture);
        var c2 = g.Layer("conv2.weight")!;
        Assert.Equal((16, 72), (c2.Rows, c2.Cols));
        Assert.Contains(g.Interfaces, i => i.From == "conv1.weight" && i.To == "conv2.weight" && i.Dim == 8);
        Assert.Contains(g.Interfaces, i => i.From == "conv2.weight" && i.To == "fc.weight" && i.Dim == 16);
    }

    [Fact]
    public void Op_graph_data_flow_links_convs_through_relu_and_one_residual_add()
    {
        // x → Conv(w1) → Relu → Conv(w2) → Add(x1 residual) → Conv(w3) → Add(second residual) → Conv(w4)
        var tensors = new[]
        {
            T("w1", TensorLayout.OIHW, 4, 3, 3, 3), T("w2", TensorLayout.OIHW, 4, 4, 3, 3),
            T("w3", TensorLayout.OIHW, 4, 4, 1, 1), T("w4", TensorLayout.OIHW, 4, 4, 1, 1),
        };
        OpNode N(string name, string op, string[] ins, string[] outs) => new(name, op, ins, outs, new Dictionary<string, object>());
        var graph = new OpGraph(
        [
            N("c1", "Conv", ["x", "w1"], ["a"]), N("r1", "Relu", ["a"], ["b"]),
            N("c2", "Conv", ["b", "w2"], ["c"]), N("add1", "Add", ["c", "a"], ["d"]),
            N("c3", "Conv", ["d", "w3"], ["e"]), N("add2", "Add", ["e", "d"], ["f"]),
            N("c4", "Conv", ["f", "w4"], ["y"]),
        ], ["x"], ["y"]);
        using var m = Model("onnx", tensors, graph: graph);
        var g = ModelGraph.Build(m);
        var pairs = g.Interfaces.Select(i => (i.From, i.To)).ToHashSet();
        Assert.Contains(("w1", "w2"), pairs);  // through Relu
        Assert.Contains(("w1", "w3"), pairs);  // skip path through one residual Add
        Assert.Contains(("w2", "w3"), pairs);
        Assert.Contains(("w3", "w4"), pairs);
        Assert.DoesNotContain(("w1", "w4"), pairs); // would need two residual Adds
    }

    [Fact]
    public void Onnx_opaque_initializers_take_their_role_from_the_bias_name()
    {
        int d = 6;
        var tensors = new[]
        {
            T("927", TensorLayout.InOut, d, d), T("encoder.layer.0.attention.self.value.bias", d),
            T("onnx::MatMul_12", TensorLayout.InOut, d, d), T("encoder.layer.0.attention.output.dense.bias", d),
        };
        OpNode N(string name, string op, string[] ins, string[] outs) => new(name, op, ins, outs, new Dictionary<string, object>());
        var graph = new OpGraph(
        [
            N("MatMul_1", "MatMul", ["x", "927"], ["m1"]), N("Add_1", "Add", ["encoder.layer.0.attention.self.value.bias", "m1"], ["v"]),
            N("MatMul_2", "MatMul", ["v", "onnx::MatMul_12"], ["m2"]), N("Add_2", "Add", ["m2", "encoder.layer.0.attention.output.dense.bias"], ["o"]),
        ]);
        using var m = Model("onnx", tensors, graph: graph);
        var g = ModelGraph.Build(m, new GraphOptions { Heads = 2 });
        Assert.Equal(Roles.V, g.Layer("927")!.Role);
        Assert.Equal(0, g.Layer("927")!.Block);
        Assert.Equal(Roles.O, g.Layer("onnx::MatMul_12")!.Role);
        Assert.Contains(g.Interfaces, i => i.From == "927" && i.To == "onnx::MatMul_12");
    }

    [Fact]
    public void Explicit_pairs_are_added_and_bad_ones_reported()
    {
        using var m = Llama(L: 1, d: 32, H: 4, G: 4, ff: 48);
        var ok = ModelGraph.Build(m, new GraphOptions
        {
            InferPairs = false,
            ExplicitPairs = [("model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.up_proj.weight")],
        });
        Assert.Single(ok.Interfaces);
        Assert.Equal("--pair", ok.Interfaces[0].InferredBy);
        Assert.Empty(ok.Errors);
        var bad = ModelGraph.Build(m, new GraphOptions { ExplicitPairs = [("nope", "model.layers.0.mlp.up_proj.weight")] });
        Assert.Single(bad.Errors);
        var mismatch = ModelGraph.Build(m, new GraphOptions { ExplicitPairs = [("model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.up_proj.weight")] });
        Assert.Contains("48", mismatch.Errors.Single());
    }

    [Fact]
    public void Every_tensor_is_either_a_layer_or_skipped_with_a_reason()
    {
        using var m = Model("safetensors",
        [
            T("a.weight", 4, 4), T("b.bias", 4), new WeightTensor("ids", [3, 3], DType.I64, "I64", () => new double[9]),
            T("depthwise.weight", 8, 1, 3, 3), T("tiny.weight", 1, 5), T("odd", 2, 2, 2, 2, 2, 2),
        ]);
        var g = ModelGraph.Build(m);
        var names = g.Layers.Select(l => l.TensorName).Concat(g.Skipped.Select(s => s.Name)).ToHashSet();
        Assert.Equal(m.Tensors.Select(t => t.Name).ToHashSet(), names);
        Assert.All(g.Skipped, s => Assert.False(string.IsNullOrWhiteSpace(s.Reason)));
        Assert.Contains(g.Skipped, s => s.Name == "depthwise.weight" && s.Reason.Contains("depthwise"));
        Assert.Contains(g.Skipped, s => s.Name == "tiny.weight" && s.Reason.Contains("rank below 2"));
    }

    [Fact]
    public void Resnet_blocks_chain_convs_and_feed_the_downsample_branch()
    {
        using var m = Model("safetensors",
        [
            T("conv1.weight", 8, 3, 7, 7), T("bn1.weight", 8),
            T("layer1.0.conv1.weight", 8, 8, 3, 3), T("layer1.0.conv2.weight", 8, 8, 3, 3),
            T("layer2.0.conv1.weight", 16, 8, 3, 3), T("layer2.0.conv2.weight", 16, 16, 3, 3), T("layer2.0.downsample.0.weight", 16, 8, 1, 1),
            T("layer2.1.conv1.weight", 16, 16, 3, 3), T("layer2.1.conv2.weight", 16, 16, 3, 3),
            T("fc.weight", 10, 16),
        ]);
        var g = ModelGraph.Build(m);
        var pairs = g.Interfaces.Select(i => (i.From, i.To)).ToHashSet();
        Assert.Contains(("conv1.weight", "layer1.0.conv1.weight"), pairs);
        Assert.Contains(("layer1.0.conv1.weight", "layer1.0.conv2.weight"), pairs);
        Assert.Contains(("layer1.0.conv2.weight", "layer2.0.conv1.weight"), pairs);
        Assert.Contains(("layer1.0.conv2.weight", "layer2.0.downsample.0.weight"), pairs);
        Assert.Contains(("layer2.0.conv2.weight", "layer2.1.conv1.weight"), pairs);
        Assert.Contains(("layer2.1.conv2.weight", "fc.weight"), pairs);
        Assert.DoesNotContain(("layer2.0.conv2.weight", "layer2.0.downsample.0.weight"), pairs);
        Assert.All(g.Interfaces, i => Assert.Equal("ResNet block structure", i.InferredBy));
    }

    [Fact]
    public void Order_pairs_do_not_cross_a_skipped_depthwise_conv()
    {
        using var m = Model("safetensors",
        [
            T("features.0.weight", 16, 8, 1, 1), T("features.1.weight", 16, 1, 3, 3), T("features.2.weight", 16, 16, 1, 1),
            T("features.3.weight", 16, 16, 1, 1),
        ]);
        var g = ModelGraph.Build(m);
        Assert.Contains(g.Skipped, s => s.Name == "features.1.weight");
        Assert.DoesNotContain(g.Interfaces, i => i.From == "features.0.weight");
        Assert.Contains(g.Interfaces, i => i.From == "features.2.weight" && i.To == "features.3.weight");
    }

    [Fact]
    public void A_1x1_conv_named_as_fused_qkv_is_a_dense_projection_split_into_q_k_v()
    {
        // tfjs stores the 1×1 kernel HWIO [1, 1, in, 3·d]; the canonical matrix is (3·d) × in, rows [Q; K; V].
        var w = T("Layer_0/MultiheadAttention/qkv_transform_single/kernel", TensorLayout.HWIO, 1, 1, 8, 24);
        using var m = Model("tfjs", [w, T("Layer_0/MultiheadAttention/output_transform_single/kernel", TensorLayout.HWIO, 1, 1, 8, 8)]);
        var g = ModelGraph.Build(m);
        var k = g.Layer(w.Name + "#k")!;
        Assert.Equal((Roles.K, 8, 8), (k.Role, k.Rows, k.Cols));
        var stored = w.ReadDoubles(); // [in=8][out=24]
        var km = k.Load();
        for (int r = 0; r < 8; r++)
            for (int c = 0; c < 8; c++)
                Assert.Equal(stored[c * 24 + 8 + r], km[r * 8 + c]);
        Assert.Contains(g.Interfaces, i => i.From == w.Name + "#v" && i.To.Contains("output_transform"));
    }
}

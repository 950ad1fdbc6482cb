using System.Text.Json;
using Cartan.Formats;
using Cartan.Tensors;

namespace Cartan.Tests.Graph;

/// <summary>In-memory models for graph-inference tests: tensors with deterministic contents, no files.</summary>
internal static class GraphTestModels
{
    public static WeightTensor T(string name, params long[] shape) => T(name, TensorLayout.Unknown, shape);

    public static WeightTensor T(string name, TensorLayout layout, params long[] shape)
    {
        long n = 1; foreach (var d in shape) n *= d;
        return new WeightTensor(name, shape, DType.F32, "F32", () =>
        {
            var a = new double[n];
            for (long i = 0; i < n; i++) a[i] = i + 1;
            return a;
        }, layout);
    }

    public static WeightModel Model(string format, IEnumerable<WeightTensor> tensors, string? config = null, OpGraph? graph = null)
    {
        var m = new WeightModel("test-model", format, tensors.ToList(), graph);
        if (config is not null) { using var d = JsonDocument.Parse(config); m.Config = d.RootElement.Clone(); }
        return m;
    }

    /// <summary>A LLaMA-style model: L blocks, hidden d, H heads, G kv heads, d_ff; with embeddings, norms and LM head.</summary>
    public static WeightModel Llama(int L = 2, int d = 64, int H = 8, int G = 2, int ff = 96)
    {
        int hd = d / H;
        var ts = new List<WeightTensor> { T("model.embed_tokens.weight", 100, d) };
        for (int b = 0; b < L; b++)
        {
            var p = $"model.layers.{b}.";
            ts.Add(T(p + "self_attn.q_proj.weight", H * hd, d));
            ts.Add(T(p + "self_attn.k_proj.weight", G * hd, d));
            ts.Add(T(p + "self_attn.v_proj.weight", G * hd, d));
            ts.Add(T(p + "self_attn.o_proj.weight", d, H * hd));
            ts.Add(T(p + "mlp.gate_proj.weight", ff, d));
            ts.Add(T(p + "mlp.up_proj.weight", ff, d));
            ts.Add(T(p + "mlp.down_proj.weight", d, ff));
            ts.Add(T(p + "input_layernorm.weight", d));
        }
        ts.Add(T("model.norm.weight", d));
        ts.Add(T("lm_head.weight", 100, d));
        return Model("safetensors", ts, $$"""{"model_type":"llama","num_attention_heads":{{H}},"num_key_value_heads":{{G}},"hidden_size":{{d}}}""");
    }
}

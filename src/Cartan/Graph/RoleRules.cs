using System.Text.RegularExpressions;

namespace Cartan.Graph;

/// <summary>Layer roles of the output contract.</summary>
public static class Roles
{
    public const string Linear = "linear", Conv = "conv", Q = "attn_q", K = "attn_k", V = "attn_v", O = "attn_o",
        Qkv = "attn_qkv", Up = "mlp_up", Gate = "mlp_gate", Down = "mlp_down", Embedding = "embedding",
        LmHead = "lm_head", Lstm = "lstm", Other = "other";

    public static bool IsAttention(string role) => role is Q or K or V or O or Qkv;
    public static bool IsMlp(string role) => role is Up or Gate or Down;
}

/// <summary>A role decided by an explicit naming rule, with the rule's name for <c>inspect</c>.</summary>
public sealed record RoleMatch(string Role, int? Block, string Family, string Rule);

/// <summary>
/// Explicit naming rules for the model families we know (LLaMA/Mistral/Qwen, GPT-2, BERT, ViT and
/// nn.MultiheadAttention, torchvision ResNet/MobileNet, Keras/tfjs). A name is normalised first
/// (<c>/</c> and <c>:</c> become <c>.</c>), then the first matching rule wins. Every rule is tested.
/// </summary>
public static class RoleRules
{
    private sealed record Rule(string Name, string Role, string Family, Regex Pattern);

    private static Regex R(string p) => new(p, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Compiled);

    // Order matters: the attention output projection must be tried before the MLP's "output.dense".
    private static readonly Rule[] Rules =
    [
        new("lm-head", Roles.LmHead, "any", R(@"(^|\.)(lm_head|embed_out)(\.|$)")),
        new("embedding", Roles.Embedding, "any", R(@"(^|\.)([a-z_]*embed[a-z_]*|wte|wpe|class_token|cls_token|shared)(\.|$)")),
        new("gpt2-c_attn", Roles.Qkv, "gpt2", R(@"(^|\.)attn\.c_attn(\.|$)")),
        new("gpt2-attn-c_proj", Roles.O, "gpt2", R(@"(^|\.)attn\.c_proj(\.|$)")),
        new("gpt2-mlp-c_fc", Roles.Up, "gpt2", R(@"(^|\.)mlp\.c_fc(\.|$)")),
        new("gpt2-mlp-c_proj", Roles.Down, "gpt2", R(@"(^|\.)mlp\.c_proj(\.|$)")),
        new("tf-qkv_transform", Roles.Qkv, "transformer", R(@"(^|\.)qkv_transform\w*(\.|$)")),
        new("tf-output_transform", Roles.O, "transformer", R(@"(^|\.)output_transform\w*(\.|$)")),
        new("tf-ffn-conv1", Roles.Up, "transformer", R(@"(^|\.)ffn\.conv1(\.|$)")),
        new("tf-ffn-conv2", Roles.Down, "transformer", R(@"(^|\.)ffn\.conv2(\.|$)")),
        new("mha-in_proj", Roles.Qkv, "vit", R(@"(^|\.)in_proj_weight$|(^|\.)(qkv|query_key_value|wqkv|c_attn)(\.|$)")),
        new("mha-out_proj", Roles.O, "vit", R(@"(^|\.)(out_proj|attn\.proj|attention\.dense|self_attention\.dense)(\.|$)")),
        new("bert-attn-output", Roles.O, "bert", R(@"(^|\.)attention\.output\.dense(\.|$)")),
        new("llama-q", Roles.Q, "llama", R(@"(^|\.)(q_proj|wq|q_lin)(\.|$)")),
        new("llama-k", Roles.K, "llama", R(@"(^|\.)(k_proj|wk|k_lin)(\.|$)")),
        new("llama-v", Roles.V, "llama", R(@"(^|\.)(v_proj|wv|v_lin)(\.|$)")),
        new("llama-o", Roles.O, "llama", R(@"(^|\.)(o_proj|wo|out_lin)(\.|$)")),
        new("bert-query", Roles.Q, "bert", R(@"(^|\.)(self\.)?query(\.|$)")),
        new("bert-key", Roles.K, "bert", R(@"(^|\.)(self\.)?key(\.|$)")),
        new("bert-value", Roles.V, "bert", R(@"(^|\.)(self\.)?value(\.|$)")),
        new("llama-gate", Roles.Gate, "llama", R(@"(^|\.)(gate_proj|w1|fc_gate)(\.|$)")),
        new("llama-up", Roles.Up, "llama", R(@"(^|\.)(up_proj|w3)(\.|$)")),
        new("llama-down", Roles.Down, "llama", R(@"(^|\.)(down_proj|w2)(\.|$)")),
        new("bert-intermediate", Roles.Up, "bert", R(@"(^|\.)intermediate\.dense(\.|$)")),
        new("bert-output", Roles.Down, "bert", R(@"(^|\.)output\.dense(\.|$)")),
        new("mlp-up", Roles.Up, "vit", R(@"(^|\.)(fc1|mlp\.0|mlp\.linear_1|mlp\.fc1|dense_h_to_4h|fc_in|mlp\.lin1)(\.|$)")),
        new("mlp-down", Roles.Down, "vit", R(@"(^|\.)(fc2|mlp\.3|mlp\.linear_2|mlp\.fc2|dense_4h_to_h|fc_out|mlp\.lin2)(\.|$)")),
    ];

    private static readonly Regex BlockIndex = R(@"(?:^|\.)(?:layers|layer|h|blocks|block|encoder_layer|decoder_layer|transformer_block)[._]?(\d+)(?:\.|$)");

    /// <summary>Normalises a tensor name or op-graph path to dotted form.</summary>
    public static string Normalise(string name)
    {
        var s = name.Replace('/', '.').Replace(':', '.').Trim('.');
        while (s.Contains("..")) s = s.Replace("..", ".");
        return s;
    }

    /// <summary>The transformer block index encoded in a name (<c>layers.3</c>, <c>h.3</c>, <c>layer.3</c>, <c>encoder_layer_3</c>), or null.</summary>
    public static int? Block(string normalisedName)
    {
        var m = BlockIndex.Match(normalisedName);
        return m.Success && int.TryParse(m.Groups[1].Value, out var b) ? b : null;
    }

    /// <summary>The role of a weight from its (normalised) name; null when no rule matches.</summary>
    public static RoleMatch? Classify(string name)
    {
        var n = Normalise(name);
        foreach (var r in Rules)
            if (r.Pattern.IsMatch(n)) return new RoleMatch(r.Role, Block(n), r.Family, r.Name);
        return null;
    }
}

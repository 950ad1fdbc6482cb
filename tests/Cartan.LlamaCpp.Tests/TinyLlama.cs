using System.Text.Json;
using Cartan.Formats;

namespace Cartan.LlamaCpp.Tests;

/// <summary>
/// A small random LLaMA-style decoder held as HF-named float64 arrays (values rounded to float16, so F32 and F16 files
/// of it are lossless and both sides of a comparison read identical weights), written as an HF folder
/// (config.json + model.safetensors) and as a llama.cpp GGUF (llama architecture, byte-token SentencePiece vocabulary).
/// </summary>
internal sealed class TinyLlama
{
    public int Vocab { get; init; } = 320;
    public int Hidden { get; init; } = 96;
    public int Intermediate { get; init; } = 160;
    public int Layers { get; init; } = 2;
    public int Heads { get; init; } = 6;
    public int KvHeads { get; init; } = 2;
    public int Context { get; init; } = 256;
    public bool Tied { get; init; }
    /// <summary>Exactly representable in float32, so llama.cpp's f32 metadata carries the same value as config.json.</summary>
    public double Eps { get; init; } = 1.0 / 65536;
    public double RopeTheta { get; init; } = 10000;

    public int HeadDim => Hidden / Heads;

    /// <summary>HF name → (row-major shape, values), in checkpoint order.</summary>
    public List<(string Name, long[] Shape, double[] Data)> Weights { get; } = [];

    public TinyLlama Randomize(int seed, double matrixScale = 0.15)
    {
        var rng = new Random(seed);
        double Normal()
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
        }
        void Add(string name, long[] shape, double std, double mean = 0)
        {
            long n = shape.Aggregate(1L, (a, b) => a * b);
            var d = new double[n];
            for (long i = 0; i < n; i++) d[i] = (double)(Half)(mean + std * Normal());
            Weights.Add((name, shape, d));
        }
        int q = Heads * HeadDim, kv = KvHeads * HeadDim;
        Add("model.embed_tokens.weight", [Vocab, Hidden], 1.0);
        for (int l = 0; l < Layers; l++)
        {
            string p = $"model.layers.{l}.";
            Add(p + "input_layernorm.weight", [Hidden], 0.2, 1.0);
            Add(p + "self_attn.q_proj.weight", [q, Hidden], 2 * matrixScale);
            Add(p + "self_attn.k_proj.weight", [kv, Hidden], 2 * matrixScale);
            Add(p + "self_attn.v_proj.weight", [kv, Hidden], matrixScale);
            Add(p + "self_attn.o_proj.weight", [Hidden, q], matrixScale);
            Add(p + "post_attention_layernorm.weight", [Hidden], 0.2, 1.0);
            Add(p + "mlp.gate_proj.weight", [Intermediate, Hidden], matrixScale);
            Add(p + "mlp.up_proj.weight", [Intermediate, Hidden], matrixScale);
            Add(p + "mlp.down_proj.weight", [Hidden, Intermediate], matrixScale);
        }
        Add("model.norm.weight", [Hidden], 0.2, 1.0);
        if (!Tied) Add("lm_head.weight", [Vocab, Hidden], matrixScale);
        return this;
    }

    public string ConfigJson() => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["model_type"] = "llama",
        ["architectures"] = new[] { "LlamaForCausalLM" },
        ["vocab_size"] = Vocab,
        ["hidden_size"] = Hidden,
        ["intermediate_size"] = Intermediate,
        ["num_hidden_layers"] = Layers,
        ["num_attention_heads"] = Heads,
        ["num_key_value_heads"] = KvHeads,
        ["max_position_embeddings"] = Context,
        ["rms_norm_eps"] = Eps,
        ["rope_theta"] = RopeTheta,
        ["hidden_act"] = "silu",
        ["tie_word_embeddings"] = Tied,
    }, new JsonSerializerOptions { WriteIndented = true });

    public void SaveHf(string folder)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "config.json"), ConfigJson());
        SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), Weights.Select(w => (w.Name, w.Shape, w.Data)),
            Cartan.Tensors.DType.F32, new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>
    /// The GGUF tensor name of an HF weight, as llama.cpp's convert_hf_to_gguf.py maps LLaMA.
    /// </summary>
    public static string GgufName(string hf)
    {
        if (hf == "model.embed_tokens.weight") return "token_embd.weight";
        if (hf == "model.norm.weight") return "output_norm.weight";
        if (hf == "lm_head.weight") return "output.weight";
        var parts = hf.Split('.');
        string layer = parts[2];
        string rest = string.Join('.', parts[3..]);
        string g = rest switch
        {
            "input_layernorm.weight" => "attn_norm",
            "self_attn.q_proj.weight" => "attn_q",
            "self_attn.k_proj.weight" => "attn_k",
            "self_attn.v_proj.weight" => "attn_v",
            "self_attn.o_proj.weight" => "attn_output",
            "post_attention_layernorm.weight" => "ffn_norm",
            "mlp.gate_proj.weight" => "ffn_gate",
            "mlp.up_proj.weight" => "ffn_up",
            "mlp.down_proj.weight" => "ffn_down",
            _ => throw new ArgumentException($"no GGUF name for {hf}"),
        };
        return $"blk.{layer}.{g}.weight";
    }

    /// <summary>
    /// llama.cpp's converter reorders the rows of q_proj / k_proj so that its RoPE kernel (which rotates adjacent pairs
    /// 2i, 2i+1) computes what HF's rotate-half convention computes on pairs (i, i + d/2): within each head, the rows
    /// viewed as [2, d/2] are transposed to [d/2, 2], i.e. new row 2i + j = old row j·d/2 + i (convert_hf_to_gguf.py,
    /// LlamaModel.permute, with the KV head count for k_proj).
    /// </summary>
    public static double[] PermuteForGguf(double[] w, long rows, long cols, int heads)
    {
        long d = rows / heads, half = d / 2;
        var o = new double[w.Length];
        for (long h = 0; h < heads; h++)
            for (long i = 0; i < half; i++)
                for (long j = 0; j < 2; j++)
                    Array.Copy(w, (h * d + j * half + i) * cols, o, (h * d + 2 * i + j) * cols, cols);
        return o;
    }

    /// <summary>The byte-token SentencePiece vocabulary llama.cpp needs to load a "llama" model: &lt;unk&gt;, &lt;s&gt;,
    /// &lt;/s&gt;, the 256 byte tokens &lt;0x00&gt;…&lt;0xFF&gt;, then plain pieces up to the vocabulary size.</summary>
    public string[] Tokens()
    {
        if (Vocab < 259) throw new InvalidOperationException("a byte vocabulary needs at least 259 tokens");
        var t = new List<string> { "<unk>", "<s>", "</s>" };
        for (int b = 0; b < 256; b++) t.Add($"<0x{b:X2}>");
        while (t.Count < Vocab) t.Add("\u2581p" + t.Count);
        return [.. t];
    }

    public void SaveGguf(string path, GgufWriter.TensorType type = GgufWriter.TensorType.F32)
    {
        var w = new GgufWriter();
        // llama.cpp reads its integer llama.* keys as uint32 and its float keys as float32.
        w.AddMetadata("general.architecture", "llama")
         .AddMetadata("general.name", "cartan-tiny-llama")
         .AddMetadata("general.file_type", type == GgufWriter.TensorType.F32 ? 0u : 1u)
         .AddMetadata("llama.vocab_size", (uint)Vocab)
         .AddMetadata("llama.context_length", (uint)Context)
         .AddMetadata("llama.embedding_length", (uint)Hidden)
         .AddMetadata("llama.block_count", (uint)Layers)
         .AddMetadata("llama.feed_forward_length", (uint)Intermediate)
         .AddMetadata("llama.rope.dimension_count", (uint)HeadDim)
         .AddMetadata("llama.attention.head_count", (uint)Heads)
         .AddMetadata("llama.attention.head_count_kv", (uint)KvHeads)
         .AddMetadata("llama.attention.layer_norm_rms_epsilon", (float)Eps)
         .AddMetadata("llama.rope.freq_base", (float)RopeTheta);
        var tokens = Tokens();
        w.AddMetadata("tokenizer.ggml.model", "llama")
         .AddMetadata("tokenizer.ggml.tokens", tokens)
         .AddMetadata("tokenizer.ggml.scores", tokens.Select((_, i) => i < 259 ? 0f : -(float)i).ToArray())
         // 2 unknown, 3 control, 6 byte, 1 normal (llama_token_type)
         .AddMetadata("tokenizer.ggml.token_type", tokens.Select((_, i) => i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1).ToArray())
         .AddMetadata("tokenizer.ggml.unknown_token_id", 0u)
         .AddMetadata("tokenizer.ggml.bos_token_id", 1u)
         .AddMetadata("tokenizer.ggml.eos_token_id", 2u);
        foreach (var (name, shape, data) in Weights)
        {
            var d = data;
            if (name.EndsWith("q_proj.weight", StringComparison.Ordinal)) d = PermuteForGguf(data, shape[0], shape[1], Heads);
            else if (name.EndsWith("k_proj.weight", StringComparison.Ordinal)) d = PermuteForGguf(data, shape[0], shape[1], KvHeads);
            // llama.cpp keeps 1-D tensors (norms) in F32 whatever the file type.
            var t = shape.Length == 1 ? GgufWriter.TensorType.F32 : type;
            w.AddTensor(GgufName(name), shape, d, t);
        }
        w.Write(path);
    }
}

using Cartan.Formats;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cartan.Torch;

/// <summary>
/// LLaMA-style decoder (HF <c>LlamaForCausalLM</c>): RMSNorm, rotary positions in the rotate-half convention,
/// grouped-query attention (key/value head j serves query heads j·r … j·r+r−1), SwiGLU, optional tied head.
/// forward: token ids [B, T] (int64) → logits [B, T, vocab].
/// </summary>
public sealed class LlamaModel : HfModule, Pruning.IBlockDecoder
{
    private sealed record Layer(string Prefix, Parameter InNorm, Parameter Q, Parameter K, Parameter V, Parameter O,
        Parameter PostNorm, Parameter Gate, Parameter Up, Parameter Down,
        Parameter? QBias = null, Parameter? KBias = null, Parameter? VBias = null, Parameter? OBias = null);

    private readonly Parameter _embed, _norm, _head;
    private readonly Layer[] _layers;

    public int Vocab { get; }
    public int Hidden { get; }
    public int Heads { get; }
    public int KvHeads { get; }
    public int HeadDim { get; }
    public int MaxPositions { get; }
    public double Eps { get; }
    public double RopeTheta { get; }
    public bool TiedHead { get; }
    /// <summary>Mistral's sliding window: position i attends to j only when 0 ≤ i − j &lt; window (null: full causal).</summary>
    public int? SlidingWindow { get; }

    public LlamaModel(HfConfig c, ScalarType dtype = ScalarType.Float32) : base("llama", c, dtype)
    {
        Vocab = c.Positive("vocab_size", c.Int("vocab_size"), 1 << 22);
        Hidden = c.Positive("hidden_size", c.Int("hidden_size"), 1 << 16);
        int inter = c.Positive("intermediate_size", c.Int("intermediate_size"), 1 << 18);
        int layers = c.Positive("num_hidden_layers", c.Int("num_hidden_layers"), 1024);
        Heads = c.Positive("num_attention_heads", c.Int("num_attention_heads"), 4096);
        KvHeads = c.Positive("num_key_value_heads", c.Int("num_key_value_heads", Heads), 4096);
        HeadDim = c.Positive("head_dim", c.Int("head_dim", Hidden / Heads), 1 << 12);
        MaxPositions = c.Positive("max_position_embeddings", c.Int("max_position_embeddings", 2048), 1 << 22);
        Eps = c.Double("rms_norm_eps", 1e-6);
        RopeTheta = c.Double("rope_theta", 10000.0);
        TiedHead = c.Bool("tie_word_embeddings", false);
        if (Heads % KvHeads != 0) throw new CartanFormatException(c.Source, $"num_attention_heads {Heads} is not a multiple of num_key_value_heads {KvHeads}");
        if (HeadDim % 2 != 0) throw new CartanFormatException(c.Source, $"head dimension {HeadDim} is odd; rotary positions need it even");
        string act = c.String("hidden_act") ?? "silu";
        if (act != "silu") throw new CartanFormatException(c.Source, $"hidden_act '{act}' is not supported (silu only)");
        if (c.Bool("mlp_bias", false)) throw new CartanFormatException(c.Source, "mlp_bias is not supported");
        // Biases: Qwen2 has them on q/k/v (never on o); LLaMA's attention_bias puts them on q/k/v/o.
        bool qkvBias = c.ModelType == "qwen2" || c.Bool("attention_bias", false);
        bool oBias = c.ModelType != "qwen2" && c.Bool("attention_bias", false);
        // Sliding window: Mistral's sliding_window; Qwen2's only when use_sliding_window is true.
        bool windowed = c.ModelType == "mistral" || (c.ModelType == "qwen2" && c.Bool("use_sliding_window", false));
        if (windowed && c.Json.TryGetProperty("sliding_window", out var sw) && sw.ValueKind == System.Text.Json.JsonValueKind.Number)
            SlidingWindow = c.Positive("sliding_window", sw.GetInt32(), 1 << 24);
        if (c.ModelType == "qwen2" && windowed && c.Int("max_window_layers", layers) < layers)
            throw new CartanFormatException(c.Source, "a sliding window on only some layers (max_window_layers) is not supported");
        if (c.Json.TryGetProperty("rope_scaling", out var rs) && rs.ValueKind != System.Text.Json.JsonValueKind.Null)
            throw new CartanFormatException(c.Source, "rope_scaling is not supported");

        _embed = Weight("model.embed_tokens.weight", Vocab, Hidden);
        _layers = new Layer[layers];
        for (int i = 0; i < layers; i++)
        {
            string p = $"model.layers.{i}.";
            _layers[i] = new Layer(p,
                Weight(p + "input_layernorm.weight", Hidden),
                Weight(p + "self_attn.q_proj.weight", (long)Heads * HeadDim, Hidden),
                Weight(p + "self_attn.k_proj.weight", (long)KvHeads * HeadDim, Hidden),
                Weight(p + "self_attn.v_proj.weight", (long)KvHeads * HeadDim, Hidden),
                Weight(p + "self_attn.o_proj.weight", Hidden, (long)Heads * HeadDim),
                Weight(p + "post_attention_layernorm.weight", Hidden),
                Weight(p + "mlp.gate_proj.weight", inter, Hidden),
                Weight(p + "mlp.up_proj.weight", inter, Hidden),
                Weight(p + "mlp.down_proj.weight", Hidden, inter),
                qkvBias ? Weight(p + "self_attn.q_proj.bias", (long)Heads * HeadDim) : null,
                qkvBias ? Weight(p + "self_attn.k_proj.bias", (long)KvHeads * HeadDim) : null,
                qkvBias ? Weight(p + "self_attn.v_proj.bias", (long)KvHeads * HeadDim) : null,
                oBias ? Weight(p + "self_attn.o_proj.bias", Hidden) : null);
        }
        _norm = Weight("model.norm.weight", Hidden);
        _head = TiedHead ? _embed : Weight("lm_head.weight", Vocab, Hidden);
    }

    private Tensor RmsNorm(Tensor x, Parameter w)
    {
        // No implicit Scalars here: a temporary Scalar can be finalised by the GC while libtorch still reads it
        // (seen as "INTERNAL ASSERT FAILED at Scalar.h" in pow under allocation pressure); square() needs none and
        // the epsilon Scalar is kept alive by its using.
        using var sq = x.square();
        using var ms = sq.mean([-1], keepdim: true);
        using var eps = Eps.ToScalar();
        using var me = ms.add(eps);
        using var r = me.rsqrt();
        using var n = x.mul(r);
        return n.mul(w);
    }

    /// <summary>cos, sin tables [T, HeadDim] for positions 0..T−1 (HF: emb = cat(freqs, freqs)).</summary>
    private (Tensor cos, Tensor sin) Rotary(long t)
    {
        // Scalars held by usings, not made on the fly (see HfModule's constants).
        using var headDim = ((double)HeadDim).ToScalar();
        using var theta = RopeTheta.ToScalar();
        using var idx = arange(0, HeadDim, 2, dtype: ScalarType.Float64);
        using var expo = idx.div(headDim);
        using var basis = full(1, theta, dtype: ScalarType.Float64);
        using var pw = basis.pow(expo);
        using var inv = pw.reciprocal();
        using var pos = arange(0, t, dtype: ScalarType.Float64);
        using var freqs = outer(pos, inv);
        using var emb = cat([freqs, freqs], -1);
        using var c = emb.cos();
        using var s = emb.sin();
        return (c.to(DType), s.to(DType));
    }

    private Tensor Rope(Tensor x, Tensor cos, Tensor sin)
    {
        long half = HeadDim / 2;
        using var x1 = x.narrow(-1, 0, half);
        using var x2 = x.narrow(-1, half, half);
        using var nx2 = x2.neg();
        using var rot = cat([nx2, x1], -1);
        using var a = x.mul(cos);
        using var b = rot.mul(sin);
        return a.add(b);
    }

    public override Tensor forward(Tensor ids)
    {
        using var scope = NewDisposeScope();
        var h = EmbedInputs(ids);
        long T = ids.shape[1];
        var (cos, sin) = Rotary(T);
        var mask = Mask(T);
        foreach (var l in _layers) h = Block(l, h, cos, sin, mask, null);
        var logits = Linear(RmsNorm(h, _norm), _head);
        return logits.MoveToOuterDisposeScope();
    }

    public int BlockCount => _layers.Length;

    public Tensor EmbedInputs(Tensor ids)
    {
        if (ids.dim() != 2) throw new ArgumentException("token ids must be [batch, time]");
        if (ids.shape[1] > MaxPositions) throw new ArgumentException($"{ids.shape[1]} tokens exceed max_position_embeddings {MaxPositions}");
        return Embed(_embed, ids);
    }

    public Tensor ForwardBlock(int block, Tensor hidden, Pruning.LinearInputTap? tap = null)
    {
        if ((uint)block >= (uint)_layers.Length) throw new ArgumentOutOfRangeException(nameof(block));
        using var scope = NewDisposeScope();
        long T = hidden.shape[1];
        var (cos, sin) = Rotary(T);
        var mask = Mask(T);
        return Block(_layers[block], hidden, cos, sin, mask, tap).MoveToOuterDisposeScope();
    }

    /// <summary>The causal mask, with the sliding window's far past masked too when there is one.</summary>
    private Tensor Mask(long t)
    {
        var causal = CausalMask(t);
        if (SlidingWindow is not int w || w >= t) return causal;
        using var ones_ = ones(t, t, dtype: ScalarType.Bool);
        using var far = tril(ones_, -w);
        using (causal) return causal.masked_fill(far, double.NegativeInfinity);
    }

    private Tensor Block(Layer l, Tensor h, Tensor cos, Tensor sin, Tensor mask, Pruning.LinearInputTap? tap)
    {
        int rep = Heads / KvHeads;
        string p = l.Prefix;
        var a = RmsNorm(h, l.InNorm);
        tap?.Invoke([p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight", p + "self_attn.v_proj.weight"], a);
        var q = Rope(SplitHeads(Linear(a, l.Q, l.QBias), Heads), cos, sin);
        var k = Rope(SplitHeads(Linear(a, l.K, l.KBias), KvHeads), cos, sin);
        var v = SplitHeads(Linear(a, l.V, l.VBias), KvHeads);
        if (rep > 1) { k = k.repeat_interleave(rep, 1); v = v.repeat_interleave(rep, 1); }
        var o = MergeHeads(Attention(q, k, v, mask));
        tap?.Invoke([p + "self_attn.o_proj.weight"], o);
        h = h.add(Linear(o, l.O, l.OBias));
        var m = RmsNorm(h, l.PostNorm);
        tap?.Invoke([p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"], m);
        var gate = nn.functional.silu(Linear(m, l.Gate));
        var gu = gate.mul(Linear(m, l.Up));
        tap?.Invoke([p + "mlp.down_proj.weight"], gu);
        return h.add(Linear(gu, l.Down));
    }
}

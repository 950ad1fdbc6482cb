using Cartan.Formats;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cartan.Torch;

/// <summary>
/// GPT-2 (HF <c>GPT2LMHeadModel</c>): pre-LN blocks, learned positions, fused <c>c_attn</c> and every projection in
/// Conv1D layout [in, out], GELU with the tanh approximation ("gelu_new"), head tied to the token embeddings.
/// Reads checkpoints with or without the "transformer." prefix; writes it. forward: ids [B, T] → logits [B, T, vocab].
/// </summary>
public sealed class Gpt2Model : HfModule, Pruning.IBlockDecoder
{
    private sealed record Block(string Prefix, Parameter Ln1W, Parameter Ln1B, Parameter AttnW, Parameter AttnB, Parameter ProjW, Parameter ProjB,
        Parameter Ln2W, Parameter Ln2B, Parameter FcW, Parameter FcB, Parameter Fc2W, Parameter Fc2B);

    private readonly Parameter _wte, _wpe, _lnfW, _lnfB;
    private readonly Block[] _blocks;

    public int Vocab { get; }
    public int Embd { get; }
    public int Heads { get; }
    public int Positions { get; }
    public double Eps { get; }

    public Gpt2Model(HfConfig c, ScalarType dtype = ScalarType.Float32) : base("gpt2", c, dtype)
    {
        Vocab = c.Positive("vocab_size", c.Int("vocab_size"), 1 << 22);
        Embd = c.Positive("n_embd", c.Int("n_embd"), 1 << 16);
        int layers = c.Positive("n_layer", c.Int("n_layer"), 1024);
        Heads = c.Positive("n_head", c.Int("n_head"), 4096);
        Positions = c.Positive("n_positions", c.Int("n_positions"), 1 << 22);
        int inner = c.Positive("n_inner", c.Int("n_inner", 4 * Embd), 1 << 18);
        Eps = c.Double("layer_norm_epsilon", 1e-5);
        if (Embd % Heads != 0) throw new CartanFormatException(c.Source, $"n_embd {Embd} is not a multiple of n_head {Heads}");
        string act = c.String("activation_function") ?? "gelu_new";
        if (act is not ("gelu_new" or "gelu_pytorch_tanh"))
            throw new CartanFormatException(c.Source, $"activation_function '{act}' is not supported (gelu_new only)");
        if (!c.Bool("tie_word_embeddings", true)) throw new CartanFormatException(c.Source, "an untied GPT-2 head is not supported");
        if (c.Bool("scale_attn_by_inverse_layer_idx", false) || !c.Bool("scale_attn_weights", true))
            throw new CartanFormatException(c.Source, "only the standard 1/sqrt(head_dim) attention scaling is supported");

        _wte = Weight("transformer.wte.weight", Vocab, Embd);
        _wpe = Weight("transformer.wpe.weight", Positions, Embd);
        _blocks = new Block[layers];
        for (int i = 0; i < layers; i++)
        {
            string p = $"transformer.h.{i}.";
            _blocks[i] = new Block(p,
                Weight(p + "ln_1.weight", Embd), Weight(p + "ln_1.bias", Embd),
                Weight(p + "attn.c_attn.weight", Embd, 3L * Embd), Weight(p + "attn.c_attn.bias", 3L * Embd),
                Weight(p + "attn.c_proj.weight", Embd, Embd), Weight(p + "attn.c_proj.bias", Embd),
                Weight(p + "ln_2.weight", Embd), Weight(p + "ln_2.bias", Embd),
                Weight(p + "mlp.c_fc.weight", Embd, inner), Weight(p + "mlp.c_fc.bias", inner),
                Weight(p + "mlp.c_proj.weight", inner, Embd), Weight(p + "mlp.c_proj.bias", Embd));
        }
        _lnfW = Weight("transformer.ln_f.weight", Embd);
        _lnfB = Weight("transformer.ln_f.bias", Embd);
    }

    protected override IEnumerable<string> Aliases(string hfName)
    {
        if (hfName.StartsWith("transformer.", StringComparison.Ordinal)) yield return hfName["transformer.".Length..];
    }

    /// <summary>Conv1D: x @ W + b with W [in, out].</summary>
    private static Tensor Conv1D(Tensor x, Parameter w, Parameter b) => addmm_nd(x, w, b);

    private static Tensor addmm_nd(Tensor x, Tensor w, Tensor b)
    {
        using var m = matmul(x, w);
        return m.add(b);
    }

    public override Tensor forward(Tensor ids)
    {
        using var scope = NewDisposeScope();
        var h = EmbedInputs(ids);
        var mask = CausalMask(ids.shape[1]);
        foreach (var b in _blocks) h = RunBlock(b, h, mask, null);
        var logits = matmul(LayerNorm(h, _lnfW, _lnfB, Eps), _wte.t());
        return logits.MoveToOuterDisposeScope();
    }

    public int BlockCount => _blocks.Length;

    public Tensor EmbedInputs(Tensor ids)
    {
        if (ids.dim() != 2) throw new ArgumentException("token ids must be [batch, time]");
        long T = ids.shape[1];
        if (T > Positions) throw new ArgumentException($"{T} tokens exceed n_positions {Positions}");
        using var scope = NewDisposeScope();
        var pos = arange(0, T, dtype: ScalarType.Int64);
        return Embed(_wte, ids).add(Embed(_wpe, pos)).MoveToOuterDisposeScope();
    }

    public Tensor ForwardBlock(int block, Tensor hidden, Pruning.LinearInputTap? tap = null)
    {
        if ((uint)block >= (uint)_blocks.Length) throw new ArgumentOutOfRangeException(nameof(block));
        using var scope = NewDisposeScope();
        var mask = CausalMask(hidden.shape[1]);
        return RunBlock(_blocks[block], hidden, mask, tap).MoveToOuterDisposeScope();
    }

    private Tensor RunBlock(Block b, Tensor h, Tensor mask, Pruning.LinearInputTap? tap)
    {
        string p = b.Prefix;
        var a = LayerNorm(h, b.Ln1W, b.Ln1B, Eps);
        tap?.Invoke([p + "attn.c_attn.weight"], a);
        var qkv = Conv1D(a, b.AttnW, b.AttnB).split(Embd, 2);
        var o = MergeHeads(Attention(SplitHeads(qkv[0], Heads), SplitHeads(qkv[1], Heads), SplitHeads(qkv[2], Heads), mask));
        tap?.Invoke([p + "attn.c_proj.weight"], o);
        h = h.add(Conv1D(o, b.ProjW, b.ProjB));
        var m = LayerNorm(h, b.Ln2W, b.Ln2B, Eps);
        tap?.Invoke([p + "mlp.c_fc.weight"], m);
        var f = GeluTanh(Conv1D(m, b.FcW, b.FcB));
        tap?.Invoke([p + "mlp.c_proj.weight"], f);
        return h.add(Conv1D(f, b.Fc2W, b.Fc2B));
    }
}

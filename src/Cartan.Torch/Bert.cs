using Cartan.Formats;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cartan.Torch;

/// <summary>
/// BERT encoder (HF <c>BertModel</c> without the pooler), as in all-MiniLM-L6-v2: word + position + token-type
/// embeddings, post-LN blocks, exact (erf) GELU, padding mask added to the scores as the dtype's minimum.
/// Reads checkpoints with or without the "bert." prefix. <see cref="Encode"/> gives the last hidden state [B, T, H].
/// </summary>
public sealed class BertModel : HfModule
{
    private sealed record Layer(Parameter QW, Parameter QB, Parameter KW, Parameter KB, Parameter VW, Parameter VB,
        Parameter AoW, Parameter AoB, Parameter Ln1W, Parameter Ln1B, Parameter IW, Parameter IB, Parameter OW, Parameter OB,
        Parameter Ln2W, Parameter Ln2B);

    private readonly Parameter _word, _pos, _type, _lnW, _lnB;
    private readonly Layer[] _layers;

    public int Vocab { get; }
    public int Hidden { get; }
    public int Heads { get; }
    public int Positions { get; }
    public int TypeVocab { get; }
    public double Eps { get; }

    public BertModel(HfConfig c, ScalarType dtype = ScalarType.Float32) : base("bert", c, dtype)
    {
        Vocab = c.Positive("vocab_size", c.Int("vocab_size"), 1 << 22);
        Hidden = c.Positive("hidden_size", c.Int("hidden_size"), 1 << 16);
        int layers = c.Positive("num_hidden_layers", c.Int("num_hidden_layers"), 1024);
        Heads = c.Positive("num_attention_heads", c.Int("num_attention_heads"), 4096);
        int inter = c.Positive("intermediate_size", c.Int("intermediate_size"), 1 << 18);
        Positions = c.Positive("max_position_embeddings", c.Int("max_position_embeddings", 512), 1 << 22);
        TypeVocab = c.Positive("type_vocab_size", c.Int("type_vocab_size", 2), 1 << 16);
        Eps = c.Double("layer_norm_eps", 1e-12);
        if (Hidden % Heads != 0) throw new CartanFormatException(c.Source, $"hidden_size {Hidden} is not a multiple of num_attention_heads {Heads}");
        string act = c.String("hidden_act") ?? "gelu";
        if (act != "gelu") throw new CartanFormatException(c.Source, $"hidden_act '{act}' is not supported (gelu only)");
        string pet = c.String("position_embedding_type") ?? "absolute";
        if (pet != "absolute") throw new CartanFormatException(c.Source, $"position_embedding_type '{pet}' is not supported");

        _word = Weight("embeddings.word_embeddings.weight", Vocab, Hidden);
        _pos = Weight("embeddings.position_embeddings.weight", Positions, Hidden);
        _type = Weight("embeddings.token_type_embeddings.weight", TypeVocab, Hidden);
        _lnW = Weight("embeddings.LayerNorm.weight", Hidden);
        _lnB = Weight("embeddings.LayerNorm.bias", Hidden);
        _layers = new Layer[layers];
        for (int i = 0; i < layers; i++)
        {
            string p = $"encoder.layer.{i}.";
            _layers[i] = new Layer(
                Weight(p + "attention.self.query.weight", Hidden, Hidden), Weight(p + "attention.self.query.bias", Hidden),
                Weight(p + "attention.self.key.weight", Hidden, Hidden), Weight(p + "attention.self.key.bias", Hidden),
                Weight(p + "attention.self.value.weight", Hidden, Hidden), Weight(p + "attention.self.value.bias", Hidden),
                Weight(p + "attention.output.dense.weight", Hidden, Hidden), Weight(p + "attention.output.dense.bias", Hidden),
                Weight(p + "attention.output.LayerNorm.weight", Hidden), Weight(p + "attention.output.LayerNorm.bias", Hidden),
                Weight(p + "intermediate.dense.weight", inter, Hidden), Weight(p + "intermediate.dense.bias", inter),
                Weight(p + "output.dense.weight", Hidden, inter), Weight(p + "output.dense.bias", Hidden),
                Weight(p + "output.LayerNorm.weight", Hidden), Weight(p + "output.LayerNorm.bias", Hidden));
        }
    }

    /// <summary>The tied word-embedding table (for an MLM-style read-out).</summary>
    public Parameter WordEmbeddings => _word;

    protected override IEnumerable<string> Aliases(string hfName) { yield return "bert." + hfName; }

    /// <summary>Last hidden state [B, T, H]. <paramref name="attentionMask"/> [B, T] (1 = token, 0 = padding) and
    /// <paramref name="tokenTypes"/> [B, T] default to all ones and all zeros.</summary>
    public Tensor Encode(Tensor ids, Tensor? attentionMask = null, Tensor? tokenTypes = null)
    {
        if (ids.dim() != 2) throw new ArgumentException("token ids must be [batch, time]");
        long B = ids.shape[0], T = ids.shape[1];
        if (T > Positions) throw new ArgumentException($"{T} tokens exceed max_position_embeddings {Positions}");
        using var scope = NewDisposeScope();
        var types = tokenTypes ?? zeros(B, T, dtype: ScalarType.Int64);
        var x = Embed(_word, ids).add(Embed(_pos, arange(0, T, dtype: ScalarType.Int64))).add(Embed(_type, types));
        x = LayerNorm(x, _lnW, _lnB, Eps);
        Tensor? bias = null;
        if (attentionMask is not null)
        {
            double min = DType == ScalarType.Float64 ? double.MinValue : float.MinValue;
            var pad = attentionMask.eq(0).reshape(B, 1, 1, T);
            bias = zeros(B, 1, 1, T, dtype: DType).masked_fill(pad, min);
        }
        foreach (var l in _layers)
        {
            var ctx = MergeHeads(Attention(SplitHeads(Linear(x, l.QW, l.QB), Heads), SplitHeads(Linear(x, l.KW, l.KB), Heads),
                SplitHeads(Linear(x, l.VW, l.VB), Heads), bias));
            x = LayerNorm(Linear(ctx, l.AoW, l.AoB).add(x), l.Ln1W, l.Ln1B, Eps);
            var m = GeluErf(Linear(x, l.IW, l.IB));
            x = LayerNorm(Linear(m, l.OW, l.OB).add(x), l.Ln2W, l.Ln2B, Eps);
        }
        return x.MoveToOuterDisposeScope();
    }

    public override Tensor forward(Tensor ids) => Encode(ids);

    /// <summary>sentence-transformers mean pooling: the average of the hidden states of the non-padding tokens, [B, H].</summary>
    public static Tensor MeanPool(Tensor hidden, Tensor attentionMask)
    {
        using var scope = NewDisposeScope();
        var m = attentionMask.to(hidden.dtype).unsqueeze(-1);
        var sum = hidden.mul(m).sum(1);
        var count = m.sum(1).clamp_min(1e-9);
        return sum.div(count).MoveToOuterDisposeScope();
    }
}

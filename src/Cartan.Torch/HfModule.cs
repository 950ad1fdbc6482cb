using Cartan.Formats;
using Cartan.Tensors;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cartan.Torch;

/// <summary>
/// A network whose weights carry their Hugging Face names. Every weight is a registered parameter (so optimisers
/// and <c>parameters()</c> see it) and is listed in <see cref="Weights"/> under its HF name, in the order an HF
/// checkpoint lists it; tied weights appear once.
/// </summary>
public abstract class HfModule : nn.Module<Tensor, Tensor>
{
    private readonly List<(string Name, Parameter Param)> _weights = [];

    protected HfModule(string name, HfConfig config, ScalarType dtype) : base(name)
    {
        if (dtype is not (ScalarType.Float32 or ScalarType.Float64))
            throw new ArgumentException($"weights are float32 or float64, not {dtype}", nameof(dtype));
        Config = config;
        DType = dtype;
    }

    public HfConfig Config { get; }
    public ScalarType DType { get; }

    /// <summary>The weights by HF name, in checkpoint order.</summary>
    public IReadOnlyList<(string Name, Parameter Param)> Weights => _weights;

    /// <summary>Other names a checkpoint may use for a weight (e.g. GPT-2's hub files drop "transformer.").</summary>
    protected virtual IEnumerable<string> Aliases(string hfName) => [];

    /// <summary>The names a checkpoint may give the weight <paramref name="hfName"/>: the HF name, then its aliases.</summary>
    public IEnumerable<string> CheckpointNames(string hfName) => Aliases(hfName).Prepend(hfName);

    protected Parameter Weight(string hfName, params long[] shape)
    {
        var p = new Parameter(zeros(shape, dtype: DType), requires_grad: true);
        register_parameter(hfName.Replace('.', '_'), p);
        _weights.Add((hfName, p));
        return p;
    }

    /// <summary>Fills the parameters with a deterministic normal initialisation (std 0.02 for matrices and embeddings,
    /// ones for norm scales, zeros for biases), from <paramref name="seed"/>.</summary>
    public void InitializeRandom(long seed)
    {
        using var _ = no_grad();
        using var g = new Generator((ulong)seed);
        foreach (var (name, p) in _weights)
        {
            if (name.EndsWith(".running_mean", StringComparison.Ordinal)) p.zero_();
            else if (p.dim() == 1 && (name.Contains("norm", StringComparison.OrdinalIgnoreCase) || name.Contains("ln_")))
                p.fill_(name.EndsWith(".bias", StringComparison.Ordinal) ? 0.0 : 1.0);
            else if (p.dim() == 1) p.zero_();
            else p.normal_(0.0, 0.02, g);
        }
    }

    /// <summary>Copies every weight from <paramref name="find"/> (HF name → tensor or null). Throws
    /// <see cref="CartanFormatException"/> naming <paramref name="source"/> when a weight is missing or mis-shaped.</summary>
    public void LoadWeights(Func<string, WeightTensor?> find, string source)
    {
        using var _ = no_grad();
        foreach (var (name, p) in _weights)
        {
            var t = find(name);
            foreach (var alias in Aliases(name))
            {
                if (t is not null) break;
                t = find(alias);
            }
            if (t is null) throw new CartanFormatException(source, $"weight '{name}' is missing");
            var want = p.shape;
            if (!t.Shape.SequenceEqual(want))
                throw new CartanFormatException(source, $"weight '{name}' has shape [{string.Join(",", t.Shape)}], the config needs [{string.Join(",", want)}]");
            if (!t.HasNumericData || !DTypes.IsFloat(t.DType))
                throw new CartanFormatException(source, $"weight '{name}' is {t.StoredType}, not a floating-point tensor");
            using var src = tensor(t.ReadDoubles(), want, dtype: ScalarType.Float64);
            p.copy_(src);
        }
    }

    /// <summary>Loads every weight from an opened model, by HF name.</summary>
    public void LoadWeights(WeightModel model)
    {
        var byName = new Dictionary<string, WeightTensor>(StringComparer.Ordinal);
        foreach (var t in model.Tensors) byName.TryAdd(t.Name, t);
        LoadWeights(n => byName.GetValueOrDefault(n), model.Source);
    }

    /// <summary>Row-major float64 copy of every weight, by HF name.</summary>
    public IEnumerable<(string name, long[] shape, double[] data)> ExportWeights()
    {
        foreach (var (name, p) in _weights)
        {
            using var d = p.detach().to(ScalarType.Float64).contiguous();
            yield return (name, p.shape, d.data<double>().ToArray());
        }
    }

    // ---- shared layers

    protected static Tensor Linear(Tensor x, Parameter w, Parameter? b = null) =>
        b is null ? matmul(x, w.t()) : nn.functional.linear(x, w, b);

    protected static Tensor Embed(Parameter table, Tensor ids)
    {
        using var flat = ids.reshape(-1);
        using var rows = table.index_select(0, flat);
        var shape = ids.shape.Append(table.shape[1]).ToArray();
        return rows.reshape(shape);
    }

    /// <summary>x [B, h, T, d] attends to k, v [B, h, S, d]; <paramref name="bias"/> is added to the scores.</summary>
    protected static Tensor Attention(Tensor q, Tensor k, Tensor v, Tensor? bias)
    {
        using var scale = (1.0 / Math.Sqrt(q.shape[^1])).ToScalar(); // kept alive (see Constant)
        using var kt = k.transpose(-1, -2);
        using var raw = matmul(q, kt);
        using var s = raw.mul(scale);
        using var sb = bias is null ? s.alias() : s.add(bias);
        using var pr = sb.softmax(-1);
        return matmul(pr, v);
    }

    /// <summary>Additive causal mask [T, T]: 0 on and below the diagonal, −∞ above.</summary>
    protected Tensor CausalMask(long t)
    {
        using var ones_ = ones(t, t, dtype: ScalarType.Bool);
        using var upper = triu(ones_, 1);
        using var z = zeros(t, t, dtype: DType);
        return z.masked_fill(upper, double.NegativeInfinity);
    }

    protected static Tensor SplitHeads(Tensor x, long heads)
    {
        long b = x.shape[0], t = x.shape[1], d = x.shape[2] / heads;
        using var r = x.reshape(b, t, heads, d);
        return r.transpose(1, 2);
    }

    protected static Tensor MergeHeads(Tensor x)
    {
        long b = x.shape[0], h = x.shape[1], t = x.shape[2], d = x.shape[3];
        using var tr = x.transpose(1, 2);
        return tr.reshape(b, t, h * d);
    }

    protected static Tensor LayerNorm(Tensor x, Parameter w, Parameter b, double eps) =>
        nn.functional.layer_norm(x, [x.shape[^1]], w, b, eps);

    // Scalars of the constants of the forward passes, made once and never freed. A Scalar made on the fly by an
    // implicit conversion (x.mul(0.5)) can be finalised by the GC while libtorch still reads it; under allocation
    // pressure that showed up as "INTERNAL ASSERT FAILED ... Scalar.h" in a pow during the pruning experiment.
    private static readonly Scalar Half = 0.5.ToScalar(), One = 1.0.ToScalar(), InvSqrt2 = (1.0 / Math.Sqrt(2.0)).ToScalar(),
        GeluCubic = 0.044715.ToScalar(), SqrtTwoOverPi = Math.Sqrt(2.0 / Math.PI).ToScalar();

    /// <summary>HF "gelu": exact, with erf.</summary>
    protected static Tensor GeluErf(Tensor x)
    {
        using var s = x.mul(InvSqrt2);
        using var e = s.erf();
        using var e1 = e.add(One);
        using var h = x.mul(Half);
        return h.mul(e1);
    }

    /// <summary>HF "gelu_new" (GPT-2): 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))).</summary>
    protected static Tensor GeluTanh(Tensor x)
    {
        using var x2 = x.square();
        using var x3 = x2.mul(x);
        using var c = x3.mul(GeluCubic);
        using var inner = x.add(c);
        using var sc = inner.mul(SqrtTwoOverPi);
        using var th = sc.tanh();
        using var t1 = th.add(One);
        using var h = x.mul(Half);
        return h.mul(t1);
    }
}

using Cartan.Noise;
using static TorchSharp.torch;

namespace Cartan.Torch.Noise;

/// <summary>
/// Gaussian Chaos Noise as a drop-in TorchSharp layer (methods.md §4(c), Algorithm 1 steps 9–10). In training mode it
/// multiplies a feature map by a positive, mean-one, Green-kernel-correlated gate drawn by the managed
/// <see cref="GChSampler"/> (float64 maths, float32 gate), independent per sample and shared over channels; in eval mode
/// it is the identity. The gate is a constant: no gradient flows through it (∂y/∂x = gate).
/// </summary>
/// <remarks>
/// <para>Inputs:</para>
/// <list type="bullet">
/// <item>[B, C, H, W] (channels-first feature maps): one H×W gate per sample, broadcast over C.</item>
/// <item>[B, N, D] (token grids, ViT style) [R recipe]: the first <see cref="ClsTokens"/> tokens (CLS/registers) get gate
/// 1, the remaining P = N − ClsTokens patch tokens are read as a √P×√P grid in row-major order, and the gate is shared
/// over the embedding dimension D. P must be a perfect square.</item>
/// </list>
/// <para>Determinism: one <see cref="GChSampler"/> per grid shape, each started from <see cref="Seed"/>, so with a fixed
/// input shape the k-th training call's gates are the k-th batch of <c>new GChSampler(H, W, options, seed)</c>.
/// Not thread-safe.</para>
/// </remarks>
public sealed class GChModule : nn.Module<Tensor, Tensor>
{
    private readonly Dictionary<(int H, int W), GChSampler> _samplers = [];

    /// <summary>A GCh layer with the given settings and seed; <paramref name="clsTokens"/> applies to [B, N, D] inputs.</summary>
    public GChModule(GChOptions options, ulong seed, int clsTokens = 1, string name = "gch") : base(name)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ArgumentOutOfRangeException.ThrowIfNegative(clsTokens);
        Options = options;
        Seed = seed;
        ClsTokens = clsTokens;
        RegisterComponents();
    }

    /// <summary>The gate settings.</summary>
    public GChOptions Options { get; }

    /// <summary>The seed every shape's sampler starts from.</summary>
    public ulong Seed { get; private set; }

    /// <summary>Leading non-patch tokens of a [B, N, D] input (gate 1 there).</summary>
    public int ClsTokens { get; }

    /// <summary>Restarts every sampler from a new seed.</summary>
    public void Reseed(ulong seed)
    {
        Seed = seed;
        foreach (var s in _samplers.Values) s.Reseed(seed);
    }

    /// <summary>The sampler this layer uses for an H×W grid (created on first use).</summary>
    public GChSampler SamplerFor(int height, int width)
    {
        if (!_samplers.TryGetValue((height, width), out var s))
        {
            s = new GChSampler(height, width, Options, Seed);
            _samplers[(height, width)] = s;
        }
        return s;
    }

    /// <summary>x ∘ gate in training mode, x itself (an alias) in eval mode.</summary>
    public override Tensor forward(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (!training) return x.alias();
        if (!x.is_floating_point()) throw new ArgumentException($"GCh needs a floating-point input, got {x.dtype}", nameof(x));
        long[] shape = x.shape;
        using var scope = NewDisposeScope();
        Tensor gate;
        using (no_grad())
        {
            if (shape.Length == 4)
            {
                int b = ToInt(shape[0]), h = ToInt(shape[2]), w = ToInt(shape[3]);
                var sampler = SamplerFor(h, w);
                var g = new float[checked(b * h * w)];
                sampler.Sample(g, b);
                gate = tensor(g, [b, 1, h, w]);
            }
            else if (shape.Length == 3)
            {
                int b = ToInt(shape[0]), n = ToInt(shape[1]);
                int p = n - ClsTokens;
                int side = p > 0 ? (int)Math.Round(Math.Sqrt(p)) : 0;
                if (p <= 0 || side * side != p)
                    throw new ArgumentException($"token grid [B, {n}, D] with {ClsTokens} CLS token(s) leaves {p} patch tokens, not a perfect square", nameof(x));
                var sampler = SamplerFor(side, side);
                var patches = new float[checked(b * p)];
                sampler.Sample(patches, b);
                var g = new float[checked(b * n)];
                for (int i = 0; i < b; i++)
                {
                    g.AsSpan(i * n, ClsTokens).Fill(1f);
                    patches.AsSpan(i * p, p).CopyTo(g.AsSpan(i * n + ClsTokens, p));
                }
                gate = tensor(g, [b, n, 1]);
            }
            else
            {
                throw new ArgumentException($"GCh takes [B, C, H, W] or [B, N, D], got [{string.Join(", ", shape)}]", nameof(x));
            }
            gate = gate.to(x.dtype, x.device);
        }
        return x.mul(gate).MoveToOuterDisposeScope();
    }

    private static int ToInt(long v) =>
        v is >= 0 and <= int.MaxValue ? (int)v : throw new ArgumentException($"dimension {v} is out of range");
}

using Cartan.Noise;
using static TorchSharp.torch;

namespace Cartan.Torch.Noise;

/// <summary>
/// Correlated additive Gaussian noise with the GCh Green kernel: the ablation baseline of methods.md §4(d)
/// ("correlated additive Gaussian noise stays close to baseline ECE"). In training mode
/// y(c, x) = h(c, x) + a_b·g_b(x), where g_b = γψ ~ N(0, s²·G_U) is the same field a <see cref="GChModule"/> with the
/// same options would exponentiate (0 on the ring), independent per sample and shared over channels; in eval mode it is
/// the identity. Zero mean, additive, no gradient through the noise.
/// </summary>
/// <remarks>
/// Matched strength [R]: the gate x·exp(g) ≈ x + x·g to first order, so with <see cref="Relative"/> (default) the field is
/// scaled per sample by a_b = RMS of that sample's features (detached), giving the additive perturbation the same
/// size as the gate's linear term; with <c>relative: false</c>, a_b = 1. The clamp and mode of the options are unused.
/// </remarks>
public sealed class CorrelatedNoiseModule : nn.Module<Tensor, Tensor>
{
    private readonly Dictionary<(int H, int W), GChSampler> _samplers = [];

    /// <summary>A correlated additive noise layer.</summary>
    public CorrelatedNoiseModule(GChOptions options, ulong seed, bool relative = true, string name = "corrnoise") : base(name)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        Seed = seed;
        Relative = relative;
        RegisterComponents();
    }

    /// <summary>Kernel settings (strength s and boundary are used).</summary>
    public GChOptions Options { get; }

    /// <summary>The seed every shape's sampler starts from.</summary>
    public ulong Seed { get; private set; }

    /// <summary>Scale the field by each sample's feature RMS.</summary>
    public bool Relative { get; }

    /// <summary>Restarts every sampler.</summary>
    public void Reseed(ulong seed)
    {
        Seed = seed;
        foreach (var s in _samplers.Values) s.Reseed(seed);
    }

    /// <summary>
    /// Draws <paramref name="batch"/> fields g on the full H×W grid (row-major, 0 on the ring), advancing the stream as a
    /// forward pass does.
    /// </summary>
    public void SampleFields(Span<float> fields, int batch, int height, int width)
    {
        if (!_samplers.TryGetValue((height, width), out var s))
        {
            s = new GChSampler(height, width, Options, Seed);
            _samplers[(height, width)] = s;
        }
        int size = checked(height * width);
        if (fields.Length != checked(batch * size)) throw new ArgumentException("fields length is not B·H·W", nameof(fields));
        fields.Clear();
        var grid = s.Grid;
        var g = new double[grid.InteriorCount];
        for (int b = 0; b < batch; b++)
        {
            if (g.Length == 0) continue;
            s.SampleField(g);
            for (int i = 0; i < grid.N1; i++)
                for (int j = 0; j < grid.N2; j++)
                    fields[b * size + (i + grid.Offset) * width + j + grid.Offset] = (float)g[i * grid.N2 + j];
        }
    }

    /// <summary>x + a·g in training mode, x itself (an alias) in eval mode.</summary>
    public override Tensor forward(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (!training) return x.alias();
        if (x.shape.Length != 4) throw new ArgumentException($"correlated noise takes [B, C, H, W], got [{string.Join(", ", x.shape)}]", nameof(x));
        if (!x.is_floating_point()) throw new ArgumentException($"correlated noise needs a floating-point input, got {x.dtype}", nameof(x));
        int b = ToInt(x.shape[0]), h = ToInt(x.shape[2]), w = ToInt(x.shape[3]);
        var f = new float[checked(b * h * w)];
        SampleFields(f, b, h, w);
        using var scope = NewDisposeScope();
        Tensor noise;
        using (no_grad())
        {
            noise = tensor(f, [b, 1, h, w]).to(x.dtype, x.device);
            if (Relative) noise = noise.mul(x.detach().square().mean([1, 2, 3], keepdim: true).sqrt());
        }
        return x.add(noise).MoveToOuterDisposeScope();
    }

    private static int ToInt(long v) =>
        v is >= 0 and <= int.MaxValue ? (int)v : throw new ArgumentException($"dimension {v} is out of range");
}

using Cartan.Noise;
using static TorchSharp.torch;

namespace Cartan.Torch.Noise;

/// <summary>
/// DropBlock (Ghiasi, Lin and Le, NeurIPS 2018), a baseline for GCh (methods.md §4(d)). In training mode it zeroes
/// contiguous <see cref="BlockSize"/>×<see cref="BlockSize"/> squares of a [B, C, H, W] feature map and rescales the rest
/// by count(M)/count_ones(M) over the whole mask; in eval mode it is the identity.
/// </summary>
/// <remarks>
/// <para>Block seeds: each valid top-left corner (i, j) ∈ [0, H−bs]×[0, W−bs] is a seed with probability
/// γ = (1 − keep)/bs² · H·W/((H − bs + 1)(W − bs + 1)) (the paper's eq. 1 for non-square maps); a seed drops the square
/// [i, i+bs)×[j, j+bs), which is the paper's "centre inside the valid region" in corner coordinates. A site covered by
/// n_r·n_c possible corners survives with probability exactly (1 − γ)^(n_r·n_c), so the kept fraction is close to, not
/// exactly, <see cref="KeepProbability"/> (blocks overlap).</para>
/// <para>Masks are independent per sample and, unless <see cref="SharedOverChannels"/>, per channel (the paper's
/// per-feature-map mask). They are drawn in managed code by the documented <see cref="GChRandom"/> stream, so a seed
/// fixes them. bs is clipped to min(H, W). If a whole mask is dropped the output is zero. No gradient flows through
/// the mask.</para>
/// </remarks>
public sealed class DropBlockModule : nn.Module<Tensor, Tensor>
{
    private readonly GChRandom _rng;

    /// <summary>A DropBlock layer.</summary>
    public DropBlockModule(int blockSize, double keepProbability, ulong seed, bool sharedOverChannels = false, string name = "dropblock")
        : base(name)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        if (!(keepProbability > 0 && keepProbability <= 1)) throw new ArgumentOutOfRangeException(nameof(keepProbability), "keep probability must be in (0, 1]");
        BlockSize = blockSize;
        KeepProbability = keepProbability;
        SharedOverChannels = sharedOverChannels;
        _rng = new GChRandom(seed);
        RegisterComponents();
    }

    /// <summary>Side of a dropped square.</summary>
    public int BlockSize { get; }

    /// <summary>The paper's keep_prob.</summary>
    public double KeepProbability { get; }

    /// <summary>One mask per sample shared by all channels (otherwise one per channel).</summary>
    public bool SharedOverChannels { get; }

    /// <summary>Restarts the mask stream.</summary>
    public void Reseed(ulong seed) => _rng.Reseed(seed);

    /// <summary>The seed probability γ for an H×W map (bs clipped to min(H, W)).</summary>
    public double Gamma(int height, int width)
    {
        int bs = Math.Min(BlockSize, Math.Min(height, width));
        double valid = (double)(height - bs + 1) * (width - bs + 1);
        return Math.Min(1.0, (1 - KeepProbability) / ((double)bs * bs) * height * width / valid);
    }

    /// <summary>
    /// Draws <paramref name="count"/> masks of H×W (row-major, 1 kept, 0 dropped) into <paramref name="mask"/>,
    /// advancing the stream exactly as a forward pass over that many feature maps does.
    /// </summary>
    public void SampleMasks(Span<float> mask, int count, int height, int width)
    {
        int size = checked(height * width);
        if (mask.Length != checked(count * size)) throw new ArgumentException("mask length is not count·H·W", nameof(mask));
        int bs = Math.Min(BlockSize, Math.Min(height, width));
        double gamma = Gamma(height, width);
        mask.Fill(1f);
        for (int m = 0; m < count; m++)
        {
            var one = mask.Slice(m * size, size);
            for (int i = 0; i <= height - bs; i++)
                for (int j = 0; j <= width - bs; j++)
                {
                    if (_rng.NextUniform() >= gamma) continue;
                    for (int r = i; r < i + bs; r++) one.Slice(r * width + j, bs).Clear();
                }
        }
    }

    /// <summary>x·M·count(M)/count_ones(M) in training mode, x itself (an alias) in eval mode.</summary>
    public override Tensor forward(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (!training || KeepProbability >= 1) return x.alias();
        if (x.shape.Length != 4) throw new ArgumentException($"DropBlock takes [B, C, H, W], got [{string.Join(", ", x.shape)}]", nameof(x));
        if (!x.is_floating_point()) throw new ArgumentException($"DropBlock needs a floating-point input, got {x.dtype}", nameof(x));
        int b = ToInt(x.shape[0]), c = ToInt(x.shape[1]), h = ToInt(x.shape[2]), w = ToInt(x.shape[3]);
        int maps = SharedOverChannels ? b : checked(b * c);
        var m = new float[checked(maps * h * w)];
        SampleMasks(m, maps, h, w);
        double ones = 0;
        foreach (var v in m) ones += v;
        float scale = ones > 0 ? (float)(m.Length / ones) : 0f;
        if (scale != 1f) for (int i = 0; i < m.Length; i++) m[i] *= scale;
        using var scope = NewDisposeScope();
        Tensor mask;
        using (no_grad())
            mask = tensor(m, SharedOverChannels ? [b, 1, h, w] : [b, c, h, w]).to(x.dtype, x.device);
        return x.mul(mask).MoveToOuterDisposeScope();
    }

    private static int ToInt(long v) =>
        v is >= 0 and <= int.MaxValue ? (int)v : throw new ArgumentException($"dimension {v} is out of range");
}

using System.Numerics.Tensors;

namespace Cartan.Noise;

/// <summary>
/// Samples Gaussian Chaos Noise gates on an H×W grid (methods.md §4(c), "Algorithm 1" steps 3–10), seeded and
/// independent per sample. The field γψ ~ N(0, s²·G_U) is drawn in the DST-I eigenbasis: Z ~ N(0,1)^{n1×n2},
/// Ĝ = Z∘amp with amp[k,l] = s/√λ[k,l], g = S1ᵀ·Ĝ·S2 (dense products; the DST matrices are symmetric). The gate is
/// 1 on the ring, exp(g − varγ/2) (Wick) or exp(g) (sample-wise, then the full grid divided by its mean) inside.
/// </summary>
/// <remarks>
/// Arithmetic is float64; the float32 overloads round the finished gate. The normals are drawn sample by sample,
/// row-major over (k, l), from one <see cref="GChRandom"/> stream, so the gates depend only on the seed and the order
/// of calls. A degenerate grid gives gates ≡ 1 and draws nothing. Not thread-safe (one sampler per thread).
/// Cost per sample: 2·n1·n2·(n1 + n2) multiply-adds plus n1·n2 normals and exponentials.
/// </remarks>
public sealed class GChSampler
{
    private readonly double[] _amp, _halfVar, _z, _tmp, _g;
    private readonly GChRandom _rng;

    /// <summary>A sampler for an H×W grid (the boundary comes from <paramref name="options"/>).</summary>
    public GChSampler(int height, int width, GChOptions options, ulong seed)
        : this(new DirichletGrid(height, width, (options ?? throw new ArgumentNullException(nameof(options))).Boundary), options, seed)
    {
    }

    /// <summary>A sampler on a precomputed grid; <paramref name="options"/>.Boundary must match the grid's.</summary>
    public GChSampler(DirichletGrid grid, GChOptions options, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(grid);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.Boundary != grid.Boundary)
            throw new ArgumentException($"options say the {options.Boundary} boundary, the grid has {grid.Boundary}", nameof(options));
        Grid = grid;
        Options = options;
        Seed = seed;
        _rng = new GChRandom(seed);
        int n = grid.InteriorCount;
        _amp = new double[n];
        _halfVar = new double[n];
        _z = new double[n];
        _tmp = new double[n];
        _g = new double[n];
        double s = options.Strength;
        var lambda = grid.Eigenvalues;
        var gd = grid.GreenDiagonal;
        for (int u = 0; u < n; u++)
        {
            _amp[u] = s / Math.Sqrt(lambda[u]);
            _halfVar[u] = 0.5 * s * s * gd[u];
        }
    }

    /// <summary>The grid.</summary>
    public DirichletGrid Grid { get; }

    /// <summary>The settings.</summary>
    public GChOptions Options { get; }

    /// <summary>The seed the stream started from (or was last reset to).</summary>
    public ulong Seed { get; private set; }

    /// <summary>Sites per gate, H·W.</summary>
    public int GateSize => Grid.Height * Grid.Width;

    /// <summary>Restarts the stream: the next gates are those a new sampler with this seed would give.</summary>
    public void Reseed(ulong seed)
    {
        Seed = seed;
        _rng.Reseed(seed);
    }

    /// <summary>
    /// Draws one interior field g = γψ ~ N(0, s²·G_U) (row-major n1×n2, no clamp), advancing the stream exactly as one
    /// gate does. The gate drawn from the same stream position is a deterministic function of this field.
    /// </summary>
    public void SampleField(Span<double> field)
    {
        int n = Grid.InteriorCount;
        if (field.Length != n) throw new ArgumentException($"field has {field.Length} values, the interior {n}", nameof(field));
        if (n == 0) return;
        int n1 = Grid.N1, n2 = Grid.N2;
        var s1 = Grid.S1;
        var s2 = Grid.S2;
        for (int u = 0; u < n; u++) _z[u] = _rng.NextNormal() * _amp[u];
        // tmp[i,l] = Σ_k S1[k,i]·Ĝ[k,l]
        Array.Clear(_tmp);
        for (int k = 0; k < n1; k++)
        {
            var zk = _z.AsSpan(k * n2, n2);
            for (int i = 0; i < n1; i++)
            {
                var ti = _tmp.AsSpan(i * n2, n2);
                TensorPrimitives.MultiplyAdd(zk, s1[k * n1 + i], ti, ti);
            }
        }
        // g[i,j] = Σ_l tmp[i,l]·S2[l,j]
        field.Clear();
        for (int i = 0; i < n1; i++)
        {
            var gi = field.Slice(i * n2, n2);
            for (int l = 0; l < n2; l++) TensorPrimitives.MultiplyAdd(s2.Slice(l * n2, n2), _tmp[i * n2 + l], gi, gi);
        }
    }

    /// <summary>Draws <paramref name="batch"/> independent gates into <paramref name="gates"/> (B×H×W row-major, float64).</summary>
    public void Sample(Span<double> gates, int batch)
    {
        CheckGates(gates.Length, batch);
        int size = GateSize;
        for (int b = 0; b < batch; b++) SampleOne(gates.Slice(b * size, size));
    }

    /// <summary>Draws <paramref name="batch"/> independent gates (B×H×W row-major, float32: the float64 gate rounded).</summary>
    public void Sample(Span<float> gates, int batch)
    {
        CheckGates(gates.Length, batch);
        int size = GateSize;
        var one = size <= 4096 ? stackalloc double[size] : new double[size];
        for (int b = 0; b < batch; b++)
        {
            SampleOne(one);
            var dst = gates.Slice(b * size, size);
            for (int t = 0; t < size; t++) dst[t] = (float)one[t];
        }
    }

    /// <summary>Draws <paramref name="batch"/> independent gates as a new B×H×W float64 array.</summary>
    public double[] Sample(int batch)
    {
        if (batch < 0) throw new ArgumentOutOfRangeException(nameof(batch));
        var gates = new double[checked(batch * GateSize)];
        Sample(gates, batch);
        return gates;
    }

    /// <summary>
    /// Algorithm 1 steps 9–10 on a B×C×H×W float32 feature map, in place: when <paramref name="training"/> is false it
    /// does nothing (E[gate] = 1, the identity at inference, like inverted dropout) and draws nothing; otherwise it draws
    /// B gates and multiplies every channel of sample b by gate b (shared over channels).
    /// </summary>
    public void Apply(Span<float> features, int batch, int channels, bool training)
    {
        int size = CheckFeatures(features.Length, batch, channels);
        if (!training) return;
        var gate = size <= 4096 ? stackalloc double[size] : new double[size];
        for (int b = 0; b < batch; b++)
        {
            SampleOne(gate);
            for (int c = 0; c < channels; c++)
            {
                var f = features.Slice((b * channels + c) * size, size);
                for (int t = 0; t < size; t++) f[t] = (float)(f[t] * gate[t]);
            }
        }
    }

    /// <summary>As the float32 <see cref="Apply(Span{float}, int, int, bool)"/>, on a float64 feature map.</summary>
    public void Apply(Span<double> features, int batch, int channels, bool training)
    {
        int size = CheckFeatures(features.Length, batch, channels);
        if (!training) return;
        var gate = size <= 4096 ? stackalloc double[size] : new double[size];
        for (int b = 0; b < batch; b++)
        {
            SampleOne(gate);
            for (int c = 0; c < channels; c++)
            {
                var f = features.Slice((b * channels + c) * size, size);
                for (int t = 0; t < size; t++) f[t] *= gate[t];
            }
        }
    }

    private void SampleOne(Span<double> gate)
    {
        gate.Fill(1.0);
        if (Grid.IsDegenerate) return;
        SampleField(_g);
        int n1 = Grid.N1, n2 = Grid.N2, w = Grid.Width, off = Grid.Offset;
        double clamp = Options.ClampBound ?? double.PositiveInfinity;
        bool wick = Options.Mode == GChMode.Wick;
        double sum = 0;
        for (int i = 0; i < n1; i++)
            for (int j = 0; j < n2; j++)
            {
                int u = i * n2 + j;
                double g = Math.Clamp(_g[u], -clamp, clamp);
                double v = wick ? Math.Exp(g - _halfVar[u]) : Math.Exp(g);
                gate[(i + off) * w + j + off] = v;
            }
        if (wick) return;
        for (int t = 0; t < gate.Length; t++) sum += gate[t];
        double inv = gate.Length / sum;
        for (int t = 0; t < gate.Length; t++) gate[t] *= inv;
    }

    private void CheckGates(int length, int batch)
    {
        if (batch < 0) throw new ArgumentOutOfRangeException(nameof(batch));
        if ((long)batch * GateSize != length)
            throw new ArgumentException($"gate buffer has {length} values, {batch}×{Grid.Height}×{Grid.Width} needs {(long)batch * GateSize}", nameof(length));
    }

    private int CheckFeatures(int length, int batch, int channels)
    {
        if (batch < 0) throw new ArgumentOutOfRangeException(nameof(batch));
        if (channels < 0) throw new ArgumentOutOfRangeException(nameof(channels));
        if ((long)batch * channels * GateSize != length)
            throw new ArgumentException($"feature map has {length} values, [{batch},{channels},{Grid.Height},{Grid.Width}] needs {(long)batch * channels * GateSize}", nameof(length));
        return GateSize;
    }
}

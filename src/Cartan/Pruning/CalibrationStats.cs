using Cartan.Formats;

namespace Cartan.Pruning;

/// <summary>
/// Per-input-feature calibration statistics of one linear layer's input (methods.md §5(b), §5(c) step 4), accumulated
/// in float64 from batches of activations X (tokens × in, row-major): the token count n, Σx, Σx² per feature, and,
/// when asked for (SparseGPT), the Hessian accumulator H = XᵀX (in × in, row-major, undamped). Accumulators merge
/// exactly (sums add), so batches, sequences or devices can be reduced in any order.
/// </summary>
/// <remarks>
/// The TorchSharp calibration side feeds it with <see cref="Add(ReadOnlySpan{float}, int)"/> (a hook's input, flattened
/// to tokens × in) or builds it from its own reductions with <see cref="FromTotals"/>. q/k/v (and gate/up) read the
/// same input and can share one accumulator.
/// </remarks>
public sealed class CalibrationStats
{
    private readonly double[] _sum, _sumSq;
    private double[]? _hessian;

    /// <summary>An empty accumulator for <paramref name="features"/> input features, with a Hessian when <paramref name="withHessian"/>.</summary>
    public CalibrationStats(int features, bool withHessian = false)
    {
        if (features <= 0) throw new ArgumentException($"features must be positive, got {features}");
        if (withHessian && (long)features * features > Array.MaxLength)
            throw new ArgumentException($"a {features}×{features} Hessian is too large for one buffer");
        Features = features;
        _sum = new double[features];
        _sumSq = new double[features];
        if (withHessian) _hessian = new double[features * features];
    }

    /// <summary>Number of input features (columns of W).</summary>
    public int Features { get; }
    /// <summary>Tokens seen.</summary>
    public long Count { get; private set; }
    /// <summary>Σ_t x_tj per feature.</summary>
    public ReadOnlySpan<double> Sum => _sum;
    /// <summary>Σ_t x_tj² per feature.</summary>
    public ReadOnlySpan<double> SumSq => _sumSq;
    /// <summary>True when <see cref="Hessian"/> is accumulated.</summary>
    public bool HasHessian => _hessian is not null;
    /// <summary>H = XᵀX (row-major in × in, no damping, no 2/n scaling), or null.</summary>
    public double[]? Hessian => _hessian;

    /// <summary>Builds statistics from totals computed elsewhere (an .npz, a GPU reduction). Arrays are copied.</summary>
    public static CalibrationStats FromTotals(long count, ReadOnlySpan<double> sum, ReadOnlySpan<double> sumSq, ReadOnlySpan<double> hessian = default)
    {
        if (count < 0) throw new ArgumentException($"count must be ≥ 0, got {count}");
        if (sum.Length != sumSq.Length) throw new ArgumentException($"sum has {sum.Length} features, sumsq {sumSq.Length}");
        int f = sum.Length;
        bool h = !hessian.IsEmpty;
        if (h && hessian.Length != (long)f * f) throw new ArgumentException($"hessian has {hessian.Length} values, {f}×{f} expected");
        var s = new CalibrationStats(f, h) { Count = count };
        sum.CopyTo(s._sum);
        sumSq.CopyTo(s._sumSq);
        for (int j = 0; j < f; j++)
            if (!double.IsFinite(s._sum[j]) || !double.IsFinite(s._sumSq[j]) || s._sumSq[j] < 0)
                throw new ArgumentException($"feature {j}: sum {s._sum[j]} / sumsq {s._sumSq[j]} are not finite non-negative totals");
        if (h)
        {
            hessian.CopyTo(s._hessian);
            foreach (var v in s._hessian!) if (!double.IsFinite(v)) throw new ArgumentException("hessian holds a non-finite value");
        }
        return s;
    }

    /// <summary>Adds a batch of <paramref name="tokens"/> rows of activations (row-major tokens × <see cref="Features"/>).</summary>
    public void Add(ReadOnlySpan<double> x, int tokens)
    {
        Check(x.Length, tokens);
        int f = Features;
        for (int t = 0; t < tokens; t++)
        {
            var row = x.Slice(t * f, f);
            for (int j = 0; j < f; j++) { double v = row[j]; _sum[j] += v; _sumSq[j] += v * v; }
        }
        if (_hessian is not null && tokens > 0)
        {
            var g = Linalg.Lapack.Gram(x, tokens, f, rowsGram: false);
            for (int i = 0; i < g.Length; i++) _hessian[i] += g[i];
        }
        Count += tokens;
    }

    /// <summary>Adds a batch of float32 activations (each value widened to float64 before any arithmetic).</summary>
    public void Add(ReadOnlySpan<float> x, int tokens)
    {
        Check(x.Length, tokens);
        var d = new double[x.Length];
        for (int i = 0; i < d.Length; i++) d[i] = x[i];
        Add(d, tokens);
    }

    private void Check(int length, int tokens)
    {
        if (tokens < 0 || (long)tokens * Features != length)
            throw new ArgumentException($"batch of {length} values is not {tokens} tokens × {Features} features");
    }

    /// <summary>Adds another accumulator of the same width (exact: sums add). A Hessian survives only when both have one.</summary>
    public void Merge(CalibrationStats other)
    {
        if (other.Features != Features) throw new ArgumentException($"cannot merge {other.Features} features into {Features}");
        for (int j = 0; j < Features; j++) { _sum[j] += other._sum[j]; _sumSq[j] += other._sumSq[j]; }
        if (_hessian is not null)
        {
            if (other._hessian is null) _hessian = null;
            else for (int i = 0; i < _hessian.Length; i++) _hessian[i] += other._hessian[i];
        }
        Count += other.Count;
    }

    /// <summary>‖X_{:,j}‖₂ = √Σx² per feature (the Wanda activation factor).</summary>
    public double[] L2Norms()
    {
        var r = new double[Features];
        for (int j = 0; j < r.Length; j++) r[j] = Math.Sqrt(_sumSq[j]);
        return r;
    }

    /// <summary>Σx/n per feature (0 when n = 0).</summary>
    public double[] Means()
    {
        var r = new double[Features];
        if (Count == 0) return r;
        for (int j = 0; j < r.Length; j++) r[j] = _sum[j] / Count;
        return r;
    }

    /// <summary>Population variance Σx²/n − (Σx/n)² per feature, clamped at 0 against cancellation (0 when n = 0).</summary>
    public double[] Variances()
    {
        var r = new double[Features];
        if (Count == 0) return r;
        for (int j = 0; j < r.Length; j++)
        {
            double m = _sum[j] / Count;
            r[j] = Math.Max(0, _sumSq[j] / Count - m * m);
        }
        return r;
    }

    /// <summary>
    /// H + λI with λ = <paramref name="percDamp"/> × mean(diag H), after the SparseGPT reference's dead-feature rule
    /// (a zero diagonal entry is set to 1 before the mean is taken). Returns a new buffer and the dead features.
    /// </summary>
    public (double[] H, bool[] Dead) DampedHessian(double percDamp = 0.01)
    {
        if (_hessian is null) throw new InvalidOperationException("these statistics hold no Hessian (accumulate withHessian: true)");
        return SparseGpt.Damp(_hessian, Features, percDamp);
    }
}

/// <summary>
/// Reads per-layer calibration statistics from an .npz: for each layer input KEY the arrays <c>KEY.n</c> (one value),
/// <c>KEY.sum</c> and <c>KEY.sumsq</c> (in values each) and optionally <c>KEY.hessian</c> (in × in). KEY is the weight
/// tensor's name or its module name (the tensor name without <c>.weight</c>); layers that share an input (q/k/v,
/// gate/up) may each have their own copy. Any float or integer dtype is accepted (widened to float64).
/// </summary>
public static class CalibrationStatsFile
{
    /// <summary>All statistics in the file by KEY. Throws <see cref="CartanFormatException"/> for a malformed file.</summary>
    public static Dictionary<string, CalibrationStats> Read(string path)
    {
        using var model = WeightSource.Open(path);
        var byName = model.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var keys = byName.Keys.Where(k => k.EndsWith(".sum", StringComparison.Ordinal)).Select(k => k[..^4]).ToList();
        if (keys.Count == 0) throw new CartanFormatException(path, "holds no KEY.sum arrays (expected KEY.n, KEY.sum, KEY.sumsq per layer input)");
        var result = new Dictionary<string, CalibrationStats>(StringComparer.Ordinal);
        foreach (var k in keys)
        {
            if (!byName.TryGetValue(k + ".sumsq", out var sq)) throw new CartanFormatException(path, $"'{k}' has a sum but no sumsq array");
            if (!byName.TryGetValue(k + ".n", out var nT)) throw new CartanFormatException(path, $"'{k}' has no n array");
            var sum = byName[k + ".sum"].ReadDoubles();
            var sumSq = sq.ReadDoubles();
            var nv = nT.ReadDoubles();
            if (nv.Length != 1 || nv[0] < 0 || nv[0] != Math.Floor(nv[0]) || nv[0] > long.MaxValue / 2)
                throw new CartanFormatException(path, $"'{k}.n' must hold one whole number ≥ 0");
            if (sum.Length == 0 || sum.Length != sumSq.Length)
                throw new CartanFormatException(path, $"'{k}': sum has {sum.Length} values, sumsq {sumSq.Length}");
            double[]? h = null;
            if (byName.TryGetValue(k + ".hessian", out var hT))
            {
                if (hT.ElementCount != (long)sum.Length * sum.Length)
                    throw new CartanFormatException(path, $"'{k}.hessian' has {hT.ElementCount} values, {sum.Length}×{sum.Length} expected");
                h = hT.ReadDoubles();
            }
            try { result[k] = CalibrationStats.FromTotals((long)nv[0], sum, sumSq, h); }
            catch (ArgumentException e) { throw new CartanFormatException(path, $"'{k}': {e.Message}"); }
        }
        return result;
    }

    /// <summary>The statistics for a weight tensor: by its name, else by its module name (without <c>.weight</c>).</summary>
    public static CalibrationStats? Find(IReadOnlyDictionary<string, CalibrationStats> stats, string tensorName)
    {
        if (stats.TryGetValue(tensorName, out var s)) return s;
        if (tensorName.EndsWith(".weight", StringComparison.Ordinal) && stats.TryGetValue(tensorName[..^7], out s)) return s;
        return null;
    }

    /// <summary>Writes statistics in the format <see cref="Read"/> takes (float64 arrays, uncompressed .npz), atomically.</summary>
    public static void Write(string path, IReadOnlyDictionary<string, CalibrationStats> stats)
    {
        var full = Path.GetFullPath(path);
        var tmp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew))
            using (var zip = new System.IO.Compression.ZipArchive(fs, System.IO.Compression.ZipArchiveMode.Create))
            {
                foreach (var (k, s) in stats)
                {
                    Entry(zip, k + ".n", [s.Count], []);
                    Entry(zip, k + ".sum", s.Sum.ToArray(), [s.Features]);
                    Entry(zip, k + ".sumsq", s.SumSq.ToArray(), [s.Features]);
                    if (s.Hessian is { } h) Entry(zip, k + ".hessian", h, [s.Features, s.Features]);
                }
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
    }

    private static void Entry(System.IO.Compression.ZipArchive zip, string name, double[] data, long[] shape)
    {
        var e = zip.CreateEntry(name + ".npy", System.IO.Compression.CompressionLevel.NoCompression);
        using var s = e.Open();
        string shp = shape.Length == 0 ? "()" : shape.Length == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape)})";
        string dict = $"{{'descr': '<f8', 'fortran_order': False, 'shape': {shp}, }}";
        int total = 10 + dict.Length + 1;
        int pad = (64 - total % 64) % 64;
        string header = dict + new string(' ', pad) + "\n";
        var pre = new byte[10];
        pre[0] = 0x93; "NUMPY"u8.CopyTo(pre.AsSpan(1)); pre[6] = 1; pre[7] = 0;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(pre.AsSpan(8), (ushort)header.Length);
        s.Write(pre);
        s.Write(System.Text.Encoding.ASCII.GetBytes(header));
        var b = new byte[data.Length * 8];
        for (int i = 0; i < data.Length; i++) System.Buffers.Binary.BinaryPrimitives.WriteDoubleLittleEndian(b.AsSpan(i * 8), data[i]);
        s.Write(b);
    }
}

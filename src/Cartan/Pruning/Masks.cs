namespace Cartan.Pruning;

/// <summary>A sparsity pattern: unstructured with a fraction s ∈ (0,1), or N:M (exactly N kept in each group of M consecutive inputs).</summary>
public sealed record SparsityPattern
{
    private SparsityPattern() { }
    /// <summary>Fraction pruned for unstructured sparsity; null for N:M.</summary>
    public double? Sparsity { get; private init; }
    /// <summary>N (kept per group) for N:M; 0 for unstructured.</summary>
    public int N { get; private init; }
    /// <summary>M (group size) for N:M; 0 for unstructured.</summary>
    public int M { get; private init; }
    public bool IsNM => M > 0;

    /// <summary>Unstructured sparsity s ∈ (0, 1).</summary>
    public static SparsityPattern Unstructured(double s)
    {
        if (!(s > 0 && s < 1)) throw new ArgumentException($"sparsity must lie in (0, 1), got {s}");
        return new SparsityPattern { Sparsity = s };
    }

    /// <summary>N:M with 0 &lt; N &lt; M (N kept).</summary>
    public static SparsityPattern NM(int n, int m)
    {
        if (m < 2 || n < 1 || n >= m) throw new ArgumentException($"N:M needs 0 < N < M, got {n}:{m}");
        return new SparsityPattern { N = n, M = m };
    }

    /// <summary>Parses "N:M".</summary>
    public static SparsityPattern ParseNM(string s)
    {
        var p = s.Split(':');
        if (p.Length != 2 || !int.TryParse(p[0], out int n) || !int.TryParse(p[1], out int m))
            throw new ArgumentException($"pattern must be N:M (e.g. 2:4), got '{s}'");
        return NM(n, m);
    }

    /// <summary>Nominal sparsity: s, or 1 − N/M.</summary>
    public double Nominal => Sparsity ?? 1 - (double)N / M;

    public override string ToString() => IsNM ? $"{N}:{M}" : $"unstructured {Sparsity!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
}

/// <summary>
/// Masks from scores (true = kept). Ties are broken deterministically: among equal scores the LOWER index is kept
/// (the higher one pruned first). Note that Wanda's reference code uses a stable ascending sort, which prunes the lower
/// index first; ties are rare with real weights, and our rule is the project's documented convention (methods.md §5(c)).
/// </summary>
public static class Masks
{
    /// <summary>Per row: prune exactly k = ⌊s·cols⌋ lowest scores (Wanda's <c>int(W.shape[1]*sparsity)</c>).</summary>
    public static bool[] UnstructuredPerRow(ReadOnlySpan<double> scores, int rows, int cols, double sparsity)
    {
        CheckShape(scores, rows, cols);
        if (!(sparsity >= 0 && sparsity <= 1)) throw new ArgumentException($"sparsity must lie in [0, 1], got {sparsity}");
        int k = (int)Math.Floor(cols * sparsity);
        var mask = new bool[scores.Length];
        Array.Fill(mask, true);
        var idx = new int[cols];
        for (int i = 0; i < rows; i++)
        {
            var row = scores.Slice(i * cols, cols);
            for (int j = 0; j < cols; j++) idx[j] = j;
            PruneLowest(row, idx, cols, k, mask.AsSpan(i * cols, cols), 0);
        }
        return mask;
    }

    /// <summary>Per layer: prune exactly k = ⌊s·rows·cols⌋ lowest scores of the whole matrix (flat index ties: lower kept).</summary>
    public static bool[] UnstructuredPerLayer(ReadOnlySpan<double> scores, double sparsity)
    {
        if (!(sparsity >= 0 && sparsity <= 1)) throw new ArgumentException($"sparsity must lie in [0, 1], got {sparsity}");
        int n = scores.Length;
        int k = (int)Math.Floor(n * sparsity);
        var mask = new bool[n];
        Array.Fill(mask, true);
        var idx = new int[n];
        for (int j = 0; j < n; j++) idx[j] = j;
        PruneLowest(scores, idx, n, k, mask, 0);
        return mask;
    }

    /// <summary>
    /// N:M along the input dimension: in each row and each group of M consecutive columns starting at column 0, keep
    /// exactly the N highest scores. A trailing group of fewer than M columns (cols % M ≠ 0) is left dense;
    /// <paramref name="remainderDense"/> is then the number of such columns (0 otherwise).
    /// </summary>
    public static bool[] NM(ReadOnlySpan<double> scores, int rows, int cols, int n, int m, out int remainderDense)
    {
        CheckShape(scores, rows, cols);
        SparsityPattern.NM(n, m);
        var mask = new bool[scores.Length];
        Array.Fill(mask, true);
        int groups = cols / m;
        remainderDense = cols - groups * m;
        var idx = new int[m];
        for (int i = 0; i < rows; i++)
            for (int g = 0; g < groups; g++)
            {
                int c0 = g * m;
                for (int j = 0; j < m; j++) idx[j] = j;
                PruneLowest(scores.Slice(i * cols + c0, m), idx, m, m - n, mask.AsSpan(i * cols + c0, m), 0);
            }
        return mask;
    }

    /// <summary>Applies a pattern per row (unstructured with the layer's sparsity <paramref name="sparsity"/>, or N:M).</summary>
    public static bool[] ForPattern(ReadOnlySpan<double> scores, int rows, int cols, SparsityPattern pattern, double sparsity, bool perLayer, out int remainderDense)
    {
        remainderDense = 0;
        if (pattern.IsNM) return NM(scores, rows, cols, pattern.N, pattern.M, out remainderDense);
        return perLayer ? UnstructuredPerLayer(scores, sparsity) : UnstructuredPerRow(scores, rows, cols, sparsity);
    }

    /// <summary>Orders positions by (score ascending, index descending) and clears the first k in <paramref name="mask"/>.</summary>
    internal static void PruneLowest(ReadOnlySpan<double> s, int[] idx, int n, int k, Span<bool> mask, int offset)
    {
        if (k <= 0) return;
        var keys = s.ToArray();
        foreach (var v in keys) if (double.IsNaN(v)) throw new ArgumentException("a score is NaN (non-finite weights or statistics)");
        Array.Sort(idx, 0, n, Comparer<int>.Create((a, b) =>
        {
            int c = keys[a].CompareTo(keys[b]);
            return c != 0 ? c : b.CompareTo(a);
        }));
        for (int t = 0; t < k && t < n; t++) mask[idx[t] + offset] = false;
    }

    /// <summary>Fraction of kept entries.</summary>
    public static double KeptFraction(ReadOnlySpan<bool> mask)
    {
        int kept = 0;
        foreach (var b in mask) if (b) kept++;
        return mask.Length == 0 ? 1 : (double)kept / mask.Length;
    }

    /// <summary>W∘Mask as a new buffer.</summary>
    public static double[] Apply(ReadOnlySpan<double> w, ReadOnlySpan<bool> mask)
    {
        if (w.Length != mask.Length) throw new ArgumentException($"W has {w.Length} values, mask {mask.Length}");
        var r = new double[w.Length];
        for (int i = 0; i < r.Length; i++) r[i] = mask[i] ? w[i] : 0.0;
        return r;
    }

    private static void CheckShape(ReadOnlySpan<double> s, int rows, int cols)
    {
        if (rows <= 0 || cols <= 0 || (long)rows * cols != s.Length) throw new ArgumentException($"scores have {s.Length} values, not {rows}×{cols}");
    }
}

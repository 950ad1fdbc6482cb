namespace Cartan.Transport;

/// <summary>
/// Row groups G_1..G_R of a Physical Alignment Matrix (methods.md §2(b)): every constructor returns a partition of 0..rows−1
/// (each row exactly once), each group sorted ascending, groups ordered by their smallest row. [R]: our operational definitions;
/// which grouping to use is the caller's choice.
/// </summary>
public static class RowGroups
{
    /// <summary>Attention heads: contiguous blocks of <paramref name="headDim"/> rows (rows must be a multiple of it).</summary>
    public static int[][] Heads(int rows, int headDim)
    {
        if (rows < 1 || headDim < 1 || rows % headDim != 0)
            throw new ArgumentException($"RowGroups.Heads: {rows} rows are not a whole number of heads of size {headDim}.");
        return Contiguous(Enumerable.Repeat(headDim, rows / headDim).ToArray());
    }

    /// <summary>
    /// <paramref name="count"/> contiguous blocks of sizes differing by at most one (the first rows mod count blocks are one larger).
    /// </summary>
    public static int[][] EqualBlocks(int rows, int count)
    {
        if (rows < 1 || count < 1 || count > rows)
            throw new ArgumentException($"RowGroups.EqualBlocks: cannot split {rows} rows into {count} nonempty blocks.");
        var sizes = new int[count];
        for (int g = 0; g < count; g++) sizes[g] = rows / count + (g < rows % count ? 1 : 0);
        return Contiguous(sizes);
    }

    /// <summary>GroupNorm groups: <paramref name="groups"/> contiguous channel blocks of equal size (rows must be divisible).</summary>
    public static int[][] GroupNorm(int rows, int groups)
    {
        if (rows < 1 || groups < 1 || rows % groups != 0)
            throw new ArgumentException($"RowGroups.GroupNorm: {rows} channels are not divisible into {groups} groups.");
        return EqualBlocks(rows, groups);
    }

    /// <summary>One group per row.</summary>
    public static int[][] Singletons(int rows)
    {
        if (rows < 1) throw new ArgumentException("RowGroups.Singletons: rows must be positive.");
        return Contiguous(Enumerable.Repeat(1, rows).ToArray());
    }

    /// <summary>
    /// k-means (Lloyd, k-means++ seeding with a seeded SplitMix64) on the row profiles P[i,·] of a rows×cols matrix, each
    /// normalised to unit L2 norm when <paramref name="normalize"/> (so rows cluster by pattern, not magnitude; zero rows stay zero).
    /// Deterministic: the same input and seed give the same groups on every platform. A cluster that empties is re-seeded with the
    /// row farthest from its centre. Returns exactly k nonempty groups.
    /// </summary>
    public static int[][] KMeans(ReadOnlySpan<double> p, int rows, int cols, int k, ulong seed, bool normalize = true, int maxIterations = 100)
    {
        if (rows < 1 || cols < 1 || (long)rows * cols != p.Length) throw new ArgumentException("RowGroups.KMeans: buffer must be rows×cols.");
        if (k < 1 || k > rows) throw new ArgumentException($"RowGroups.KMeans: k = {k} must be in 1..{rows}.");
        var x = p.ToArray();
        foreach (var v in x) if (!double.IsFinite(v)) throw new ArgumentException("RowGroups.KMeans: non-finite entry.");
        if (normalize)
            for (int i = 0; i < rows; i++)
            {
                var r = x.AsSpan(i * cols, cols);
                double s = 0;
                foreach (var v in r) s += v * v;
                if (s > 0) { s = 1 / Math.Sqrt(s); for (int j = 0; j < cols; j++) r[j] *= s; }
            }
        var rng = new SplitMix64(seed);
        var centers = new double[k * cols];
        var d2 = new double[rows];
        // k-means++ seeding.
        int first = rng.NextInt(rows);
        Array.Copy(x, first * cols, centers, 0, cols);
        for (int i = 0; i < rows; i++) d2[i] = Dist2(x, i, centers, 0, cols);
        for (int c = 1; c < k; c++)
        {
            double total = d2.Sum();
            int pick;
            if (total <= 0) pick = rng.NextInt(rows);
            else
            {
                double u = rng.NextDouble() * total, acc = 0;
                pick = rows - 1;
                for (int i = 0; i < rows; i++) { acc += d2[i]; if (acc > u) { pick = i; break; } }
            }
            Array.Copy(x, pick * cols, centers, c * cols, cols);
            for (int i = 0; i < rows; i++) d2[i] = Math.Min(d2[i], Dist2(x, i, centers, c, cols));
        }

        var assign = new int[rows];
        Array.Fill(assign, -1);
        var counts = new int[k];
        for (int it = 0; it < Math.Max(1, maxIterations); it++)
        {
            bool changed = false;
            for (int i = 0; i < rows; i++)
            {
                int best = 0; double bd = double.PositiveInfinity;
                for (int c = 0; c < k; c++)
                {
                    double d = Dist2(x, i, centers, c, cols);
                    if (d < bd) { bd = d; best = c; }
                }
                d2[i] = bd;
                if (assign[i] != best) { assign[i] = best; changed = true; }
            }
            // Re-seed empty clusters with the farthest rows (taken from clusters that keep at least one member).
            Array.Clear(counts);
            foreach (var a in assign) counts[a]++;
            for (int c = 0; c < k; c++)
            {
                if (counts[c] > 0) continue;
                int far = -1; double fd = -1;
                for (int i = 0; i < rows; i++)
                    if (counts[assign[i]] > 1 && d2[i] > fd) { fd = d2[i]; far = i; }
                counts[assign[far]]--; assign[far] = c; counts[c] = 1; d2[far] = 0; changed = true;
            }
            Array.Clear(centers);
            for (int i = 0; i < rows; i++)
            {
                var dst = centers.AsSpan(assign[i] * cols, cols);
                var src = x.AsSpan(i * cols, cols);
                for (int j = 0; j < cols; j++) dst[j] += src[j];
            }
            for (int c = 0; c < k; c++)
            {
                var dst = centers.AsSpan(c * cols, cols);
                for (int j = 0; j < cols; j++) dst[j] /= counts[c];
            }
            if (!changed) break;
        }
        return Canonical(Enumerable.Range(0, k).Select(c => Enumerable.Range(0, rows).Where(i => assign[i] == c).ToArray()));
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless the groups are nonempty and cover 0..rows−1 exactly once.</summary>
    public static void Validate(int[][] groups, int rows)
    {
        ArgumentNullException.ThrowIfNull(groups);
        if (groups.Length == 0) throw new ArgumentException("Row groups: at least one group is required.");
        var seen = new bool[rows];
        int n = 0;
        foreach (var g in groups)
        {
            if (g is null || g.Length == 0) throw new ArgumentException("Row groups: every group must be nonempty.");
            foreach (var i in g)
            {
                if (i < 0 || i >= rows) throw new ArgumentException($"Row groups: row {i} outside 0..{rows - 1}.");
                if (seen[i]) throw new ArgumentException($"Row groups: row {i} appears twice.");
                seen[i] = true; n++;
            }
        }
        if (n != rows) throw new ArgumentException($"Row groups cover {n} of {rows} rows; every row must belong to one group.");
    }

    private static int[][] Contiguous(int[] sizes)
    {
        var g = new int[sizes.Length][];
        int start = 0;
        for (int i = 0; i < sizes.Length; i++) { g[i] = Enumerable.Range(start, sizes[i]).ToArray(); start += sizes[i]; }
        return g;
    }

    private static int[][] Canonical(IEnumerable<int[]> groups) =>
        groups.Where(g => g.Length > 0).Select(g => g.Order().ToArray()).OrderBy(g => g[0]).ToArray();

    private static double Dist2(double[] x, int i, double[] c, int ci, int cols)
    {
        double s = 0;
        for (int j = 0; j < cols; j++) { double d = x[i * cols + j] - c[ci * cols + j]; s += d * d; }
        return s;
    }
}

using System.Collections.Immutable;
using System.Runtime.InteropServices;

namespace Cartan.Transport;

/// <summary>Entry class of the C/O/N masks: 0 = noise, 1 = core, 2 = overlap.</summary>
public enum PamMaskClass : byte
{
    /// <summary>N: outside every own support, or in a support the row's group does not own the column of.</summary>
    Noise = 0,

    /// <summary>C: row in G_g, column in SRS_g.</summary>
    Core = 1,

    /// <summary>O: row in G_g, column in S_g with n(j) ≥ 2.</summary>
    Overlap = 2,
}

/// <summary>The Frobenius-orthogonal energy split ‖P‖_F² = ‖P∘C‖² + ‖P∘O‖² + ‖P∘N‖² (absolute energies).</summary>
public sealed record PamEnergy(double Core, double Overlap, double Noise, double Total)
{
    /// <summary>Core/Total (0 for a zero matrix).</summary>
    public double CoreFraction => Total > 0 ? Core / Total : 0;

    /// <summary>Overlap/Total (0 for a zero matrix).</summary>
    public double OverlapFraction => Total > 0 ? Overlap / Total : 0;

    /// <summary>Noise/Total (0 for a zero matrix).</summary>
    public double NoiseFraction => Total > 0 ? Noise / Total : 0;
}

/// <summary>A pair of row groups g &lt; h whose supports intersect, with ω_gh = Σ_{j∈S_g∩S_h} min(e_g(j)/E_g, e_h(j)/E_h).</summary>
public readonly record struct PamEdge(int G, int H, double Weight);

/// <summary>
/// Every structure the GSA II Physical Alignment Matrix analysis derives from one nonnegative amplitude matrix P (rows×cols) and its
/// row groups (methods.md §2(b) "Derived quantities"). [R]: our operational definitions; all constants live in <see cref="PamOptions"/>.
/// Matrices are row-major: <see cref="ColumnEnergy"/> is R×cols (e_g(j) at g·cols+j), <see cref="Mask"/> is rows×cols.
/// </summary>
public sealed record PamStructure(
    int Rows, int Cols,
    ImmutableArray<ImmutableArray<int>> Groups,
    ImmutableArray<double> Thresholds,
    ImmutableArray<double> ColumnEnergy,
    ImmutableArray<double> GroupEnergy,
    ImmutableArray<ImmutableArray<int>> Supports,
    ImmutableArray<int> Multiplicity,
    ImmutableArray<ImmutableArray<int>> Srs,
    ImmutableArray<int> Hubs,
    int HubMin,
    ImmutableArray<PamMaskClass> Mask,
    PamEnergy Energy,
    ImmutableArray<double> GroupCore,
    ImmutableArray<double> GroupOverlap,
    ImmutableArray<double> GroupNoise,
    ImmutableArray<double> NoiseFraction,
    ImmutableArray<PamEdge> Overlaps,
    ImmutableArray<PamEdge> Edges)
{
    /// <summary>R, the number of row groups.</summary>
    public int GroupCount => Groups.Length;

    /// <summary>e_g(j).</summary>
    public double E(int g, int j) => ColumnEnergy[g * Cols + j];
}

/// <summary>Which derived structures agree between two <see cref="PamStructure"/>s (full vs truncated transport).</summary>
public sealed record PamComparison(bool Supports, bool Graph, bool Srs, bool Hubs, bool Masks)
{
    /// <summary>All five coincide.</summary>
    public bool All => Supports && Graph && Srs && Hubs && Masks;

    /// <summary>The names of those that differ, for messages.</summary>
    public string Differences => string.Join(", ", new[] { (Supports, "supports"), (Graph, "graph"), (Srs, "SRS sets"), (Hubs, "hubs"), (Masks, "masks") }
        .Where(t => !t.Item1).Select(t => t.Item2));
}

/// <summary>
/// GSA II Physical Alignment Matrix analysis (methods.md §2(b), step 7 of §2(c)). [R]: this is the project's own operational
/// definition, reconstructed from the abstract (the paper's full text was unavailable).
/// </summary>
/// <remarks>
/// <para>Group column energies e_g(j) = Σ_{i∈G_g} P_ij², E_g = Σ_j e_g(j). Thresholds θ_g = θ·E_g^full/n_cols are computed once from
/// P_full and passed back in for P_trunc, so both structures are judged on the same scale.</para>
/// <para>Active support S_g = {j : e_g(j) ≥ θ_g and e_g(j) &gt; 0} (the positivity clause only matters for an all-zero group, θ_g = 0,
/// which is then pure noise with an empty support, methods.md §2(e)); multiplicity n(j) = #{g : j ∈ S_g}; SRS_g = {j ∈ S_g : n(j) = 1};
/// hubs {j : n(j) ≥ h_min}; masks C (row in G_g, column in SRS_g), O (row in G_g, column in S_g, n(j) ≥ 2), N the rest;
/// ν_g = ‖P∘N‖²_{G_g}/E_g (1 for an all-zero group: it is pure noise); graph edge g–h (g &lt; h) iff |S_g ∩ S_h| ≥ 1
/// (and ω_gh ≥ θ_ω when a weight threshold is set).</para>
/// </remarks>
public static class Pam
{
    /// <summary>
    /// Analyses P (rows×cols, nonnegative, finite). With <paramref name="thresholds"/> null, P is P_full and the thresholds are
    /// computed from it; otherwise the given (P_full) thresholds are reused, as they must be for P_trunc.
    /// </summary>
    public static PamStructure Analyze(ReadOnlySpan<double> p, int rows, int cols, int[][] groups, PamOptions? options = null,
        ImmutableArray<double>? thresholds = null)
    {
        var o = options ?? new();
        o.Validate();
        if (rows < 1 || cols < 1 || (long)rows * cols != p.Length) throw new ArgumentException("Pam.Analyze: buffer must be rows×cols.");
        foreach (var x in p)
            if (!(x >= 0) || double.IsInfinity(x)) throw new ArgumentException("Pam.Analyze: P must be finite and nonnegative (an amplitude matrix).");
        RowGroups.Validate(groups, rows);
        int R = groups.Length;

        var e = new double[R * cols];
        var eg = new double[R];
        var groupOf = new int[rows];
        for (int g = 0; g < R; g++)
            foreach (var i in groups[g])
            {
                groupOf[i] = g;
                var row = p.Slice(i * cols, cols);
                var dst = e.AsSpan(g * cols, cols);
                for (int j = 0; j < cols; j++) dst[j] += row[j] * row[j];
            }
        for (int g = 0; g < R; g++)
        {
            double s = 0;
            for (int j = 0; j < cols; j++) s += e[g * cols + j];
            eg[g] = s;
        }

        double[] theta;
        if (thresholds is ImmutableArray<double> given)
        {
            if (given.Length != R) throw new ArgumentException($"Pam.Analyze: {given.Length} thresholds for {R} groups.");
            theta = given.ToArray();
        }
        else theta = Thresholds(e, eg, R, cols, o);

        var supports = new int[R][];
        var mult = new int[cols];
        for (int g = 0; g < R; g++)
        {
            var s = new List<int>();
            for (int j = 0; j < cols; j++)
            {
                double v = e[g * cols + j];
                if (v >= theta[g] && v > 0) { s.Add(j); mult[j]++; }
            }
            supports[g] = s.ToArray();
        }
        var srs = supports.Select(s => s.Where(j => mult[j] == 1).ToArray()).ToArray();
        int hubMin = o.HubMinFor(R);
        var hubs = Enumerable.Range(0, cols).Where(j => mult[j] >= hubMin).ToArray();

        // Masks and the orthogonal split.
        var inSupport = new bool[R * cols];
        for (int g = 0; g < R; g++) foreach (var j in supports[g]) inSupport[g * cols + j] = true;
        var mask = new PamMaskClass[rows * cols];
        var gc = new double[R]; var go = new double[R]; var gn = new double[R];
        double core = 0, over = 0, noise = 0;
        for (int i = 0; i < rows; i++)
        {
            int g = groupOf[i];
            for (int j = 0; j < cols; j++)
            {
                double v = p[i * cols + j], v2 = v * v;
                PamMaskClass c = !inSupport[g * cols + j] ? PamMaskClass.Noise : mult[j] == 1 ? PamMaskClass.Core : PamMaskClass.Overlap;
                mask[i * cols + j] = c;
                switch (c)
                {
                    case PamMaskClass.Core: core += v2; gc[g] += v2; break;
                    case PamMaskClass.Overlap: over += v2; go[g] += v2; break;
                    default: noise += v2; gn[g] += v2; break;
                }
            }
        }
        var nu = new double[R];
        for (int g = 0; g < R; g++) nu[g] = eg[g] > 0 ? gn[g] / eg[g] : 1.0;

        var overlaps = new List<PamEdge>();
        for (int g = 0; g < R; g++)
            for (int h = g + 1; h < R; h++)
            {
                bool any = false; double w = 0;
                foreach (var j in supports[g])
                    if (inSupport[h * cols + j])
                    {
                        any = true;
                        w += Math.Min(e[g * cols + j] / eg[g], e[h * cols + j] / eg[h]);
                    }
                if (any) overlaps.Add(new PamEdge(g, h, w));
            }
        var edges = o.EdgeWeightThreshold is double tw ? overlaps.Where(x => x.Weight >= tw).ToList() : overlaps;

        return new PamStructure(rows, cols, Nest(groups), Imm(theta), Imm(e), Imm(eg), Nest(supports), Imm(mult), Nest(srs), Imm(hubs), hubMin,
            Imm(mask), new PamEnergy(core, over, noise, core + over + noise), Imm(gc), Imm(go), Imm(gn), Imm(nu),
            [.. overlaps], [.. edges]);
    }

    /// <summary>Compares the certified structures: supports, graph edges (pairs), SRS sets, hubs and C/O/N masks.</summary>
    public static PamComparison Compare(PamStructure a, PamStructure b)
    {
        bool sup = NestedEqual(a.Supports, b.Supports);
        bool graph = a.Edges.Select(x => (x.G, x.H)).SequenceEqual(b.Edges.Select(x => (x.G, x.H)));
        bool srs = NestedEqual(a.Srs, b.Srs);
        bool hubs = a.Hubs.SequenceEqual(b.Hubs);
        bool masks = a.Mask.SequenceEqual(b.Mask);
        return new PamComparison(sup, graph, srs, hubs, masks);
    }

    private static double[] Thresholds(double[] e, double[] eg, int R, int cols, PamOptions o)
    {
        var theta = new double[R];
        for (int g = 0; g < R; g++)
        {
            if (o.Support == SupportRule.Threshold) { theta[g] = o.Theta * eg[g] / cols; continue; }
            // Minimal top-energy set reaching q_s·E_g, then the midpoint threshold between its smallest member and the next column.
            var order = Enumerable.Range(0, cols).OrderByDescending(j => e[g * cols + j]).ThenBy(j => j).ToArray();
            double target = o.SupportQuantile * eg[g], acc = 0;
            int count = 0;
            while (count < cols && acc < target) acc += e[g * cols + order[count++]];
            if (count == 0) { theta[g] = 0; continue; } // zero group
            double last = e[g * cols + order[count - 1]];
            double next = count < cols ? e[g * cols + order[count]] : 0;
            theta[g] = 0.5 * (last + next);
        }
        return theta;
    }

    internal static bool NestedEqual(ImmutableArray<ImmutableArray<int>> a, ImmutableArray<ImmutableArray<int>> b) =>
        a.Length == b.Length && a.Zip(b).All(t => t.First.SequenceEqual(t.Second));

    internal static ImmutableArray<T> Imm<T>(T[] a) => ImmutableCollectionsMarshal.AsImmutableArray(a);

    internal static ImmutableArray<ImmutableArray<int>> Nest(int[][] a) => [.. a.Select(x => ImmutableArray.Create(x))];
}

/// <summary>
/// Block-energy matrix BE[a,b] = Σ_{i∈A_a, j∈B_b} P_ij² / ‖P‖_F² for row groups A and column groups B (methods.md §2(b)
/// "Block-energy heatmap"). [R]: our operational definition. Sums to 1 when the groups partition rows and columns (all zeros for P = 0).
/// </summary>
public static class BlockEnergy
{
    /// <summary>BE as an A×B row-major matrix.</summary>
    public static double[] Compute(ReadOnlySpan<double> p, int rows, int cols, int[][] rowGroups, int[][] colGroups)
    {
        if (rows < 1 || cols < 1 || (long)rows * cols != p.Length) throw new ArgumentException("BlockEnergy: buffer must be rows×cols.");
        RowGroups.Validate(rowGroups, rows);
        RowGroups.Validate(colGroups, cols);
        int A = rowGroups.Length, B = colGroups.Length;
        var colOf = new int[cols];
        for (int b = 0; b < B; b++) foreach (var j in colGroups[b]) colOf[j] = b;
        var be = new double[A * B];
        double total = 0;
        for (int a = 0; a < A; a++)
            foreach (var i in rowGroups[a])
                for (int j = 0; j < cols; j++)
                {
                    double v = p[i * cols + j] * p[i * cols + j];
                    be[a * B + colOf[j]] += v;
                    total += v;
                }
        if (total > 0) for (int x = 0; x < be.Length; x++) be[x] /= total;
        return be;
    }
}

using Cartan.Transport;

namespace Cartan.Tests.Transport;

/// <summary>Seeded random small PAMs for the certificate property tests (methods.md §6 oracle 6).</summary>
internal static class PamTestData
{
    internal sealed record Case(double[] P, int Rows, int Cols, int[][] Groups, PamOptions Options, SplitMix64 Rng);

    /// <summary>
    /// 6–20 rows in 2–5 (non-contiguous) groups, 5–30 columns, nonnegative continuous entries (no exact ties): a noise floor plus
    /// group-owned columns and shared columns, or (one case in five) an unstructured random matrix. Options vary too.
    /// </summary>
    public static Case RandomCase(ulong seed)
    {
        var rng = new SplitMix64(seed * 0x9E3779B97F4A7C15UL + 17);
        int R = 2 + rng.NextInt(4);
        int rows = 6 + rng.NextInt(15);
        int cols = 5 + rng.NextInt(26);
        // Random partition: one row per group first, the rest anywhere.
        var perm = Enumerable.Range(0, rows).ToArray();
        for (int i = rows - 1; i > 0; i--) { int j = rng.NextInt(i + 1); (perm[i], perm[j]) = (perm[j], perm[i]); }
        var assign = new int[rows];
        for (int t = 0; t < rows; t++) assign[perm[t]] = t < R ? t : rng.NextInt(R);
        var groups = Enumerable.Range(0, R).Select(g => Enumerable.Range(0, rows).Where(i => assign[i] == g).ToArray()).ToArray();

        var p = new double[rows * cols];
        bool structured = rng.NextDouble() < 0.8;
        double floor = structured ? 0.01 + 0.3 * rng.NextDouble() : 1.0;
        for (int i = 0; i < p.Length; i++) p[i] = floor * rng.NextDouble();
        if (structured)
        {
            for (int g = 0; g < R; g++)
            {
                int owned = 1 + rng.NextInt(3);
                for (int c = 0; c < owned; c++) Light(p, cols, groups[g], rng.NextInt(cols), rng);
            }
            int shared = rng.NextInt(3);
            for (int c = 0; c < shared; c++)
            {
                int j = rng.NextInt(cols);
                foreach (var g in Enumerable.Range(0, R).Where(_ => rng.NextDouble() < 0.6)) Light(p, cols, groups[g], j, rng);
            }
        }

        var o = new PamOptions
        {
            Theta = new[] { 2.0, 1.5, 3.0 }[rng.NextInt(3)],
            Support = rng.NextDouble() < 0.2 ? SupportRule.EnergyQuantile : SupportRule.Threshold,
            SupportQuantile = 0.6 + 0.35 * rng.NextDouble(),
            HubMin = rng.NextDouble() < 0.5 ? 2 : null,
            EdgeWeightThreshold = rng.NextDouble() < 0.4 ? 0.02 + 0.4 * rng.NextDouble() : null,
        };
        // ν_max just above the largest noise fraction (when admissible), so that r* is usually positive.
        var nu = Pam.Analyze(p, rows, cols, groups, o).NoiseFraction;
        o = o with { NuMax = Math.Min(1.0, nu.Max() + 0.02 + 0.2 * rng.NextDouble()) };
        return new Case(p, rows, cols, groups, o, rng);
    }

    private static void Light(double[] p, int cols, int[] rowsOfGroup, int j, SplitMix64 rng)
    {
        foreach (var i in rowsOfGroup) p[i * cols + j] += 0.3 + rng.NextDouble();
    }

    /// <summary>
    /// A perturbation of Frobenius norm exactly <paramref name="norm"/>: Gaussian; noise-adversarial (the noisiest group's noise grows and
    /// its signal shrinks); or aimed at the tightest (group, column) block of the active radius, pushing that column towards its threshold.
    /// </summary>
    public static double[] Perturbation(Case c, PamStructure full, double norm)
    {
        var rng = c.Rng;
        var d = new double[c.P.Length];
        double mode = rng.NextDouble();
        if (mode < 0.34)
        {
            for (int i = 0; i < d.Length; i++) d[i] = rng.NextGaussian();
        }
        else if (mode < 0.67)
        {
            // Noise-adversarial: in the group closest to ν_max, grow its noise entries and shrink its signal entries
            // (each along itself), mixed at a random angle.
            int g = Enumerable.Range(0, full.GroupCount).MaxBy(h => full.NoiseFraction[h]);
            double phi = 0.5 * Math.PI * rng.NextDouble();
            double sn = Math.Sqrt(full.GroupNoise[g]), ss = Math.Sqrt(full.GroupCore[g] + full.GroupOverlap[g]);
            foreach (var i in c.Groups[g])
                for (int j = 0; j < c.Cols; j++)
                {
                    int at = i * c.Cols + j;
                    bool noise = full.Mask[at] == PamMaskClass.Noise;
                    if (noise && sn > 0) d[at] = Math.Cos(phi) * c.P[at] / sn;
                    else if (!noise && ss > 0) d[at] = -Math.Sin(phi) * c.P[at] / ss;
                }
            if (d.All(x => x == 0)) for (int i = 0; i < d.Length; i++) d[i] = rng.NextGaussian();
        }
        else
        {
            // Tightest r_gj, recomputed independently of Certificate: r = −a + sqrt(a² + |e − θ|).
            int bg = 0, bj = 0; double best = double.PositiveInfinity;
            for (int g = 0; g < full.GroupCount; g++)
                for (int j = 0; j < c.Cols; j++)
                {
                    double e = full.E(g, j), a = Math.Sqrt(e);
                    double r = -a + Math.Sqrt(a * a + Math.Abs(e - full.Thresholds[g]));
                    if (r < best) { best = r; bg = g; bj = j; }
                }
            double sign = full.E(bg, bj) >= full.Thresholds[bg] ? -1 : 1;
            foreach (var i in c.Groups[bg])
            {
                double v = c.P[i * c.Cols + bj];
                d[i * c.Cols + bj] = sign * (v > 0 ? v : 1);
            }
        }
        double s = Math.Sqrt(d.Sum(x => x * x));
        for (int i = 0; i < d.Length; i++) d[i] *= norm / s;
        return d;
    }

    /// <summary>|P + Δ|: the perturbed amplitude matrix (stays nonnegative, within ‖Δ‖_F of P).</summary>
    public static double[] AbsSum(double[] p, double[] d) => p.Zip(d, (a, b) => Math.Abs(a + b)).ToArray();

    public static double Frob(double[] a) => Math.Sqrt(a.Sum(x => x * x));
}

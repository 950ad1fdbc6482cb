// `PruningDriver outliers`: activation-outlier statistics of a decoder's prunable-linear inputs, and how far Wanda's
// 50 % mask departs from magnitude's, from one dense calibration run (README, "Why magnitude is hard to beat here").
// Writes outliers.tsv, outliers.md and stats.npz; ../check_outliers.py recomputes the table from stats.npz and the
// weights with numpy/scipy.
using System.Globalization;
using System.Text;
using Cartan.Formats;
using Cartan.Graph;
using Cartan.Pruning;
using Cartan.Torch;
using Cartan.Torch.Pruning;

static class Outliers
{
    /// <summary>Outlier criterion: a feature j whose input norm ‖X_j‖₂ exceeds this multiple of the median over j.</summary>
    public const double Factor = 6;

    /// <summary>Writes outliers.tsv (one row per prunable matrix) and outliers.md (the tables) into <paramref name="outDir"/>.</summary>
    public static void Run(string modelDir, int[] calibTokens, int samples, int seqLen, int seed, string outDir)
    {
        using var weights = WeightSource.Open(modelDir);
        using var net = HfModels.Load(modelDir);
        var graph = ModelGraph.Build(weights, new GraphOptions { InferPairs = false });
        var targets = Pruner.Targets(weights, graph);
        var draw = CalibrationSampler.Draw(calibTokens, samples, seqLen, seed);
        // A dense run: no callback, so no weight changes; every layer sees the dense model's inputs.
        var byNet = BlockCalibration.Run((IBlockDecoder)net, draw, withHessian: false, new CalibrationOptions());
        var files = new HashSet<string>(weights.Tensors.Select(t => t.Name), StringComparer.Ordinal);
        var stats = new Dictionary<string, CalibrationStats>(StringComparer.Ordinal);
        foreach (var (k, v) in byNet)
            if (net.CheckpointNames(k).FirstOrDefault(files.Contains) is string f) stats[f] = v;

        var magnitude = new PruneSettings { Method = PruneMethod.Magnitude, Pattern = SparsityPattern.Unstructured(0.5) };
        var wanda = new PruneSettings { Method = PruneMethod.Wanda, Pattern = SparsityPattern.Unstructured(0.5) };
        var tsv = new StringBuilder("tensor\trole\tblock\trows\tcols\tmax_over_median\tp99_over_median\toutlier_fraction\tspearman_wanda_vs_abs_w\tmask_disagreement\n");
        var rows = new List<(PruneTarget T, double MaxMed, double P99Med, double Frac, double Rho, double Dis)>();
        foreach (var t in targets)
        {
            var s = stats[t.TensorName];
            var norms = s.L2Norms();
            var sorted = norms.Order().ToArray();
            double med = Quantile(sorted, 0.5), p99 = Quantile(sorted, 0.99);
            double frac = norms.Count(x => x > Factor * med) / (double)norms.Length;
            var w = Pruner.Load(weights, t);
            var absW = w.Select(Math.Abs).ToArray();
            var score = new double[w.Length];
            for (int i = 0; i < t.Rows; i++)
                for (int j = 0; j < t.Cols; j++) score[i * t.Cols + j] = absW[i * t.Cols + j] * norms[j];
            double rho = Spearman(score, absW);
            var mm = Pruner.PruneMatrix(w, t.Rows, t.Cols, 0.5, magnitude).Mask;
            var mw = Pruner.PruneMatrix(w, t.Rows, t.Cols, 0.5, wanda, s).Mask;
            double dis = mm.Zip(mw).Count(p => p.First != p.Second) / (double)mm.Length;
            rows.Add((t, sorted[^1] / med, p99 / med, frac, rho, dis));
            tsv.AppendLine(string.Join('\t', t.TensorName, t.Role, t.Block, t.Rows, t.Cols, F(sorted[^1] / med), F(p99 / med), F(frac), F(rho), F(dis)));
        }
        File.WriteAllText(Path.Combine(outDir, "outliers.tsv"), tsv.ToString());
        // The statistics themselves, for the independent check (../check_outliers.py).
        CalibrationStatsFile.Write(Path.Combine(outDir, "stats.npz"), stats);

        var md = new StringBuilder();
        md.AppendLine($"Dense calibration statistics of {samples} × {seqLen} tokens (seed {seed}); ‖X_j‖₂ over all calibration tokens; " +
                      $"outlier: ‖X_j‖ > {Factor} × median_j ‖X_j‖. Spearman ρ between Wanda's score |W_ij|·‖X_j‖ and |W_ij| over all entries; " +
                      "disagreement: fraction of entries where the 50 % per-row masks of Wanda and magnitude differ (library masks).\n");
        md.AppendLine("| block | input of | max/median ‖X_j‖ | p99/median | outlier fraction | layers: ρ(Wanda, \\|W\\|) | layers: mask disagreement |");
        md.AppendLine("|---:|---|---:|---:|---:|---|---|");
        foreach (var grp in rows.GroupBy(r => (r.T.Block, Key: StatsKey(stats, r.T.TensorName))))
        {
            var first = grp.First();
            string roles = string.Join("/", grp.Select(r => Short(r.T.TensorName)));
            md.AppendLine($"| {first.T.Block} | {roles} | {first.MaxMed:F2} | {first.P99Med:F2} | {first.Frac:F4} | " +
                          string.Join(", ", grp.Select(r => r.Rho.ToString("F3", CultureInfo.InvariantCulture))) + " | " +
                          string.Join(", ", grp.Select(r => r.Dis.ToString("F3", CultureInfo.InvariantCulture))) + " |");
        }
        long total = rows.Sum(r => (long)r.T.Rows * r.T.Cols);
        md.AppendLine();
        md.AppendLine($"Over the {rows.Count} matrices: max/median ‖X_j‖ from {rows.Min(r => r.MaxMed):F2} to {rows.Max(r => r.MaxMed):F2} " +
                      $"(median {Quantile(rows.Select(r => r.MaxMed).Order().ToArray(), 0.5):F2}); outlier fraction at most {rows.Max(r => r.Frac):F4}; " +
                      $"ρ mean {rows.Average(r => r.Rho):F3} (min {rows.Min(r => r.Rho):F3}); mask disagreement mean {rows.Average(r => r.Dis):F3} " +
                      $"(weighted by size {rows.Sum(r => r.Dis * r.T.Rows * r.T.Cols) / total:F3}; range {rows.Min(r => r.Dis):F3}–{rows.Max(r => r.Dis):F3}).");
        File.WriteAllText(Path.Combine(outDir, "outliers.md"), md.ToString());
        Console.Write(md.ToString());
    }

    private static string StatsKey(Dictionary<string, CalibrationStats> stats, string name) =>
        System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(stats[name]).ToString(CultureInfo.InvariantCulture);

    private static string Short(string name) => name.Split('.')[^2].Replace("_proj", "");

    private static string F(double x) => x.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Linear interpolation between order statistics of an ascending array.</summary>
    private static double Quantile(double[] sorted, double q)
    {
        double pos = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(pos), hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }

    /// <summary>Spearman's ρ: Pearson correlation of the ranks (ties get their mean rank).</summary>
    public static double Spearman(double[] a, double[] b)
    {
        var ra = Ranks(a);
        var rb = Ranks(b);
        double ma = ra.Average(), mb = rb.Average(), sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < ra.Length; i++) { double x = ra[i] - ma, y = rb[i] - mb; sab += x * y; saa += x * x; sbb += y * y; }
        return sab / Math.Sqrt(saa * sbb);
    }

    private static double[] Ranks(double[] v)
    {
        var idx = Enumerable.Range(0, v.Length).OrderBy(i => v[i]).ToArray();
        var r = new double[v.Length];
        for (int i = 0; i < idx.Length;)
        {
            int j = i;
            while (j + 1 < idx.Length && v[idx[j + 1]] == v[idx[i]]) j++;
            double mean = (i + j) / 2.0 + 1;
            for (int k = i; k <= j; k++) r[idx[k]] = mean;
            i = j + 1;
        }
        return r;
    }
}

namespace Cartan.Spectra;

/// <summary>Percentile bootstrap interval for the WW tail exponent.</summary>
/// <param name="Level">Confidence level (e.g. 0.95).</param>
/// <param name="Lower">Lower percentile of the replicate α's ((1−level)/2).</param>
/// <param name="Upper">Upper percentile of the replicate α's ((1+level)/2).</param>
/// <param name="Median">Median replicate α.</param>
/// <param name="Replicates">Replicates with a finite fitted α.</param>
/// <param name="Failed">Replicates whose fit failed (fewer than 2 distinct usable values, or infinite α).</param>
/// <param name="Seed">The seed that reproduces this interval.</param>
public sealed record AlphaInterval(double Level, double Lower, double Upper, double Median, int Replicates, int Failed, int Seed);

/// <summary>
/// Seeded nonparametric bootstrap of the WW tail fit (Clauset–Shalizi–Newman 2009 §3.3 style) [K]: the eigenvalues above
/// the threshold are resampled with replacement, the full xmin scan is rerun on each replicate, and the percentile
/// interval of α is reported. Costs <c>replicates</c> full fits, so the caller opts in.
/// </summary>
public static class WwBootstrap
{
    /// <summary>Percentile bootstrap interval of α; null when fewer than 2 replicates succeed.</summary>
    public static AlphaInterval? AlphaInterval(ReadOnlySpan<double> eigenvalues, int replicates = 200, int seed = 0, double level = 0.95,
        WwFitOptions? options = null)
    {
        var o = options ?? WwFitOptions.Default;
        o.Validate();
        if (replicates < 2) throw new ArgumentOutOfRangeException(nameof(replicates));
        if (!(level > 0 && level < 1)) throw new ArgumentOutOfRangeException(nameof(level));
        var data = new List<double>(eigenvalues.Length);
        foreach (var v in eigenvalues) if (double.IsFinite(v) && v > o.EigenvalueThreshold) data.Add(v);
        if (data.Count < 2) return null;
        var rng = new Random(seed);
        var sample = new double[data.Count];
        var alphas = new List<double>(replicates);
        int failed = 0;
        for (int b = 0; b < replicates; b++)
        {
            for (int i = 0; i < sample.Length; i++) sample[i] = data[rng.Next(data.Count)];
            Array.Sort(sample);
            if (sample[0] == sample[^1]) { failed++; continue; }
            var r = WwPowerLawScan.Fast(sample, o.KsSamplePoints);
            if (double.IsFinite(r.Alpha)) alphas.Add(r.Alpha); else failed++;
        }
        if (alphas.Count < 2) return null;
        alphas.Sort();
        return new AlphaInterval(level, Percentile(alphas, (1 - level) / 2), Percentile(alphas, (1 + level) / 2), Percentile(alphas, 0.5),
            alphas.Count, failed, seed);
    }

    /// <summary>Linear-interpolation percentile (numpy's default) of sorted values.</summary>
    internal static double Percentile(List<double> sorted, double q)
    {
        double pos = q * (sorted.Count - 1);
        int lo = (int)Math.Floor(pos);
        int hi = Math.Min(lo + 1, sorted.Count - 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }
}

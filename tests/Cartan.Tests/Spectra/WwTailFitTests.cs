using System.Diagnostics;
using System.Text.Json;
using Cartan.Spectra;
using FsCheck.Xunit;
using Xunit.Abstractions;

namespace Cartan.Tests.Spectra;

public class WwTailFitTests
{
    private static double[] RandomEvals(Random rng, int n)
    {
        int kind = rng.Next(5);
        var x = new double[n];
        for (int i = 0; i < n; i++)
        {
            double u = 1 - rng.NextDouble();
            x[i] = kind switch
            {
                0 => Math.Pow(u, -1 / (0.5 + 3 * rng.NextDouble())),             // Pareto
                1 => Math.Exp(2 * TestLinalg.Gaussian(rng)),                      // log-normal
                2 => Math.Round(Math.Pow(u, -0.7) * 4) / 4,                       // many ties
                3 => rng.Next(4) == 0 ? 1e-7 * u : Math.Exp(5 * TestLinalg.Gaussian(rng)), // below threshold
                _ => 1 + 1e-12 * rng.Next(3),                                     // near-constant
            };
        }
        return x;
    }

    [Property(MaxTest = 300)]
    public bool FastScanEqualsExhaustiveScan(int seed)
    {
        var rng = new Random(seed);
        var ev = RandomEvals(rng, rng.Next(2, 400)).Where(v => v > 1e-5).ToArray();
        if (ev.Length < 2) return true;
        Array.Sort(ev);
        var fast = WwPowerLawScan.Fast(ev, 2 + rng.Next(20));
        var slow = WwPowerLawScan.Exhaustive(ev);
        return fast.Index == slow.Index && fast.Alpha.Equals(slow.Alpha) && fast.D.Equals(slow.D) && fast.N == slow.N;
    }

    [Fact]
    public void MatchesIndependentNumpyReference()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("spectra", "ww_fit_cases.json")));
        int count = 0;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            string name = c.GetProperty("name").GetString()!;
            int rows = c.GetProperty("rows").GetInt32(), cols = c.GetProperty("cols").GetInt32();
            var sigma = c.GetProperty("sigma").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            var g = c.GetProperty("golden");
            var fit = WwTailFit.FromSingularValues(sigma, rows, cols);
            Assert.True(fit.Success, name);
            Assert.True(Math.Abs(fit.Alpha!.Value - g.GetProperty("alpha").GetDouble()) <= 1e-9, $"{name} alpha {fit.Alpha}");
            Assert.Equal(g.GetProperty("xmin").GetDouble(), fit.Xmin!.Value);
            Assert.Equal(g.GetProperty("xmax").GetDouble(), fit.Xmax!.Value);
            Assert.True(Math.Abs(fit.KsD!.Value - g.GetProperty("D").GetDouble()) <= 1e-9, name);
            Assert.Equal(g.GetProperty("n_tail").GetInt32(), fit.NTail);
            Assert.Equal(g.GetProperty("num_pl_spikes").GetInt32(), fit.NumPlSpikes);
            Assert.Equal(g.GetProperty("matrix_rank").GetInt32(), fit.MatrixRank);
            foreach (var (key, val) in new[]
            {
                ("log_norm", fit.LogNorm), ("log_spectral_norm", fit.LogSpectralNorm), ("alpha_weighted", fit.AlphaWeighted),
                ("log_alpha_norm", fit.LogAlphaNorm), ("stable_rank", fit.StableRank), ("entropy", fit.Entropy),
            })
            {
                double want = g.GetProperty(key).GetDouble();
                Assert.True(Math.Abs(val!.Value - want) <= 1e-9 * Math.Max(1, Math.Abs(want)), $"{name} {key}: {val} vs {want}");
            }
            Assert.Equal(fit.Alpha < 2 ? "over-trained" : fit.Alpha > 6 ? "under-trained" : null, fit.Warning);
            count++;
        }
        Assert.Equal(10, count);
    }

    [Fact]
    public void FailuresAreFlaggedWithoutNaN()
    {
        var zero = WwTailFit.Compute(new double[10], 10);
        Assert.False(zero.Success);
        Assert.Null(zero.Alpha);
        Assert.True(ProfileTests.AllFinite(zero));
        var one = WwTailFit.Compute([5.0, 1e-9, 0], 3);
        Assert.False(one.Success);
        Assert.Equal(1, one.NumFitted);
        var bad = WwTailFit.Compute([1.0, double.NaN], 2);
        Assert.False(bad.Success);
        var constant = WwTailFit.Compute([2.0, 2.0, 2.0], 3);
        Assert.True(ProfileTests.AllFinite(constant));
    }

    [Fact]
    public void ExactParetoQuantilesRecoverTheExponent()
    {
        // Deterministic Pareto quantiles x_k = (1 − (k−½)/n)^{−1/(a−1)}: the CSN MLE at the smallest xmin ≈ a.
        const double a = 3.0;
        int n = 4000;
        var ev = Enumerable.Range(1, n).Select(k => Math.Pow(1 - (k - 0.5) / n, -1 / (a - 1))).ToArray();
        var fit = WwTailFit.Compute(ev, n);
        Assert.True(fit.Success);
        Assert.InRange(fit.Alpha!.Value, a - 0.1, a + 0.1);
        Assert.True(fit.KsD < 0.02);
    }
}

public class WwBootstrapTests
{
    [Fact]
    public void BootstrapIntervalIsSeededAndCoversTheTruth()
    {
        var rng = new Random(11);
        const double a = 2.5; // density exponent: x = u^{−1/(a−1)}
        var ev = Enumerable.Range(0, 800).Select(_ => Math.Pow(1 - rng.NextDouble(), -1 / (a - 1))).ToArray();
        var ci = WwBootstrap.AlphaInterval(ev, replicates: 60, seed: 3);
        var again = WwBootstrap.AlphaInterval(ev, replicates: 60, seed: 3);
        Assert.NotNull(ci);
        Assert.Equal(ci, again);
        Assert.True(ci!.Lower <= ci.Median && ci.Median <= ci.Upper);
        Assert.InRange(a, ci.Lower, ci.Upper);
        Assert.Equal(60, ci.Replicates + ci.Failed);
        var fit = WwTailFit.Compute(ev, 800);
        Assert.InRange(fit.Alpha!.Value, ci.Lower - 0.5, ci.Upper + 0.5);
    }

    [Fact]
    public void PercentileMatchesNumpyLinearRule()
    {
        // numpy.percentile([1,2,3,4], [25, 50, 90]) = [1.75, 2.5, 3.7]
        var v = new List<double> { 1, 2, 3, 4 };
        Assert.Equal(1.75, WwBootstrap.Percentile(v, 0.25), 12);
        Assert.Equal(2.5, WwBootstrap.Percentile(v, 0.5), 12);
        Assert.Equal(3.7, WwBootstrap.Percentile(v, 0.9), 12);
    }
}

public class WwScanSpeedTests(ITestOutputHelper output)
{
    [Fact]
    public void FastScanSpeedOnAWwSizedLayer()
    {
        var rng = new Random(7);
        var ev = Enumerable.Range(0, 15000).Select(_ => Math.Pow(1 - rng.NextDouble(), -1 / 2.5) * Math.Exp(0.3 * TestLinalg.Gaussian(rng))).ToArray();
        Array.Sort(ev);
        var sw = Stopwatch.StartNew();
        var fast = WwPowerLawScan.Fast(ev, 16);
        double tFast = sw.Elapsed.TotalMilliseconds;
        var small = ev.Where((_, i) => i % 5 == 0).ToArray(); // exhaustive on a 3000-value subsample keeps the suite fast
        sw.Restart();
        var slow = WwPowerLawScan.Exhaustive(small);
        double tSlow = sw.Elapsed.TotalMilliseconds;
        var fastSmall = WwPowerLawScan.Fast(small, 16);
        Assert.True(slow == fastSmall, $"{slow} vs {fastSmall}");
        output.WriteLine($"fast n=15000: {tFast:F1} ms (alpha {fast.Alpha:F4}); exhaustive n=3000: {tSlow:F1} ms");
    }
}

using Cartan.Transport;

namespace Cartan.Tests.Transport;

public class SplitMix64Tests
{
    [Fact]
    public void Gaussians_have_standard_normal_moments_and_quantiles()
    {
        var r = new SplitMix64(9);
        const int n = 400_000;
        var x = new double[n];
        for (int i = 0; i < n; i++) x[i] = r.NextGaussian();
        double m = x.Average();
        double v = x.Select(t => (t - m) * (t - m)).Average();
        double k4 = x.Select(t => Math.Pow(t - m, 4)).Average() / (v * v);
        double se = 1 / Math.Sqrt(n);
        Assert.InRange(m, -4 * se, 4 * se);
        Assert.InRange(v, 1 - 4 * Math.Sqrt(2) * se, 1 + 4 * Math.Sqrt(2) * se);
        Assert.InRange(k4, 3 - 4 * Math.Sqrt(96) * se, 3 + 4 * Math.Sqrt(96) * se); // Var of the sample kurtosis ≈ 24/n
        // Φ(1) − Φ(−1) = 0.682689..., Φ(2) − Φ(−2) = 0.954499...
        foreach (var (z, p) in new[] { (1.0, 0.6826894921370859), (2.0, 0.9544997361036416) })
        {
            double frac = x.Count(t => Math.Abs(t) < z) / (double)n;
            Assert.InRange(frac, p - 4 * Math.Sqrt(p * (1 - p) / n), p + 4 * Math.Sqrt(p * (1 - p) / n));
        }
        // Pairs are uncorrelated (the polar method returns two values per accepted point).
        double c = 0;
        for (int i = 0; i + 1 < n; i += 2) c += x[i] * x[i + 1];
        Assert.InRange(c / (n / 2), -4 * Math.Sqrt(2) * se, 4 * Math.Sqrt(2) * se);
    }

    [Fact]
    public void The_same_seed_gives_the_same_stream()
    {
        var a = new SplitMix64(123);
        var b = new SplitMix64(123);
        for (int i = 0; i < 1001; i++) Assert.Equal(a.NextGaussian(), b.NextGaussian());
    }

    [Fact]
    public void Bulk_signed_uniforms_are_the_scalar_stream_and_advance_it_as_far()
    {
        foreach (int n in new[] { 0, 1, 7, 8, 9, 15, 16, 17, 64, 1000, 4099 })
        {
            var bulk = new SplitMix64(0xDEADBEEF + (ulong)n);
            var one = new SplitMix64(0xDEADBEEF + (ulong)n);
            var x = new double[n];
            bulk.FillSignedUniform(x);
            for (int i = 0; i < n; i++)
            {
                double want = 2 * one.NextDouble() - 1;
                Assert.True(BitConverter.DoubleToInt64Bits(want) == BitConverter.DoubleToInt64Bits(x[i]), $"n {n}, element {i}: {x[i]} vs {want}");
                Assert.InRange(x[i], -1.0, 1.0 - 1e-16);
            }
            Assert.Equal(one.NextUInt64(), bulk.NextUInt64()); // the state moved on by exactly n draws
        }
        // The stream wraps modulo 2^64 in both routes (a state near the top).
        var hi = new SplitMix64(ulong.MaxValue - 3);
        var hiOne = new SplitMix64(ulong.MaxValue - 3);
        var y = new double[24];
        hi.FillSignedUniform(y);
        for (int i = 0; i < y.Length; i++) Assert.Equal(2 * hiOne.NextDouble() - 1, y[i]);
    }

    /// <summary>The batch polar method written out one candidate at a time (the algorithm FillGaussian runs in SIMD).</summary>
    private static void ScalarBatchPolar(SplitMix64 rng, Span<double> destination)
    {
        const int Batch = 1024;
        int done = 0;
        while (done < destination.Length)
        {
            int n = Math.Min(Batch, (destination.Length - done + 1) / 2 * 4 / 3 + 8);
            var u = new double[n]; var v = new double[n];
            for (int i = 0; i < n; i++) { u[i] = 2 * rng.NextDouble() - 1; v[i] = 2 * rng.NextDouble() - 1; }
            for (int i = 0; i < n && done < destination.Length; i++)
            {
                double s = v[i] * v[i];
                s = Math.FusedMultiplyAdd(u[i], u[i], s);
                if (s >= 1 || s == 0) continue;
                double f = Math.Sqrt(Math.Log(s) / s * -2.0);
                destination[done++] = u[i] * f;
                if (done < destination.Length) destination[done++] = v[i] * f;
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(1001)]
    [InlineData(65_537)]
    public void Bulk_gaussians_follow_the_scalar_batch_polar_method(int n)
    {
        var x = new double[n];
        new SplitMix64(77).FillGaussian(x);
        var want = new double[n];
        ScalarBatchPolar(new SplitMix64(77), want);
        // SIMD logarithms differ from Math.Log in the last bits (measured ≈ 10 ulp after the division and root); a different
        // candidate, order or rejection would differ in the first digit.
        for (int i = 0; i < n; i++)
            Assert.True(Math.Abs(x[i] - want[i]) <= 1e-14 * Math.Max(1, Math.Abs(want[i])), $"element {i}: {x[i]} vs {want[i]}");
    }
}

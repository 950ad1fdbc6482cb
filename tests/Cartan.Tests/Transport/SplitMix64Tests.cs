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
}

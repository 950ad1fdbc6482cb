using Cartan.Spectra;
using FsCheck.Xunit;

namespace Cartan.Tests.Spectra;

public class OrbitTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(64)]
    [InlineData(1000)]
    public void Oracle1_OrbitIsNormalisedAndMonotone(int d)
    {
        var orbit = new PowerLawOrbit(d);
        Assert.Equal(0.0, orbit.Tau(0), 12);
        Assert.Equal(Math.Log(d), orbit.Tau(200), 10);
        double prevTau = -1, prevMu = double.PositiveInfinity;
        for (double a = 0; a <= 20; a += 0.25)
        {
            Assert.Equal(1.0, orbit.Probabilities(a).Sum(), 12);
            double tau = orbit.Tau(a), mu = orbit.Mu(a);
            Assert.True(tau > prevTau, $"tau not increasing at {a}");
            Assert.True(mu < prevMu && mu > 0, $"mu not decreasing/positive at {a}");
            Assert.InRange(tau, 0, Math.Log(d) + 1e-12);
            prevTau = tau; prevMu = mu;
        }
        // μ(0) is the mean of log i; the chart slope is the derivative of τ.
        double meanLog = Enumerable.Range(1, d).Average(i => Math.Log(i));
        Assert.Equal(meanLog, orbit.Mu(0), 10);
        const double h = 1e-5;
        foreach (var a in new[] { 0.3, 1.0, 2.5 })
            Assert.Equal(orbit.Mu(a), (orbit.Tau(a + h) - orbit.Tau(a - h)) / (2 * h), 6);
    }

    [Theory]
    [InlineData(10, 0.0)]
    [InlineData(10, 1.0)]
    [InlineData(100, 0.5)]
    [InlineData(100, 2.0)]
    [InlineData(1000, 1.0)]
    [InlineData(1000, 3.0)]
    public void Oracle2_BuresLineElementIsDOver4Fisher(int d, double alpha)
    {
        const double h = 1e-4;
        var orbit = new PowerLawOrbit(d);
        var p0 = orbit.Probabilities(alpha);
        var p1 = orbit.Probabilities(alpha + h);
        // λ_i = d·p_i; d_BW² = Σ(√λ_i(α+h) − √λ_i(α))², compared with (d/4)·I at the midpoint (O(h²) error).
        double bw2 = 0;
        for (int i = 0; i < d; i++) { double diff = Math.Sqrt(d * p1[i]) - Math.Sqrt(d * p0[i]); bw2 += diff * diff; }
        double expected = d / 4.0 * orbit.Fisher(alpha + h / 2);
        Assert.True(Math.Abs(bw2 / (h * h) - expected) <= 1e-6 * expected, $"{bw2 / (h * h)} vs {expected}");
    }

    [Theory]
    [InlineData(10, 0.0)]
    [InlineData(100, 1.0)]
    [InlineData(1000, 2.0)]
    public void Oracle3_KlIsHalfFisherTimesStepSquared(int d, double alpha)
    {
        const double h = 1e-4;
        var orbit = new PowerLawOrbit(d);
        var p0 = orbit.Probabilities(alpha);
        var p1 = orbit.Probabilities(alpha + h);
        double kl = 0;
        for (int i = 0; i < d; i++) kl += p0[i] * Math.Log(p0[i] / p1[i]);
        double expected = orbit.Fisher(alpha) * h * h / 2;
        Assert.True(Math.Abs(kl - expected) <= 1e-3 * expected, $"{kl} vs {expected}");
    }

    [Property(MaxTest = 200)]
    public bool IntegralTestBoundsContainTheTail(int seed)
    {
        var rng = new Random(seed);
        int d = rng.Next(2, 2000);
        int k = rng.Next(1, d + 1);
        double alpha = rng.Next(4) == 0 ? 1.0 : rng.NextDouble() * 5;
        double sum = 0;
        for (int i = k + 1; i <= d; i++) sum += Math.Pow(i, -alpha);
        var b = PowerLawOrbit.IntegralTailSumBounds(k, d, alpha);
        double slack = 1e-12 * Math.Max(1, sum);
        if (!(b.Lower <= sum + slack && sum <= b.Upper + slack)) return false;
        var orbit = new PowerLawOrbit(d);
        var tb = orbit.ModelTailBounds(k, alpha);
        double t = orbit.ModelTail(k, alpha);
        double direct = sum / Enumerable.Range(1, d).Sum(i => Math.Pow(i, -alpha));
        return Math.Abs(t - direct) <= 1e-12 && tb.Lower <= t + 1e-12 && t <= tb.Upper + 1e-12;
    }

    [Fact]
    public void IntegralBoundsMatchTheSpecFormulasPerRegime()
    {
        // α > 1, α = 1, α < 1 closed forms of §1(b).
        Assert.Equal((Math.Pow(3, -1.0) - Math.Pow(50, -1.0)) / 1.0, PowerLawOrbit.IntegralTailSumBounds(3, 50, 2.0).Upper, 12);
        Assert.Equal(Math.Log(50.0 / 3), PowerLawOrbit.IntegralTailSumBounds(3, 50, 1.0).Upper, 12);
        Assert.Equal((Math.Pow(50, 0.5) - Math.Pow(3, 0.5)) / 0.5, PowerLawOrbit.IntegralTailSumBounds(3, 50, 0.5).Upper, 12);
        Assert.Equal((Math.Pow(51, 0.5) - Math.Pow(4, 0.5)) / 0.5, PowerLawOrbit.IntegralTailSumBounds(3, 50, 0.5).Lower, 12);
        // Continuity across α = 1.
        Assert.Equal(PowerLawOrbit.IntegralTailSumBounds(3, 50, 1.0).Upper, PowerLawOrbit.IntegralTailSumBounds(3, 50, 1 + 1e-10).Upper, 8);
    }

    [Fact]
    public void ZetaAndRegimePredictions()
    {
        Assert.Equal(Math.PI * Math.PI / 6, PowerLawOrbit.Zeta(2), 12);
        Assert.Equal(Math.Pow(Math.PI, 4) / 90, PowerLawOrbit.Zeta(4), 12);
        Assert.Equal(OrbitRegime.Extensive, PowerLawOrbit.Regime(0.5, 0.05));
        Assert.Equal(OrbitRegime.Transition, PowerLawOrbit.Regime(1.02, 0.05));
        Assert.Equal(OrbitRegime.Intensive, PowerLawOrbit.Regime(2, 0.05));
        // Intensive prediction is d-independent and close to the exact model rank for large d.
        var big = new PowerLawOrbit(200000);
        double pred = big.PredictedEffectiveRank(0.9, 2.5, 0.05);
        int exact = big.ModelEffectiveRank(0.9, 2.5);
        Assert.InRange(exact, 0.7 * pred, 1.3 * pred + 1);
        // Extensive: r_q/d → q^{1/(1−α)}.
        var wide = new PowerLawOrbit(100000);
        Assert.True(Math.Abs(wide.PredictedEffectiveRank(0.5, 0.4, 0.05) / 100000 - wide.ModelEffectiveRank(0.5, 0.4) / 100000.0) < 0.005);
    }
}

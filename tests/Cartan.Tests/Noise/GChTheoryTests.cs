using Cartan.Noise;

namespace Cartan.Tests.Noise;

public class GChTheoryTests
{
    [Fact]
    public void ErfcMatchesPythonMath()
    {
        var e = NoiseReference.Root.GetProperty("erfc");
        var xs = e.Doubles("x");
        var want = e.Doubles("erfc");
        for (int i = 0; i < xs.Length; i++)
            Assert.True(Math.Abs(GChTheory.Erfc(xs[i]) - want[i]) <= 1e-14 * Math.Abs(want[i]) + 1e-300,
                $"erfc({xs[i]}) = {GChTheory.Erfc(xs[i]):R}, python {want[i]:R}");
    }

    [Fact]
    public void NormalCdfKnownValuesAndSymmetry()
    {
        Assert.Equal(0.5, GChTheory.NormalCdf(0), 15);
        Assert.Equal(0.8413447460685429, GChTheory.NormalCdf(1), 14);   // Φ(1)
        Assert.Equal(0.9750021048517795, GChTheory.NormalCdf(1.96), 14); // Φ(1.96)
        for (double x = -5; x <= 5; x += 0.37) Assert.Equal(1.0, GChTheory.NormalCdf(x) + GChTheory.NormalCdf(-x), 14);
    }

    [Fact]
    public void FlipProbabilityLimits()
    {
        Assert.Equal(0.5, GChTheory.FlipProbability(0, 1), 15);
        Assert.Equal(GChTheory.NormalCdf(-2), GChTheory.FlipProbability(1, 0.5), 15);
        Assert.Equal(GChTheory.NormalCdf(-1.5), GChTheory.FlipProbability(1, 0.5, mean: -0.25), 15);
        Assert.Equal(0, GChTheory.FlipProbability(1, 0));
        Assert.Equal(1, GChTheory.FlipProbability(1, 0, mean: -2));
        Assert.True(GChTheory.FlipProbability(3, 1) < GChTheory.FlipProbability(1, 1)); // larger margin, fewer flips
        Assert.Throws<ArgumentOutOfRangeException>(() => GChTheory.FlipProbability(1, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => GChTheory.FlipProbability(double.NaN, 1));
    }

    [Fact]
    public void LogRatioVarianceMatchesTheDenseKernel()
    {
        var grid = new DirichletGrid(6, 5, GChBoundary.Ring);
        var g = grid.GreenDense();
        int n = grid.InteriorCount;
        double s = 1.7;
        // interior (0,0)=(1,1) and (2,1)=(3,2): u = 0, v = 2·3+1 = 7
        double want = s * s * (g[0] + g[7 * n + 7] - 2 * g[7]);
        Assert.Equal(want, GChTheory.LogRatioVariance(grid, s, 1, 1, 3, 2), 13);
        Assert.Equal(0, GChTheory.LogRatioVariance(grid, s, 2, 2, 2, 2));
        Assert.Equal(s * s * g[0], GChTheory.LogRatioVariance(grid, s, 0, 3, 1, 1), 13); // ring partner: ψ = 0 there
        Assert.Equal(-0.5 * s * s * (g[0] - g[7 * n + 7]), GChTheory.LogRatioMean(grid, s, GChMode.Wick, 1, 1, 3, 2), 13);
        Assert.Equal(0, GChTheory.LogRatioMean(grid, s, GChMode.SampleWise, 1, 1, 3, 2));
        Assert.Equal(Math.Exp(s * s * g[7]), GChTheory.WickSecondMoment(grid, s, 1, 1, 3, 2), 13);
    }

    [Fact]
    public void BudgetBetaAndStrengthAreConsistent()
    {
        // β = |U|/(2ε); with s = γ/√β the roughness budget s²|U|/2 equals γ²ε.
        var grid = new DirichletGrid(7, 7);
        double eps = 3.0, gamma = 0.8;
        double beta = GChTheory.BetaForBudget(grid, eps);
        Assert.Equal(25 / 6.0, beta, 14);
        double s = GChTheory.Strength(gamma, beta);
        Assert.Equal(gamma * gamma * eps, GChTheory.RoughnessBudget(grid, s), 13);
        Assert.Throws<ArgumentOutOfRangeException>(() => GChTheory.BetaForBudget(grid, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => GChTheory.Strength(1, 0));
    }
}

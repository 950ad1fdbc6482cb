using Cartan.Spectra;
using FsCheck.Xunit;

namespace Cartan.Tests.Spectra;

public class ChainBudgetTests
{
    private static readonly PowerLawChart[] Charts = [PowerLawChart.Top, PowerLawChart.Mle, PowerLawChart.Hel, PowerLawChart.Ols];

    private static SpectrumProfile RandomProfile(Random rng, int d)
    {
        double a = rng.NextDouble() * 2.5;
        var s = Enumerable.Range(1, d).Select(i => Math.Pow(i, -a / 2) * Math.Exp(0.3 * TestLinalg.Gaussian(rng)))
            .OrderByDescending(v => v).ToArray();
        return SpectrumProfile.Compute(s, d, d + rng.Next(5));
    }

    [Property(MaxTest = 60)]
    public bool VariantA_InequalityHoldsOnRandomProfiles(int seed)
    {
        var rng = new Random(seed);
        int layers = rng.Next(2, 7);
        bool sameRank = rng.Next(2) == 0;
        int d0 = rng.Next(8, 40);
        var list = Enumerable.Range(0, layers)
            .Select(l => ("L" + l, RandomProfile(rng, sameRank ? d0 : rng.Next(8, 40)))).ToList();
        foreach (var chart in Charts)
        {
            var r = ChainBudget.Static("c", list, chart);
            if (r.Reason is not null && chart != PowerLawChart.Ols) return false;
            if (r.Reason is not null) continue;
            if (r.BoundHolds != true || r.Steps.Any(s => !s.Holds)) return false;
            if (sameRank && r.DimensionVariation != 0) return false;
            // Definitions: S = Σ|Δτ| − N ≥ 0, V = Σ|Δρ|.
            double sumDt = r.Steps.Sum(s => Math.Abs(s.DeltaTau));
            if (Math.Abs(r.Slack!.Value + r.NetDisplacement!.Value - sumDt) > 1e-12 || r.Slack < 0) return false;
            if (Math.Abs(r.ResidualVariation!.Value - r.Steps.Sum(s => Math.Abs(s.DeltaRho))) > 1e-12) return false;
        }
        return true;
    }

    [Fact]
    public void VariantA_DimensionTermIsNeeded()
    {
        // Two exact power laws with equal τ but different ranks: the spec's (N+S+V)/m is 0 while Δα ≠ 0.
        var p1 = SpectrumProfile.Compute(Enumerable.Range(1, 10).Select(i => Math.Pow(i, -0.5)).ToArray(), 10, 10);
        var orbit = new PowerLawOrbit(1000);
        double tau = p1.Tau!.Value, lo = 0, hi = 1;
        for (int i = 0; i < 200; i++) { double mid = (lo + hi) / 2; if (orbit.Tau(mid) < tau) lo = mid; else hi = mid; }
        var p2 = SpectrumProfile.Compute(Enumerable.Range(1, 1000).Select(i => Math.Pow(i, -lo / 2)).ToArray(), 1000, 1000);
        var r = ChainBudget.Static("c", [("a", p1), ("b", p2)], PowerLawChart.Top);
        double specBound = (r.NetDisplacement!.Value + r.Slack!.Value + r.ResidualVariation!.Value) / r.Margin!.Value;
        Assert.True(r.TotalVariation > 0.3);
        Assert.True(specBound < 1e-6, $"spec bound {specBound}");
        Assert.True(r.BoundHolds);
        Assert.True(r.DimensionVariation > 0);
    }

    [Property(MaxTest = 25)]
    public bool VariantB_BoundsHoldOnRandomNearIdentityChains(int seed)
    {
        var rng = new Random(seed);
        int n = rng.Next(3, 9), L = rng.Next(1, 7);
        double eps = 0.002 + 0.15 * rng.NextDouble();
        var js = Enumerable.Range(0, L).Select(_ => TestLinalg.RandomNearIdentity(rng, n, eps)).ToList();
        foreach (var chart in new[] { PowerLawChart.Top, PowerLawChart.Mle, PowerLawChart.Hel })
        {
            var r = ChainBudget.Jacobian("j", js, n, (a, n) => Cartan.Linalg.Lapack.SingularValues(a, n, n), chart,
                new ChainOptions { Profile = new ProfileOptions { ReliableRank = 2 } });
            if (r.Reason is not null) return false;
            if (r.BoundHolds != true || r.TauBoundsHold != true) return false;
            if (r.Layers.Count != L + 1 || Math.Abs(r.Tau[0]) > 1e-12) return false;
            if (Math.Abs(r.LogM!.Value - 2 * r.Steps.Sum(s => Math.Log(s.Kappa!.Value))) > 1e-12) return false;
        }
        return true;
    }

    [Fact]
    public void VariantB_ProductUsesForwardOrder()
    {
        // F_2 = J_2·J_1: with J_1 = diag(2,1) and J_2 a permutation the spectrum of F_2 is {2,1}.
        var j1 = new double[] { 2, 0, 0, 1 };
        var j2 = new double[] { 0, 1, 1, 0 };
        var f = ChainBudget.Multiply(j2, j1, 2);
        Assert.Equal(new double[] { 0, 1, 2, 0 }, f);
        var r = ChainBudget.Jacobian("j", [j1, j2], 2, (a, n) => Cartan.Linalg.Lapack.SingularValues(a, n, n), PowerLawChart.Top,
            new ChainOptions { Profile = new ProfileOptions { ReliableRank = 2 } });
        Assert.Null(r.Reason);
        Assert.Equal(r.Tau[1], r.Tau[2], 12);
        Assert.Equal(Math.Log(2 * 4.0 / 5), r.Tau[1], 12);
        Assert.True(r.BoundHolds);
    }
}

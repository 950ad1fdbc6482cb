using System.Collections;
using Cartan.Spectra;
using FsCheck.Xunit;

namespace Cartan.Tests.Spectra;

public class ProfileTests
{
    private static double[] PowerLawSigma(int d, double alpha, double scale = 1)
        => Enumerable.Range(1, d).Select(i => scale * Math.Sqrt(Math.Pow(i, -alpha))).ToArray();

    /// <summary>r_q of the exact orbit, computed directly from H_k/H_d in the test.</summary>
    private static int ClosedFormRank(int d, double alpha, double q)
    {
        double hd = 0;
        for (int i = 1; i <= d; i++) hd += Math.Pow(i, -alpha);
        double hk = 0;
        for (int k = 1; k <= d; k++) { hk += Math.Pow(k, -alpha); if (hk / hd >= q) return k; }
        return d;
    }

    [Theory]
    [InlineData(16, 0.3)]
    [InlineData(16, 1.0)]
    [InlineData(100, 0.8)]
    [InlineData(100, 1.7)]
    [InlineData(777, 0.5)]
    [InlineData(777, 1.0)]
    [InlineData(777, 3.0)]
    public void Oracle4_ExactPowerLawIsRecoveredByEveryChart(int d, double alpha)
    {
        var prof = SpectrumProfile.Compute(PowerLawSigma(d, alpha, 3.7), d + 5, d);
        Assert.Equal(ProfileStatus.Ok, prof.Status);
        Assert.Equal(d, prof.Rank);
        foreach (var c in new[] { prof.Top, prof.Mle, prof.Hel, prof.Ols })
        {
            Assert.NotNull(c);
            Assert.True(Math.Abs(c!.Alpha - alpha) <= 1e-6, $"{c.Chart}: {c.Alpha} vs {alpha}");
            Assert.True(Math.Abs(c.TauResidual) < 1e-8 && c.Hellinger < 1e-6 && c.KL < 1e-10, $"{c.Chart} residuals {c}");
            Assert.False(c.AtLowerBound || c.AtUpperBound);
        }
        foreach (var r in prof.EffectiveRanks)
        {
            Assert.Equal(ClosedFormRank(d, alpha, r.Q), r.Rank);
            Assert.Equal(r.Rank, r.ModelRank);
            Assert.True(Math.Abs(r.EmpiricalTail - r.ModelTail) < 1e-10);
            Assert.InRange(r.ModelTail, r.ModelTailBounds.Lower - 1e-12, r.ModelTailBounds.Upper + 1e-12);
            Assert.True(r.RobustLower <= r.Rank && r.Rank <= r.RobustUpper);
        }
        Assert.Equal(Math.Log(d * 1.0 / Enumerable.Range(1, d).Sum(i => Math.Pow(i, -alpha))), prof.Tau!.Value, 10);
        double frob2 = PowerLawSigma(d, alpha, 3.7).Sum(s => s * s);
        Assert.Equal(Math.Sqrt(frob2), prof.Frobenius!.Value, 9);
        Assert.Equal(frob2 / (3.7 * 3.7), prof.StableRank!.Value, 9);
    }

    [Fact]
    public void StatusFollowsRankRules()
    {
        var zero = SpectrumProfile.Compute(new double[5], 5, 7);
        Assert.Equal("na", zero.StatusName);
        Assert.Contains("all-zero", zero.Reason);
        var one = SpectrumProfile.Compute([2.0, 1e-300, 0], 3, 3);
        Assert.Equal(ProfileStatus.NotAvailable, one.Status);
        Assert.Equal(1, one.Rank);
        var small = SpectrumProfile.Compute([5, 4, 3, 2, 1], 5, 9);
        Assert.Equal("unreliable", small.StatusName);
        Assert.NotNull(small.Mle);
        var nan = SpectrumProfile.Compute([1, double.NaN], 2, 2);
        Assert.Equal(ProfileStatus.NotAvailable, nan.Status);
        var flat = SpectrumProfile.Compute(Enumerable.Repeat(2.0, 12).ToArray(), 12, 12);
        Assert.Equal(0.0, flat.Tau!.Value, 14);
        Assert.True(flat.Mle!.AtLowerBound && flat.Top!.AtLowerBound);
        Assert.Equal(0.0, flat.Hel!.Alpha, 9);
        // Rank-deficient: tolerance max(m,n)·eps·σ1 drops the tiny value.
        var def = SpectrumProfile.Compute([1, 0.5, 0.25, 1e-17], 4, 100);
        Assert.Equal(3, def.Rank);
        Assert.True(def.RankDeficient);
    }

    [Fact]
    public void ConfiguredOlsWindowIsUsed()
    {
        // Power law with exponent 2 on ranks 1..10, then a kink: a window inside the first part recovers 2.
        var s = Enumerable.Range(1, 40).Select(i => i <= 10 ? Math.Pow(i, -1.0) : 0.1 * Math.Pow(i / 10.0, -3.0)).ToArray();
        var prof = SpectrumProfile.Compute(s, 40, 40, new ProfileOptions { OlsWindowStart = 2, OlsWindowEnd = 9 });
        Assert.Equal(2.0, prof.Ols!.Alpha, 10);
        Assert.Equal(2, prof.Ols.WindowStart);
        Assert.Equal(9, prof.Ols.WindowEnd);
    }

    [Property(MaxTest = 60)]
    public bool NoNaNAnywhereOnRandomSpectra(int seed)
    {
        var rng = new Random(seed);
        int n = rng.Next(1, 60);
        var s = new double[n];
        int kind = rng.Next(4);
        for (int i = 0; i < n; i++)
            s[i] = kind switch
            {
                0 => Math.Exp(20 * (rng.NextDouble() - 0.5)),
                1 => rng.Next(3) == 0 ? 0 : rng.NextDouble(),
                2 => 1e-300 * rng.NextDouble(),
                _ => Math.Pow(i + 1, -rng.NextDouble() * 40),
            };
        Array.Sort(s); Array.Reverse(s);
        var p = SpectrumProfile.Compute(s, n + rng.Next(3), n);
        return AllFinite(p);
    }

    internal static bool AllFinite(object? o, int depth = 0)
    {
        if (o is null || depth > 6) return true;
        switch (o)
        {
            case double d: return double.IsFinite(d);
            case string or int or bool or Enum: return true;
            case IEnumerable e: foreach (var x in e) if (!AllFinite(x, depth + 1)) return false; return true;
        }
        foreach (var prop in o.GetType().GetProperties())
            if (prop.GetIndexParameters().Length == 0 && !AllFinite(prop.GetValue(o), depth + 1)) return false;
        return true;
    }

    [Property(MaxTest = 100)]
    public bool RobustQuantileWindowContainsPerturbedRank(int seed)
    {
        var rng = new Random(seed);
        int d = rng.Next(8, 80);
        var s = Enumerable.Range(1, d).Select(i => Math.Pow(i, -rng.NextDouble() * 1.5) * (1 + 0.1 * rng.NextDouble())).OrderByDescending(v => v).ToArray();
        var s2 = s.Select(v => v * (1 + 0.2 * (rng.NextDouble() - 0.5))).OrderByDescending(v => v).ToArray();
        var p2 = SpectrumProfile.Compute(s2, d, d);
        var p1raw = SpectrumProfile.Compute(s, d, d);
        double eps = p1raw.P.Zip(p2.P, (a, b) => Math.Abs(a - b)).Sum() * (1 + 1e-9) + 1e-15;
        var p1 = SpectrumProfile.Compute(s, d, d, new ProfileOptions { RobustEpsilon = Math.Min(eps, 0.999) });
        for (int j = 0; j < p1.EffectiveRanks.Count; j++)
        {
            var r1 = p1.EffectiveRanks[j];
            int r2 = p2.EffectiveRanks[j].Rank;
            if (!(r1.RobustLower <= r2 && r2 <= r1.RobustUpper)) return false;
        }
        return true;
    }

    [Property(MaxTest = 40)]
    public bool NearIdentityExpansionHolds(int seed)
    {
        var rng = new Random(seed);
        int n = rng.Next(4, 12);
        double eps = 1e-4 * (1 + rng.NextDouble());
        var j = TestLinalg.RandomNearIdentity(rng, n, eps);
        var b = (double[])j.Clone();
        for (int i = 0; i < n; i++) b[i * n + i] -= 1;
        double bf2 = b.Sum(v => v * v);
        var sym = new double[n * n];
        for (int r = 0; r < n; r++) for (int c = 0; c < n; c++) sym[r * n + c] = 0.5 * (b[r * n + c] + b[c * n + r]);
        var sEig = Cartan.Linalg.Lapack.SymmetricEigen(sym, n, vectors: false).Values.Reverse().ToArray();
        double sBar = sEig.Average();
        var prof = SpectrumProfile.Compute(Cartan.Linalg.Lapack.SingularValues(j, n, n), n, n);
        double tauPred = 2 * (sEig[0] - sBar);
        double lBar = Enumerable.Range(1, n).Average(i => Math.Log(i));
        double num = 0, den = 0;
        for (int i = 0; i < n; i++) { double c = Math.Log(i + 1) - lBar; num += 2 * (sEig[i] - sBar) * c; den += c * c; }
        double alphaPred = -num / den;
        for (int i = 0; i < n; i++)
            if (Math.Abs(prof.Lambda[i] - (1 + 2 * (sEig[i] - sBar))) > 50 * bf2) return false;
        return Math.Abs(prof.Tau!.Value - tauPred) <= 50 * bf2 && Math.Abs(prof.Mle!.Alpha - alphaPred) <= 200 * bf2;
    }

    [Fact]
    public void HellingerChartFindsTheGlobalMinimumOnAGrid()
    {
        // A spectrum with a dominant spike over a flat bulk: compare against a brute-force fine scan.
        var s = new double[60];
        for (int i = 0; i < 60; i++) s[i] = i == 0 ? 6 : 1 - i * 0.001;
        var prof = SpectrumProfile.Compute(s, 60, 60);
        var orbit = new PowerLawOrbit(60);
        double bestA = 0, bestH = double.PositiveInfinity;
        for (double a = 0; a <= 60; a += 0.001)
        {
            var q = orbit.Probabilities(a);
            double h = 0;
            for (int i = 0; i < 60; i++) { double diff = Math.Sqrt(prof.P[i]) - Math.Sqrt(q[i]); h += diff * diff; }
            if (h < bestH) { bestH = h; bestA = a; }
        }
        Assert.True(prof.Hel!.Hellinger * prof.Hel.Hellinger <= bestH + 1e-12);
        Assert.Equal(bestA, prof.Hel.Alpha, 2);
    }
}

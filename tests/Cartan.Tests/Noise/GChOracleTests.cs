using Cartan.Noise;

namespace Cartan.Tests.Noise;

/// <summary>
/// methods.md §6 oracle 8: the GCh sampler against its closed forms over 10⁵ seeded samples. Tolerances are 3 standard
/// errors estimated from the same samples (3.5 where many sites are tested at once would be the Bonferroni-honest
/// choice; 3 is what the oracle asks and the seeds are fixed, so a pass is reproducible).
/// </summary>
public class GChOracleTests
{
    private const int N = 100_000;
    private const int Chunk = 10_000;

    private static void ForEachGate(GChSampler sampler, int count, Action<ReadOnlySpan<double>> visit)
    {
        int size = sampler.GateSize;
        var buf = new double[Chunk * size];
        for (int done = 0; done < count; done += Chunk)
        {
            int b = Math.Min(Chunk, count - done);
            sampler.Sample(buf.AsSpan(0, b * size), b);
            for (int k = 0; k < b; k++) visit(buf.AsSpan(k * size, size));
        }
    }

    public static TheoryData<int, int, GChBoundary, double> Cases => new()
    {
        { 7, 7, GChBoundary.Ring, 1.0 },
        { 6, 5, GChBoundary.Ring, 1.3 },
        { 4, 5, GChBoundary.Ghost, 0.7 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void WickGateHasMeanOneAtEverySite(int h, int w, GChBoundary boundary, double s)
    {
        var sampler = new GChSampler(h, w, new GChOptions { Strength = s, Mode = GChMode.Wick, Boundary = boundary }, 1001);
        var stats = Enumerable.Range(0, h * w).Select(_ => new RunningStat()).ToArray();
        ForEachGate(sampler, N, g =>
        {
            for (int x = 0; x < g.Length; x++) stats[x].Add(g[x]);
        });
        for (int x = 0; x < h * w; x++)
        {
            var st = stats[x];
            if (!sampler.Grid.IsInterior(x / w, x % w))
            {
                Assert.Equal(1.0, st.Mean); // ring: exactly 1 every time
                continue;
            }
            Assert.True(Math.Abs(st.Mean - 1) <= 3 * st.StandardError, $"{h}×{w} {boundary}: E[ξ({x / w},{x % w})] = {st.Mean:F5} ± {st.StandardError:F5}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void WickSecondMomentsAreExpOfTheGreenKernel(int h, int w, GChBoundary boundary, double s)
    {
        var sampler = new GChSampler(h, w, new GChOptions { Strength = s, Mode = GChMode.Wick, Boundary = boundary }, 2002);
        var grid = sampler.Grid;
        int o = grid.Offset;
        // same site, neighbours, a diagonal, far apart across the interior, and a ring partner
        var pairs = new (int r1, int c1, int r2, int c2)[]
        {
            (o, o, o, o),
            (o + 1, o + 1, o + 1, o + 2),
            (o, o, o + 1, o + 1),
            (o, o, o + grid.N1 - 1, o + grid.N2 - 1),
            (o + grid.N1 / 2, o + grid.N2 / 2, o + grid.N1 / 2, o + grid.N2 / 2),
            (o + grid.N1 / 2, o, o + grid.N1 / 2, o + grid.N2 - 1),
        };
        var stats = pairs.Select(_ => new RunningStat()).ToArray();
        ForEachGate(sampler, N, g =>
        {
            for (int p = 0; p < pairs.Length; p++) stats[p].Add(g[pairs[p].r1 * w + pairs[p].c1] * g[pairs[p].r2 * w + pairs[p].c2]);
        });
        for (int p = 0; p < pairs.Length; p++)
        {
            var (r1, c1, r2, c2) = pairs[p];
            double want = GChTheory.WickSecondMoment(grid, s, r1, c1, r2, c2);
            Assert.True(want > 1.0, "the pairs are chosen positively correlated");
            Assert.True(Math.Abs(stats[p].Mean - want) <= 3 * stats[p].StandardError,
                $"{h}×{w}: E[ξ({r1},{c1})ξ({r2},{c2})] = {stats[p].Mean:F5} ± {stats[p].StandardError:F5}, exp(s²G) = {want:F5}");
        }
    }

    [Fact]
    public void SampleWiseSpatialMeanIsExactlyOneOverAllSamples()
    {
        var sampler = new GChSampler(6, 5, new GChOptions { Strength = 1.5 }, 3003);
        double worst = 0;
        ForEachGate(sampler, N, g =>
        {
            double sum = 0;
            foreach (var v in g) sum += v;
            worst = Math.Max(worst, Math.Abs(sum / g.Length - 1));
        });
        Assert.True(worst < 1e-12, $"worst |mean − 1| = {worst:E2}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RoughnessBudgetIsHalfSSquaredTimesInteriorSize(int h, int w, GChBoundary boundary, double s)
    {
        var grid = new DirichletGrid(h, w, boundary);
        var sampler = new GChSampler(grid, new GChOptions { Strength = s, Boundary = boundary }, 4004);
        var g = new double[grid.InteriorCount];
        var st = new RunningStat();
        for (int k = 0; k < N; k++)
        {
            sampler.SampleField(g);
            st.Add(grid.DirichletEnergy(g));
        }
        double want = GChTheory.RoughnessBudget(grid, s);
        Assert.Equal(0.5 * s * s * grid.InteriorCount, want, 14);
        Assert.True(Math.Abs(st.Mean - want) <= 3 * st.StandardError, $"{h}×{w}: E[½gᵀLg] = {st.Mean:F5} ± {st.StandardError:F5}, want {want:F5}");
        // ½gᵀLg = (s²/2)·χ²_|U| exactly, so its variance is s⁴|U|/2; check to 3%
        double wantVar = Math.Pow(s, 4) * grid.InteriorCount / 2;
        Assert.True(Math.Abs(st.Variance / wantVar - 1) < 0.03, $"{h}×{w}: Var = {st.Variance:F5}, want {wantVar:F5}");
    }

    private static (int r1, int c1, int r2, int c2)[] LogRatioPairs(DirichletGrid grid)
    {
        int o = grid.Offset;
        var pairs = new List<(int, int, int, int)>
        {
            (o, o, o, o + 1),                                   // neighbours at the edge of the interior
            (o + grid.N1 / 2, o + grid.N2 / 2, o + grid.N1 / 2 - 1, o + grid.N2 / 2), // neighbours in the middle
            (o, o, o + grid.N1 - 1, o + grid.N2 - 1),           // opposite corners of the interior
        };
        if (o == 1) pairs.Add((0, 0, 1 + grid.N1 / 2, 1 + grid.N2 / 2)); // ring site against the centre
        return [.. pairs];
    }

    [Theory]
    [InlineData(7, 7, GChBoundary.Ring, 1.0, GChMode.SampleWise)]
    [InlineData(6, 5, GChBoundary.Ring, 1.3, GChMode.Wick)]
    [InlineData(4, 5, GChBoundary.Ghost, 0.7, GChMode.SampleWise)]
    public void LogRatioDeformationHasTheGreenVariance(int h, int w, GChBoundary boundary, double s, GChMode mode)
    {
        var sampler = new GChSampler(h, w, new GChOptions { Strength = s, Mode = mode, Boundary = boundary }, 5005);
        var grid = sampler.Grid;
        var pairs = LogRatioPairs(grid);
        var stats = pairs.Select(_ => new RunningStat()).ToArray();
        ForEachGate(sampler, N, g =>
        {
            // F ≡ 1 (any positive F gives the same Δ): Δ_xy = log(ξ(x)/ξ(y))
            for (int p = 0; p < pairs.Length; p++) stats[p].Add(Math.Log(g[pairs[p].r1 * w + pairs[p].c1] / g[pairs[p].r2 * w + pairs[p].c2]));
        });
        for (int p = 0; p < pairs.Length; p++)
        {
            var (r1, c1, r2, c2) = pairs[p];
            double var = GChTheory.LogRatioVariance(grid, s, r1, c1, r2, c2);
            double mean = GChTheory.LogRatioMean(grid, s, mode, r1, c1, r2, c2);
            var st = stats[p];
            double seVar = var * Math.Sqrt(2.0 / (st.Count - 1)); // Δ is exactly Gaussian
            string name = $"{h}×{w} {mode}: Δ(({r1},{c1}),({r2},{c2}))";
            Assert.True(Math.Abs(st.Variance - var) <= 3 * seVar, $"{name}: Var = {st.Variance:F5}, want {var:F5} ± {seVar:F5}");
            Assert.True(Math.Abs(st.Mean - mean) <= 3 * st.StandardError, $"{name}: mean = {st.Mean:F5}, want {mean:F5} ± {st.StandardError:F5}");
        }
    }

    [Theory]
    [InlineData(GChMode.SampleWise, 0.8)]
    [InlineData(GChMode.SampleWise, 2.0)]
    [InlineData(GChMode.Wick, 0.8)]
    public void FlipFrequencyIsPhiOfMinusMarginOverSigma(GChMode mode, double marginInSigmas)
    {
        const int h = 7, w = 7;
        const double s = 1.2;
        var sampler = new GChSampler(h, w, new GChOptions { Strength = s, Mode = mode }, 6006);
        var grid = sampler.Grid;
        // x at an interior corner, y two sites away in the interior: unequal variances, so the Wick mean is non-zero
        (int r1, int c1, int r2, int c2) = (1, 1, 3, 2);
        double sigma = Math.Sqrt(GChTheory.LogRatioVariance(grid, s, r1, c1, r2, c2));
        double mean = GChTheory.LogRatioMean(grid, s, mode, r1, c1, r2, c2);
        double m = marginInSigmas * sigma;
        double want = GChTheory.FlipProbability(m, sigma, mean);
        // a positive representation with log(F(x)/F(y)) = m
        double fx = Math.Exp(0.3 + m), fy = Math.Exp(0.3);
        long flips = 0;
        ForEachGate(sampler, N, g =>
        {
            if (fx * g[r1 * w + c1] < fy * g[r2 * w + c2]) flips++;
        });
        double freq = (double)flips / N, se = Math.Sqrt(want * (1 - want) / N);
        Assert.True(Math.Abs(freq - want) <= 3 * se, $"{mode}, m = {marginInSigmas}σ: flip frequency {freq:F5}, Φ = {want:F5} ± {se:F5}");
        if (mode == GChMode.Wick) Assert.True(Math.Abs(mean) > 0.01, "the Wick mean must matter in this check");
    }
}

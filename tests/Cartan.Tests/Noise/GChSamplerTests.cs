using Cartan.Noise;

namespace Cartan.Tests.Noise;

public class GChSamplerTests
{
    [Fact]
    public void PrngMatchesTheIndependentPythonImplementation()
    {
        var p = NoiseReference.Root.GetProperty("prng");
        ulong seed = p.GetProperty("seed").GetUInt64();
        var rng = new GChRandom(seed);
        foreach (var u in p.GetProperty("first_u64").EnumerateArray()) Assert.Equal(ulong.Parse(u.GetString()!), rng.NextUInt64());
        rng.Reseed(seed);
        foreach (var z in p.Doubles("first_normals")) Assert.Equal(z, rng.NextNormal(), 14);
    }

    [Fact]
    public void GatesMatchTheNumpyAssembly()
    {
        int cases = 0;
        foreach (var c in NoiseReference.Gates)
        {
            int h = c.GetProperty("height").GetInt32(), w = c.GetProperty("width").GetInt32(), batch = c.GetProperty("batch").GetInt32();
            var opt = new GChOptions
            {
                Strength = c.GetProperty("strength").GetDouble(),
                Mode = c.GetProperty("mode").GetString() == "wick" ? GChMode.Wick : GChMode.SampleWise,
                Boundary = c.Boundary(),
            };
            var sampler = new GChSampler(h, w, opt, c.GetProperty("seed").GetUInt64());
            var got = sampler.Sample(batch);
            var want = c.Doubles("gates");
            Assert.Equal(want.Length, got.Length);
            for (int i = 0; i < want.Length; i++)
                Assert.True(Math.Abs(got[i] - want[i]) <= 1e-12 * Math.Abs(want[i]), $"{h}×{w} {opt.Mode}: gate[{i}] = {got[i]:R}, numpy {want[i]:R}");
            cases++;
        }
        Assert.Equal(3, cases);
    }

    [Fact]
    public void SameSeedSameGatesOtherSeedOtherGates()
    {
        var opt = new GChOptions { Strength = 1.0 };
        var a = new GChSampler(7, 7, opt, 99).Sample(4);
        var b = new GChSampler(7, 7, opt, 99).Sample(4);
        var c = new GChSampler(7, 7, opt, 100).Sample(4);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        // the samples of a batch are independent draws, not copies
        Assert.NotEqual(a.AsSpan(0, 49).ToArray(), a.AsSpan(49, 49).ToArray());
        // a batch of 4 is the same stream as 4 batches of 1; Reseed restarts it
        var s = new GChSampler(7, 7, opt, 99);
        var one = Enumerable.Range(0, 4).SelectMany(_ => s.Sample(1)).ToArray();
        Assert.Equal(a, one);
        s.Reseed(99);
        Assert.Equal(a, s.Sample(4));
    }

    [Fact]
    public void Float32GatesAreTheRoundedFloat64Gates()
    {
        var opt = new GChOptions { Strength = 0.9, Mode = GChMode.Wick };
        var d = new GChSampler(6, 5, opt, 5).Sample(3);
        var f = new float[d.Length];
        new GChSampler(6, 5, opt, 5).Sample(f, 3);
        for (int i = 0; i < d.Length; i++) Assert.Equal((float)d[i], f[i]);
    }

    [Theory]
    [InlineData(GChMode.Wick)]
    [InlineData(GChMode.SampleWise)]
    public void GateIsTheExponentialOfTheField(GChMode mode)
    {
        // Same stream position: the gate must be exp(g − varγ/2) (Wick) or exp(g)/mean (sample-wise) of the field.
        var opt = new GChOptions { Strength = 1.1, Mode = mode };
        var grid = new DirichletGrid(6, 5, GChBoundary.Ring);
        var fieldSampler = new GChSampler(grid, opt, 8);
        var gateSampler = new GChSampler(grid, opt, 8);
        var g = new double[grid.InteriorCount];
        var v = grid.VarianceMap(opt.Strength);
        for (int rep = 0; rep < 5; rep++)
        {
            fieldSampler.SampleField(g);
            var gate = gateSampler.Sample(1);
            var raw = Enumerable.Repeat(1.0, 30).ToArray();
            for (int i = 0; i < grid.N1; i++)
                for (int j = 0; j < grid.N2; j++)
                {
                    int x = (i + 1) * 5 + j + 1;
                    raw[x] = mode == GChMode.Wick ? Math.Exp(g[i * grid.N2 + j] - v[x] / 2) : Math.Exp(g[i * grid.N2 + j]);
                }
            double norm = mode == GChMode.Wick ? 1 : raw.Average();
            for (int x = 0; x < 30; x++) Assert.Equal(raw[x] / norm, gate[x], 13);
            // ring sites: exactly 1 for Wick, 1/mean for sample-wise
            Assert.Equal(1 / norm, gate[0], 15);
        }
    }

    [Fact]
    public void SampleWiseSpatialMeanIsExactlyOne()
    {
        foreach (var (h, w, b) in new[] { (7, 7, GChBoundary.Ring), (6, 5, GChBoundary.Ring), (4, 5, GChBoundary.Ghost) })
        {
            var s = new GChSampler(h, w, new GChOptions { Strength = 1.5, Boundary = b }, 11);
            var gates = s.Sample(2000);
            for (int k = 0; k < 2000; k++)
            {
                double sum = 0;
                for (int t = 0; t < h * w; t++) sum += gates[k * h * w + t];
                Assert.True(Math.Abs(sum / (h * w) - 1) < 1e-12, $"{h}×{w}: sample {k} mean {sum / (h * w):R}");
            }
        }
    }

    [Theory]
    [InlineData(2, 6, GChMode.Wick)]
    [InlineData(6, 2, GChMode.SampleWise)]
    [InlineData(1, 1, GChMode.SampleWise)]
    public void DegenerateGridGivesGateOne(int h, int w, GChMode mode)
    {
        var s = new GChSampler(h, w, new GChOptions { Strength = 3, Mode = mode }, 1);
        Assert.True(s.Grid.IsDegenerate);
        Assert.NotNull(s.Grid.Warning);
        Assert.All(s.Sample(5), g => Assert.Equal(1.0, g));
        var f = Enumerable.Range(0, 2 * 3 * h * w).Select(i => (float)(i % 7 - 3)).ToArray();
        var copy = (float[])f.Clone();
        new GChSampler(h, w, new GChOptions { Mode = mode }, 1).Apply(f, 2, 3, training: true);
        Assert.Equal(copy, f);
    }

    [Fact]
    public void EvalModeIsTheIdentityAndDrawsNothing()
    {
        var opt = new GChOptions { Strength = 1.0 };
        var s = new GChSampler(7, 7, opt, 21);
        var rng = new Random(1);
        var f = Enumerable.Range(0, 2 * 3 * 49).Select(_ => (float)rng.NextDouble()).ToArray();
        var copy = (float[])f.Clone();
        s.Apply(f, 2, 3, training: false);
        Assert.Equal(copy, f);
        // the stream did not move: the next gates are the seed's first gates
        Assert.Equal(new GChSampler(7, 7, opt, 21).Sample(2), s.Sample(2));
    }

    [Fact]
    public void TrainingModeMultipliesEveryChannelByItsSamplesGate()
    {
        var opt = new GChOptions { Strength = 1.0, Mode = GChMode.Wick };
        int b = 3, c = 4, h = 6, w = 5;
        var rng = new Random(2);
        var f = Enumerable.Range(0, b * c * h * w).Select(_ => rng.NextDouble() * 3 - 1).ToArray();
        var orig = (double[])f.Clone();
        new GChSampler(h, w, opt, 77).Apply(f, b, c, training: true);
        var gates = new GChSampler(h, w, opt, 77).Sample(b);
        for (int i = 0; i < b; i++)
            for (int ch = 0; ch < c; ch++)
                for (int t = 0; t < h * w; t++)
                {
                    int x = ((i * c) + ch) * h * w + t;
                    Assert.Equal(orig[x] * gates[i * h * w + t], f[x], 15);
                }
        // float32 overload: same gates, product rounded once
        var ff = orig.Select(x => (float)x).ToArray();
        new GChSampler(h, w, opt, 77).Apply(ff, b, c, training: true);
        for (int x = 0; x < ff.Length; x++)
            Assert.Equal((float)((float)orig[x] * gates[x / (c * h * w) * h * w + x % (h * w)]), ff[x]);
    }

    [Fact]
    public void ClampKeepsExtremeGatesFinite()
    {
        // s = 2000: |γψ| reaches thousands and exp overflows without the clamp.
        var grid = new DirichletGrid(7, 7, GChBoundary.Ring);
        var clamped = new GChSampler(grid, new GChOptions { Strength = 2000 }, 4).Sample(50);
        var open = new GChSampler(grid, new GChOptions { Strength = 2000, ClampBound = null }, 4).Sample(50);
        Assert.All(clamped, g => Assert.True(double.IsFinite(g) && g > 0));
        Assert.Contains(open, g => !double.IsFinite(g));
        // with the clamp at 5, interior/ring ratios are bounded by e^5 before normalising
        var tight = new GChSampler(grid, new GChOptions { Strength = 2000, ClampBound = 5 }, 4).Sample(50);
        for (int k = 0; k < 50; k++)
            for (int t = 0; t < 49; t++)
            {
                double ratio = tight[k * 49 + t] / tight[k * 49];
                Assert.True(ratio <= Math.Exp(5) * (1 + 1e-12) && ratio >= Math.Exp(-5) * (1 - 1e-12));
            }
    }

    [Fact]
    public void BadArgumentsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new GChSampler(7, 7, new GChOptions { Strength = -1 }, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GChSampler(7, 7, new GChOptions { ClampBound = 0 }, 0));
        Assert.Throws<ArgumentException>(() => new GChSampler(new DirichletGrid(7, 7, GChBoundary.Ghost), new GChOptions(), 0));
        var s = new GChSampler(7, 7, new GChOptions(), 0);
        Assert.Throws<ArgumentException>(() => s.Sample(new double[48], 1));
        Assert.Throws<ArgumentException>(() => s.Apply(new float[49 * 3], 2, 1, true));
        Assert.Throws<ArgumentException>(() => s.SampleField(new double[24]));
    }
}

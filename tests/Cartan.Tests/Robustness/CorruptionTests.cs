using Cartan.Robustness;

namespace Cartan.Tests.Robustness;

public class CorruptionTests
{
    private const int H = 28, W = 28;

    /// <summary>Synthetic garment-like test images: a smooth blob with texture and a sharp edge, values in [0.05, 0.95].</summary>
    internal static float[] Image(int k)
    {
        var x = new float[H * W];
        var rng = new Random(100 + k);
        double cr = 10 + rng.NextDouble() * 8, cc = 10 + rng.NextDouble() * 8, rad = 6 + rng.NextDouble() * 4;
        for (int r = 0; r < H; r++)
            for (int c = 0; c < W; c++)
            {
                double d = Math.Sqrt((r - cr) * (r - cr) + (c - cc) * (c - cc));
                double v = d < rad ? 0.7 + 0.2 * Math.Sin(r * 1.3 + k) * Math.Cos(c * 0.9) : 0.1 + 0.05 * ((r + c) % 2);
                if (c > 20 && r > 4 && r < 12) v = 0.9;
                x[r * W + c] = (float)Math.Clamp(v, 0.05, 0.95);
            }
        return x;
    }

    private static double Distortion(float[] a, float[] b) => a.Zip(b, (p, q) => Math.Abs((double)p - q)).Average();

    public static TheoryData<Corruption> All() => [.. Corruptions.All];

    [Fact]
    public void AtLeastEightKinds() => Assert.True(Corruptions.All.Count >= 8);

    [Theory]
    [MemberData(nameof(All))]
    public void DistortionGrowsWithSeverity(Corruption c)
    {
        var d = new double[6];
        for (int k = 0; k < 4; k++)
        {
            var x = Image(k);
            var y = new float[H * W];
            for (int s = 1; s <= 5; s++)
            {
                Corruptions.Apply(c, x, y, H, W, s, seed: 7 + (ulong)k);
                d[s] += Distortion(x, y) / 4;
            }
        }
        for (int s = 2; s <= 5; s++) Assert.True(d[s] > d[s - 1], $"{c}: mean |Δ| at severity {s} ({d[s]:G4}) is not above severity {s - 1} ({d[s - 1]:G4})");
        Assert.True(d[1] > 1e-3, $"{c}: severity 1 changes nothing ({d[1]:G4})");
    }

    [Theory]
    [MemberData(nameof(All))]
    public void DeterministicPerSeedAndInRange(Corruption c)
    {
        var imgs = Image(0).Concat(Image(1)).Concat(Image(2)).ToArray();
        var a = Corruptions.ApplyBatch(c, imgs, 3, H, W, 3, 42);
        var b = Corruptions.ApplyBatch(c, imgs, 3, H, W, 3, 42);
        Assert.Equal(a, b);
        Assert.All(a, v => Assert.InRange(v, 0f, 1f));
        // the input is not modified, and out-of-range inputs are clipped first
        Assert.Equal(Image(0), imgs[..(H * W)]);
        var wild = imgs.Select((v, i) => i % 3 == 0 ? 5f : i % 3 == 1 ? -2f : v).ToArray();
        Assert.All(Corruptions.ApplyBatch(c, wild, 3, H, W, 5, 1), v => Assert.InRange(v, 0f, 1f));
    }

    [Theory]
    [InlineData(Corruption.GaussianNoise)]
    [InlineData(Corruption.ShotNoise)]
    [InlineData(Corruption.ImpulseNoise)]
    [InlineData(Corruption.MotionBlur)]
    [InlineData(Corruption.Elastic)]
    public void RandomCorruptionsDependOnTheSeedAndTheImageIndex(Corruption c)
    {
        var x = Image(0);
        var imgs = x.Concat(x).ToArray();
        var a = Corruptions.ApplyBatch(c, imgs, 2, H, W, 4, 1);
        var b = Corruptions.ApplyBatch(c, imgs, 2, H, W, 4, 2);
        Assert.NotEqual(a, b);
        Assert.NotEqual(a[..(H * W)], a[(H * W)..]);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void IdentityParameterLeavesTheImageAlone(Corruption c)
    {
        var x = Image(3);
        var y = new float[H * W];
        Corruptions.ApplyParameter(c, x, y, H, W, Corruptions.IdentityParameter(c), 9);
        // JPEG at quality 100 still rounds to 8 bits and quantises with step 1; shot noise at λ = 1e9 has σ ≈ 3e-5
        double tol = c switch { Corruption.Jpeg => 3.0 / 255, Corruption.ShotNoise => 3e-4, _ => 1e-6 };
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(x[i] - y[i]) <= tol, $"{c}: pixel {i} moved from {x[i]} to {y[i]}");
    }

    [Theory]
    [InlineData(Corruption.GaussianNoise, 1e-4)]
    [InlineData(Corruption.DefocusBlur, 0.05)]
    [InlineData(Corruption.MotionBlur, 0.01)]
    [InlineData(Corruption.Elastic, 1e-3)]
    [InlineData(Corruption.Brightness, 1e-4)]
    public void TinySeverityIsNearlyTheIdentity(Corruption c, double p)
    {
        var x = Image(2);
        var y = new float[H * W];
        Corruptions.ApplyParameter(c, x, y, H, W, p, 5);
        Assert.True(Distortion(x, y) < 2e-3, $"{c} at {p}: mean |Δ| = {Distortion(x, y)}");
    }

    [Fact]
    public void ClosedFormCases()
    {
        var x = Image(1);
        var y = new float[H * W];
        double mean = x.Select(v => (double)v).Average();
        Corruptions.ApplyParameter(Corruption.Contrast, x, y, H, W, 0.5, 0);
        for (int i = 0; i < x.Length; i++) Assert.Equal((x[i] - mean) * 0.5 + mean, y[i], 1e-6);
        Corruptions.ApplyParameter(Corruption.Brightness, x, y, H, W, 0.3, 0);
        for (int i = 0; i < x.Length; i++) Assert.Equal(Math.Min(1, x[i] + 0.3), y[i], 1e-6);
        // impulse: every pixel is unchanged, 0 or 1, and the salt/pepper sets at severity s contain those at s − 1
        var prev = new HashSet<int>();
        for (int s = 1; s <= 5; s++)
        {
            Corruptions.Apply(Corruption.ImpulseNoise, x, y, H, W, s, 3);
            var hit = Enumerable.Range(0, x.Length).Where(i => y[i] != x[i]).ToHashSet();
            Assert.All(hit, i => Assert.True(y[i] is 0f or 1f));
            Assert.Subset(hit, prev);
            prev = hit;
        }
        // pixelate to 1×1 is the global mean; to a divisor grid it is the block mean
        Corruptions.ApplyParameter(Corruption.Pixelate, x, y, H, W, 1.0 / 28, 0);
        Assert.All(y, v => Assert.Equal(mean, v, 1e-6));
        Corruptions.ApplyParameter(Corruption.Pixelate, x, y, H, W, 0.5, 0);
        double b00 = (x[0] + x[1] + x[W] + x[W + 1]) / 4.0;
        Assert.Equal(b00, y[0], 1e-6);
        Assert.Equal(b00, y[W + 1], 1e-6);
        // a constant image is a fixed point of every blur, of pixelate and of elastic resampling
        var flat = Enumerable.Repeat(0.4f, H * W).ToArray();
        foreach (var c in new[] { Corruption.DefocusBlur, Corruption.MotionBlur, Corruption.Pixelate, Corruption.Elastic, Corruption.Contrast })
        {
            Corruptions.Apply(c, flat, y, H, W, 5, 11);
            Assert.All(y, v => Assert.Equal(0.4f, v, 1e-5f));
        }
    }

    [Fact]
    public void JpegTableFollowsTheIjgScaling()
    {
        var q50 = Corruptions.JpegTable(50);
        Assert.Equal(16, q50[0]);
        Assert.Equal(99, q50[63]);
        var q100 = Corruptions.JpegTable(100);
        Assert.All(q100, v => Assert.Equal(1, v));
        var q10 = Corruptions.JpegTable(10); // scale 500: 16·5 = 80, 99·5 = 495 → clamped to 255
        Assert.Equal(80, q10[0]);
        Assert.Equal(255, q10[63]);
    }

    [Fact]
    public void WorksOnNonSquareImagesAndRejectsBadArguments()
    {
        var x = Enumerable.Range(0, 13 * 9).Select(i => (float)(i % 7) / 7).ToArray();
        var y = new float[x.Length];
        foreach (var c in Corruptions.All)
        {
            Corruptions.Apply(c, x, y, 13, 9, 5, 1);
            Assert.All(y, v => Assert.InRange(v, 0f, 1f));
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => Corruptions.Parameter(Corruption.Jpeg, 6));
        Assert.Throws<ArgumentException>(() => Corruptions.Apply(Corruption.Jpeg, x, new float[3], 13, 9, 1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Corruptions.ApplyParameter(Corruption.Pixelate, x, y, 13, 9, 1.5, 0));
    }
}

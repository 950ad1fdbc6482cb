using Cartan.Noise;

namespace Cartan.Robustness;

/// <summary>The ImageNet-C-style corruptions implemented for small grey images (Hendrycks and Dietterich, ICLR 2019).</summary>
public enum Corruption
{
    /// <summary>x + σz, clipped.</summary>
    GaussianNoise,
    /// <summary>Poisson(λx)/λ.</summary>
    ShotNoise,
    /// <summary>Salt and pepper on a fraction a of the pixels.</summary>
    ImpulseNoise,
    /// <summary>Anti-aliased disk kernel of radius r.</summary>
    DefocusBlur,
    /// <summary>One-sided line kernel of length L at a random angle in [−45°, 45°].</summary>
    MotionBlur,
    /// <summary>(x − mean)·c + mean.</summary>
    Contrast,
    /// <summary>x + c, clipped.</summary>
    Brightness,
    /// <summary>Box-average down to round(c·size), nearest back up.</summary>
    Pixelate,
    /// <summary>A smooth random displacement field of RMS amplitude α pixels, bilinear resampling.</summary>
    Elastic,
    /// <summary>8×8 DCT quantised with the JPEG luminance table at quality q, 8-bit output.</summary>
    Jpeg,
}

/// <summary>
/// Deterministic ImageNet-C-style corruptions of grey images with values in [0, 1] (row-major H×W). Every output is in
/// [0, 1]. The randomness of image <c>i</c> comes from a <see cref="GChRandom"/> seeded by (seed, i) only, so the five
/// severities of one image share their noise draws (impulse masks are nested, Gaussian noise is scaled, the elastic
/// field is scaled): distortion grows with severity by construction, not only on average.
/// </summary>
/// <remarks>
/// Severity parameters [R]: noise, contrast, brightness, pixelate and JPEG use ImageNet-C's five values; the blur radii and
/// the elastic amplitude are ours, scaled to 28×28 images (ImageNet-C's are for 224×224). The ImageNet-C "brightness"
/// adds to HSV value, which for grey images is x + c.
/// </remarks>
public static class Corruptions
{
    /// <summary>Every corruption, in enum order.</summary>
    public static IReadOnlyList<Corruption> All { get; } = Enum.GetValues<Corruption>();

    private static readonly Dictionary<Corruption, double[]> Severities = new()
    {
        [Corruption.GaussianNoise] = [0.08, 0.12, 0.18, 0.26, 0.38],
        [Corruption.ShotNoise] = [60, 25, 12, 5, 3],
        [Corruption.ImpulseNoise] = [0.03, 0.06, 0.09, 0.17, 0.27],
        [Corruption.DefocusBlur] = [0.75, 1.0, 1.5, 2.0, 2.5],
        [Corruption.MotionBlur] = [1.5, 2.5, 3.5, 4.5, 6.0],
        [Corruption.Contrast] = [0.4, 0.3, 0.2, 0.1, 0.05],
        [Corruption.Brightness] = [0.1, 0.2, 0.3, 0.4, 0.5],
        [Corruption.Pixelate] = [0.6, 0.5, 0.4, 0.3, 0.25],
        [Corruption.Elastic] = [0.4, 0.7, 1.0, 1.4, 1.8],
        [Corruption.Jpeg] = [25, 18, 15, 10, 7],
    };

    /// <summary>The parameter of a corruption at severity 1..5 (see the enum members for its meaning).</summary>
    public static double Parameter(Corruption corruption, int severity)
    {
        if (severity is < 1 or > 5) throw new ArgumentOutOfRangeException(nameof(severity), "severity is 1..5");
        return Severities[corruption][severity - 1];
    }

    /// <summary>The parameter that leaves an image unchanged (or nearly: JPEG at quality 100, shot noise at λ = 10⁹).</summary>
    public static double IdentityParameter(Corruption corruption) => corruption switch
    {
        Corruption.ShotNoise => 1e9,
        Corruption.Contrast => 1,
        Corruption.Pixelate => 1,
        Corruption.Jpeg => 100,
        _ => 0,
    };

    /// <summary>Corrupts <paramref name="count"/> images (row-major N×H×W) at a severity; image i uses seed (seed, i).</summary>
    public static float[] ApplyBatch(Corruption corruption, ReadOnlySpan<float> images, int count, int height, int width, int severity, ulong seed)
    {
        int size = checked(height * width);
        if (images.Length != checked(count * size)) throw new ArgumentException("images length is not N·H·W", nameof(images));
        var p = Parameter(corruption, severity);
        var dst = new float[images.Length];
        for (int i = 0; i < count; i++)
            ApplyParameter(corruption, images.Slice(i * size, size), dst.AsSpan(i * size, size), height, width, p, ImageSeed(seed, i));
        return dst;
    }

    /// <summary>The seed of image <paramref name="index"/> in a batch corrupted with <paramref name="seed"/>.</summary>
    public static ulong ImageSeed(ulong seed, int index) => seed ^ unchecked((ulong)(index + 1) * 0x9E3779B97F4A7C15UL);

    /// <summary>Corrupts one image at a severity 1..5.</summary>
    public static void Apply(Corruption corruption, ReadOnlySpan<float> src, Span<float> dst, int height, int width, int severity, ulong seed) =>
        ApplyParameter(corruption, src, dst, height, width, Parameter(corruption, severity), seed);

    /// <summary>Corrupts one image with an explicit parameter (any value in the corruption's valid range).</summary>
    public static void ApplyParameter(Corruption corruption, ReadOnlySpan<float> src, Span<float> dst, int height, int width, double parameter, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        int n = checked(height * width);
        if (src.Length != n || dst.Length != n) throw new ArgumentException("src and dst must hold H·W values");
        if (!double.IsFinite(parameter)) throw new ArgumentOutOfRangeException(nameof(parameter));
        var x = new double[n];
        for (int i = 0; i < n; i++) x[i] = Math.Clamp((double)src[i], 0, 1);
        var rng = new GChRandom(seed);
        double[] y = corruption switch
        {
            Corruption.GaussianNoise => Map(x, v => v + parameter * rng.NextNormal()),
            Corruption.ShotNoise => Shot(x, parameter, rng),
            Corruption.ImpulseNoise => Impulse(x, parameter, rng),
            Corruption.DefocusBlur => Defocus(x, height, width, parameter),
            Corruption.MotionBlur => Motion(x, height, width, parameter, rng),
            Corruption.Contrast => Contrast(x, parameter),
            Corruption.Brightness => Map(x, v => v + parameter),
            Corruption.Pixelate => Pixelate(x, height, width, parameter),
            Corruption.Elastic => Elastic(x, height, width, parameter, rng),
            Corruption.Jpeg => Jpeg(x, height, width, parameter),
            _ => throw new ArgumentOutOfRangeException(nameof(corruption)),
        };
        for (int i = 0; i < n; i++) dst[i] = (float)Math.Clamp(y[i], 0, 1);
    }

    private static double[] Map(double[] x, Func<double, double> f)
    {
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = f(x[i]);
        return y;
    }

    private static double[] Contrast(double[] x, double c)
    {
        double mean = x.Average();
        return Map(x, v => (v - mean) * c + mean);
    }

    private static double[] Shot(double[] x, double lambda, GChRandom rng)
    {
        if (!(lambda > 0)) throw new ArgumentOutOfRangeException(nameof(lambda), "shot noise needs λ > 0");
        return Map(x, v => Poisson(v * lambda, rng) / lambda);
    }

    /// <summary>Poisson(mean): Knuth's product of uniforms for mean ≤ 100, the rounded normal approximation above.</summary>
    private static double Poisson(double mean, GChRandom rng)
    {
        if (mean <= 0) return 0;
        if (mean > 100) return Math.Max(0, Math.Round(mean + Math.Sqrt(mean) * rng.NextNormal()));
        double limit = Math.Exp(-mean), p = 1;
        int k = 0;
        do { k++; p *= rng.NextUniform(); } while (p > limit);
        return k - 1;
    }

    private static double[] Impulse(double[] x, double amount, GChRandom rng)
    {
        if (amount is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(amount), "impulse amount is in [0, 1]");
        return Map(x, v =>
        {
            double u = rng.NextUniform();
            return u < amount / 2 ? 0 : u > 1 - amount / 2 ? 1 : v;
        });
    }

    private static double At(double[] x, int h, int w, int r, int c) => x[Math.Clamp(r, 0, h - 1) * w + Math.Clamp(c, 0, w - 1)];

    /// <summary>Bilinear sample at (r, c) with edge replication.</summary>
    private static double Bilinear(double[] x, int h, int w, double r, double c)
    {
        int r0 = (int)Math.Floor(r), c0 = (int)Math.Floor(c);
        double fr = r - r0, fc = c - c0;
        return (1 - fr) * ((1 - fc) * At(x, h, w, r0, c0) + fc * At(x, h, w, r0, c0 + 1))
             + fr * ((1 - fc) * At(x, h, w, r0 + 1, c0) + fc * At(x, h, w, r0 + 1, c0 + 1));
    }

    private static double[] Defocus(double[] x, int h, int w, double radius)
    {
        if (radius < 0) throw new ArgumentOutOfRangeException(nameof(radius));
        int k = (int)Math.Ceiling(radius);
        var kern = new List<(int Dr, int Dc, double W)>();
        double total = 0;
        for (int dr = -k; dr <= k; dr++)
            for (int dc = -k; dc <= k; dc++)
            {
                double wgt = Math.Clamp(radius + 0.5 - Math.Sqrt(dr * dr + dc * dc), 0, 1);
                if (wgt > 0) { kern.Add((dr, dc, wgt)); total += wgt; }
            }
        var y = new double[x.Length];
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++)
            {
                double s = 0;
                foreach (var (dr, dc, wgt) in kern) s += wgt * At(x, h, w, r + dr, c + dc);
                y[r * w + c] = s / total;
            }
        return y;
    }

    private static double[] Motion(double[] x, int h, int w, double length, GChRandom rng)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length));
        double angle = (rng.NextUniform() - 0.5) * Math.PI / 2;
        if (length == 0) return (double[])x.Clone();
        int steps = 2 * (int)Math.Ceiling(length) + 1;
        double ur = Math.Sin(angle), uc = Math.Cos(angle);
        var y = new double[x.Length];
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++)
            {
                double s = 0;
                for (int t = 0; t < steps; t++)
                {
                    double d = length * t / (steps - 1);
                    s += Bilinear(x, h, w, r - d * ur, c - d * uc);
                }
                y[r * w + c] = s / steps;
            }
        return y;
    }

    private static double[] Pixelate(double[] x, int h, int w, double factor)
    {
        if (!(factor > 0 && factor <= 1)) throw new ArgumentOutOfRangeException(nameof(factor), "pixelate factor is in (0, 1]");
        int mh = Math.Max(1, (int)Math.Round(h * factor)), mw = Math.Max(1, (int)Math.Round(w * factor));
        var sum = new double[mh * mw];
        var cnt = new int[mh * mw];
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++)
            {
                int cell = (int)((long)r * mh / h) * mw + (int)((long)c * mw / w);
                sum[cell] += x[r * w + c];
                cnt[cell]++;
            }
        var y = new double[x.Length];
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++)
            {
                int cell = (int)((long)r * mh / h) * mw + (int)((long)c * mw / w);
                y[r * w + c] = sum[cell] / cnt[cell];
            }
        return y;
    }

    /// <summary>Separable Gaussian smoothing (σ in pixels, edge replication).</summary>
    private static double[] Smooth(double[] x, int h, int w, double sigma)
    {
        int k = (int)Math.Ceiling(3 * sigma);
        var g = new double[2 * k + 1];
        for (int i = -k; i <= k; i++) g[i + k] = Math.Exp(-0.5 * i * i / (sigma * sigma));
        double t = g.Sum();
        for (int i = 0; i < g.Length; i++) g[i] /= t;
        var tmp = new double[x.Length];
        var y = new double[x.Length];
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++)
            {
                double s = 0;
                for (int i = -k; i <= k; i++) s += g[i + k] * At(x, h, w, r, c + i);
                tmp[r * w + c] = s;
            }
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++)
            {
                double s = 0;
                for (int i = -k; i <= k; i++) s += g[i + k] * At(tmp, h, w, r + i, c);
                y[r * w + c] = s;
            }
        return y;
    }

    private static double[] Elastic(double[] x, int h, int w, double amplitude, GChRandom rng)
    {
        if (amplitude < 0) throw new ArgumentOutOfRangeException(nameof(amplitude));
        int n = x.Length;
        var dx = new double[n];
        var dy = new double[n];
        for (int i = 0; i < n; i++) dx[i] = rng.NextNormal();
        for (int i = 0; i < n; i++) dy[i] = rng.NextNormal();
        const double sigma = 3;
        dx = Smooth(dx, h, w, sigma);
        dy = Smooth(dy, h, w, sigma);
        double rms = Math.Sqrt((dx.Sum(v => v * v) + dy.Sum(v => v * v)) / n);
        double scale = rms > 0 ? amplitude / rms : 0;
        var y = new double[n];
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++)
                y[r * w + c] = Bilinear(x, h, w, r + scale * dy[r * w + c], c + scale * dx[r * w + c]);
        return y;
    }

    private static readonly int[] JpegLuma =
    [
        16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
        14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
        49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
    ];

    /// <summary>The IJG quantisation table at quality 1..100 (baseline, entries clamped to 1..255).</summary>
    public static int[] JpegTable(double quality)
    {
        if (!(quality >= 1 && quality <= 100)) throw new ArgumentOutOfRangeException(nameof(quality), "JPEG quality is 1..100");
        double scale = quality < 50 ? 5000 / quality : 200 - 2 * quality;
        var q = new int[64];
        for (int i = 0; i < 64; i++) q[i] = (int)Math.Clamp(Math.Floor((JpegLuma[i] * scale + 50) / 100), 1, 255);
        return q;
    }

    private static double[] Jpeg(double[] x, int h, int w, double quality)
    {
        var q = JpegTable(quality);
        var basis = new double[64]; // basis[u*8+i] = α(u)·cos((2i+1)uπ/16)
        for (int u = 0; u < 8; u++)
            for (int i = 0; i < 8; i++)
                basis[u * 8 + i] = (u == 0 ? Math.Sqrt(0.125) : 0.5) * Math.Cos((2 * i + 1) * u * Math.PI / 16);
        var y = new double[x.Length];
        var blk = new double[64];
        var tmp = new double[64];
        var coef = new double[64];
        for (int br = 0; br < h; br += 8)
            for (int bc = 0; bc < w; bc += 8)
            {
                for (int i = 0; i < 8; i++)
                    for (int j = 0; j < 8; j++)
                        blk[i * 8 + j] = Math.Round(At(x, h, w, br + i, bc + j) * 255) - 128;
                // coef = B·blk·Bᵀ
                for (int u = 0; u < 8; u++)
                    for (int j = 0; j < 8; j++)
                    {
                        double s = 0;
                        for (int i = 0; i < 8; i++) s += basis[u * 8 + i] * blk[i * 8 + j];
                        tmp[u * 8 + j] = s;
                    }
                for (int u = 0; u < 8; u++)
                    for (int v = 0; v < 8; v++)
                    {
                        double s = 0;
                        for (int j = 0; j < 8; j++) s += tmp[u * 8 + j] * basis[v * 8 + j];
                        coef[u * 8 + v] = Math.Round(s / q[u * 8 + v]) * q[u * 8 + v];
                    }
                // blk = Bᵀ·coef·B
                for (int i = 0; i < 8; i++)
                    for (int v = 0; v < 8; v++)
                    {
                        double s = 0;
                        for (int u = 0; u < 8; u++) s += basis[u * 8 + i] * coef[u * 8 + v];
                        tmp[i * 8 + v] = s;
                    }
                for (int i = 0; i < 8 && br + i < h; i++)
                    for (int j = 0; j < 8 && bc + j < w; j++)
                    {
                        double s = 0;
                        for (int v = 0; v < 8; v++) s += tmp[i * 8 + v] * basis[v * 8 + j];
                        y[(br + i) * w + bc + j] = Math.Clamp(Math.Round(s + 128), 0, 255) / 255;
                    }
            }
        return y;
    }
}

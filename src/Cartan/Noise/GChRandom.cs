namespace Cartan.Noise;

/// <summary>
/// The documented PRNG behind <see cref="GChSampler"/> [R]: xoshiro256** (Blackman and Vigna, 2018) with its state
/// filled from the 64-bit seed by SplitMix64, uniforms u = ((x &gt;&gt; 11) + 0.5)·2⁻⁵³ ∈ (0, 1), and standard normals by
/// the Box–Muller transform, both outputs of each pair used (cos first, then sin). The stream depends only on the seed,
/// never on the .NET version, so a gate sequence is reproducible anywhere (and re-implementable in numpy).
/// </summary>
public sealed class GChRandom
{
    private ulong _s0, _s1, _s2, _s3;
    private double _spare;
    private bool _hasSpare;

    /// <summary>Seeds the generator.</summary>
    public GChRandom(ulong seed) => Reseed(seed);

    /// <summary>Restarts the stream from a seed (drops any buffered normal).</summary>
    public void Reseed(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
        _hasSpare = false;
    }

    private static ulong SplitMix64(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The next 64 random bits (xoshiro256**).</summary>
    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>A uniform double in the open interval (0, 1).</summary>
    public double NextUniform() => ((NextUInt64() >> 11) + 0.5) * (1.0 / (1UL << 53));

    /// <summary>A standard normal N(0, 1) (Box–Muller).</summary>
    public double NextNormal()
    {
        if (_hasSpare)
        {
            _hasSpare = false;
            return _spare;
        }
        double r = Math.Sqrt(-2 * Math.Log(NextUniform()));
        double t = 2 * Math.PI * NextUniform();
        var (sin, cos) = Math.SinCos(t);
        _spare = r * sin;
        _hasSpare = true;
        return r * cos;
    }

    /// <summary>Fills a span with standard normals.</summary>
    public void FillNormal(Span<double> z)
    {
        for (int i = 0; i < z.Length; i++) z[i] = NextNormal();
    }
}

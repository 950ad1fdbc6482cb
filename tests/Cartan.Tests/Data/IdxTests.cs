using System.Buffers.Binary;
using System.IO.Compression;
using Cartan.Data;
using Cartan.Formats;

namespace Cartan.Tests.Data;

public class IdxTests
{
    private static byte[] Plain(int[] dims, byte type = 0x08, int? dataLength = null)
    {
        long count = dims.Aggregate(1L, (a, d) => a * d);
        int n = dataLength ?? (int)count;
        var b = new byte[4 + 4 * dims.Length + n];
        b[2] = type;
        b[3] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4 + 4 * i), dims[i]);
        for (int i = 0; i < n; i++) b[4 + 4 * dims.Length + i] = (byte)(i * 7);
        return b;
    }

    private static byte[] Gzip(byte[] raw)
    {
        using var ms = new MemoryStream();
        using (var z = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) z.Write(raw);
        return ms.ToArray();
    }

    private static string Write(byte[] bytes, string name)
    {
        var p = Path.Combine(TestPaths.NewTempDir(), name);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReadsPlainAndGzippedFiles(bool gz)
    {
        var raw = Plain([3, 4, 5]);
        var a = Idx.Read(Write(gz ? Gzip(raw) : raw, "a.idx"));
        Assert.Equal([3, 4, 5], a.Shape);
        Assert.Equal(60, a.Data.Length);
        Assert.Equal(raw[16..], a.Data);
    }

    public static TheoryData<string, byte[]> BadFiles() => new()
    {
        { "empty", [] },
        { "short magic", [0, 0, 8] },
        { "nonzero magic", [1, 0, 8, 1, 0, 0, 0, 1, 5] },
        { "float type", Plain([2], type: 0x0D) },
        { "rank 0", [0, 0, 8, 0] },
        { "rank 5", Plain([1, 1, 1, 1, 1]) },
        { "truncated dims", Plain([2, 3])[..7] },
        { "zero dim", Plain([0, 3], dataLength: 0) },
        { "missing data", Plain([4, 4], dataLength: 15) },
        { "trailing data", Plain([4, 4], dataLength: 17) },
        { "huge dims", Plain([65536, 65536], dataLength: 4) },
        { "negative dim", [0, 0, 8, 1, 0x80, 0, 0, 0, 1] },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void RejectsBadFilesPlainAndGzipped(string what, byte[] bytes)
    {
        _ = what;
        Assert.Throws<CartanFormatException>(() => Idx.Read(Write(bytes, "bad.idx"), maxElements: 1 << 20));
        Assert.Throws<CartanFormatException>(() => Idx.Read(Write(Gzip(bytes), "bad.idx.gz"), maxElements: 1 << 20));
    }

    [Fact]
    public void RejectsCorruptGzipAndMissingFiles()
    {
        var gz = Gzip(Plain([10, 10]));
        gz[gz.Length / 2] ^= 0xFF;
        gz[gz.Length - 5] ^= 0xFF; // the stored CRC/length: a stream that inflates is still refused
        Assert.Throws<CartanFormatException>(() => Idx.Read(Write(gz, "c.gz")));
        Assert.Throws<CartanFormatException>(() => Idx.Read(Write(Gzip(Plain([10, 10]))[..20], "t.gz")));
        Assert.Throws<CartanFormatException>(() => Idx.Read("/nonexistent/idx.gz"));
    }

    [Fact]
    public void FuzzedFilesOnlyEverThrowCartanFormatException()
    {
        var rng = new Random(2026);
        var plain = Plain([6, 5, 4]);
        var gz = Gzip(plain);
        var dir = TestPaths.NewTempDir();
        int ok = 0, refused = 0;
        for (int t = 0; t < 600; t++)
        {
            var b = (t % 2 == 0 ? plain : gz).ToArray();
            int edits = 1 + rng.Next(4);
            for (int e = 0; e < edits; e++)
            {
                int at = rng.Next(b.Length);
                switch (rng.Next(3))
                {
                    case 0: b[at] = (byte)rng.Next(256); break;
                    case 1: b = b[..at]; break;
                    default: b = [.. b[..at], (byte)rng.Next(256), .. b[at..]]; break;
                }
                if (b.Length == 0) break;
            }
            var p = Path.Combine(dir, $"f{t}.idx");
            File.WriteAllBytes(p, b);
            try { var a = Idx.Read(p, maxElements: 1 << 16); Assert.Equal(a.Shape.Aggregate(1L, (x, y) => x * y), a.Data.Length); ok++; }
            catch (CartanFormatException) { refused++; }
        }
        Assert.True(refused > 100, $"only {refused} of 600 mutated files were refused");
        Assert.True(ok > 0, "no mutated file was read (data-byte edits should still parse)");
    }

    [Fact]
    public void LoadsFashionMnistWhenInstalled()
    {
        // The Debian package dataset-fashion-mnist (experiments/gch/run.sh installs it); without it this checks nothing
        // beyond the missing-file error.
        string dir = FashionMnist.DefaultDirectory;
        if (!File.Exists(Path.Combine(dir, "t10k-images-idx3-ubyte.gz")))
        {
            Assert.Throws<CartanFormatException>(() => FashionMnist.Load(dir, train: false));
            return;
        }
        var t = FashionMnist.Load(dir, train: false);
        Assert.Equal(10000, t.Count);
        Assert.Equal(28, t.Height);
        Assert.Equal(28, t.Width);
        Assert.Equal(10000 * 784, t.Images.Length);
        Assert.All(Enumerable.Range(0, 10).Select(k => t.Labels.Count(l => l == k)), c => Assert.Equal(1000, c));
        Assert.InRange(t.Images.Average(), 0.2, 0.4); // Fashion-MNIST test mean pixel ≈ 0.286
    }
}

using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Cartan.Formats;
using Cartan.Tensors;
using Xunit.Abstractions;

namespace Cartan.Tests.Formats;

public class NpyTests(ITestOutputHelper output)
{
    private static string Dir => TestPaths.Fixture("npy");

    private static DType FromDescr(string descr) => descr[1..] switch
    {
        "f8" => DType.F64, "f4" => DType.F32, "f2" => DType.F16, "i1" => DType.I8, "u1" => DType.U8,
        "i2" => DType.I16, "u2" => DType.U16, "i4" => DType.I32, "i8" => DType.I64, "b1" => DType.Bool,
        _ => throw new ArgumentException(descr),
    };

    [Theory]
    [InlineData("f8.npy")]
    [InlineData("f4.npy")]
    [InlineData("f2.npy")]
    [InlineData("i1.npy")]
    [InlineData("u1.npy")]
    [InlineData("i2.npy")]
    [InlineData("u2.npy")]
    [InlineData("i4.npy")]
    [InlineData("i8.npy")]
    [InlineData("b1.npy")]
    [InlineData("fortran.npy")]
    [InlineData("fortran3d.npy")]
    [InlineData("bigendian.npy")]
    [InlineData("v2.npy")]
    [InlineData("v3.npy")]
    [InlineData("stored.npz")]
    [InlineData("deflated.npz")]
    public void File_matches_numpy_golden(string file)
    {
        var golden = Golden.Load("npy", "golden.json").GetProperty("files").GetProperty(file).EnumerateArray().ToList();
        using var m = WeightSource.Open(Path.Combine(Dir, file));
        Assert.Equal("npy", m.Format);
        Assert.Equal(golden.Select(g => g.GetProperty("name").GetString()), m.Tensors.Select(t => t.Name));
        foreach (var (t, g) in m.Tensors.Zip(golden))
        {
            Assert.Equal(FromDescr(g.GetProperty("descr").GetString()!), t.DType);
            Golden.CheckTensor(t, g);
        }
    }

    /// <summary>A .npy file (format 1.0 or 2.0) from a literal header dict and data bytes, padded as numpy pads.</summary>
    internal static byte[] Npy(string dict, byte[] data, int version = 1)
    {
        int pre = version == 1 ? 10 : 12;
        var h = dict + " ";
        while ((pre + h.Length + 1) % 64 != 0) h += " ";
        h += "\n";
        var hb = Encoding.Latin1.GetBytes(h);
        var b = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)version, 0 };
        if (version == 1) b.AddRange(BitConverter.GetBytes((ushort)hb.Length));
        else b.AddRange(BitConverter.GetBytes((uint)hb.Length));
        b.AddRange(hb);
        b.AddRange(data);
        return [.. b];
    }

    private static byte[] F64(params double[] v) => v.SelectMany(BitConverter.GetBytes).ToArray();

    [Fact]
    public void Fortran_order_is_transposed_to_row_major_keeping_shape()
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            var p = Path.Combine(dir, "f.npy");
            // Matrix [[1,2,3],[4,5,6]] stored column-major.
            File.WriteAllBytes(p, Npy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", F64(1, 4, 2, 5, 3, 6)));
            using var m = NpyReader.Open(p);
            var t = Assert.Single(m.Tensors);
            Assert.Equal("f", t.Name);
            Assert.Equal([2L, 3L], t.Shape);
            Assert.Equal([1.0, 2, 3, 4, 5, 6], t.ReadDoubles());
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Hand_built_v2_big_endian_and_python2_long_shape()
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            var p = Path.Combine(dir, "be.npy");
            var data = new byte[] { 0x3F, 0x80, 0, 0, 0xC0, 0x20, 0, 0 }; // 1.0f, -2.5f big-endian
            File.WriteAllBytes(p, Npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2L,), }", data, version: 2));
            using var m = NpyReader.Open(p);
            Assert.Equal([1.0, -2.5], m.Tensors[0].ReadDoubles());
        }
        finally { Directory.Delete(dir, true); }
    }

    private static void ExpectBad(byte[] content, string because, string name = "bad.npy", bool read = true)
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            var path = Path.Combine(dir, name);
            File.WriteAllBytes(path, content);
            var e = Assert.Throws<CartanFormatException>(() =>
            {
                using var m = NpyReader.Open(path);
                if (read) foreach (var t in m.Tensors) t.ReadDoubles();
            });
            Assert.Equal(path, e.FilePath);
            Assert.Contains(path, e.Message);
            Assert.DoesNotContain('\n', e.Message);
            Assert.Contains(because, e.Problem, StringComparison.OrdinalIgnoreCase);
        }
        finally { Directory.Delete(dir, true); }
    }

    private const string D23 = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";

    [Fact]
    public void Good_builder_input_opens()
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            var p = Path.Combine(dir, "ok.npy");
            File.WriteAllBytes(p, Npy(D23, F64(1, 2, 3, 4, 5, 6)));
            using var m = NpyReader.Open(p);
            Assert.Equal([1.0, 2, 3, 4, 5, 6], m.Tensors[0].ReadDoubles());
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact] public void Header_claims_more_than_the_data() => ExpectBad(Npy(D23.Replace("(2, 3)", "(3, 3)"), F64(1, 2, 3, 4, 5, 6)), "header says shape (3,3)");
    [Fact] public void Header_claims_less_than_the_data() => ExpectBad(Npy(D23.Replace("(2, 3)", "(2, 2)"), F64(1, 2, 3, 4, 5, 6)), "header says shape (2,2)");
    [Fact] public void Header_shape_overflows() => ExpectBad(Npy(D23.Replace("(2, 3)", "(4294967296, 4294967296)"), F64(1)), "overflow");
    [Fact] public void Negative_dimension() => ExpectBad(Npy(D23.Replace("(2, 3)", "(-2, 3)"), F64(1)), "negative");
    [Fact] public void Truncated_preamble() => ExpectBad([0x93, (byte)'N', (byte)'U', (byte)'M'], "truncated");
    [Fact] public void Bad_magic() => ExpectBad(Encoding.ASCII.GetBytes("NOTNUMPY but long enough"), "magic");
    [Fact] public void Unsupported_version() => ExpectBad([.. Npy(D23, F64(1, 2, 3, 4, 5, 6)).Select((b, i) => i == 6 ? (byte)4 : b)], "version 4.0");
    [Fact] public void Header_length_past_end() => ExpectBad([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, 0xFF, 0xFF, (byte)'{'], "truncated");
    [Fact] public void Complex_dtype_refused() => ExpectBad(Npy(D23.Replace("<f8", "<c16"), new byte[96]), "unsupported dtype '<c16'");
    [Fact] public void Object_dtype_refused() => ExpectBad(Npy(D23.Replace("<f8", "|O"), new byte[48]), "unsupported dtype '|O'");
    [Fact] public void Structured_dtype_refused() => ExpectBad(Npy(D23.Replace("'<f8'", "[('a', '<f4'), ('b', '<f4')]"), new byte[48]), "structured");
    [Fact] public void Multibyte_without_byte_order_refused() => ExpectBad(Npy(D23.Replace("<f8", "|f8"), new byte[48]), "byte order");
    [Fact] public void Malformed_dict() => ExpectBad(Npy(D23.Replace(":", ""), new byte[48]), "malformed");
    [Fact] public void Missing_shape() => ExpectBad(Npy("{'descr': '<f8', 'fortran_order': False}", new byte[8]), "shape");

    // ---------------- npz ----------------

    private static long Allocated() => GC.GetTotalAllocatedBytes(precise: true);

    [Fact]
    public void Zip_bomb_with_honest_declared_size_is_refused_at_open()
    {
        var path = Path.Combine(Dir, "bomb", "bomb_declared.npz");
        long a0 = Allocated();
        var sw = Stopwatch.StartNew();
        var e = Assert.Throws<CartanFormatException>(() => NpyReader.Open(path).Dispose());
        sw.Stop();
        Assert.Contains("zip bomb", e.Problem);
        Assert.Contains(path, e.Message);
        output.WriteLine($"{Path.GetFileName(path)}: refused in {sw.Elapsed.TotalMilliseconds:F1} ms, allocated {(Allocated() - a0) / 1e6:F2} MB");
        Assert.True(sw.Elapsed.TotalSeconds < 2, $"took {sw.Elapsed.TotalSeconds:F2} s");
        Assert.True(Allocated() - a0 < 10_000_000, $"allocated {(Allocated() - a0) / 1e6:F1} MB");
    }

    [Fact]
    public void Zip_bomb_lying_about_its_size_is_stopped_while_inflating()
    {
        var path = Path.Combine(Dir, "bomb", "bomb_lying.npz");
        long a0 = Allocated();
        var sw = Stopwatch.StartNew();
        using var m = NpyReader.Open(path);
        var t = Assert.Single(m.Tensors);
        Assert.Equal([8L, 8L], t.Shape);
        var e = Assert.Throws<CartanFormatException>(() => t.ReadDoubles());
        sw.Stop();
        Assert.Contains("zip bomb", e.Problem);
        Assert.Contains(path, e.Message);
        output.WriteLine($"{Path.GetFileName(path)}: refused in {sw.Elapsed.TotalMilliseconds:F1} ms, allocated {(Allocated() - a0) / 1e6:F2} MB");
        Assert.True(sw.Elapsed.TotalSeconds < 2, $"took {sw.Elapsed.TotalSeconds:F2} s");
        Assert.True(Allocated() - a0 < 10_000_000, $"allocated {(Allocated() - a0) / 1e6:F1} MB");
    }

    [Theory]
    [InlineData("stored.npz")]
    [InlineData("deflated.npz")]
    public void Corrupted_entry_data_fails_crc_or_inflate(string file)
    {
        var bytes = File.ReadAllBytes(Path.Combine(Dir, file));
        // The first entry's data: flip a byte near the end of its local data (past its .npy header).
        int nameLen = BitConverter.ToUInt16(bytes, 26), extraLen = BitConverter.ToUInt16(bytes, 28);
        int csize = BitConverter.ToInt32(bytes, 18);
        if (csize == -1) // zip64 local header: read the sizes from the central directory instead
        {
            int cd = BitConverter.ToInt32(bytes, bytes.Length - 22 + 16);
            csize = BitConverter.ToInt32(bytes, cd + 20);
        }
        int pos = 30 + nameLen + extraLen + csize - 5;
        bytes[pos] ^= 0x10;
        var dir = TestPaths.NewTempDir();
        try
        {
            var p = Path.Combine(dir, file);
            File.WriteAllBytes(p, bytes);
            var e = Assert.Throws<CartanFormatException>(() =>
            {
                using var m = NpyReader.Open(p);
                foreach (var t in m.Tensors) t.ReadDoubles();
            });
            Assert.Contains(p, e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Truncated_npz_is_refused()
    {
        var bytes = File.ReadAllBytes(Path.Combine(Dir, "stored.npz"));
        ExpectBad(bytes[..(bytes.Length - 30)], "end-of-central-directory", "cut.npz");
    }

    [Fact]
    public void Npz_entry_header_lying_about_shape_is_refused()
    {
        var bytes = File.ReadAllBytes(Path.Combine(Dir, "stored.npz"));
        var text = Encoding.Latin1.GetString(bytes);
        int at = text.IndexOf("'shape': (20, 14)", StringComparison.Ordinal);
        Assert.True(at > 0);
        Encoding.Latin1.GetBytes("'shape': (21, 14)").CopyTo(bytes, at);
        ExpectBad(bytes, "header says shape (21,14)", "lie.npz", read: false);
    }

    // ---------------- fuzz ----------------

    [Theory]
    [InlineData("stored.npz", 300, 11)]
    [InlineData("deflated.npz", 300, 12)]
    [InlineData("f4.npy", 150, 13)]
    [InlineData("fortran.npy", 100, 14)]
    [InlineData("v3.npy", 100, 15)]
    [InlineData("bigendian.npy", 50, 16)]
    public void Fuzz(string file, int cases, int seed)
    {
        var s = FuzzHarness.Run(Dir, file, file, cases, seed, NpyReader.Open);
        Assert.Equal(cases, s.Opened + s.Rejected);
        output.WriteLine($"{file}: opened {s.Opened}, rejected {s.Rejected}");
        Assert.True(s.Rejected > cases / 10, $"opened {s.Opened}, rejected {s.Rejected}");
    }
}

using System.Buffers.Binary;
using System.Text;
using Cartan.Formats;

namespace Cartan.Tests.Formats;

/// <summary>GGUF writer: byte layout against a hand-assembled file, round trips through <see cref="GgufReader"/>
/// (every metadata type, arrays, F32/F16 tensors, alignment), and argument checks.</summary>
public class GgufWriterTests
{
    [Fact]
    public void Minimal_file_has_the_spec_layout()
    {
        string dir = TestPaths.NewTempDir();
        try
        {
            string path = Path.Combine(dir, "m.gguf");
            new GgufWriter().AddMetadata("a", 7u).AddTensor("t", [2], [1.5, -2.0]).Write(path);
            // Assembled by hand from the GGUF spec: magic, version 3, 1 tensor, 1 kv; key "a" u32 7;
            // tensor info "t" 1 dim ne0=2 type F32 offset 0; pad to 32; two little-endian floats; pad to 32.
            var e = new List<byte>();
            void U32(uint v) { var b = new byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); e.AddRange(b); }
            void U64(ulong v) { var b = new byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); e.AddRange(b); }
            void Str(string s) { U64((ulong)s.Length); e.AddRange(Encoding.ASCII.GetBytes(s)); }
            e.AddRange("GGUF"u8.ToArray()); U32(3); U64(1); U64(1);
            Str("a"); U32(4); U32(7);
            Str("t"); U32(1); U64(2); U32(0); U64(0);
            while (e.Count % 32 != 0) e.Add(0);
            e.AddRange(BitConverter.GetBytes(1.5f)); e.AddRange(BitConverter.GetBytes(-2.0f));
            while (e.Count % 32 != 0) e.Add(0);
            Assert.Equal(e.ToArray(), File.ReadAllBytes(path));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData(32)]
    [InlineData(64)]
    [InlineData(8)]
    public void Round_trip_through_the_reader(int alignment)
    {
        string dir = TestPaths.NewTempDir();
        try
        {
            string path = Path.Combine(dir, "r.gguf");
            var rng = new Random(alignment);
            double[] a = [.. Enumerable.Range(0, 3 * 5).Select(_ => rng.NextDouble() * 4 - 2)];
            double[] b = [.. Enumerable.Range(0, 7).Select(_ => rng.NextDouble() * 100 - 50)];
            double[] c = [.. Enumerable.Range(0, 2 * 3 * 4).Select(i => (double)i)];
            var w = new GgufWriter(alignment)
                .AddMetadata("u8", (byte)200).AddMetadata("i8", (sbyte)-5).AddMetadata("u16", (ushort)60000)
                .AddMetadata("i16", (short)-30000).AddMetadata("u32", 4000000000u).AddMetadata("i32", -2000000000)
                .AddMetadata("f32", 0.25f).AddMetadata("bool", true).AddMetadata("str", "h\u00e9llo")
                .AddMetadata("u64", ulong.MaxValue).AddMetadata("i64", long.MinValue).AddMetadata("f64", Math.PI)
                .AddMetadata("strs", new[] { "x", "", "\u2581y" }).AddMetadata("ints", new[] { 1, -2, 3 })
                .AddMetadata("floats", new[] { 1.5f, -0.5f }).AddMetadata("bools", new[] { true, false })
                .AddTensor("a", [3, 5], a)
                .AddTensor("b", [7], b, GgufWriter.TensorType.F16)
                .AddTensor("c", [2, 3, 4], c);
            w.Write(path);

            var h = GgufReader.ReadHeader(path);
            Assert.Equal(3u, h.Version);
            Assert.Equal(alignment, h.Alignment);
            var m = h.Metadata;
            Assert.Equal((byte)200, m["u8"]); Assert.Equal((sbyte)-5, m["i8"]); Assert.Equal((ushort)60000, m["u16"]);
            Assert.Equal((short)-30000, m["i16"]); Assert.Equal(4000000000u, m["u32"]); Assert.Equal(-2000000000, m["i32"]);
            Assert.Equal(0.25f, m["f32"]); Assert.Equal(true, m["bool"]); Assert.Equal("h\u00e9llo", m["str"]);
            Assert.Equal(ulong.MaxValue, m["u64"]); Assert.Equal(long.MinValue, m["i64"]); Assert.Equal(Math.PI, m["f64"]);
            Assert.Equal(new object[] { "x", "", "\u2581y" }, (object[])m["strs"]);
            Assert.Equal(new object[] { 1, -2, 3 }, (object[])m["ints"]);
            Assert.Equal(new object[] { 1.5f, -0.5f }, (object[])m["floats"]);
            Assert.Equal(new object[] { true, false }, (object[])m["bools"]);
            Assert.All(h.Tensors, t => Assert.Equal(0, t.Offset % alignment));
            Assert.Equal(0, h.DataStart % alignment);

            using var model = GgufReader.Open(path);
            var ta = model.Find("a")!;
            Assert.Equal(new long[] { 3, 5 }, ta.Shape);
            Assert.Equal("F32", ta.StoredType);
            Assert.Equal(a.Select(x => (double)(float)x), ta.ReadDoubles());
            var tb = model.Find("b")!;
            Assert.Equal("F16", tb.StoredType);
            Assert.Equal(b.Select(x => (double)(Half)x), tb.ReadDoubles());
            var tc = model.Find("c")!;
            Assert.Equal(new long[] { 2, 3, 4 }, tc.Shape);
            Assert.Equal(c, tc.ReadDoubles());
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Bad_arguments_are_refused()
    {
        Assert.Throws<ArgumentException>(() => new GgufWriter(48));
        Assert.Throws<ArgumentException>(() => new GgufWriter().AddMetadata("k", 1u).AddMetadata("k", 2u));
        Assert.Throws<ArgumentException>(() => new GgufWriter().AddMetadata("k", 1.5m));
        Assert.Throws<ArgumentException>(() => new GgufWriter().AddMetadata("k", new object[] { 1 }));
        Assert.Throws<ArgumentException>(() => new GgufWriter().AddMetadata("k", new decimal[] { 1 }));
        Assert.Throws<ArgumentException>(() => new GgufWriter().AddTensor("t", [2, 2], [1, 2, 3]));
        Assert.Throws<ArgumentException>(() => new GgufWriter().AddTensor("t", [1], [1]).AddTensor("t", [1], [1]));
        Assert.Throws<ArgumentException>(() => new GgufWriter().AddTensor("t", [-1], []));
        Assert.Throws<ArgumentException>(() => new GgufWriter(64).AddMetadata("general.alignment", 32u));
        Assert.Throws<ArgumentException>(() => new GgufWriter().AddMetadata("general.alignment", 64u));
    }
}

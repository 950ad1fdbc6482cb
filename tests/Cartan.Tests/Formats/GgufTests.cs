using System.Text;
using System.Text.Json;
using Cartan.Formats;
using Cartan.Formats.Gguf;

namespace Cartan.Tests.Formats;

/// <summary>
/// GGUF reader: golden values from numpy (Fixtures/gguf/make_gguf.py dequantises the blocks it wrote, independently of
/// Cartan), metadata, routing, hand-built malformed headers and mutation fuzzing.
/// </summary>
public class GgufTests
{
    private static string Dir => TestPaths.Fixture("gguf");

    private static JsonElement Golden()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Dir, "golden.json")));
        return doc.RootElement.Clone();
    }

    public static TheoryData<string, string> GoldenTensors()
    {
        var data = new TheoryData<string, string>();
        foreach (var file in Golden().EnumerateObject())
            foreach (var t in file.Value.EnumerateObject())
                data.Add(file.Name, t.Name);
        return data;
    }

    private static void Close(double expected, double actual, double rel, string what)
    {
        double tol = rel * Math.Max(1e-6, Math.Abs(expected));
        Assert.True(Math.Abs(expected - actual) <= tol, $"{what}: expected {expected:R}, got {actual:R}");
    }

    /// <summary>Σy, Σy² and Σ y_i·(i mod 97 + 1): the checksums make_gguf.py (and the llama.cpp golden) record per tensor.</summary>
    internal static (double Sum, double SumSq, double WeightedSum) Checksums(double[] y)
    {
        double sum = 0, sumsq = 0, wsum = 0;
        for (int i = 0; i < y.Length; i++)
        {
            sum += y[i];
            sumsq += y[i] * y[i];
            wsum += y[i] * (i % 97 + 1);
        }
        return (sum, sumsq, wsum);
    }

    [Theory]
    [MemberData(nameof(GoldenTensors))]
    public void Dequantised_values_match_numpy(string file, string tensor)
    {
        var g = Golden().GetProperty(file).GetProperty(tensor);
        using var model = GgufReader.Open(Path.Combine(Dir, file));
        var t = model.Find(tensor) ?? throw new Xunit.Sdk.XunitException($"{tensor} missing");
        Assert.Equal(g.GetProperty("type").GetString(), t.StoredType);
        Assert.Equal(g.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray(), t.Shape);
        var y = t.ReadDoubles();
        var (sum, sumsq, wsum) = Checksums(y);
        // Sums can cancel: compare them relative to the sum of magnitudes' scale (sqrt(n * sumsq)).
        double scale = Math.Sqrt(y.Length * g.GetProperty("sumsq").GetDouble());
        Assert.True(Math.Abs(sum - g.GetProperty("sum").GetDouble()) <= 1e-9 * scale, $"sum {sum:R} vs {g.GetProperty("sum").GetDouble():R}");
        Assert.True(Math.Abs(wsum - g.GetProperty("wsum").GetDouble()) <= 1e-9 * 97 * scale, $"wsum {wsum:R} vs {g.GetProperty("wsum").GetDouble():R}");
        Close(g.GetProperty("sumsq").GetDouble(), sumsq, 1e-9, "sum of squares");
        var first = g.GetProperty("first").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        for (int i = 0; i < first.Length; i++) Assert.Equal(first[i], y[i], 12);
        Assert.Equal(g.GetProperty("last").GetDouble(), y[^1], 12);
    }

    public static TheoryData<string, string> GoldenMatrices()
    {
        var data = new TheoryData<string, string>();
        foreach (var file in Golden().EnumerateObject())
            foreach (var t in file.Value.EnumerateObject())
                if (t.Value.TryGetProperty("sv", out _)) data.Add(file.Name, t.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(GoldenMatrices))]
    public void Top_singular_values_match_numpy(string file, string tensor)
    {
        var sv = Golden().GetProperty(file).GetProperty(tensor).GetProperty("sv").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        using var model = GgufReader.Open(Path.Combine(Dir, file));
        var t = model.Find(tensor)!;
        var got = GoldenSvd.TopSingularValues(t.ReadDoubles(), (int)t.Shape[0], (int)t.Shape[1], sv.Length);
        for (int i = 0; i < sv.Length; i++) Close(sv[i], got[i], 1e-6, $"{tensor} sigma_{i + 1}");
    }

    [Fact]
    public void Metadata_becomes_hf_style_config()
    {
        using var model = WeightSource.Open(Path.Combine(Dir, "tiny_llama.gguf"));
        Assert.Equal("gguf", model.Format);
        var c = model.Config ?? throw new Xunit.Sdk.XunitException("no config");
        Assert.Equal("llama", c.GetProperty("model_type").GetString());
        Assert.Equal(4, c.GetProperty("num_attention_heads").GetInt32());
        Assert.Equal(2, c.GetProperty("num_key_value_heads").GetInt32());
        Assert.Equal(256, c.GetProperty("hidden_size").GetInt32());
        Assert.Equal(1, c.GetProperty("num_hidden_layers").GetInt32());
        Assert.Equal(512, c.GetProperty("intermediate_size").GetInt32());
        Assert.Equal(256, c.GetProperty("vocab_size").GetInt32());
        Assert.Equal("cartan-tiny-llama", c.GetProperty("gguf").GetProperty("general.name").GetString());
        // ggml ne = [256, 128] for attn_k: row-major shape is [out=128, in=256]
        Assert.Equal([128L, 256L], model.Find("blk.0.attn_k.weight")!.Shape);
        Assert.Equal(12, model.Tensors.Count);
        Assert.Equal(Cartan.Tensors.TensorLayout.OutIn, model.Find("blk.0.ffn_down.weight")!.Layout);
    }

    [Fact]
    public void Header_reads_every_metadata_type_and_custom_alignment()
    {
        var h = GgufReader.ReadHeader(Path.Combine(Dir, "all_types.gguf"));
        Assert.Equal(2u, h.Version);
        Assert.Equal(64, h.Alignment);
        Assert.Equal(0, h.DataStart % 64);
        var m = h.Metadata;
        Assert.Equal((byte)200, m["t.u8"]);
        Assert.Equal((sbyte)-100, m["t.i8"]);
        Assert.Equal((ushort)60000, m["t.u16"]);
        Assert.Equal((short)-30000, m["t.i16"]);
        Assert.Equal(4000000000u, m["t.u32"]);
        Assert.Equal(-2000000000, m["t.i32"]);
        Assert.Equal(1.5f, m["t.f32"]);
        Assert.Equal(true, m["t.bool"]);
        Assert.Equal("héllo", m["t.str"]);
        Assert.Equal((1UL << 63) + 5, m["t.u64"]);
        Assert.Equal(-(1L << 62), m["t.i64"]);
        Assert.Equal(2.25, m["t.f64"]);
        Assert.Equal(new object[] { 1, -2, 3 }, (object[])m["t.arr_i32"]);
        var nested = (object[])m["t.nested"];
        Assert.Equal(3, nested.Length);
        Assert.Equal(new object[] { (byte)1, (byte)2 }, (object[])nested[0]);
        Assert.Empty((object[])nested[1]);
        Assert.Equal(new object[] { (byte)3 }, (object[])nested[2]);
        Assert.Empty((object[])m["t.empty_str_arr"]);
        Assert.All(h.Tensors, t => Assert.Equal(0, t.Offset % 64));
    }

    [Fact]
    public void Folder_with_a_gguf_file_opens_it()
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            File.Copy(Path.Combine(Dir, "all_types.gguf"), Path.Combine(dir, "m.gguf"));
            using var model = WeightSource.Open(dir);
            Assert.Equal("gguf", model.Format);
            Assert.Equal(16, model.Tensors.Count);
            // Same bytes under a name without the extension: sniffed by the GGUF magic.
            File.Copy(Path.Combine(Dir, "all_types.gguf"), Path.Combine(dir, "weights.bin"));
            Assert.Equal("gguf", WeightSource.SniffFile(Path.Combine(dir, "weights.bin")));
        }
        finally { Directory.Delete(dir, true); }
    }

    // ---------------------------------------------------------------- malformed headers

    /// <summary>Writes a GGUF v3 file from parts, so single fields can be made wrong.</summary>
    private sealed class Builder
    {
        public uint Version = 3;
        public ulong? TensorCountOverride, KvCountOverride;
        public readonly List<byte[]> Kvs = [];
        public readonly List<(string Name, ulong[] Ne, uint Type, ulong Offset)> Tensors = [];
        public int DataBytes = 1024;
        public int Alignment = 32;

        public static byte[] Str(string s, ulong? lengthOverride = null)
        {
            var b = Encoding.UTF8.GetBytes(s);
            return [.. BitConverter.GetBytes(lengthOverride ?? (ulong)b.Length), .. b];
        }

        public Builder Kv(string key, uint type, byte[] value) { Kvs.Add([.. Str(key), .. BitConverter.GetBytes(type), .. value]); return this; }

        public Builder Tensor(string name, ulong[] ne, uint type, ulong offset) { Tensors.Add((name, ne, type, offset)); return this; }

        public string Write()
        {
            var o = new List<byte>();
            o.AddRange("GGUF"u8.ToArray());
            o.AddRange(BitConverter.GetBytes(Version));
            o.AddRange(BitConverter.GetBytes(TensorCountOverride ?? (ulong)Tensors.Count));
            o.AddRange(BitConverter.GetBytes(KvCountOverride ?? (ulong)Kvs.Count));
            foreach (var kv in Kvs) o.AddRange(kv);
            foreach (var (name, ne, type, off) in Tensors)
            {
                o.AddRange(Str(name));
                o.AddRange(BitConverter.GetBytes((uint)ne.Length));
                foreach (var n in ne) o.AddRange(BitConverter.GetBytes(n));
                o.AddRange(BitConverter.GetBytes(type));
                o.AddRange(BitConverter.GetBytes(off));
            }
            while (o.Count % Alignment != 0) o.Add(0);
            var rng = new Random(5);
            var data = new byte[DataBytes];
            rng.NextBytes(data);
            o.AddRange(data);
            var path = Path.Combine(TestPaths.NewTempDir(), "t.gguf");
            File.WriteAllBytes(path, [.. o]);
            return path;
        }
    }

    private static string Rejects(Builder b, string fragment)
    {
        var path = b.Write();
        try
        {
            var e = Assert.Throws<CartanFormatException>(() => { using var m = GgufReader.Open(path); foreach (var t in m.Tensors) t.ReadDoubles(); });
            Assert.Contains(fragment, e.Message);
            Assert.DoesNotContain('\n', e.Message);
            return e.Message;
        }
        finally { Directory.Delete(Path.GetDirectoryName(path)!, true); }
    }

    [Fact]
    public void Valid_built_file_opens()
    {
        // The builder itself must produce readable files, or the rejections below would prove nothing.
        var path = new Builder().Kv("general.architecture", 8, Builder.Str("llama"))
            .Tensor("a", [32, 2], 8, 0).Tensor("b", [4], 0, 96).Write();
        try
        {
            using var m = GgufReader.Open(path);
            Assert.Equal([2L, 32L], m.Find("a")!.Shape);
            Assert.Equal(64, m.Find("a")!.ReadDoubles().Length);
            Assert.Equal(4, m.Find("b")!.ReadDoubles().Length);
        }
        finally { Directory.Delete(Path.GetDirectoryName(path)!, true); }
    }

    [Fact]
    public void Huge_string_length_fails_fast()
    {
        var b = new Builder();
        b.Kvs.Add([.. Builder.Str("k", 1UL << 60), .. "k"u8.ToArray()]);
        Rejects(b, "string length");
        Rejects(new Builder().Kv("k", 8, Builder.Str("v", 1UL << 60)), "string length");
    }

    [Fact]
    public void Huge_counts_fail_fast()
    {
        Rejects(new Builder { TensorCountOverride = 1UL << 62 }, "tensor count");
        Rejects(new Builder { KvCountOverride = 1UL << 40 }, "metadata count");
        Rejects(new Builder().Kv("arr", 9, [.. BitConverter.GetBytes(0u), .. BitConverter.GetBytes(1UL << 50)]), "array length");
    }

    [Fact]
    public void Bad_tensor_entries_are_rejected()
    {
        Rejects(new Builder().Tensor("a", [32], 8, 3), "not aligned");
        Rejects(new Builder().Tensor("a", [64], 0, 0).Tensor("b", [64], 0, 128), "overlap");
        Rejects(new Builder().Tensor("a", [32], 99, 0), "unknown ggml type 99");
        Rejects(new Builder().Tensor("a", [1024, 1024], 0, 0), "outside the file");
        Rejects(new Builder().Tensor("a", [33], 8, 0), "not a multiple");
        Rejects(new Builder().Tensor("a", [1UL << 33, 1UL << 33, 1UL << 33], 0, 0), "overflows");
        Rejects(new Builder().Tensor("a", [1UL << 40], 0, 0), "beyond any file");
        Rejects(new Builder().Tensor("a", [4], 0, 0).Tensor("a", [4], 0, 32), "duplicate tensor name");
        Rejects(new Builder().Tensor("a", [1, 1, 1, 1, 1, 1, 1, 1, 1], 0, 0), "dimensions");
    }

    [Fact]
    public void Bad_header_fields_are_rejected()
    {
        Rejects(new Builder { Version = 1 }, "version 1");
        Rejects(new Builder { Version = 7 }, "unsupported GGUF version 7");
        Rejects(new Builder { Version = 0x03000000 }, "big-endian");
        Rejects(new Builder().Kv("general.alignment", 4, BitConverter.GetBytes(48u)), "power of two");
        Rejects(new Builder().Kv("k", 13, [0]), "unknown metadata value type 13");
        Rejects(new Builder().Kv("k", 7, [2]), "bool value");
        Rejects(new Builder().Kv("k", 4, BitConverter.GetBytes(1u)).Kv("k", 4, BitConverter.GetBytes(2u)), "duplicate metadata key");
        byte[] deep = [];
        for (int i = 0; i < 12; i++) deep = [.. BitConverter.GetBytes(9u), .. BitConverter.GetBytes(1UL), .. deep];
        Rejects(new Builder { DataBytes = 64 }.Kv("k", 9, [.. deep, .. BitConverter.GetBytes(0u), .. BitConverter.GetBytes(0UL)]), "nested deeper");
    }

    [Fact]
    public void Every_truncation_of_the_header_is_rejected()
    {
        var src = File.ReadAllBytes(Path.Combine(Dir, "all_types.gguf"));
        var h = GgufReader.ReadHeader(Path.Combine(Dir, "all_types.gguf"));
        var dir = TestPaths.NewTempDir();
        try
        {
            var path = Path.Combine(dir, "cut.gguf");
            for (int len = 0; len < h.DataStart; len += 7)
            {
                File.WriteAllBytes(path, src[..len]);
                Assert.Throws<CartanFormatException>(() => GgufReader.Open(path).Dispose());
            }
            // Cutting into the data section loses the last tensor's bytes.
            File.WriteAllBytes(path, src[..^1]);
            var e = Assert.Throws<CartanFormatException>(() => GgufReader.Open(path).Dispose());
            Assert.Contains("outside the file", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Unknown_but_sized_types_are_listed_as_skipped()
    {
        // IQ4_XS (23): the size is known, the decoder is not: listed in Skipped, not an error.
        var path = new Builder { DataBytes = 176 }.Tensor("iq", [256], 23, 0).Tensor("f", [4], 0, 160).Write();
        try
        {
            using var m = GgufReader.Open(path);
            Assert.Single(m.Skipped);
            Assert.Equal("IQ4_XS", m.Skipped[0].StoredType);
            Assert.Equal([256L], m.Skipped[0].Shape);
            Assert.Equal(4, Assert.Single(m.Tensors).ReadDoubles().Length);
        }
        finally { Directory.Delete(Path.GetDirectoryName(path)!, true); }
    }

    // ---------------------------------------------------------------- fuzz

    [Fact]
    public void Fuzz_all_types()
    {
        var s = FuzzHarness.Run(Dir, "all_types.gguf", "all_types.gguf", 700, 11, GgufReader.Open);
        Assert.True(s.Rejected > 0 && s.Opened > 0, $"opened {s.Opened}, rejected {s.Rejected}");
    }

    [Fact]
    public void Fuzz_tiny_llama_through_weight_source()
    {
        var s = FuzzHarness.Run(Dir, "tiny_llama.gguf", "tiny_llama.gguf", 120, 12);
        Assert.True(s.Rejected > 0 && s.Opened > 0, $"opened {s.Opened}, rejected {s.Rejected}");
    }
}

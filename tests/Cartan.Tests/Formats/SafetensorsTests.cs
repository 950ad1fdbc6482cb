using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Cartan.Formats;
using Cartan.Tensors;
using Xunit.Abstractions;

namespace Cartan.Tests.Formats;

/// <summary>
/// Shared golden checks: golden.json files are written by numpy scripts beside the fixtures
/// (sums with math.fsum, singular values by np.linalg.svd in float64).
/// </summary>
internal static class Golden
{
    public static JsonElement Load(params string[] parts)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(TestPaths.Fixture(parts)));
        return doc.RootElement.Clone();
    }

    public static long[] Shape(JsonElement e) => e.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray();

    /// <summary>Checks decoded values against one golden entry: shape, first/last element, sum, top-10 singular values.</summary>
    public static void CheckTensor(WeightTensor t, JsonElement g)
    {
        Assert.Equal(g.GetProperty("name").GetString(), t.Name);
        Assert.Equal(Shape(g), t.Shape);
        var x = t.ReadDoubles();
        Assert.Equal(t.ElementCount, x.LongLength);
        if (g.TryGetProperty("first", out var first))
        {
            Assert.Equal(first.GetDouble(), x[0]);
            Assert.Equal(g.GetProperty("last").GetDouble(), x[^1]);
        }
        if (g.TryGetProperty("probe", out var probe))
            foreach (var pr in probe.EnumerateArray())
                Assert.Equal(pr[1].GetDouble(), x[pr[0].GetInt64()]);
        double gs = g.GetProperty("sum").GetDouble();
        double s = TestLinalg.Sum(x);
        Assert.True(Math.Abs(s - gs) <= 1e-12 * Math.Max(Math.Abs(gs), 1e-300),
            $"{t.Name}: sum {s:R} vs golden {gs:R}");
        if (g.TryGetProperty("top_sv", out var svEl))
        {
            var want = svEl.EnumerateArray().Select(v => v.GetDouble()).ToArray();
            int rows = (int)t.Shape[0];
            int cols = (int)(t.ElementCount / rows);
            var got = GoldenSvd.SingularValues(x, rows, cols);
            // 1e-6 relative; the Gram route squares the spectrum, so values near zero (rank-deficient fixtures)
            // carry an absolute error of about sqrt(eps) * sigma_max: allow 1e-7 * sigma_max on top.
            for (int i = 0; i < want.Length; i++)
                Assert.True(Math.Abs(got[i] - want[i]) <= 1e-6 * Math.Abs(want[i]) + 1e-7 * want[0],
                    $"{t.Name}: singular value {i} is {got[i]:R}, golden {want[i]:R}");
        }
    }

    public static void CheckModel(WeightModel m, JsonElement golden)
    {
        var entries = golden.GetProperty("tensors").EnumerateArray().ToList();
        Assert.Equal(entries.Select(e => e.GetProperty("name").GetString()), m.Tensors.Select(t => t.Name));
        foreach (var (t, g) in m.Tensors.Zip(entries))
        {
            Assert.Equal(g.GetProperty("dtype").GetString(), t.StoredType);
            CheckTensor(t, g);
        }
    }
}

public class SafetensorsTests(ITestOutputHelper output)
{
    private static string Dir => TestPaths.Fixture("safetensors");

    [Fact]
    public void Small_file_matches_numpy_golden()
    {
        using var m = SafetensorsReader.Open(Path.Combine(Dir, "small.safetensors"));
        Assert.Equal("safetensors", m.Format);
        Assert.Equal(9, m.Tensors.Count);
        Golden.CheckModel(m, Golden.Load("safetensors", "golden.json"));
        Assert.Equal(TensorLayout.OIHW, m.Find("conv.weight")!.Layout);
        Assert.Equal(TensorLayout.Unknown, m.Find("layers.1.f32")!.Layout);
        Assert.Equal([DType.F64, DType.F32, DType.F16, DType.BF16, DType.F32, DType.F32, DType.I8, DType.U8, DType.F32],
            m.Tensors.Select(t => t.DType));
        Assert.Equal([], m.Find("scale")!.Shape);
        Assert.Equal(0.125, m.Find("scale")!.ReadDoubles()[0]);
    }

    [Fact]
    public void Metadata_is_read()
    {
        var md = SafetensorsReader.ReadMetadata(Path.Combine(Dir, "small.safetensors"));
        var want = Golden.Load("safetensors", "golden.json").GetProperty("metadata");
        Assert.Equal(want.EnumerateObject().Count(), md.Count);
        foreach (var p in want.EnumerateObject()) Assert.Equal(p.Value.GetString(), md[p.Name]);
        var idx = SafetensorsReader.ReadMetadata(Path.Combine(Dir, "sharded", "model.safetensors.index.json"));
        Assert.True(long.Parse(idx["total_size"]) > 0);
    }

    [Fact]
    public void Sharded_index_matches_golden_and_folder_open_picks_index()
    {
        var golden = Golden.Load("safetensors", "sharded", "golden.json");
        using (var m = SafetensorsReader.Open(Path.Combine(Dir, "sharded", "model.safetensors.index.json")))
        {
            Golden.CheckModel(m, golden);
            Assert.EndsWith("model-00002-of-00002.safetensors", m.Find("model.layer1.bias")!.File);
        }
        using var viaFolder = WeightSource.Open(Path.Combine(Dir, "sharded"));
        Assert.Equal("safetensors", viaFolder.Format);
        Assert.Equal(4, viaFolder.Tensors.Count);
    }

    [Fact]
    public void Real_langdetect_weights_match_golden()
    {
        var path = Path.Combine(Dir, "langdetect", "langdetect.safetensors");
        Assert.True(File.Exists(Path.Combine(Dir, "langdetect", "LICENSE")));
        using var m = WeightSource.Open(path);
        Assert.Equal(9, m.Tensors.Count);
        Golden.CheckModel(m, Golden.Load("safetensors", "langdetect", "golden.json"));
        Assert.StartsWith("npm @vscode/vscode-languagedetection@1.0.23", SafetensorsReader.ReadMetadata(path)["source"]);
    }

    // ---------------- writer ----------------

    [Fact]
    public void Writer_round_trips_raw_bytes_and_metadata()
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            var rng = new Random(5);
            var a = new byte[6 * 4 * 2]; rng.NextBytes(a);
            var b = new byte[5]; rng.NextBytes(b);
            var c = new byte[3 * 8]; rng.NextBytes(c);
            var path = Path.Combine(dir, "w.safetensors");
            File.WriteAllText(path, "old contents, replaced");
            SafetensorsWriter.Write(path,
                [("a", [6, 4], DType.BF16, a), ("b", [5], DType.U8, b), ("c", [3], DType.I64, c), ("empty", [0, 7], DType.F32, Array.Empty<byte>())],
                new Dictionary<string, string> { ["format"] = "pt", ["who"] = "cartan" });
            Assert.Single(Directory.GetFiles(dir)); // no temp file left behind
            var bytes = File.ReadAllBytes(path);
            long n = BitConverter.ToInt64(bytes, 0);
            Assert.Equal(0, n % 8);
            using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)n));
            Assert.Equal("__metadata__", doc.RootElement.EnumerateObject().First().Name);
            Assert.Equal([.. a, .. b, .. c], bytes[(8 + (int)n)..]);

            using var m = SafetensorsReader.Open(path);
            Assert.Equal(["a", "b", "c", "empty"], m.Tensors.Select(t => t.Name));
            Assert.Equal([DType.BF16, DType.U8, DType.I64, DType.F32], m.Tensors.Select(t => t.DType));
            var bd = m.Find("b")!.ReadDoubles();
            Assert.Equal(b.Select(x => (double)x), bd);
            var cd = m.Find("c")!.ReadDoubles();
            for (int i = 0; i < 3; i++) Assert.Equal((double)BitConverter.ToInt64(c, i * 8), cd[i]);
            Assert.Empty(m.Find("empty")!.ReadDoubles());
            Assert.Equal("cartan", SafetensorsReader.ReadMetadata(path)["who"]);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData(DType.F64)]
    [InlineData(DType.F32)]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    public void Writer_from_doubles_rounds_like_the_target_type(DType dtype)
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            var rng = new Random(11);
            var x = Enumerable.Range(0, 12 * 5).Select(_ => rng.NextDouble() * 8 - 4).ToArray();
            x[0] = 1.0 + 1.0 / 256 + 1.0 / (1 << 20); // just above a bf16 tie (exact in float32): rounds up
            x[1] = 1.0 + 1.0 / 256;         // exact bf16 tie between 1 and 1+1/128: rounds to even (1.0)
            var path = Path.Combine(dir, "d.safetensors");
            SafetensorsWriter.Write(path, [("w", [12, 5], x)], dtype);
            using var m = SafetensorsReader.Open(path);
            var y = m.Tensors.Single().ReadDoubles();
            for (int i = 0; i < x.Length; i++)
            {
                double want = dtype switch
                {
                    DType.F64 => x[i],
                    DType.F32 => (float)x[i],
                    DType.F16 => (double)(Half)x[i],
                    _ => double.NaN,
                };
                if (dtype == DType.BF16)
                {
                    // Nearest bf16 (8 significant bits): within half an ulp, 2^(e-8) for |x| in [2^e, 2^(e+1)).
                    double halfUlp = Math.Pow(2, Math.Floor(Math.Log2(Math.Abs(x[i]))) - 8);
                    Assert.True(Math.Abs(y[i] - x[i]) <= halfUlp, $"{x[i]} -> {y[i]}");
                    Assert.Equal(0u, BitConverter.SingleToUInt32Bits((float)y[i]) & 0xFFFF);
                }
                else Assert.Equal(want, y[i]);
            }
            if (dtype == DType.BF16)
            {
                Assert.Equal(1.0 + 1.0 / 128, y[0]);
                Assert.Equal(1.0, y[1]);
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Writer_rejects_mis_sized_data()
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(Path.Combine(dir, "x.safetensors"),
                [("a", [2, 2], DType.F32, new byte[15])]));
            Assert.Empty(Directory.GetFiles(dir));
        }
        finally { Directory.Delete(dir, true); }
    }

    // ---------------- bad inputs ----------------

    /// <summary>A safetensors file from a literal header and a buffer of the given length.</summary>
    private static byte[] Build(string header, int bufLen, long? declared = null)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var b = new byte[8 + h.Length + bufLen];
        BitConverter.TryWriteBytes(b.AsSpan(0, 8), declared ?? h.Length);
        h.CopyTo(b, 8);
        for (int i = 8 + h.Length; i < b.Length; i++) b[i] = (byte)(i * 7);
        return b;
    }

    private static void ExpectBad(byte[] content, string because, string name = "bad.safetensors")
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            var path = Path.Combine(dir, name);
            File.WriteAllBytes(path, content);
            var e = Assert.Throws<CartanFormatException>(() =>
            {
                using var m = SafetensorsReader.Open(path);
                foreach (var t in m.Tensors) t.ReadDoubles();
            });
            Assert.Equal(path, e.FilePath);
            Assert.Contains(path, e.Message);
            Assert.DoesNotContain('\n', e.Message);
            Assert.Contains(because, e.Problem, StringComparison.OrdinalIgnoreCase);
        }
        finally { Directory.Delete(dir, true); }
    }

    private const string Good = """{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"F16","shape":[4],"data_offsets":[24,32]}}""";

    [Fact]
    public void Good_builder_input_opens() // guards the bad-input tests: they differ from this only in the flaw
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            var path = Path.Combine(dir, "good.safetensors");
            File.WriteAllBytes(path, Build(Good, 32));
            using var m = SafetensorsReader.Open(path);
            Assert.Equal(2, m.Tensors.Count);
            Assert.Equal(6, m.Tensors[0].ReadDoubles().Length);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact] public void Truncated_file() => ExpectBad([1, 0, 0], "truncated");
    [Fact] public void Truncated_buffer() => ExpectBad(Build(Good, 31), "past the end");
    [Fact] public void Header_length_past_end() => ExpectBad(Build(Good, 32, declared: 5000), "past the end of the file");
    [Fact] public void Header_length_absurd() => ExpectBad(Build(Good, 32, declared: long.MaxValue), "limit");
    [Fact] public void Corrupt_json() => ExpectBad(Build(Good.Replace("},\"b\"", "},,\"b\""), 32), "not valid JSON");
    [Fact] public void Json_not_an_object() => ExpectBad(Build("[1,2,3]", 0), "expected an object");
    [Fact] public void Offset_past_end() => ExpectBad(Build(Good.Replace("[24,32]", "[24,40]").Replace("\"shape\":[4]", "\"shape\":[8]"), 32), "past the end");
    [Fact] public void Overlapping_offsets() => ExpectBad(Build(Good.Replace("[24,32]", "[20,28]"), 32), "overlap");
    [Fact] public void Mis_sized_tensor() => ExpectBad(Build(Good.Replace("[2,3]", "[2,2]"), 32), "needs 16");
    [Fact] public void Unknown_dtype() => ExpectBad(Build(Good.Replace("F16", "Q7"), 32), "unknown dtype");
    [Fact] public void Negative_dimension() => ExpectBad(Build(Good.Replace("[4]", "[-4]"), 32), "non-negative");
    [Fact] public void Shape_product_overflows() => ExpectBad(Build(Good.Replace("[4]", "[4294967296,4294967296]"), 32), "overflow");
    [Fact] public void Offsets_reversed() => ExpectBad(Build(Good.Replace("[24,32]", "[32,24]"), 32), "end before");
    [Fact] public void Duplicate_tensor_name() => ExpectBad(Build(Good.Replace("\"b\"", "\"a\""), 32), "twice");
    [Fact] public void Metadata_value_not_string() => ExpectBad(Build("{\"__metadata__\":{\"n\":3}," + Good[1..], 32), "not a string");
    [Fact] public void Missing_data_offsets() => ExpectBad(Build(Good.Replace("\"data_offsets\":[24,32]", "\"offsets\":[24,32]"), 32), "data_offsets");

    [Fact]
    public void Invalid_utf8_in_header()
    {
        var b = Build(Good.Replace("\"b\"", "\"bX\""), 32);
        b[Array.IndexOf(b, (byte)'X')] = 0xFF;
        ExpectBad(b, "UTF-8");
    }

    [Fact] public void Lone_surrogate_escape_in_name() => ExpectBad(Build(Good.Replace("\"b\"", "\"b\\ud800\""), 32), "invalid string");

    [Fact]
    public void Fp8_tensor_is_validated_and_skipped_not_refused()
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            var path = Path.Combine(dir, "f8.safetensors");
            File.WriteAllBytes(path, Build(Good.Replace("\"F16\",\"shape\":[4]", "\"F8_E4M3\",\"shape\":[8]"), 32));
            using var m = SafetensorsReader.Open(path);
            Assert.Single(m.Tensors);
            Assert.Equal("b", Assert.Single(m.Skipped).Name);
        }
        finally { Directory.Delete(dir, true); }
    }

    // ---------------- sharded: paths must stay in the folder ----------------

    private static void ExpectBadIndex(Func<string, string> weightMapFor, string because, Action<string>? setup = null)
    {
        var root = TestPaths.NewTempDir();
        try
        {
            var dir = Path.Combine(root, "model");
            Directory.CreateDirectory(dir);
            foreach (var f in Directory.GetFiles(Path.Combine(Dir, "sharded")))
                File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
            File.Copy(Path.Combine(Dir, "small.safetensors"), Path.Combine(root, "outside.safetensors"));
            setup?.Invoke(root);
            var index = Path.Combine(dir, "model.safetensors.index.json");
            File.WriteAllText(index, "{\"metadata\":{},\"weight_map\":" + weightMapFor(root) + "}");
            var e = Assert.Throws<CartanFormatException>(() => SafetensorsReader.Open(index).Dispose());
            Assert.Contains(index, e.Message);
            Assert.Contains(because, e.Problem, StringComparison.OrdinalIgnoreCase);
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void Shard_path_with_dotdot_is_refused() =>
        ExpectBadIndex(_ => """{"scale":"../outside.safetensors"}""", "climbs out");

    [Fact]
    public void Shard_path_absolute_is_refused() =>
        ExpectBadIndex(root => JsonSerializer.Serialize(new Dictionary<string, string> { ["scale"] = Path.Combine(root, "outside.safetensors") }), "absolute");

    [Fact]
    public void Shard_symlink_escaping_folder_is_refused() =>
        ExpectBadIndex(_ => """{"scale":"link.safetensors"}""", "link",
            root => File.CreateSymbolicLink(Path.Combine(root, "model", "link.safetensors"), Path.Combine(root, "outside.safetensors")));

    [Fact]
    public void Shard_in_symlinked_subfolder_escaping_is_refused() =>
        ExpectBadIndex(_ => """{"scale":"sub/outside.safetensors"}""", "link",
            root => Directory.CreateSymbolicLink(Path.Combine(root, "model", "sub"), root));

    [Fact]
    public void Shard_missing_is_refused() =>
        ExpectBadIndex(_ => """{"scale":"nope.safetensors"}""", "does not exist");

    [Fact]
    public void Weight_map_naming_wrong_shard_is_refused() =>
        ExpectBadIndex(_ => """{"model.embed.weight":"model-00002-of-00002.safetensors","model.layer1.weight":"model-00002-of-00002.safetensors","model.layer1.bias":"model-00002-of-00002.safetensors"}""",
            "does not hold");

    [Fact]
    public void Shard_tensor_missing_from_weight_map_is_refused() =>
        ExpectBadIndex(_ => """{"model.layer1.weight":"model-00002-of-00002.safetensors"}""", "does not assign");

    [Fact]
    public void Symlink_inside_folder_is_accepted()
    {
        var root = TestPaths.NewTempDir();
        try
        {
            foreach (var f in Directory.GetFiles(Path.Combine(Dir, "sharded")))
                File.Copy(f, Path.Combine(root, Path.GetFileName(f)));
            File.Move(Path.Combine(root, "model-00002-of-00002.safetensors"), Path.Combine(root, "real2.safetensors"));
            File.CreateSymbolicLink(Path.Combine(root, "model-00002-of-00002.safetensors"), "real2.safetensors");
            using var m = SafetensorsReader.Open(Path.Combine(root, "model.safetensors.index.json"));
            Golden.CheckModel(m, Golden.Load("safetensors", "sharded", "golden.json"));
        }
        finally { Directory.Delete(root, true); }
    }

    // ---------------- fuzz ----------------

    [Fact]
    public void Fuzz_single_file()
    {
        var s = FuzzHarness.Run(Dir, "small.safetensors", "small.safetensors", 600, seed: 101, SafetensorsReader.Open);
        Assert.Equal(600, s.Opened + s.Rejected);
        output.WriteLine($"small.safetensors: opened {s.Opened}, rejected {s.Rejected}");
        Assert.True(s.Rejected > 100 && s.Opened > 10, $"opened {s.Opened}, rejected {s.Rejected}");
    }

    [Fact]
    public void Fuzz_sharded_index_and_shard()
    {
        var d = Path.Combine(Dir, "sharded");
        var a = FuzzHarness.Run(d, "model.safetensors.index.json", "model.safetensors.index.json", 250, seed: 202, SafetensorsReader.Open);
        var b = FuzzHarness.Run(d, "model-00001-of-00002.safetensors", "model.safetensors.index.json", 250, seed: 303, SafetensorsReader.Open);
        output.WriteLine($"index: opened {a.Opened}, rejected {a.Rejected}; shard: opened {b.Opened}, rejected {b.Rejected}");
        Assert.True(a.Rejected > 50 && b.Rejected > 50, $"index rejected {a.Rejected}, shard rejected {b.Rejected}");
    }

    // ---------------- mapping, not reading ----------------

    [Fact]
    public void Large_sparse_file_opens_fast_without_reading_it()
    {
        var dir = TestPaths.NewTempDir();
        var path = Path.Combine(dir, "big.safetensors");
        try
        {
            const int tensors = 20;
            const long rows = 4096, cols = 1024; // 16 MiB of F32 each: 320 MiB in all
            var sb = new StringBuilder("{");
            long off = 0, per = rows * cols * 4;
            for (int i = 0; i < tensors; i++)
            {
                if (i > 0) sb.Append(',');
                sb.Append($"\"layer.{i}.weight\":{{\"dtype\":\"F32\",\"shape\":[{rows},{cols}],\"data_offsets\":[{off},{off + per}]}}");
                off += per;
            }
            sb.Append('}');
            var header = Encoding.UTF8.GetBytes(sb.ToString());
            using (var fs = new FileStream(path, FileMode.CreateNew))
            {
                fs.Write(BitConverter.GetBytes((long)header.Length));
                fs.Write(header);
                fs.SetLength(8 + header.Length + off);
            }
            Assert.True(new FileInfo(path).Length > 320L * 1024 * 1024);

            using var proc = Process.GetCurrentProcess();
            proc.Refresh();
            long before = proc.WorkingSet64;
            var sw = Stopwatch.StartNew();
            using (var m = WeightSource.Open(path))
            {
                long elements = 0;
                foreach (var t in m.Tensors) elements += t.ElementCount;
                Assert.Equal(tensors * rows * cols, elements);
                Assert.All(m.Tensors, t => Assert.Equal(new[] { rows, cols }, t.Shape));
                sw.Stop();
                proc.Refresh();
                long grew = proc.WorkingSet64 - before;
                output.WriteLine($"320 MiB sparse file: open + enumerate {sw.Elapsed.TotalMilliseconds:F1} ms, working set grew {grew / 1024.0 / 1024:F1} MiB");
                Assert.True(sw.Elapsed.TotalSeconds < 1, $"open + enumerate took {sw.Elapsed.TotalSeconds:F3} s");
                Assert.True(grew < 100L * 1024 * 1024, $"working set grew {grew / (1024 * 1024)} MiB");
                // One tensor can still be read (zeros from the hole).
                var seven = m.Tensors[7].ReadDoubles();
                Assert.Equal(rows * cols, seven.LongLength);
                Assert.True(seven.All(v => v == 0.0));
            }
        }
        finally
        {
            File.Delete(path);
            Directory.Delete(dir, true);
        }
    }
}

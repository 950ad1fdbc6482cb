using System.IO.Compression;
using System.Text.Json;
using Cartan.Formats;

namespace Cartan.Tests.Formats;

/// <summary>
/// PyTorch zip checkpoints: every value against torch's own reading (Fixtures/pytorch/make_pytorch.py), the pickle
/// allowlist, archives rebuilt with one field made wrong, and mutation fuzzing.
/// </summary>
public class PytorchTests
{
    private static string Dir => TestPaths.Fixture("pytorch");

    private static JsonElement Golden()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Dir, "golden.json")));
        return doc.RootElement.Clone();
    }

    private static readonly Dictionary<string, string> TorchToStored = new()
    {
        ["float32"] = "F32", ["float16"] = "F16", ["bfloat16"] = "BF16", ["float64"] = "F64",
        ["int64"] = "I64", ["int32"] = "I32", ["bool"] = "BOOL", ["uint8"] = "U8", ["int8"] = "I8", ["int16"] = "I16",
    };

    [Theory]
    [InlineData("model.pt")]
    [InlineData("model_p4.pt")]
    [InlineData("nested.pt")]
    public void Every_value_matches_torch(string file)
    {
        var golden = Golden().GetProperty(file);
        using var model = WeightSource.Open(Path.Combine(Dir, file));
        Assert.Equal("pytorch", model.Format);
        Assert.Equal(golden.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal),
            model.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));
        foreach (var g in golden.EnumerateObject())
        {
            var t = model.Find(g.Name)!;
            Assert.Equal(g.Value.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray(), t.Shape);
            Assert.Equal(TorchToStored[g.Value.GetProperty("dtype").GetString()!], t.StoredType);
            var expected = g.Value.GetProperty("values").EnumerateArray().Select(x => x.GetDouble()).ToArray();
            Assert.Equal(expected, t.ReadDoubles());   // exact: every stored type widens exactly to float64
        }
    }

    [Fact]
    public void Fixture_covers_strided_views_offsets_and_all_dtypes()
    {
        // Guards the fixture itself: if torch stopped keeping strides, the strided path would go untested.
        var g = Golden().GetProperty("model.pt");
        Assert.Equal([1, 7], g.GetProperty("extra.transposed").GetProperty("stride").EnumerateArray().Select(x => x.GetInt32()));
        Assert.Equal(15, g.GetProperty("extra.slice").GetProperty("offset").GetInt32());
        var dtypes = g.EnumerateObject().Select(p => p.Value.GetProperty("dtype").GetString()).ToHashSet();
        Assert.Superset(new HashSet<string?> { "float32", "float16", "bfloat16", "float64", "int64", "int32", "bool" }, dtypes);
    }

    [Fact]
    public void Nested_checkpoint_flattens_with_dotted_names()
    {
        using var model = PytorchReader.Open(Path.Combine(Dir, "nested.pt"));
        Assert.NotNull(model.Find("model.fc.weight"));
        Assert.NotNull(model.Find("model.bn.num_batches_tracked"));
        Assert.All(model.Tensors, t => Assert.StartsWith("model.", t.Name));
        Assert.Equal([8L, 16L], model.Find("model.fc.weight")!.Shape);
        Assert.Equal(Cartan.Tensors.TensorLayout.OIHW, model.Find("model.conv.weight")!.Layout);
    }

    [Fact]
    public void Malicious_global_is_refused_not_run()
    {
        var path = Path.Combine(Dir, "malicious.pt");
        Assert.Equal("pytorch", WeightSource.SniffFile(path));
        var e = Assert.Throws<CartanFormatException>(() => WeightSource.Open(path));
        Assert.Contains("refusing to load a pickle that calls os.getcwd", e.Message);
    }

    [Theory]
    [InlineData(new byte[] { 0x80, 0x04, 0x8c, 8, (byte)'b', (byte)'u', (byte)'i', (byte)'l', (byte)'t', (byte)'i', (byte)'n', (byte)'s', 0x8c, 4, (byte)'e', (byte)'v', (byte)'a', (byte)'l', 0x93, (byte)'.' }, "builtins.eval")]
    [InlineData(new byte[] { 0x80, 0x02, (byte)'c', (byte)'t', (byte)'o', (byte)'r', (byte)'c', (byte)'h', 0x0a, (byte)'l', (byte)'o', (byte)'a', (byte)'d', 0x0a, (byte)'.' }, "torch.load")]
    public void Forbidden_globals_are_refused(byte[] pickle, string callee)
    {
        var path = BuildZip("evil", new() { ["evil/data.pkl"] = pickle });
        var e = Assert.Throws<CartanFormatException>(() => PytorchReader.Open(path).Dispose());
        Assert.Contains($"refusing to load a pickle that calls {callee}", e.Message);
    }

    [Fact]
    public void Allowed_but_not_callable_global_is_refused()
    {
        // torch.FloatStorage is allowlisted as a persistent-id tag; calling it through REDUCE must still be refused.
        byte[] p = [0x80, 0x02, .. "ctorch\nFloatStorage\n"u8.ToArray(), (byte)')', (byte)'R', (byte)'.'];
        var e = Assert.Throws<CartanFormatException>(() => PytorchReader.Open(BuildZip("a", new() { ["a/data.pkl"] = p })).Dispose());
        Assert.Contains("refusing to load a pickle that calls torch.FloatStorage", e.Message);
    }

    /// <summary>Copies model.pt with one entry replaced (or removed when the value is null).</summary>
    private static string Rebuild(Func<string, byte[], byte[]?> edit)
    {
        var entries = new Dictionary<string, byte[]>();
        using (var z = ZipFile.OpenRead(Path.Combine(Dir, "model.pt")))
            foreach (var e in z.Entries)
            {
                using var s = e.Open();
                using var ms = new MemoryStream();
                s.CopyTo(ms);
                var b = edit(e.FullName, ms.ToArray());
                if (b is not null) entries[e.FullName] = b;
            }
        return BuildZip("model", entries);
    }

    private static string BuildZip(string stem, Dictionary<string, byte[]> entries)
    {
        var path = Path.Combine(TestPaths.NewTempDir(), stem + ".pt");
        using (var z = ZipFile.Open(path, ZipArchiveMode.Create))
            foreach (var (name, bytes) in entries)
            {
                var e = z.CreateEntry(name, CompressionLevel.NoCompression);
                using var s = e.Open();
                s.Write(bytes);
            }
        return path;
    }

    [Fact]
    public void Rebuilt_copy_reads_like_the_original()
    {
        // The zip rebuilder must produce readable checkpoints, or the rejections below would prove nothing.
        using var m = PytorchReader.Open(Rebuild((_, b) => b));
        using var o = PytorchReader.Open(Path.Combine(Dir, "model.pt"));
        Assert.Equal(o.Find("fc.weight")!.ReadDoubles(), m.Find("fc.weight")!.ReadDoubles());
    }

    [Fact]
    public void Short_storage_is_rejected()
    {
        // Storage '1' holds fc.weight (128 floats); cut it to 100 bytes.
        var e = Assert.Throws<CartanFormatException>(() =>
            PytorchReader.Open(Rebuild((n, b) => n == "model/data/1" ? b[..100] : b)).Dispose());
        Assert.Contains("storage '1'", e.Message);
    }

    [Fact]
    public void Missing_storage_is_rejected()
    {
        var e = Assert.Throws<CartanFormatException>(() =>
            PytorchReader.Open(Rebuild((n, b) => n == "model/data/1" ? null : b)).Dispose());
        Assert.Contains("lacks", e.Message);
    }

    /// <summary>{'w': _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', numel), 2, (2, 2), (2, 1), False, OrderedDict())}:
    /// a 2x2 view over elements 2..5 of its storage.</summary>
    private static byte[] ViewPickle(byte numel) =>
    [
        0x80, 0x02, (byte)'}', (byte)'X', 1, 0, 0, 0, (byte)'w',
        .. "ctorch._utils\n_rebuild_tensor_v2\n"u8.ToArray(),
        (byte)'(', (byte)'(', (byte)'X', 7, 0, 0, 0, .. "storage"u8.ToArray(), .. "ctorch\nFloatStorage\n"u8.ToArray(),
        (byte)'X', 1, 0, 0, 0, (byte)'0', (byte)'X', 3, 0, 0, 0, .. "cpu"u8.ToArray(), (byte)'K', numel, (byte)'t', (byte)'Q',
        (byte)'K', 2, (byte)'K', 2, (byte)'K', 2, 0x86, (byte)'K', 2, (byte)'K', 1, 0x86, 0x89,
        .. "ccollections\nOrderedDict\n"u8.ToArray(), (byte)')', (byte)'R', (byte)'t', (byte)'R', (byte)'s', (byte)'.',
    ];

    [Fact]
    public void View_reaching_past_its_storage_is_rejected()
    {
        var data = new byte[64];
        for (int i = 0; i < 16; i++) BitConverter.TryWriteBytes(data.AsSpan(4 * i), (float)i);
        // Control: a 16-element storage holds the view; it reads elements 2, 3, 4, 5.
        using (var m = PytorchReader.Open(BuildZip("v", new() { ["v/data.pkl"] = ViewPickle(16), ["v/data/0"] = data })))
            Assert.Equal([2.0, 3, 4, 5], m.Find("w")!.ReadDoubles());
        // A 4-element storage does not.
        var e = Assert.Throws<CartanFormatException>(() =>
            PytorchReader.Open(BuildZip("v", new() { ["v/data.pkl"] = ViewPickle(4), ["v/data/0"] = data[..16] })).Dispose());
        Assert.Contains("reaches element 5 of storage '0'", e.Message);
        // A storage that declares more elements than its entry holds.
        e = Assert.Throws<CartanFormatException>(() =>
            PytorchReader.Open(BuildZip("v", new() { ["v/data.pkl"] = ViewPickle(16), ["v/data/0"] = data[..20] })).Dispose());
        Assert.Contains("declares 16 elements", e.Message);
    }

    [Fact]
    public void Non_checkpoints_are_rejected_with_a_reason()
    {
        var legacy = Path.Combine(TestPaths.NewTempDir(), "old.pt");
        File.WriteAllBytes(legacy, [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, (byte)'.']);
        Assert.Contains("legacy", Assert.Throws<CartanFormatException>(() => WeightSource.Open(legacy)).Message);
        var nopkl = BuildZip("x", new() { ["x/other.txt"] = [1, 2, 3] });
        Assert.False(PytorchReader.IsTorchZip(nopkl));
        Assert.Contains("data.pkl", Assert.Throws<CartanFormatException>(() => PytorchReader.Open(nopkl)).Message);
        var badop = BuildZip("y", new() { ["y/data.pkl"] = [0x80, 0x02, 0xff, (byte)'.'] });
        Assert.Contains("opcode", Assert.Throws<CartanFormatException>(() => PytorchReader.Open(badop)).Message);
        var big = BuildZip("z", new() { ["z/data.pkl"] = [0x80, 0x02, (byte)'}', (byte)'.'], ["z/byteorder"] = "big"u8.ToArray() });
        Assert.Contains("byte order", Assert.Throws<CartanFormatException>(() => PytorchReader.Open(big)).Message);
    }

    [Fact]
    public void Cyclic_pickle_does_not_recurse_forever()
    {
        // d = {}; d['self'] = d  (BINPUT 0, then BINGET 0 as the value)
        byte[] p = [0x80, 0x02, (byte)'}', (byte)'q', 0, (byte)'X', 4, 0, 0, 0, .. "self"u8.ToArray(), (byte)'h', 0, (byte)'s', (byte)'.'];
        var e = Assert.Throws<CartanFormatException>(() => PytorchReader.Open(BuildZip("c", new() { ["c/data.pkl"] = p })).Dispose());
        Assert.Contains("deeper", e.Message);
    }

    [Fact]
    public void Folder_with_pytorch_model_bin_opens_it()
    {
        var dir = TestPaths.NewTempDir();
        File.Copy(Path.Combine(Dir, "model.pt"), Path.Combine(dir, "pytorch_model.bin"));
        File.WriteAllText(Path.Combine(dir, "config.json"), """{"model_type":"tiny"}""");
        using var m = WeightSource.Open(dir);
        Assert.Equal("pytorch", m.Format);
        Assert.Equal("tiny", m.Config!.Value.GetProperty("model_type").GetString());
    }

    [Fact]
    public void Fuzz_model_pt()
    {
        var s = FuzzHarness.Run(Dir, "model.pt", "model.pt", 500, 21, PytorchReader.Open);
        Assert.True(s.Rejected > 0 && s.Opened > 0, $"opened {s.Opened}, rejected {s.Rejected}");
    }

    [Fact]
    public void Fuzz_protocol_4_through_weight_source()
    {
        var s = FuzzHarness.Run(Dir, "model_p4.pt", "model_p4.pt", 200, 22);
        Assert.True(s.Rejected > 0, $"opened {s.Opened}, rejected {s.Rejected}");
    }
}

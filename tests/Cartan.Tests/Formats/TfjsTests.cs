using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Cartan.Formats;
using Cartan.Tensors;

namespace Cartan.Tests.Formats;

/// <summary>
/// The tfjs reader against four real npm models (golden values from numpy, Fixtures/tfjs/make_golden.py),
/// handcrafted models with closed-form values, malformed inputs and mutation fuzzing of the small fixtures.
/// </summary>
public class TfjsTests
{
    public static TheoryData<string, string> Fixtures => new()
    {
        { "vscode-languagedetection", "model.json" },
        { "esrgan-slim-x2", "model.json" },
        { "face-api-landmark68tiny", "face_landmark_68_tiny_model-weights_manifest.json" },
        { "energetic-embeddings-en", "model.json" },
    };

    private static string Dir(string folder) => TestPaths.Fixture("tfjs", folder);

    private static JsonElement Golden(string folder)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Dir(folder), "golden.json")));
        return doc.RootElement.Clone();
    }

    private static long[] Longs(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt64()).ToArray();

    private static void Close(double expected, double actual, double tol, string what)
    {
        if (!(Math.Abs(expected - actual) <= tol))
            Assert.Fail($"{what}: expected {expected:R}, got {actual:R} (|diff| {Math.Abs(expected - actual):E3} > {tol:E3})");
    }

    /// <summary>Neumaier-compensated sum (the golden side uses math.fsum, exactly rounded).</summary>
    private static double Sum(double[] v)
    {
        double s = 0, c = 0;
        foreach (var x in v)
        {
            double t = s + x;
            c += Math.Abs(s) >= Math.Abs(x) ? (s - t) + x : (x - t) + s;
            s = t;
        }
        return s + c;
    }

    // ---------------- golden: tensors ----------------

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Golden_TensorNamesShapesTypesSumsAndEnds(string folder, string open)
    {
        var g = Golden(folder);
        using var m = TfjsReader.Open(Path.Combine(Dir(folder), open));
        Assert.Equal("tfjs", m.Format);
        var gt = g.GetProperty("tensors").EnumerateArray().ToList();
        Assert.Equal(g.GetProperty("tensor_count").GetInt32(), m.Tensors.Count);
        Assert.Equal(gt.Count, m.Tensors.Count);
        for (int i = 0; i < gt.Count; i++)
        {
            var e = gt[i];
            var t = m.Tensors[i];
            Assert.Equal(e.GetProperty("name").GetString(), t.Name);
            Assert.Equal(Longs(e.GetProperty("shape")), t.Shape);
            Assert.Equal(e.GetProperty("stored").GetString(), t.StoredType);
            var v = t.ReadDoubles();
            double sum = e.GetProperty("sum").GetDouble(), sumAbs = e.GetProperty("sum_abs").GetDouble();
            Close(sum, Sum(v), 1e-9 * Math.Abs(sum) + 1e-12 * sumAbs, $"{t.Name} sum");
            Close(sumAbs, Sum(v.Select(Math.Abs).ToArray()), 1e-9 * sumAbs, $"{t.Name} sum |x|");
            double sumSq = e.GetProperty("sum_sq").GetDouble();
            Close(sumSq, Sum(v.Select(x => x * x).ToArray()), 1e-9 * sumSq, $"{t.Name} sum x²");
            if (v.Length > 0)
            {
                Assert.Equal(e.GetProperty("first").GetDouble(), v[0]);
                Assert.Equal(e.GetProperty("last").GetDouble(), v[^1]);
            }
        }
    }

    // ---------------- golden: layouts and singular values ----------------

    /// <summary>The canonical out×in matrix of a tensor, built from the reader's layout hint.</summary>
    private static (double[] Data, int Rows, int Cols) Canonical(WeightTensor t)
    {
        var v = t.ReadDoubles();
        var s = t.Shape.Select(x => checked((int)x)).ToArray();
        switch (t.Layout)
        {
            case TensorLayout.OutIn:
                return (v, s[0], s[1]);
            case TensorLayout.InOut:
            {
                int rin = s[0], cout = s[1];
                var w = new double[v.Length];
                for (int i = 0; i < rin; i++) for (int o = 0; o < cout; o++) w[o * rin + i] = v[i * cout + o];
                return (w, cout, rin);
            }
            case TensorLayout.HWIO:
            {
                int kh = s[0], kw = s[1], ci = s[2], co = s[3];
                var w = new double[v.Length];
                int cols = ci * kh * kw;
                for (int y = 0; y < kh; y++)
                for (int x = 0; x < kw; x++)
                for (int i = 0; i < ci; i++)
                for (int o = 0; o < co; o++)
                    w[o * cols + (i * kh + y) * kw + x] = v[((y * kw + x) * ci + i) * co + o];
                return (w, co, cols);
            }
            default:
                throw new InvalidOperationException($"{t.Name}: no canonical view for layout {t.Layout}");
        }
    }

    /// <summary>
    /// Layouts and canonical shapes of every 2-D/4-D float tensor; top-10 singular values of every such tensor whose
    /// Gram side is at most <paramref name="maxGram"/> (every one, with the LAPACK SVD of <see cref="GoldenSvd"/>).
    /// </summary>
    [Theory]
    [InlineData("vscode-languagedetection", "model.json", int.MaxValue, 0)]
    [InlineData("esrgan-slim-x2", "model.json", int.MaxValue, 0)]
    [InlineData("face-api-landmark68tiny", "face_landmark_68_tiny_model-weights_manifest.json", int.MaxValue, 0)]
    [InlineData("energetic-embeddings-en", "model.json", int.MaxValue, 0)]
    public void Golden_LayoutsCanonicalShapesAndTop10SingularValues(string folder, string open, int maxGram, int largerAllowed)
    {
        var g = Golden(folder);
        using var m = TfjsReader.Open(Path.Combine(Dir(folder), open));
        int checkedCount = 0, larger = 0, shapesOnly = 0;
        foreach (var e in g.GetProperty("tensors").EnumerateArray())
        {
            if (!e.TryGetProperty("top_sv", out var svs)) continue;
            var t = m.Find(e.GetProperty("name").GetString()!)!;
            Assert.Equal(e.GetProperty("layout").GetString(), t.Layout.ToString());
            var (data, rows, cols) = Canonical(t);
            Assert.Equal(Longs(e.GetProperty("canonical_shape")), new long[] { rows, cols });
            if (Math.Min(rows, cols) > maxGram && larger++ >= largerAllowed) { shapesOnly++; continue; }
            var expected = svs.EnumerateArray().Select(x => x.GetDouble()).ToArray();
            var got = GoldenSvd.SingularValues(data, rows, cols);
            Assert.True(got.Length >= expected.Length, $"{t.Name}: {got.Length} singular values");
            for (int i = 0; i < expected.Length; i++)
                Close(expected[i], got[i], 1e-6 * expected[i] + 1e-9 * expected[0], $"{t.Name} σ{i + 1}");
            checkedCount++;
        }
        Assert.True(checkedCount > 0);
        Assert.True(shapesOnly <= 6, $"{shapesOnly} matrices had only their shapes checked");
    }

    [Fact]
    public void TestLinalg_SingularValuesInClosedForm()
    {
        // diag(3, 4) padded with a zero row, in both orientations.
        Assert.Equal([4.0, 3.0], GoldenSvd.SingularValues([3, 0, 0, 4, 0, 0], 3, 2));
        Assert.Equal([4.0, 3.0], GoldenSvd.SingularValues([3, 0, 0, 0, 4, 0], 2, 3));
        // Rank one u vᵀ: σ₁ = |u|·|v|, the rest zero.
        double[] u = [1, -2, 2], v = [3, 0, 4, 0];
        var a = new double[12];
        for (int i = 0; i < 3; i++) for (int k = 0; k < 4; k++) a[i * 4 + k] = u[i] * v[k];
        var s = GoldenSvd.SingularValues(a, 3, 4);
        Close(15, s[0], 1e-12, "rank-one σ1");
        Assert.All(s.Skip(1), x => Assert.True(x < 1e-6, $"{x}"));
        // A rotation times diag(5, 2, 1) times another rotation keeps the singular values.
        double c1 = Math.Cos(0.3), s1 = Math.Sin(0.3), c2 = Math.Cos(1.1), s2 = Math.Sin(1.1);
        double[,] l = { { c1, -s1, 0 }, { s1, c1, 0 }, { 0, 0, 1 } }, r = { { 1, 0, 0 }, { 0, c2, -s2 }, { 0, s2, c2 } };
        double[] d = [5, 2, 1];
        var m = new double[9];
        for (int i = 0; i < 3; i++) for (int k = 0; k < 3; k++) for (int j = 0; j < 3; j++) m[i * 3 + k] += l[i, j] * d[j] * r[j, k];
        var sv = GoldenSvd.SingularValues(m, 3, 3);
        for (int i = 0; i < 3; i++) Close(d[i], sv[i], 1e-12, $"rotated σ{i + 1}");
    }

    // ---------------- golden: op graph ----------------

    [Theory]
    [InlineData("vscode-languagedetection")]
    [InlineData("esrgan-slim-x2")]
    [InlineData("energetic-embeddings-en")]
    public void Golden_OpCountsPerScope(string folder)
    {
        var g = Golden(folder);
        using var m = TfjsReader.Open(Path.Combine(Dir(folder), "model.json"));
        Assert.NotNull(m.Graph);
        var expected = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var scope in g.GetProperty("op_counts").EnumerateObject())
            foreach (var op in scope.Value.EnumerateObject())
                expected[$"{scope.Name}|{op.Name}"] = op.Value.GetInt32();
        var actual = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var n in m.Graph!.Nodes)
        {
            var key = $"{n.Scope}|{n.OpType}";
            actual[key] = actual.GetValueOrDefault(key) + 1;
        }
        Assert.Equal(expected, actual);
    }

    [Theory]
    [InlineData("vscode-languagedetection")]
    [InlineData("energetic-embeddings-en")]
    public void Golden_GraphModelEdgesAndAttributes(string folder)
    {
        var g = Golden(folder);
        using var m = TfjsReader.Open(Path.Combine(Dir(folder), "model.json"));
        var main = m.Graph!.Nodes.Where(n => n.Scope == "").ToDictionary(n => n.Name);
        int count = 0;
        foreach (var e in g.GetProperty("edges").EnumerateObject())
        {
            var n = main[e.Name];
            Assert.Equal(e.Value.GetProperty("op").GetString(), n.OpType);
            Assert.Equal(e.Value.GetProperty("inputs").EnumerateArray().Select(x => x.GetString()!), n.Inputs.Distinct());
            Assert.Equal([n.Name], n.Outputs);
            foreach (var a in e.Value.GetProperty("attrs").EnumerateObject())
            {
                object want = a.Value.ValueKind switch
                {
                    JsonValueKind.Number => a.Value.GetInt64(),
                    JsonValueKind.String => a.Value.GetString()!,
                    _ => a.Name is "fused_ops"
                        ? a.Value.EnumerateArray().Select(x => x.GetString()!).ToArray()
                        : a.Value.EnumerateArray().Select(x => x.GetInt64()).ToArray(),
                };
                Assert.Equal(want, n.Attributes[a.Name]);
            }
            count++;
        }
        Assert.True(count >= 3);
        var sig = g.TryGetProperty("signature_outputs", out var so) ? so.EnumerateArray().Select(x => x.GetString()!).ToList() : [];
        Assert.Equal(sig, m.Graph.Outputs.Order(StringComparer.Ordinal).ToList());
        // No input keeps a caret or an output-index suffix.
        Assert.All(m.Graph.Nodes, n => Assert.All(n.Inputs, i => Assert.True(!i.StartsWith('^') && !i.Contains(':'), i)));
    }

    [Fact]
    public void Golden_KerasLayersGraph()
    {
        var g = Golden("esrgan-slim-x2");
        using var m = TfjsReader.Open(Path.Combine(Dir("esrgan-slim-x2"), "model.json"));
        var nodes = m.Graph!.Nodes;
        var edges = g.GetProperty("edges").EnumerateObject().ToList();
        Assert.Equal(edges.Select(e => e.Name), nodes.Select(n => n.Name));
        foreach (var (e, n) in edges.Zip(nodes))
        {
            Assert.Equal(e.Value.EnumerateArray().Select(x => x.GetString()!), n.Inputs);
            Assert.Equal([n.Name], n.Outputs);
        }
        Assert.Equal(["LR"], m.Graph.Inputs);
        Assert.Equal(["SR"], m.Graph.Outputs);
        var f0 = nodes.Single(n => n.Name == "F_0");
        Assert.Equal("Conv2D", f0.OpType);
        Assert.Equal(64L, f0.IntAttr("filters"));
        Assert.Equal(new long[] { 3, 3 }, f0.Attributes["kernel_size"]);
        Assert.Equal("same", f0.StringAttr("padding"));
        // Every kernel is a 4-D HWIO conv kernel named layer/kernel, and its layer exists.
        foreach (var t in m.Tensors.Where(t => t.Name.EndsWith("/kernel")))
        {
            Assert.Equal(TensorLayout.HWIO, t.Layout);
            Assert.Contains(nodes, n => n.Name == t.Name[..t.Name.IndexOf('/')] && n.OpType == "Conv2D");
        }
    }

    // ---------------- specific fixture facts ----------------

    [Fact]
    public void Vscode_StringTensorsAreSkippedByteExactly()
    {
        var dir = Dir("vscode-languagedetection");
        var g = Golden("vscode-languagedetection");
        using var m = TfjsReader.Open(Path.Combine(dir, "model.json"));
        var gs = g.GetProperty("skipped").EnumerateArray().ToList();
        Assert.Equal(gs.Select(s => s.GetProperty("name").GetString()!), m.Skipped.Select(s => s.Name));
        foreach (var (e, s) in gs.Zip(m.Skipped))
        {
            Assert.Equal("STRING", s.StoredType);
            Assert.Equal(Longs(e.GetProperty("shape")), s.Shape);
            Assert.Contains($"({e.GetProperty("bytes").GetInt64()} bytes", s.Reason);
        }
        // The weight right after each string tensor decodes to the golden values: the walk did not drift.
        using var manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "model.json")));
        var weights = manifest.RootElement.GetProperty("weightsManifest")[0].GetProperty("weights").EnumerateArray().ToList();
        var golden = g.GetProperty("tensors").EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!);
        int followers = 0;
        for (int i = 0; i + 1 < weights.Count; i++)
        {
            if (weights[i].GetProperty("dtype").GetString() != "string" || weights[i + 1].GetProperty("dtype").GetString() == "string") continue;
            var next = weights[i + 1].GetProperty("name").GetString()!;
            var v = m.Find(next)!.ReadDoubles();
            Assert.Equal(golden[next].GetProperty("first").GetDouble(), v[0]);
            Assert.Equal(golden[next].GetProperty("last").GetDouble(), v[^1]);
            followers++;
        }
        Assert.True(followers >= 4);
        // The last weight ends exactly at the end of the single shard.
        Assert.Equal(m.Tensors[^1].Name, weights[^1].GetProperty("name").GetString());
    }

    [Fact]
    public void Vscode_MlpKernelsAreQuantisedInOut()
    {
        using var m = TfjsReader.Open(Path.Combine(Dir("vscode-languagedetection"), "model.json"));
        (string, long[])[] mlp = [("dnn/hiddenlayer_0/kernel", [70, 512]), ("dnn/hiddenlayer_1/kernel", [512, 32]), ("dnn/logits/kernel", [32, 54])];
        foreach (var (name, shape) in mlp)
        {
            var t = m.Find(name)!;
            Assert.Equal(shape, t.Shape);
            Assert.Equal(TensorLayout.InOut, t.Layout);
            Assert.Equal("U8-AFFINE", t.StoredType);
            Assert.Equal(DType.Quantized, t.DType);
        }
        Assert.Equal("I32", m.Find("head/ExpandDims/dim")!.StoredType);
        var fused = m.Graph!.Nodes.Single(n => n.Name == "dnn/hiddenlayer_0/Relu");
        Assert.Equal(new[] { "BiasAdd", "Relu" }, fused.Attributes["fused_ops"]);
        Assert.Equal(0L, fused.IntAttr("transpose_b"));
        // Function bodies and the initializer keep their own scopes; the while loop's ":N" inputs are plain names.
        Assert.Contains(m.Graph.Nodes, n => n.Scope == "map_while_body_49115");
        Assert.Contains(m.Graph.Nodes, n => n.Scope == "modelInitializer" && n.OpType == "HashTableV2");
        Assert.Equal(["Placeholder"], m.Graph.Inputs);
    }

    [Fact]
    public void FaceApi_BareManifestReadsAndZeroLayersAreZeros()
    {
        var dir = Dir("face-api-landmark68tiny");
        using var m = TfjsReader.Open(Path.Combine(dir, "face_landmark_68_tiny_model-weights_manifest.json"));
        Assert.Null(m.Graph);
        Assert.Equal(28, m.Tensors.Count);
        foreach (var name in new[] { "dense0/conv2/depthwise_filter", "dense0/conv2/pointwise_filter" })
        {
            var t = m.Find(name)!;
            Assert.Equal(TensorLayout.HWIO, t.Layout);
            var v = t.ReadDoubles();
            Assert.True(v.Length > 0);
            Assert.All(v, x => Assert.Equal(0.0, x));
        }
        var fc = m.Find("fc/weights")!;
        Assert.Equal(TensorLayout.InOut, fc.Layout);
        Assert.Contains(fc.ReadDoubles(), x => x != 0);
    }

    [Fact]
    public void Energetic_GraphModelLayoutsAndShardCrossing()
    {
        var dir = Dir("energetic-embeddings-en");
        using var m = TfjsReader.Open(Path.Combine(dir, "model.json"));
        var qkv = m.Tensors.Single(t => t.Name.EndsWith("Layer_1/TransformerLayer/MultiheadAttention/qkv_transform_single/kernel/part_0"));
        Assert.Equal(new long[] { 1, 1, 512, 1536 }, qkv.Shape);
        Assert.Equal(TensorLayout.HWIO, qkv.Layout);
        var conv = m.Graph!.ConsumersOf(qkv.Name).Single();
        Assert.Equal("Conv2D", conv.OpType);
        Assert.Equal(new long[] { 1, 1, 1, 1 }, conv.Attributes["strides"]);
        Assert.Equal("VALID", conv.StringAttr("padding"));
        Assert.Equal("NHWC", conv.StringAttr("data_format"));
        var ffn = m.Tensors.Single(t => t.Name.EndsWith("Layer_0/TransformerLayer/FFN/conv1/Tensordot/Reshape_1"));
        Assert.Equal(TensorLayout.InOut, ffn.Layout);
        Assert.Equal("MatMul", m.Graph.ConsumersOf(ffn.Name).Single().OpType);
        // The tensors hold 7 shards' worth of bytes: some of them must start in one shard and end in another.
        long shard = new FileInfo(Path.Combine(dir, "group1-shard1of7")).Length;
        long offset = 0, crossing = 0;
        foreach (var t in m.Tensors)
        {
            long bytes = t.ElementCount * 4;
            if (offset / shard != (offset + bytes - 1) / shard) crossing++;
            offset += bytes;
        }
        Assert.True(crossing >= 3, $"{crossing} tensors cross a shard boundary");
        Assert.Equal(Enumerable.Range(1, 7).Sum(i => new FileInfo(Path.Combine(dir, $"group1-shard{i}of7")).Length), offset);
    }

    [Fact]
    public void WeightSource_OpensTfjsFolderAndManifest()
    {
        using var a = WeightSource.Open(Dir("vscode-languagedetection"));
        Assert.Equal("tfjs", a.Format);
        Assert.Equal(130, a.Tensors.Count);
        using var b = WeightSource.Open(Path.Combine(Dir("face-api-landmark68tiny"), "face_landmark_68_tiny_model-weights_manifest.json"));
        Assert.Equal(28, b.Tensors.Count);
    }

    // ---------------- handcrafted models ----------------

    private sealed class Crafted : IDisposable
    {
        public string Dir { get; } = TestPaths.NewTempDir();
        public string Json(string text, string name = "model.json")
        {
            var p = Path.Combine(Dir, name);
            File.WriteAllText(p, text);
            return p;
        }
        public void Bin(string name, byte[] bytes) => File.WriteAllBytes(Path.Combine(Dir, name), bytes);
        public void Dispose() { try { Directory.Delete(Dir, true); } catch (IOException) { } }
    }

    private static byte[] F32(params float[] v)
    {
        var b = new byte[v.Length * 4];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(4 * i), v[i]);
        return b;
    }

    private static byte[] Str(params string[] v)
    {
        var ms = new MemoryStream();
        foreach (var s in v)
        {
            var bytes = Encoding.UTF8.GetBytes(s);
            var len = new byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(len, (uint)bytes.Length);
            ms.Write(len);
            ms.Write(bytes);
        }
        return ms.ToArray();
    }

    [Fact]
    public void Crafted_AllDtypesAndQuantisationsDecodeInClosedForm()
    {
        using var c = new Crafted();
        var u16 = new byte[6];
        BinaryPrimitives.WriteUInt16LittleEndian(u16.AsSpan(0), 0);
        BinaryPrimitives.WriteUInt16LittleEndian(u16.AsSpan(2), 1000);
        BinaryPrimitives.WriteUInt16LittleEndian(u16.AsSpan(4), 65535);
        var f16 = new byte[4];
        BinaryPrimitives.WriteHalfLittleEndian(f16.AsSpan(0), (Half)1.5);
        BinaryPrimitives.WriteHalfLittleEndian(f16.AsSpan(2), (Half)(-0.25));
        var i32 = new byte[8];
        BinaryPrimitives.WriteInt32LittleEndian(i32.AsSpan(0), -7);
        BinaryPrimitives.WriteInt32LittleEndian(i32.AsSpan(4), 123456);
        byte[] all = [.. F32(1f, -2f), .. new byte[] { 0, 10, 255 }, .. Str("ab", "", "xyz"), .. u16, .. f16, .. f16, .. i32, .. new byte[] { 1, 0 }, .. new byte[5]];
        // Split at odd places so that tensors cross shard boundaries (the first split lands inside a float).
        c.Bin("a.bin", all[..3]);
        c.Bin("b.bin", all[3..17]);
        c.Bin("c.bin", []);
        c.Bin("d.bin", all[17..]);
        var path = c.Json("""
        {"format":"layers-model","modelTopology":null,"weightsManifest":[{"paths":["a.bin","./b.bin","c.bin","d.bin"],"weights":[
          {"name":"f","shape":[2],"dtype":"float32"},
          {"name":"q8","shape":[3],"dtype":"float32","quantization":{"dtype":"uint8","scale":0.5,"min":-1.25,"original_dtype":"float32"}},
          {"name":"s","shape":[3],"dtype":"string"},
          {"name":"q16","shape":[3],"dtype":"float32","quantization":{"dtype":"uint16","scale":0.001,"min":2}},
          {"name":"qh","shape":[2],"dtype":"float32","quantization":{"dtype":"float16"}},
          {"name":"h","shape":[1,2],"dtype":"float16"},
          {"name":"i","shape":[2],"dtype":"int32"},
          {"name":"b","shape":[2],"dtype":"bool"}]}]}
        """);
        using var m = TfjsReader.Open(path);
        Assert.Null(m.Graph);
        Assert.Equal(["f", "q8", "q16", "qh", "h", "i", "b"], m.Tensors.Select(t => t.Name));
        Assert.Equal(["F32", "U8-AFFINE", "U16-AFFINE", "F16", "F16", "I32", "BOOL"], m.Tensors.Select(t => t.StoredType));
        Assert.Equal([1.0, -2.0], m.Find("f")!.ReadDoubles());
        Assert.Equal([0 * 0.5 - 1.25, 10 * 0.5 - 1.25, 255 * 0.5 - 1.25], m.Find("q8")!.ReadDoubles());
        Assert.Equal([0 * 0.001 + 2, 1000 * 0.001 + 2, 65535 * 0.001 + 2], m.Find("q16")!.ReadDoubles());
        Assert.Equal([1.5, -0.25], m.Find("qh")!.ReadDoubles());
        Assert.Equal([1.5, -0.25], m.Find("h")!.ReadDoubles());
        Assert.Equal(TensorLayout.InOut, m.Find("h")!.Layout);
        Assert.Equal([-7.0, 123456.0], m.Find("i")!.ReadDoubles());
        Assert.Equal([1.0, 0.0], m.Find("b")!.ReadDoubles());
        var s = Assert.Single(m.Skipped);
        Assert.Equal("s", s.Name);
        Assert.Contains("(17 bytes", s.Reason);
    }

    [Fact]
    public void Crafted_GraphModelLayoutsAndInputNames()
    {
        using var c = new Crafted();
        c.Bin("w.bin", new byte[4 * (6 + 6 + 3 * 3 * 2 * 4 + 6)]);
        // "cw" is [kh,kw,I,O] = [3,3,2,4]; "wt" is read by MatMul with transpose_b; "wi" goes through an Identity.
        var path = c.Json("""
        {"format":"graph-model","modelTopology":{"node":[
          {"name":"x","op":"Placeholder"},
          {"name":"w","op":"Const"},{"name":"wt","op":"Const"},{"name":"cw","op":"Const"},{"name":"wi","op":"Const"},
          {"name":"ident","op":"Identity","input":["wi"]},
          {"name":"mm","op":"MatMul","input":["x:0","w"],"attr":{"transpose_a":{"b":false},"transpose_b":{"b":false}}},
          {"name":"mt","op":"_FusedMatMul","input":["mm","wt:0","^x"],"attr":{"transpose_b":{"b":true},"fused_ops":{"list":{"s":["Qmlhc0FkZA==","UmVsdQ=="]}},"num_args":{"i":"1"},"epsilon":{"f":0.5}}},
          {"name":"cv","op":"_FusedConv2D","input":["mt","cw"],"attr":{"strides":{"list":{"i":["1","2","2","1"]}},"padding":{"s":[83,65,77,69]},"data_format":{"s":"TkhXQw=="},"T":{"type":"DT_FLOAT"}}},
          {"name":"mi","op":"MatMul","input":["cv","ident"],"attr":{"transpose_b":{"b":true}}}
        ]},"signature":{"outputs":{"y":{"name":"mi:0"}}},
        "weightsManifest":[{"paths":["w.bin"],"weights":[
          {"name":"w","shape":[2,3],"dtype":"float32"},{"name":"wt","shape":[3,2],"dtype":"float32"},
          {"name":"cw","shape":[3,3,2,4],"dtype":"float32"},{"name":"wi","shape":[2,3],"dtype":"float32"}]}]}
        """);
        using var m = TfjsReader.Open(path);
        Assert.Equal(TensorLayout.InOut, m.Find("w")!.Layout);
        Assert.Equal(TensorLayout.OutIn, m.Find("wt")!.Layout);
        Assert.Equal(TensorLayout.HWIO, m.Find("cw")!.Layout);
        Assert.Equal(TensorLayout.OutIn, m.Find("wi")!.Layout);
        var g = m.Graph!;
        Assert.Equal(["x"], g.Inputs);
        Assert.Equal(["mi"], g.Outputs);
        var mt = g.Nodes.Single(n => n.Name == "mt");
        Assert.Equal(["mm", "wt", "x"], mt.Inputs);
        Assert.Equal(1L, mt.IntAttr("transpose_b"));
        Assert.Equal(1L, mt.IntAttr("num_args"));
        Assert.Equal(0.5, mt.Attributes["epsilon"]);
        Assert.Equal(new[] { "BiasAdd", "Relu" }, mt.Attributes["fused_ops"]);
        var cv = g.Nodes.Single(n => n.Name == "cv");
        Assert.Equal(new long[] { 1, 2, 2, 1 }, cv.Attributes["strides"]);
        Assert.Equal("SAME", cv.StringAttr("padding"));
        Assert.Equal("NHWC", cv.StringAttr("data_format"));
        Assert.Equal("DT_FLOAT", cv.StringAttr("T"));
        Assert.Equal(["mm", "mt"], g.ConsumersOf("x").Select(n => n.Name));
    }

    [Fact]
    public void Crafted_KerasSequentialAndKeras3Inbound()
    {
        using var c = new Crafted();
        c.Bin("w.bin", F32(1, 2, 3, 4, 5, 6, 0.5f, -0.5f));
        var path = c.Json("""
        {"format":"layers-model","modelTopology":{"class_name":"Sequential","config":{"name":"s","layers":[
          {"class_name":"Dense","config":{"name":"d1","units":2,"use_bias":true,"activation":"relu"}},
          {"class_name":"Conv2DTranspose","config":{"name":"up","filters":1}},
          {"class_name":"Dropout","config":{"name":"drop","rate":0.25}}]}},
         "weightsManifest":[{"paths":["w.bin"],"weights":[
           {"name":"d1/kernel","shape":[3,2],"dtype":"float32"},{"name":"up/kernel","shape":[1,1,1,2],"dtype":"float32"}]}]}
        """);
        using (var m = TfjsReader.Open(path))
        {
            var n = m.Graph!.Nodes;
            Assert.Equal(["d1", "up", "drop"], n.Select(x => x.Name));
            Assert.Equal(["Dense", "Conv2DTranspose", "Dropout"], n.Select(x => x.OpType));
            Assert.Empty(n[0].Inputs);
            Assert.Equal(["d1"], n[1].Inputs);
            Assert.Equal(["up"], n[2].Inputs);
            Assert.Equal(2L, n[0].IntAttr("units"));
            Assert.Equal(1L, n[0].IntAttr("use_bias"));
            Assert.Equal(0.25, n[2].Attributes["rate"]);
            Assert.Equal(TensorLayout.InOut, m.Find("d1/kernel")!.Layout);
            Assert.Equal(TensorLayout.Unknown, m.Find("up/kernel")!.Layout);
            Assert.Equal([1.0, 2, 3, 4, 5, 6], m.Find("d1/kernel")!.ReadDoubles());
        }
        var k3 = c.Json("""
        {"format":"layers-model","modelTopology":{"model_config":{"class_name":"Functional","config":{"name":"f","layers":[
          {"class_name":"InputLayer","name":"in","config":{"name":"in"},"inbound_nodes":[]},
          {"class_name":"Dense","name":"a","config":{"name":"a"},"inbound_nodes":[{"args":[{"class_name":"__keras_tensor__","config":{"shape":[null,3],"keras_history":["in",0,0]}}],"kwargs":{}}]},
          {"class_name":"Concatenate","name":"cat","config":{"name":"cat"},"inbound_nodes":[{"args":[[{"class_name":"__keras_tensor__","config":{"keras_history":["in",0,0]}},{"class_name":"__keras_tensor__","config":{"keras_history":["a",0,0]}}]],"kwargs":{}}]}],
          "input_layers":[["in",0,0]],"output_layers":["cat",0,0]}}},
         "weightsManifest":[{"paths":["w.bin"],"weights":[{"name":"a/kernel","shape":[3,2],"dtype":"float32"}]}]}
        """, "k3.json");
        using var m3 = TfjsReader.Open(k3);
        Assert.Equal(["in", "a"], m3.Graph!.Nodes.Single(n => n.Name == "cat").Inputs);
        Assert.Equal(["in"], m3.Graph.Nodes.Single(n => n.Name == "a").Inputs);
        Assert.Equal(["in"], m3.Graph.Inputs);
        Assert.Equal(["cat"], m3.Graph.Outputs);
    }

    [Fact]
    public void Crafted_TrailingShardBytesAreAllowed()
    {
        using var c = new Crafted();
        c.Bin("w.bin", [.. F32(3f), 9, 9, 9]);
        var path = c.Json("""[{"paths":["w.bin"],"weights":[{"name":"x","shape":[],"dtype":"float32"}]}]""");
        using var m = TfjsReader.Open(path);
        Assert.Equal([3.0], m.Find("x")!.ReadDoubles());
        Assert.Empty(m.Skipped);
    }

    // ---------------- bad inputs ----------------

    public static TheoryData<string, string, string> BadManifests => new()
    {
        { "escape-dotdot", """[{"paths":["../w.bin"],"weights":[]}]""", "escapes" },
        { "escape-absolute", """[{"paths":["/etc/passwd"],"weights":[]}]""", "relative" },
        { "escape-backslash", """[{"paths":["..\\w.bin"],"weights":[]}]""", "relative" },
        { "escape-url", """[{"paths":["http://x/w.bin"],"weights":[]}]""", "relative" },
        { "missing-shard", """[{"paths":["nope.bin"],"weights":[]}]""", "nope.bin" },
        { "too-short", """[{"paths":["w.bin"],"weights":[{"name":"big","shape":[5],"dtype":"float32"}]}]""", "'big'" },
        { "too-short-second", """[{"paths":["w.bin"],"weights":[{"name":"a","shape":[3],"dtype":"float32"},{"name":"b2","shape":[1],"dtype":"int32"}]}]""", "'b2'" },
        { "quant-scale-string", """[{"paths":["w.bin"],"weights":[{"name":"q","shape":[2],"dtype":"float32","quantization":{"dtype":"uint8","scale":"0.1","min":0}}]}]""", "scale" },
        { "quant-missing-min", """[{"paths":["w.bin"],"weights":[{"name":"q","shape":[2],"dtype":"float32","quantization":{"dtype":"uint8","scale":0.1}}]}]""", "min" },
        { "quant-unknown", """[{"paths":["w.bin"],"weights":[{"name":"q","shape":[2],"dtype":"float32","quantization":{"dtype":"int4","scale":0.1,"min":0}}]}]""", "int4" },
        { "quant-not-object", """[{"paths":["w.bin"],"weights":[{"name":"q","shape":[2],"dtype":"float32","quantization":[1]}]}]""", "quantization" },
        { "quant-nan-scale", """[{"paths":["w.bin"],"weights":[{"name":"q","shape":[2],"dtype":"float32","quantization":{"dtype":"uint8","scale":1e999,"min":0}}]}]""", "scale" },
        { "negative-dim", """[{"paths":["w.bin"],"weights":[{"name":"n","shape":[-1],"dtype":"float32"}]}]""", "negative" },
        { "fraction-dim", """[{"paths":["w.bin"],"weights":[{"name":"n","shape":[1.5],"dtype":"float32"}]}]""", "integer" },
        { "string-dim", """[{"paths":["w.bin"],"weights":[{"name":"n","shape":["2"],"dtype":"float32"}]}]""", "integer" },
        { "overflow-dims", """[{"paths":["w.bin"],"weights":[{"name":"n","shape":[4294967296,4294967296],"dtype":"float32"}]}]""", "overflow" },
        { "overflow-bytes", """[{"paths":["w.bin"],"weights":[{"name":"n","shape":[3074457345618258603],"dtype":"float32"}]}]""", "'n'" },
        { "unknown-dtype", """[{"paths":["w.bin"],"weights":[{"name":"n","shape":[1],"dtype":"float128"}]}]""", "float128" },
        { "name-number", """[{"paths":["w.bin"],"weights":[{"name":7,"shape":[1],"dtype":"float32"}]}]""", "name" },
        { "paths-not-array", """[{"paths":"w.bin","weights":[]}]""", "paths" },
        { "no-weights-key", """[{"paths":["w.bin"]}]""", "weights" },
        { "not-json", """[{"paths":["w.bin"],""", "JSON" },
        { "model-no-manifest", """{"format":"graph-model","modelTopology":{"node":[]}}""", "weightsManifest" },
        { "graph-node-no-op", """{"format":"graph-model","modelTopology":{"node":[{"name":"a"}]},"weightsManifest":[]}""", "op" },
        { "graph-bad-bool", """{"format":"graph-model","modelTopology":{"node":[{"name":"a","op":"MatMul","attr":{"transpose_b":{"b":"yes"}}}]},"weightsManifest":[]}""", "transpose_b" },
        { "graph-bad-int", """{"format":"graph-model","modelTopology":{"node":[{"name":"a","op":"X","attr":{"n":{"i":"12x"}}}]},"weightsManifest":[]}""", "integer" },
        { "keras-no-class", """{"format":"layers-model","modelTopology":{"config":{"layers":[]}},"weightsManifest":[]}""", "class_name" },
        { "string-lying-length", """[{"paths":["w.bin"],"weights":[{"name":"liar","shape":[1],"dtype":"string"}]}]""", "'liar'" },
        { "string-too-many", """[{"paths":["w.bin"],"weights":[{"name":"many","shape":[100],"dtype":"string"}]}]""", "'many'" },
        { "quantised-string", """[{"paths":["w.bin"],"weights":[{"name":"qs","shape":[1],"dtype":"string","quantization":{"dtype":"uint8","scale":1,"min":0}}]}]""", "quantised" },
    };

    [Theory]
    [MemberData(nameof(BadManifests))]
    public void Bad_InputIsRejectedWithOneLineNamingTheFile(string name, string json, string mention)
    {
        using var c = new Crafted();
        // 12 bytes: three floats, or a string whose u32 length (1000) lies.
        var bytes = F32(1, 2, 3);
        if (name.StartsWith("string-lying")) BinaryPrimitives.WriteUInt32LittleEndian(bytes, 1000);
        c.Bin("w.bin", bytes);
        var path = c.Json(json, name + ".json");
        var e = Assert.Throws<CartanFormatException>(() => { using var m = TfjsReader.Open(path); foreach (var t in m.Tensors) t.ReadDoubles(); });
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains(name + ".json", e.Message);
        Assert.Contains(mention, e.Message);
    }

    [Fact]
    public void Bad_SymlinkLeadingOutOfTheFolderIsRejected()
    {
        using var outside = new Crafted();
        outside.Bin("secret.bin", F32(1, 2));
        using var c = new Crafted();
        File.CreateSymbolicLink(Path.Combine(c.Dir, "w.bin"), Path.Combine(outside.Dir, "secret.bin"));
        Directory.CreateSymbolicLink(Path.Combine(c.Dir, "sub"), outside.Dir);
        var a = c.Json("""[{"paths":["w.bin"],"weights":[{"name":"x","shape":[2],"dtype":"float32"}]}]""", "a.json");
        var e = Assert.Throws<CartanFormatException>(() => TfjsReader.Open(a));
        Assert.Contains("link", e.Message);
        var b = c.Json("""[{"paths":["sub/secret.bin"],"weights":[{"name":"x","shape":[2],"dtype":"float32"}]}]""", "b.json");
        e = Assert.Throws<CartanFormatException>(() => TfjsReader.Open(b));
        Assert.Contains("link", e.Message);
        // A link that stays inside the folder is fine.
        c.Bin("real.bin", F32(4, 5));
        File.CreateSymbolicLink(Path.Combine(c.Dir, "inner.bin"), Path.Combine(c.Dir, "real.bin"));
        var ok = c.Json("""[{"paths":["inner.bin"],"weights":[{"name":"x","shape":[2],"dtype":"float32"}]}]""", "ok.json");
        using var m = TfjsReader.Open(ok);
        Assert.Equal([4.0, 5.0], m.Find("x")!.ReadDoubles());
    }

    [Fact]
    public void Bad_NoSuchFile()
    {
        var e = Assert.Throws<CartanFormatException>(() => TfjsReader.Open(Path.Combine(TestPaths.Fixtures, "tfjs", "absent.json")));
        Assert.Contains("absent.json", e.Message);
    }

    // ---------------- fuzz ----------------

    [Theory]
    [InlineData("vscode-languagedetection", "model.json", "model.json", 300, 11)]
    [InlineData("vscode-languagedetection", "group1-shard1of1.bin", "model.json", 250, 12)]
    [InlineData("esrgan-slim-x2", "model.json", "model.json", 300, 13)]
    [InlineData("esrgan-slim-x2", "group1-shard1of1.bin", "model.json", 200, 14)]
    [InlineData("face-api-landmark68tiny", "face_landmark_68_tiny_model-weights_manifest.json", "face_landmark_68_tiny_model-weights_manifest.json", 300, 15)]
    [InlineData("face-api-landmark68tiny", "face_landmark_68_tiny_model.bin", "face_landmark_68_tiny_model-weights_manifest.json", 150, 16)]
    public void Fuzz_MutatedFixturesOpenOrFailCleanly(string folder, string target, string open, int cases, int seed)
    {
        var stats = FuzzHarness.Run(Dir(folder), target, open, cases, seed, TfjsReader.Open);
        Assert.Equal(cases, stats.Opened + stats.Rejected);
        Assert.True(stats.Rejected > 0, "no mutation was rejected");
    }
}

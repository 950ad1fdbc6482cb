using System.Text;
using System.Text.Json;
using Cartan.Formats;
using Cartan.Tensors;

namespace Cartan.Tests.Formats;

/// <summary>Golden values (computed by Fixtures/onnx/make_golden.py with the onnx package and numpy), graph, layouts, bad input and fuzz for the ONNX reader.</summary>
public class OnnxTests
{
    internal static string Dir(params string[] parts) => TestPaths.Fixture(["onnx", .. parts]);

    public static TheoryData<string> SmallGoldenFixtures() => new()
    {
        "generated/dtypes/model.onnx",
        "generated/gemm/model.onnx",
        "generated/if/model.onnx",
        "generated/external/model.onnx",
        "testdata/Conv1d_groups/model.onnx",
        "testdata/Conv2d/model.onnx",
        "testdata/ConvTranspose2d/model.onnx",
        "testdata/Linear/model.onnx",
        "testdata/constant/model.onnx",
        "testdata/non_float_params/model.onnx",
        "testdata/sequence_model2/model.onnx",
        "silero_vad/silero_vad_v5.onnx",
    };

    [Theory]
    [MemberData(nameof(SmallGoldenFixtures))]
    public void Matches_golden(string rel) => GoldenCheck.Check(Dir(rel));

    [Fact]
    public void PpOcrV4_recogniser_matches_golden()
    {
        // Every spectrum in the golden file, the three 480×480 kernels included.
        int checkedSv = GoldenCheck.Check(Dir("ppocr_rec", "ch_PP-OCRv4_rec_infer.onnx"));
        Assert.Equal(47, checkedSv);
    }

    [Fact]
    public void PpOcrV4_paddle_matmuls_are_in_out_and_weights_come_from_constants()
    {
        using var m = OnnxReader.Open(Dir("ppocr_rec", "ch_PP-OCRv4_rec_infer.onnx"));
        Assert.Equal("onnx", m.Format);
        Assert.NotNull(m.Graph);
        var constOutputs = m.Graph!.Nodes.Where(n => n.OpType == "Constant").SelectMany(n => n.Outputs).ToHashSet();
        Assert.All(m.Tensors, t => Assert.Contains(t.Name, constOutputs));
        var linear = m.Tensors.Where(t => t.Name.StartsWith("linear_") && t.Name.EndsWith(".w_0")).ToList();
        Assert.NotEmpty(linear);
        Assert.All(linear, t => Assert.Equal(TensorLayout.InOut, t.Layout));
        Assert.All(m.Tensors.Where(t => t.Name.StartsWith("conv2d_") && t.Shape.Length == 4), t => Assert.Equal(TensorLayout.OIHW, t.Layout));
    }

    [Fact]
    public void Gemm_matmul_conv_and_transpose_layouts()
    {
        using var m = OnnxReader.Open(Dir("generated", "gemm", "model.onnx"));
        TensorLayout L(string n) => m.Find(n)!.Layout;
        Assert.Equal(TensorLayout.OutIn, L("gemm_t1_w"));
        Assert.Equal(TensorLayout.InOut, L("gemm_t0_w"));
        Assert.Equal(TensorLayout.InOut, L("matmul_w"));
        Assert.Equal(TensorLayout.OutIn, L("transposed_w"));      // Transpose([1,0]) -> MatMul
        Assert.Equal(TensorLayout.InOut, L("transposed_gemm_w")); // Transpose -> Gemm(transB=1)
        Assert.Equal(TensorLayout.OIHW, L("conv_w"));
        Assert.Equal(TensorLayout.IOHW, L("convt_w"));

        var g = m.Graph!;
        var gemm = g.Nodes.Single(n => n.Name == "gemm_t1");
        Assert.Equal(1L, gemm.IntAttr("transB"));
        Assert.Equal(0.5, (double)gemm.Attributes["alpha"]);
        Assert.Null(g.Nodes.Single(n => n.Name == "gemm_t0").IntAttr("transB"));
        Assert.Equal(new long[] { 1, 1, 1, 1 }, (long[])g.Nodes.Single(n => n.Name == "conv0").Attributes["pads"]);
        Assert.Equal(new long[] { 1, 0 }, (long[])g.Nodes.Single(n => n.Name == "tr0").Attributes["perm"]);
        Assert.Equal(["x", "img", "c2in"], g.Inputs);
        Assert.Equal(["h5", "c1", "c2"], g.Outputs);
        Assert.Equal(["x", "gemm_t1_w"], gemm.Inputs);
        Assert.Equal(["h1"], gemm.Outputs);
    }

    [Fact]
    public void If_Loop_and_Scan_subgraphs_give_tensors_and_scoped_nodes()
    {
        using var m = OnnxReader.Open(Dir("generated", "if", "model.onnx"));
        // File order: the If node stores else_branch before then_branch (onnx.helper sorts attributes by name).
        Assert.Equal(["main_w", "else_w", "else_c", "then_w", "then_c", "loop_w", "scan_w"], m.Tensors.Select(t => t.Name));
        var g = m.Graph!;
        Assert.Equal(["If", "Loop", "Scan"], g.Nodes.Where(n => n.Scope == "").Select(n => n.OpType));
        Assert.Equal(["Cast", "MatMul", "Cast", "Add", "Identity"], g.Nodes.Where(n => n.Scope == "Scan_0/body").Select(n => n.OpType));
        Assert.Equal(1L, g.Nodes.Single(n => n.OpType == "Scan").IntAttr("num_scan_inputs"));
        Assert.Equal("F16", m.Find("scan_w")!.StoredType);
        Assert.Equal(TensorLayout.InOut, m.Find("scan_w")!.Layout);
        Assert.Equal(["Constant", "MatMul", "Add"], g.Nodes.Where(n => n.Scope == "If_0/then_branch").Select(n => n.OpType));
        Assert.Equal(["Constant", "Gemm"], g.Nodes.Where(n => n.Scope == "If_0/else_branch").Select(n => n.OpType));
        Assert.Equal(["Identity", "MatMul"], g.Nodes.Where(n => n.Scope == "Loop_0/body").Select(n => n.OpType));
        Assert.Equal(TensorLayout.InOut, m.Find("then_w")!.Layout);
        Assert.Equal(TensorLayout.OutIn, m.Find("else_w")!.Layout);
        Assert.Equal(TensorLayout.InOut, m.Find("loop_w")!.Layout);
        Assert.Equal(TensorLayout.Unknown, m.Find("main_w")!.Layout);
        Assert.Equal(DType.F64, m.Find("else_c")!.DType);
        Assert.Equal("F64", m.Find("else_c")!.StoredType);
    }

    [Fact]
    public void Silero_weights_live_in_nested_if_branches()
    {
        using var m = OnnxReader.Open(Dir("silero_vad", "silero_vad_v5.onnx"));
        var g = m.Graph!;
        Assert.Contains(g.Nodes, n => n.OpType == "If" && n.Scope == "" && n.Name == "If_0");
        Assert.Contains(g.Nodes, n => n.OpType == "Conv" && n.Scope == "If_0/else_branch");
        Assert.Contains(g.Nodes, n => n.OpType == "Conv" && n.Scope == "If_0/then_branch");
        Assert.Contains(g.Nodes, n => n.Scope.StartsWith("If_0/else_branch/") && n.Scope.EndsWith("/then_branch"));
        Assert.Equal(["input", "state", "sr"], g.Inputs);
        var conv = m.Tensors.Where(t => t.Name.EndsWith("encoder.0.reparam_conv.weight")).ToList();
        Assert.Equal(2, conv.Count); // one per branch of If_0
        Assert.All(conv, t => Assert.Equal(TensorLayout.OIHW, t.Layout));
        Assert.All(conv, t => Assert.Equal(3, t.Shape.Length));
    }

    [Fact]
    public void Raw_and_typed_encodings_decode_to_the_same_values()
    {
        using var m = OnnxReader.Open(Dir("generated", "dtypes", "model.onnx"));
        foreach (var (dt, stored) in new[] { ("f16", "F16"), ("f64", "F64"), ("i8", "I8"), ("u8", "U8"), ("i32", "I32"), ("i64", "I64"), ("f32", "F32"), ("bf16", "BF16") })
        {
            var raw = m.Find(dt + "_raw")!;
            var typed = m.Find(dt + "_typed")!;
            Assert.Equal(stored, raw.StoredType);
            Assert.Equal(stored, typed.StoredType);
            Assert.Equal(raw.Shape, typed.Shape);
            Assert.Equal(raw.ReadDoubles(), typed.ReadDoubles());
        }
        Assert.Equal([-128.0, -1, 0, 127], m.Find("i8_unpacked")!.ReadDoubles());
        Assert.Equal([5.0, -7, 8589934592, -34359738368], m.Find("i64_unpacked")!.ReadDoubles());
        Assert.Equal([1.0, 0, 1], m.Find("bool_raw")!.ReadDoubles());
        Assert.Equal("BOOL", m.Find("bool_raw")!.StoredType);
        Assert.Equal([2.5], m.Find("scalar_f32")!.ReadDoubles());
        Assert.Empty(m.Find("scalar_f32")!.Shape);
        Assert.Empty(m.Find("empty_f32")!.ReadDoubles());
        var s = Assert.Single(m.Skipped);
        Assert.Equal("names", s.Name);
        Assert.Contains("string", s.Reason);
        Assert.Null(m.Find("names"));
        Assert.Equal(TensorLayout.InOut, m.Find("const_w")!.Layout);
    }

    [Fact]
    public void External_data_is_mapped_from_the_sibling_file()
    {
        var dir = Dir("generated", "external");
        using var m = OnnxReader.Open(Path.Combine(dir, "model.onnx"));
        var a = m.Find("ext_a")!;
        Assert.Equal(Path.Combine(dir, "weights.bin"), a.File);
        Assert.Equal(TensorLayout.InOut, a.Layout);
        // weights.bin = 16 zero bytes, then ext_a (f32 6x4), then ext_b (f64 3): check against the file bytes directly.
        var bytes = File.ReadAllBytes(Path.Combine(dir, "weights.bin"));
        var expectA = Enumerable.Range(0, 24).Select(i => (double)BitConverter.ToSingle(bytes, 16 + 4 * i)).ToArray();
        var expectB = Enumerable.Range(0, 3).Select(i => BitConverter.ToDouble(bytes, 16 + 96 + 8 * i)).ToArray();
        Assert.Equal(expectA, a.ReadDoubles());
        Assert.Equal(expectB, m.Find("ext_b")!.ReadDoubles());
    }

    [Fact]
    public void Graph_is_returned_by_WeightSource_too()
    {
        using var m = WeightSource.Open(Dir("generated", "gemm", "model.onnx"));
        Assert.Equal("onnx", m.Format);
        Assert.Equal(9, m.Graph!.Nodes.Count);
    }

    // ------------------------------------------------------------------ bad input

    private static CartanFormatException Rejects(string path, string? containing = null)
    {
        var e = Assert.Throws<CartanFormatException>(() => { using var m = OnnxReader.Open(path); foreach (var t in m.Tensors) t.ReadDoubles(); });
        Assert.Equal(path, e.FilePath);
        Assert.DoesNotContain('\n', e.Message);
        if (containing is not null) Assert.Contains(containing, e.Message);
        return e;
    }

    private static string Write(string dir, string name, byte[] bytes)
    {
        var p = Path.Combine(dir, name);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    [Fact]
    public void Truncated_files_are_rejected()
    {
        var src = File.ReadAllBytes(Dir("generated", "if", "model.onnx"));
        var tmp = TestPaths.NewTempDir();
        try
        {
            // The graph is one length-delimited field of the model; every cut inside it must be detected.
            foreach (var len in new[] { src.Length - 1, src.Length - 17, src.Length / 2, 40 })
                Rejects(Write(tmp, $"cut{len}.onnx", src[..len]), "past the end");
            Rejects(Write(tmp, "empty.onnx", []), "no graph");
        }
        finally { Directory.Delete(tmp, true); }
    }

    [Fact]
    public void Varint_overflow_is_rejected()
    {
        var tmp = TestPaths.NewTempDir();
        try
        {
            byte[] eleven = [0x08, .. Enumerable.Repeat((byte)0xFF, 10), 0x01];
            Rejects(Write(tmp, "v1.onnx", eleven), "varint");
            byte[] tenHigh = [0x08, .. Enumerable.Repeat((byte)0xFF, 9), 0x7F];
            Rejects(Write(tmp, "v2.onnx", tenHigh), "64 bits");
            // A packed int64 dims varint that overflows, inside a valid tensor.
            var t = Pb.Msg(Pb.Bytes(1, [.. Enumerable.Repeat((byte)0x80, 10), 0x02]), Pb.Varint(2, 1), Pb.Str(8, "w"));
            Rejects(Write(tmp, "v3.onnx", Pb.Model(Pb.Bytes(5, t))), "varint");
        }
        finally { Directory.Delete(tmp, true); }
    }

    [Fact]
    public void Length_past_parent_end_is_rejected()
    {
        var tmp = TestPaths.NewTempDir();
        try
        {
            // graph (field 7) holds 4 bytes; inside it, a node (field 1) claims 50 bytes.
            byte[] bad = [0x3A, 0x04, 0x0A, 50, 0x00, 0x00];
            var e = Rejects(Write(tmp, "len.onnx", bad), "past the end of its parent");
            Assert.Contains("byte", e.Message);
            // A huge 64-bit length at top level.
            Rejects(Write(tmp, "len2.onnx", [0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x00]), "past the end");
        }
        finally { Directory.Delete(tmp, true); }
    }

    [Fact]
    public void Shape_and_byte_mismatches_name_the_tensor()
    {
        var tmp = TestPaths.NewTempDir();
        try
        {
            byte[] Tensor(string name, long[] dims, int type, params byte[][] data) =>
                Pb.Msg([.. dims.Select(d => Pb.Varint(1, (ulong)d)), Pb.Varint(2, (ulong)type), Pb.Str(8, name), .. data]);
            Rejects(Write(tmp, "raw.onnx", Pb.Model(Pb.Bytes(5, Tensor("w_raw", [2, 3], 1, Pb.Bytes(9, new byte[20]))))), "'w_raw'");
            Rejects(Write(tmp, "typed.onnx", Pb.Model(Pb.Bytes(5, Tensor("w_typed", [2, 3], 1, Pb.Bytes(4, new byte[20]))))), "'w_typed'");
            Rejects(Write(tmp, "odd.onnx", Pb.Model(Pb.Bytes(5, Tensor("w_odd", [2], 1, Pb.Bytes(4, new byte[7]))))), "multiple of 4");
            Rejects(Write(tmp, "neg.onnx", Pb.Model(Pb.Bytes(5, Tensor("w_neg", [unchecked((long)ulong.MaxValue), 2], 1)))), "negative dimension");
            Rejects(Write(tmp, "ovf.onnx", Pb.Model(Pb.Bytes(5, Tensor("w_ovf", [1L << 40, 1L << 40], 1, Pb.Bytes(9, new byte[4]))))), "overflows");
            Rejects(Write(tmp, "nodata.onnx", Pb.Model(Pb.Bytes(5, Tensor("w_none", [3], 1)))), "'w_none'");
            Rejects(Write(tmp, "newline.onnx", Pb.Model(Pb.Bytes(5, Tensor("bad\nname", [3], 1)))), "'bad?name'");
            Rejects(Write(tmp, "wrongfield.onnx", Pb.Model(Pb.Bytes(5, Tensor("w_f", [1], 11, Pb.Bytes(4, new byte[4]))))), "float_data");
            // A Constant node whose value disagrees with its shape: named by the node's output.
            var node = Pb.Msg(Pb.Str(2, "const_out"), Pb.Str(4, "Constant"),
                Pb.Bytes(5, Pb.Msg(Pb.Str(1, "value"), Pb.Varint(20, 4), Pb.Bytes(5, Tensor("", [4], 1, Pb.Bytes(9, new byte[12]))))));
            Rejects(Write(tmp, "const.onnx", Pb.Model(Pb.Bytes(1, node))), "'const_out'");
        }
        finally { Directory.Delete(tmp, true); }
    }

    private static byte[] ExternalModel(string location, long offset = 0, long length = 16) =>
        Pb.Model(Pb.Bytes(5, Pb.Msg(Pb.Varint(1, 4), Pb.Varint(2, 1), Pb.Str(8, "ext"), Pb.Varint(14, 1),
            Pb.Bytes(13, Pb.Msg(Pb.Str(1, "location"), Pb.Str(2, location))),
            Pb.Bytes(13, Pb.Msg(Pb.Str(1, "offset"), Pb.Str(2, offset.ToString()))),
            Pb.Bytes(13, Pb.Msg(Pb.Str(1, "length"), Pb.Str(2, length.ToString()))))));

    [Fact]
    public void External_data_escaping_the_folder_is_rejected()
    {
        var tmp = TestPaths.NewTempDir();
        try
        {
            var inner = Directory.CreateDirectory(Path.Combine(tmp, "model")).FullName;
            File.WriteAllBytes(Path.Combine(tmp, "outside.bin"), new byte[4096]);
            // The generated fixture: location "../outside.bin" (outside.bin exists, so only the escape rule can reject it).
            var fixture = Path.Combine(inner, "escape.onnx");
            File.Copy(Dir("generated", "external_escape", "model.onnx"), fixture);
            Rejects(fixture, "escapes the model folder");
            Rejects(Write(inner, "abs.onnx", ExternalModel(Path.Combine(tmp, "outside.bin"))), "absolute");
            Rejects(Write(inner, "dots.onnx", ExternalModel("sub/../../outside.bin")), "escapes");
            File.CreateSymbolicLink(Path.Combine(inner, "link.bin"), Path.Combine(tmp, "outside.bin"));
            Rejects(Write(inner, "link.onnx", ExternalModel("link.bin")), "symbolic link");
            Directory.CreateSymbolicLink(Path.Combine(inner, "linkdir"), tmp);
            Rejects(Write(inner, "linkdir.onnx", ExternalModel("linkdir/outside.bin")), "symbolic link");
            // Inside the folder but the range is outside the file / the length disagrees with the shape.
            File.WriteAllBytes(Path.Combine(inner, "w.bin"), new byte[32]);
            Rejects(Write(inner, "range.onnx", ExternalModel("w.bin", offset: 24)), "outside");
            Rejects(Write(inner, "length.onnx", ExternalModel("w.bin", length: 12)), "does not match");
            Rejects(Write(inner, "missing.onnx", ExternalModel("nope.bin")), "not found");
            // And the well-formed one opens.
            using var ok = OnnxReader.Open(Write(inner, "ok.onnx", ExternalModel("w.bin", offset: 16)));
            Assert.Equal(new double[4], ok.Tensors[0].ReadDoubles());
        }
        finally { Directory.Delete(tmp, true); }
    }

    [Fact]
    public void Deep_nesting_is_rejected()
    {
        // graph -> If node -> then_branch graph -> ... 40 times: more than 64 message levels.
        byte[] graph = [];
        for (int i = 0; i < 40; i++)
        {
            var attr = Pb.Msg(Pb.Str(1, "then_branch"), Pb.Varint(20, 5), Pb.Bytes(6, graph));
            graph = Pb.Msg(Pb.Bytes(1, Pb.Msg(Pb.Str(4, "If"), Pb.Bytes(5, attr))));
        }
        var tmp = TestPaths.NewTempDir();
        try { Rejects(Write(tmp, "deep.onnx", Pb.Model(graph)), "nested deeper"); }
        finally { Directory.Delete(tmp, true); }
    }

    [Fact]
    public void Groups_and_field_zero_are_rejected()
    {
        var tmp = TestPaths.NewTempDir();
        try
        {
            Rejects(Write(tmp, "group.onnx", [0x0B, 0x0C]), "wire type");
            Rejects(Write(tmp, "zero.onnx", [0x00, 0x01]), "field number");
        }
        finally { Directory.Delete(tmp, true); }
    }

    // ------------------------------------------------------------------ fuzz

    public static TheoryData<string, int, int> FuzzCases() => new()
    {
        { "generated/dtypes", 300, 11 },
        { "generated/gemm", 250, 12 },
        { "generated/if", 250, 13 },
        { "generated/external", 150, 14 },
        { "testdata/Conv2d", 100, 15 },
        { "testdata/Linear", 100, 16 },
        { "testdata/sequence_model2", 80, 17 },
        { "testdata/constant", 60, 18 },
    };

    [Theory]
    [MemberData(nameof(FuzzCases))]
    public void Fuzz_small_fixtures(string dir, int cases, int seed)
    {
        var stats = FuzzHarness.Run(Dir(dir), "model.onnx", "model.onnx", cases, seed, OnnxReader.Open);
        Assert.Equal(cases, stats.Opened + stats.Rejected);
        Assert.True(stats.Rejected > 0, "no mutation was rejected");
    }

    [Fact]
    public void Fuzz_external_weights_file()
    {
        var stats = FuzzHarness.Run(Dir("generated", "external"), "weights.bin", "model.onnx", 100, 21, OnnxReader.Open);
        Assert.Equal(100, stats.Opened + stats.Rejected);
        Assert.True(stats.Rejected > 0); // truncations of weights.bin cut the tensors' ranges
    }

    [Fact]
    public void Fuzz_real_models_briefly()
    {
        var s1 = FuzzHarness.Run(Dir("silero_vad"), "silero_vad_v5.onnx", "silero_vad_v5.onnx", 60, 31, OnnxReader.Open);
        var s2 = FuzzHarness.Run(Dir("ppocr_rec"), "ch_PP-OCRv4_rec_infer.onnx", "ch_PP-OCRv4_rec_infer.onnx", 40, 32, OnnxReader.Open);
        Assert.Equal(100, s1.Opened + s1.Rejected + s2.Opened + s2.Rejected);
    }

    [Fact]
    public void Test_svd_matches_closed_forms()
    {
        // Rank one u vᵀ: σ = |u||v|. Diagonal: σ = |d| sorted.
        double[] u = [1, 2, 2], v = [3, 4];
        var a = new double[6];
        for (int i = 0; i < 3; i++) for (int j = 0; j < 2; j++) a[i * 2 + j] = u[i] * v[j];
        var sv = GoldenSvd.TopSingularValues(a, 3, 2, 10);
        Assert.Equal(15, sv[0], 12);
        Assert.Equal(0, sv[1], 6);
        var d = new double[16];
        double[] diag = [-3, 7, 0.5, 2];
        for (int i = 0; i < 4; i++) d[i * 4 + i] = diag[i];
        Assert.Equal([7.0, 3, 2, 0.5], GoldenSvd.TopSingularValues(d, 4, 4, 10).Select(x => Math.Round(x, 12)));
        // A rotation scaled by 2: both singular values are 2 (tests the Jacobi sweep on a full matrix).
        double c = Math.Cos(0.3), s = Math.Sin(0.3);
        Assert.All(GoldenSvd.TopSingularValues([2 * c, -2 * s, 2 * s, 2 * c], 2, 2, 2), x => Assert.Equal(2, x, 12));
    }
}

/// <summary>Compares an opened model with the golden.json beside it.</summary>
internal static class GoldenCheck
{
    /// <summary>Checks everything; singular values only where the Gram side is at most <paramref name="maxGramSide"/>. Returns how many spectra were compared.</summary>
    public static int Check(string path, int maxGramSide = int.MaxValue)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(path)!, "golden.json")));
        var g = doc.RootElement;
        using var m = OnnxReader.Open(path);
        var gt = g.GetProperty("tensors").EnumerateArray().ToList();
        Assert.Equal(g.GetProperty("tensor_count").GetInt32(), m.Tensors.Count);
        Assert.Equal(gt.Count, m.Tensors.Count);
        Assert.Equal(g.GetProperty("skipped").EnumerateArray().Select(e => e.GetString()!), m.Skipped.Select(s => s.Name));
        var layouts = g.GetProperty("layouts").EnumerateObject().ToDictionary(p => p.Name, p => Enum.Parse<TensorLayout>(p.Value.GetString()!));
        int svChecked = 0;
        for (int i = 0; i < gt.Count; i++)
        {
            var e = gt[i];
            var t = m.Tensors[i];
            string name = e.GetProperty("name").GetString()!;
            Assert.Equal(name, t.Name);
            Assert.Equal(e.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()), t.Shape);
            Assert.Equal(e.GetProperty("dtype").GetString(), t.StoredType);
            Assert.Equal(layouts.GetValueOrDefault(name, TensorLayout.Unknown), t.Layout);
            var x = t.ReadDoubles();
            double sum = 0, abs = 0;
            foreach (var v in x) { sum += v; abs += Math.Abs(v); }
            double gs = e.GetProperty("sum").GetDouble();
            Assert.True(Math.Abs(sum - gs) <= 1e-9 * Math.Max(Math.Abs(gs), abs) + 1e-300,
                $"{name}: sum {sum:R} vs golden {gs:R}");
            if (e.TryGetProperty("sv", out var svEl))
            {
                var gsv = svEl.EnumerateArray().Select(v => v.GetDouble()).ToArray();
                int rows = (int)t.Shape[0];
                int cols = (int)(t.ElementCount / rows);
                if (Math.Min(rows, cols) > maxGramSide) continue;
                var ours = GoldenSvd.TopSingularValues(x, rows, cols, 10);
                Assert.Equal(gsv.Length, ours.Length);
                for (int k = 0; k < gsv.Length; k++)
                    Assert.True(Math.Abs(ours[k] - gsv[k]) <= 1e-6 * gsv[k] + 1e-10 * gsv[0],
                        $"{name}: σ{k} {ours[k]:R} vs golden {gsv[k]:R}");
                svChecked++;
            }
        }
        if (maxGramSide == int.MaxValue) Assert.Equal(gt.Count(e => e.TryGetProperty("sv", out _)), svChecked);

        var graph = m.Graph!;
        Assert.Equal(g.GetProperty("node_count").GetInt32(), graph.Nodes.Count);
        var counts = graph.Nodes.GroupBy(n => $"{n.Scope}|{n.OpType}").ToDictionary(k => k.Key, k => k.Count());
        var gc = g.GetProperty("op_counts").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());
        Assert.Equal(gc.OrderBy(k => k.Key, StringComparer.Ordinal), counts.OrderBy(k => k.Key, StringComparer.Ordinal));
        Assert.Equal(g.GetProperty("inputs").EnumerateArray().Select(v => v.GetString()!), graph.Inputs);
        Assert.Equal(g.GetProperty("outputs").EnumerateArray().Select(v => v.GetString()!), graph.Outputs);
        return svChecked;
    }
}

/// <summary>A few protobuf writers for hand-made bad inputs.</summary>
internal static class Pb
{
    public static byte[] VarintBytes(ulong v)
    {
        var b = new List<byte>();
        while (v >= 0x80) { b.Add((byte)(v | 0x80)); v >>= 7; }
        b.Add((byte)v);
        return [.. b];
    }

    public static byte[] Varint(int field, ulong v) => [.. VarintBytes((ulong)field << 3), .. VarintBytes(v)];
    public static byte[] Bytes(int field, byte[] payload) => [.. VarintBytes(((ulong)field << 3) | 2), .. VarintBytes((ulong)payload.Length), .. payload];
    public static byte[] Str(int field, string s) => Bytes(field, Encoding.UTF8.GetBytes(s));
    public static byte[] Msg(params byte[][] fields) => [.. fields.SelectMany(f => f)];

    /// <summary>ModelProto { ir_version 8; graph { graphFields } }.</summary>
    public static byte[] Model(byte[] graphFields) => Msg(Varint(1, 8), Bytes(7, graphFields));
}

/// <summary>
/// The embedded default model all-MiniLM-L6-v2 (extracted at build time to src/Cartan.Cli/obj/minilm/model.onnx).
/// Its export (pytorch 1.10, IR 7) names nodes MatMul_NNN and the MatMul weights by bare numbers ("927");
/// biases keep their PyTorch names, which is how the tests find each layer's projections.
/// </summary>
public class OnnxMiniLmTests
{
    internal static string ModelPath => Path.Combine(TestPaths.RepoRoot, "src/Cartan.Cli/obj/minilm/model.onnx");

    private static WeightModel OpenMiniLm()
    {
        Assert.True(File.Exists(ModelPath), $"MiniLM model missing at {ModelPath}: the build should extract it");
        return OnnxReader.Open(ModelPath);
    }

    [Fact]
    public void Six_layers_of_projection_matmuls_with_in_out_initializers()
    {
        using var m = OpenMiniLm();
        var g = m.Graph!;
        var roles = new (string Bias, long In, long Out)[]
        {
            ("attention.self.query", 384, 384), ("attention.self.key", 384, 384), ("attention.self.value", 384, 384),
            ("attention.output.dense", 384, 384), ("intermediate.dense", 384, 1536), ("output.dense", 1536, 384),
        };
        var weightNames = new HashSet<string>();
        for (int layer = 0; layer < 6; layer++)
        {
            foreach (var (role, din, dout) in roles)
            {
                string bias = $"encoder.layer.{layer}.{role}.bias";
                Assert.Equal([dout], m.Find(bias)!.Shape);
                var add = Assert.Single(g.ConsumersOf(bias), n => n.OpType == "Add");
                var mmOut = add.Inputs.Single(i => i != bias);
                var mm = g.Producers[mmOut];
                Assert.Equal("MatMul", mm.OpType);
                Assert.Matches(@"^MatMul_\d+$", mm.Name);
                var w = m.Find(mm.Inputs[1]);
                Assert.NotNull(w);
                Assert.Matches(@"^\d+$", w!.Name);
                Assert.Equal([din, dout], w.Shape);
                Assert.Equal(TensorLayout.InOut, w.Layout);
                Assert.Equal("F32", w.StoredType);
                Assert.True(weightNames.Add(w.Name), $"{w.Name} used twice");
            }
        }
        Assert.Equal(36, weightNames.Count);
        Assert.Equal(36, g.Nodes.Count(n => n.OpType == "MatMul" && m.Find(n.Inputs[1]) is not null));
        var pooler = g.Nodes.Single(n => n.OpType == "Gemm");
        Assert.Equal(1L, pooler.IntAttr("transB"));
        Assert.Equal(TensorLayout.OutIn, m.Find("pooler.dense.weight")!.Layout);
        Assert.Equal([30522L, 384], m.Find("embeddings.word_embeddings.weight")!.Shape);
    }

    [Fact]
    public void Counts_and_a_weight_read()
    {
        using var m = OpenMiniLm();
        Assert.Equal(48, m.Graph!.Nodes.Count(n => n.OpType == "MatMul"));
        Assert.Equal(155, m.Graph.Nodes.Count(n => n.OpType == "Constant"));
        var w = m.Find("embeddings.position_embeddings.weight")!;
        var x = w.ReadDoubles();
        Assert.Equal(512 * 384, x.Length);
        Assert.All(x, v => Assert.True(double.IsFinite(v) && Math.Abs(v) < 100));
        Assert.Contains(m.Tensors, t => t.Name == "embeddings.position_ids" && t.StoredType == "I64");
    }
}

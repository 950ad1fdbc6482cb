using System.Buffers.Binary;
using System.Text.Json;
using Cartan.Formats.Tfjs;
using Cartan.Tensors;

namespace Cartan.Formats;

/// <summary>
/// TensorFlow.js models: a <c>model.json</c> (graph-model or layers-model) or a bare weights manifest
/// (a JSON array of groups, as in face-api's <c>*-weights_manifest.json</c>). Each group's shards are
/// memory-mapped and read as one concatenated range; weights lie back to back in it, possibly across
/// shard boundaries. Supported dtypes: float32, int32, bool, float16, string (skipped byte-exactly),
/// complex64 (skipped), and affine quantisation uint8/uint16 (value = q·scale + min) and float16.
/// </summary>
public static class TfjsReader
{
    /// <summary>model.json files larger than this are refused (they are JSON text, parsed in memory).</summary>
    public const long MaxJsonBytes = 512L << 20;

    private const int MaxRank = 64;

    /// <summary>Opens a tfjs model.json or weights manifest. Throws <see cref="CartanFormatException"/> for bad input.</summary>
    public static WeightModel Open(string path)
    {
        string full;
        try { full = Path.GetFullPath(path); }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        { throw new CartanFormatException(path, "invalid path"); }
        if (!File.Exists(full)) throw new CartanFormatException(path, "no such file");
        var dir = Path.GetDirectoryName(full) ?? throw new CartanFormatException(path, "the file has no folder");

        byte[] text;
        try
        {
            long len = new FileInfo(full).Length;
            if (len > MaxJsonBytes) throw new CartanFormatException(path, $"the JSON file is {len} bytes, more than the {MaxJsonBytes} allowed");
            text = File.ReadAllBytes(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        { throw new CartanFormatException(path, $"cannot read: {JsonRead.Clip(e.Message)}"); }

        if (!System.Text.Unicode.Utf8.IsValid(text))
            throw new CartanFormatException(path, "the JSON file is not valid UTF-8");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 256 }); }
        catch (JsonException e)
        { throw new CartanFormatException(path, $"invalid JSON: {JsonRead.Clip(e.Message.Split('\n')[0])}"); }

        try
        {
            using var docScope = doc;
            var j = new JsonRead(path);
            var root = doc.RootElement;
            JsonElement groups;
            OpGraph? graph = null;
            string kind;
            if (root.ValueKind == JsonValueKind.Array)
            {
                groups = root;
                kind = "manifest";
            }
            else
            {
                j.Object(root, "the top level");
                groups = j.Array(j.Required(root, "weightsManifest", "the model JSON"), "weightsManifest");
                var format = JsonRead.Optional(root, "format") is { } f ? j.String(f, "format") : null;
                var topo = JsonRead.Optional(root, "modelTopology");
                if (topo is { } t) j.Object(t, "modelTopology");
                if (topo is { } tg && (format == "graph-model" || (format is null && tg.TryGetProperty("node", out _))))
                {
                    graph = TfjsGraph.FromGraphDef(j, root, tg);
                    kind = "graph-model";
                }
                else if (topo is { } tl && format != "graph-model")
                {
                    graph = TfjsGraph.FromKeras(j, tl);
                    kind = "layers-model";
                }
                else if (topo is null && format == "graph-model")
                    throw j.Fail("a graph-model needs a modelTopology");
                else
                    kind = "weights";
            }

            var owned = new List<IDisposable>();
            try
            {
                var (tensors, skipped) = ReadManifest(j, dir, groups, owned);
                AssignLayouts(tensors, graph, kind);
                return new WeightModel(path, "tfjs", tensors, graph, skipped, owned);
            }
            catch
            {
                foreach (var d in owned) d.Dispose();
                throw;
            }
        }
        catch (InvalidOperationException e)
        {
            // System.Text.Json decodes strings lazily: escapes that form invalid UTF-16 surface here.
            throw new CartanFormatException(path, $"invalid text in the JSON: {JsonRead.Clip(e.Message)}");
        }
    }

    // ---------------- manifest ----------------

    private enum Codec { F32, I32, Bool, F16, U8Affine, U16Affine, String, Complex64 }

    private static (List<WeightTensor>, List<SkippedTensor>) ReadManifest(JsonRead j, string dir, JsonElement groups, List<IDisposable> owned)
    {
        var tensors = new List<WeightTensor>();
        var skipped = new List<SkippedTensor>();
        int g = 0;
        foreach (var group in j.Array(groups, "the weights manifest").EnumerateArray())
        {
            j.Object(group, $"weights group {g}");
            var paths = j.Array(j.Required(group, "paths", $"weights group {g}"), $"the paths of weights group {g}");
            var weights = j.Array(j.Required(group, "weights", $"weights group {g}"), $"the weights of weights group {g}");
            var files = new List<MappedFile>();
            foreach (var p in paths.EnumerateArray())
            {
                var shardPath = ResolveShard(j, dir, j.String(p, $"a path of weights group {g}"));
                var mf = MappedFile.Open(shardPath);
                owned.Add(mf);
                files.Add(mf);
            }
            var shards = new ShardSet([.. files]);
            long offset = 0;
            foreach (var w in weights.EnumerateArray())
                offset = ReadEntry(j, w, g, shards, offset, tensors, skipped);
            // Trailing bytes after the last weight are allowed (padding) and reported nowhere.
            g++;
        }
        return (tensors, skipped);
    }

    private static long ReadEntry(JsonRead j, JsonElement w, int g, ShardSet shards, long offset,
        List<WeightTensor> tensors, List<SkippedTensor> skipped)
    {
        j.Object(w, $"a weight of group {g}");
        var name = j.String(j.Required(w, "name", $"a weight of group {g}"), $"a weight name in group {g}");
        var shown = JsonRead.Clip(name);
        var shapeJson = j.Array(j.Required(w, "shape", $"weight '{shown}'"), $"the shape of '{shown}'");
        if (shapeJson.GetArrayLength() > MaxRank) throw j.Fail($"weight '{shown}' has rank {shapeJson.GetArrayLength()}, more than {MaxRank}");
        var shape = new long[shapeJson.GetArrayLength()];
        long count = 1;
        int k = 0;
        foreach (var d in shapeJson.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var dim))
                throw j.Fail($"weight '{shown}' has a shape entry that is not an integer ({JsonRead.Kind(d)})");
            if (dim < 0) throw j.Fail($"weight '{shown}' has a negative dimension {dim}");
            shape[k++] = dim;
            try { count = checked(count * dim); }
            catch (OverflowException) { throw j.Fail($"weight '{shown}' has a shape whose element count overflows"); }
        }
        var dtype = j.String(j.Required(w, "dtype", $"weight '{shown}'"), $"the dtype of '{shown}'");

        Codec codec;
        double scale = 0, min = 0;
        if (JsonRead.Optional(w, "quantization") is { } q)
        {
            j.Object(q, $"the quantization of '{shown}'");
            var qd = j.String(j.Required(q, "dtype", $"the quantization of '{shown}'"), $"the quantization dtype of '{shown}'");
            if (JsonRead.Optional(q, "original_dtype") is { } od) j.String(od, $"the original_dtype of '{shown}'");
            if (dtype is not ("float32" or "int32" or "float16"))
                throw j.Fail($"weight '{shown}' of dtype {JsonRead.Clip(dtype)} cannot be quantised");
            switch (qd)
            {
                case "uint8" or "uint16":
                    codec = qd == "uint8" ? Codec.U8Affine : Codec.U16Affine;
                    scale = j.FiniteNumber(j.Required(q, "scale", $"the quantization of '{shown}'"), $"the quantization scale of '{shown}'");
                    min = j.FiniteNumber(j.Required(q, "min", $"the quantization of '{shown}'"), $"the quantization min of '{shown}'");
                    break;
                case "float16":
                    codec = Codec.F16;
                    break;
                default:
                    throw j.Fail($"weight '{shown}' has unknown quantization dtype '{JsonRead.Clip(qd)}'");
            }
        }
        else
        {
            codec = dtype switch
            {
                "float32" => Codec.F32,
                "int32" => Codec.I32,
                "bool" => Codec.Bool,
                "float16" => Codec.F16,
                "string" => Codec.String,
                "complex64" => Codec.Complex64,
                _ => throw j.Fail($"weight '{shown}' has unknown dtype '{JsonRead.Clip(dtype)}'"),
            };
        }

        if (codec == Codec.String)
        {
            long end = SkipStrings(j, shards, offset, count, shown);
            skipped.Add(new SkippedTensor(name, shape, "STRING", $"string tensor ({end - offset} bytes in the shards), not numeric"));
            return end;
        }

        int size = codec switch { Codec.F32 or Codec.I32 => 4, Codec.F16 or Codec.U16Affine => 2, Codec.Complex64 => 8, _ => 1 };
        long bytes;
        try { bytes = checked(count * size); }
        catch (OverflowException) { throw j.Fail($"weight '{shown}' needs more bytes than can be addressed"); }
        if (bytes > shards.Length - offset)
            throw j.Fail($"weight '{shown}' needs bytes [{offset}, {offset + bytes}) of group {g} but its shards hold only {shards.Length} bytes");

        if (codec == Codec.Complex64)
        {
            skipped.Add(new SkippedTensor(name, shape, "C64", "complex64 tensor, not analysed"));
            return offset + bytes;
        }

        var (dt, stored) = codec switch
        {
            Codec.F32 => (DType.F32, "F32"),
            Codec.I32 => (DType.I32, "I32"),
            Codec.Bool => (DType.Bool, "BOOL"),
            Codec.F16 => (DType.F16, "F16"),
            Codec.U8Affine => (DType.Quantized, "U8-AFFINE"),
            _ => (DType.Quantized, "U16-AFFINE"),
        };
        long at = offset;
        string file = shards.FileAt(offset);
        tensors.Add(new WeightTensor(name, shape, dt, stored, () => Load(shards, at, count, codec, scale, min, name), file: file));
        return offset + bytes;
    }

    /// <summary>Walks <paramref name="count"/> strings (u32 LE length + bytes each) and returns the offset after them.</summary>
    private static long SkipStrings(JsonRead j, ShardSet shards, long offset, long count, string shown)
    {
        long remaining = shards.Length - offset;
        if (count > remaining / 4)
            throw j.Fail($"string weight '{shown}' has {count} elements but only {remaining} bytes remain in its group");
        long at = offset;
        for (long i = 0; i < count; i++)
        {
            if (shards.Length - at < 4)
                throw j.Fail($"string weight '{shown}' element {i} has no length field: the shards end at {shards.Length}");
            uint len = shards.ReadUInt32(at, shown);
            at += 4;
            if (len > shards.Length - at)
                throw j.Fail($"string weight '{shown}' element {i} claims {len} bytes at offset {at} but the shards end at {shards.Length}");
            at += len;
        }
        return at;
    }

    private static double[] Load(ShardSet shards, long offset, long count, Codec codec, double scale, double min, string name)
    {
        if (count > Array.MaxLength)
            throw new CartanFormatException(shards.FileAt(offset), $"tensor '{JsonRead.Clip(name)}' has {count} elements, too many to load at once");
        int size = codec switch { Codec.F32 or Codec.I32 => 4, Codec.F16 or Codec.U16Affine => 2, _ => 1 };
        var src = shards.Read(offset, count * size, JsonRead.Clip(name));
        var dst = new double[count];
        switch (codec)
        {
            case Codec.F32: Decode.ToDouble(DType.F32, src, dst); break;
            case Codec.I32: Decode.ToDouble(DType.I32, src, dst); break;
            case Codec.Bool: Decode.ToDouble(DType.Bool, src, dst); break;
            case Codec.F16: Decode.ToDouble(DType.F16, src, dst); break;
            case Codec.U8Affine:
                for (int i = 0; i < dst.Length; i++) dst[i] = src[i] * scale + min;
                break;
            case Codec.U16Affine:
                for (int i = 0; i < dst.Length; i++) dst[i] = BinaryPrimitives.ReadUInt16LittleEndian(src.Slice(2 * i)) * scale + min;
                break;
        }
        return dst;
    }

    // ---------------- shard paths ----------------

    /// <summary>
    /// The full path of a shard named in the manifest. It must be relative, without "..", inside the model
    /// folder, and no symbolic link on the way may lead out of the folder.
    /// </summary>
    private static string ResolveShard(JsonRead j, string dir, string rel)
    {
        var shown = JsonRead.Clip(rel);
        if (rel.Length == 0 || rel.Length > 4096) throw j.Fail($"shard path '{shown}' is empty or too long");
        if (rel.Contains('\0') || rel.Contains('\\') || rel.Contains("://") || Path.IsPathRooted(rel) || rel.StartsWith('/'))
            throw j.Fail($"shard path '{shown}' must be a plain relative path");
        var parts = rel.Split('/');
        if (parts.Any(p => p == "..")) throw j.Fail($"shard path '{shown}' escapes the model folder");
        string root = Path.TrimEndingDirectorySeparator(dir);
        string full = Path.GetFullPath(Path.Combine(root, rel));
        if (!IsInside(full, root)) throw j.Fail($"shard path '{shown}' escapes the model folder");

        string? realRoot = null;
        try
        {
            var rootInfo = new DirectoryInfo(root);
            if (rootInfo.LinkTarget is not null) realRoot = rootInfo.ResolveLinkTarget(true)?.FullName;
            string cur = root;
            foreach (var part in parts)
            {
                if (part.Length == 0 || part == ".") continue;
                cur = Path.Combine(cur, part);
                FileSystemInfo info = Directory.Exists(cur) ? new DirectoryInfo(cur) : new FileInfo(cur);
                if (!info.Exists) throw j.Fail($"shard '{shown}' does not exist beside the model");
                if (info.LinkTarget is null) continue;
                var target = info.ResolveLinkTarget(true)?.FullName;
                if (target is null || !(IsInside(target, root) || (realRoot is not null && IsInside(target, realRoot))))
                    throw j.Fail($"shard path '{shown}' is a link that leads out of the model folder");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        { throw j.Fail($"shard '{shown}' cannot be resolved: {JsonRead.Clip(e.Message)}"); }
        if (!File.Exists(full)) throw j.Fail($"shard '{shown}' is not a file");
        return full;
    }

    private static bool IsInside(string path, string root)
    {
        var p = Path.GetFullPath(path);
        var r = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
        return p.StartsWith(r + Path.DirectorySeparatorChar, StringComparison.Ordinal);
    }

    // ---------------- layouts ----------------

    private static readonly HashSet<string> MatMulOps = ["MatMul", "_FusedMatMul"];
    private static readonly HashSet<string> BatchMatMulOps = ["BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"];
    private static readonly HashSet<string> ConvOps = ["Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative", "Conv3D"];
    private static readonly HashSet<string> KerasTransposedConv = ["Conv2DTranspose", "Conv3DTranspose"];

    /// <summary>
    /// Layout hints: 2-D float weights default to [in, out] (Keras/tfjs), 4-D to HWIO. In a graph-model a weight
    /// read as input 1 of MatMul with transpose_b (BatchMatMul adj_y) is [out, in]; the filter of
    /// Conv2DBackpropInput (kh×kw×out×in) and the kernels of Keras transposed convolutions get no opinion.
    /// </summary>
    private static void AssignLayouts(List<WeightTensor> tensors, OpGraph? graph, string kind)
    {
        Dictionary<string, string>? kerasClassOfLayer = null;
        if (kind == "layers-model" && graph is not null)
        {
            kerasClassOfLayer = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var n in graph.Nodes) kerasClassOfLayer.TryAdd(n.Name, n.OpType);
        }
        foreach (var t in tensors)
        {
            if (!DTypes.IsFloat(t.DType) && t.DType != DType.Quantized) continue;
            int rank = t.Shape.Length;
            if (rank != 2 && rank != 4) continue;
            t.Layout = rank == 2 ? TensorLayout.InOut : TensorLayout.HWIO;
            if (graph is null) continue;
            if (kind == "graph-model") t.Layout = GraphModelLayout(graph, t.Name, rank) ?? t.Layout;
            else if (kerasClassOfLayer is not null)
            {
                var segs = t.Name.Split('/');
                for (int i = segs.Length - 2; i >= 0; i--)
                {
                    if (!kerasClassOfLayer.TryGetValue(segs[i], out var cls)) continue;
                    if (KerasTransposedConv.Contains(cls) && rank == 4) t.Layout = TensorLayout.Unknown;
                    break;
                }
            }
        }
    }

    private static TensorLayout? GraphModelLayout(OpGraph graph, string weight, int rank)
    {
        // Follow Identity chains from the weight to its real consumers in the main graph.
        var frontier = new Queue<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        frontier.Enqueue(weight);
        while (frontier.Count > 0 && seen.Count < 64)
        {
            var value = frontier.Dequeue();
            if (!seen.Add(value)) continue;
            foreach (var c in graph.ConsumersOf(value))
            {
                if (c.Scope.Length != 0) continue;
                if (c.OpType == "Identity") { frontier.Enqueue(c.Name); continue; }
                int index = IndexOf(c.Inputs, value);
                if (rank == 2 && index == 1 && MatMulOps.Contains(c.OpType))
                    return c.IntAttr("transpose_b") == 1 ? TensorLayout.OutIn : TensorLayout.InOut;
                if (rank == 2 && index == 1 && BatchMatMulOps.Contains(c.OpType))
                    return c.IntAttr("adj_y") == 1 ? TensorLayout.OutIn : TensorLayout.InOut;
                if (rank == 4 && index == 1 && ConvOps.Contains(c.OpType)) return TensorLayout.HWIO;
                if (rank == 4 && index == 1 && c.OpType == "Conv2DBackpropInput") return TensorLayout.Unknown;
            }
        }
        return null;
    }

    private static int IndexOf(IReadOnlyList<string> list, string value)
    {
        for (int i = 0; i < list.Count; i++) if (list[i] == value) return i;
        return -1;
    }
}

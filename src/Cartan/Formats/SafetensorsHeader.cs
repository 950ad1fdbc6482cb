using System.Buffers.Binary;
using System.Text.Json;
using Cartan.Tensors;

namespace Cartan.Formats;

/// <summary>
/// Validation of a safetensors header from its bytes alone, shared by the local reader (which maps the file)
/// and the Hugging Face Hub source (which fetches the header with two range requests). Everything a reader
/// needs before touching tensor bytes is checked here: the length word, UTF-8, JSON shape, dtypes, shapes,
/// offsets inside the buffer, shape × dtype = byte length, no overlaps, no duplicate names.
/// </summary>
internal static class SafetensorsHeader
{
    internal static readonly Dictionary<string, DType> Decodable = new(StringComparer.Ordinal)
    {
        ["F64"] = DType.F64, ["F32"] = DType.F32, ["F16"] = DType.F16, ["BF16"] = DType.BF16,
        ["I8"] = DType.I8, ["U8"] = DType.U8, ["I16"] = DType.I16, ["U16"] = DType.U16,
        ["I32"] = DType.I32, ["U32"] = DType.U32, ["I64"] = DType.I64, ["U64"] = DType.U64, ["BOOL"] = DType.Bool,
    };

    /// <summary>safetensors dtypes that are valid but have no decoder here: validated, then listed as skipped.</summary>
    internal static readonly Dictionary<string, int> KnownUndecodable = new(StringComparer.Ordinal)
    {
        ["F8_E4M3"] = 1, ["F8_E5M2"] = 1, ["F8_E8M0"] = 1, ["C64"] = 8,
    };

    /// <summary>One validated header entry; offsets are relative to the start of the byte buffer.</summary>
    internal sealed record Entry(string Name, string DTypeName, long[] Shape, long Begin, long End, long Count)
    {
        /// <summary>The decodable dtype, or null for a known but undecodable one.</summary>
        public DType? DType => Decodable.TryGetValue(DTypeName, out var d) ? d : null;
    }

    internal sealed record Header(List<Entry> Entries, Dictionary<string, string> Metadata);

    /// <summary>
    /// Validates the 8-byte length word of a file of <paramref name="fileLength"/> bytes and returns the JSON
    /// header length N (the buffer starts at 8 + N).
    /// </summary>
    internal static long ReadHeaderLength(string path, ReadOnlySpan<byte> first8, long fileLength)
    {
        if (fileLength < 8 || first8.Length < 8)
            throw new CartanFormatException(path, $"truncated: {fileLength} bytes, shorter than the 8-byte header length");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(first8);
        if (n > SafetensorsReader.MaxHeaderBytes)
            throw new CartanFormatException(path, $"header length {n} exceeds the {SafetensorsReader.MaxHeaderBytes}-byte limit");
        if ((long)n > fileLength - 8)
            throw new CartanFormatException(path, $"header length {n} runs past the end of the file ({fileLength} bytes)");
        return (long)n;
    }

    /// <summary>Parses and validates the JSON header; <paramref name="bufLen"/> is the byte length of the data buffer.</summary>
    internal static Header Parse(string path, ReadOnlySpan<byte> headerBytes, long bufLen)
    {
        if (!System.Text.Unicode.Utf8.IsValid(headerBytes))
            throw new CartanFormatException(path, "header is not valid UTF-8");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(headerBytes.ToArray(), new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new CartanFormatException(path, $"header is not valid JSON: {SafetensorsReader.FirstLine(e.Message)}");
        }

        using (doc)
        try
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new CartanFormatException(path, $"header JSON is a {root.ValueKind}, expected an object");

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var entries = new List<Entry>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prop in root.EnumerateObject())
            {
                if (!seen.Add(prop.Name))
                    throw new CartanFormatException(path, $"header names '{Clip(prop.Name)}' twice");
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object)
                        throw new CartanFormatException(path, "__metadata__ is not an object");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String)
                            throw new CartanFormatException(path, $"__metadata__ value '{Clip(m.Name)}' is not a string");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                entries.Add(ParseEntry(path, prop.Name, prop.Value));
            }

            // Ranges inside the buffer, sizes consistent with shape x dtype.
            foreach (var e in entries)
            {
                if (e.End > bufLen)
                    throw new CartanFormatException(path,
                        $"tensor '{Clip(e.Name)}' data_offsets [{e.Begin}, {e.End}] run past the end of the {bufLen}-byte buffer");
                int size = Decodable.TryGetValue(e.DTypeName, out var dt) ? DTypes.Size(dt) : KnownUndecodable[e.DTypeName];
                long need;
                try { need = checked(e.Count * size); }
                catch (OverflowException)
                { throw new CartanFormatException(path, $"tensor '{Clip(e.Name)}' byte size overflows"); }
                if (e.End - e.Begin != need)
                    throw new CartanFormatException(path,
                        $"tensor '{Clip(e.Name)}' holds {e.End - e.Begin} bytes but shape [{string.Join(",", e.Shape)}] x {e.DTypeName} needs {need}");
            }

            // No two tensors share bytes.
            var order = entries.Where(e => e.End > e.Begin).OrderBy(e => e.Begin).ThenBy(e => e.End).ToList();
            for (int i = 1; i < order.Count; i++)
                if (order[i].Begin < order[i - 1].End)
                    throw new CartanFormatException(path,
                        $"tensors '{Clip(order[i - 1].Name)}' [{order[i - 1].Begin}, {order[i - 1].End}) and '{Clip(order[i].Name)}' [{order[i].Begin}, {order[i].End}) overlap");
            return new Header(entries, metadata);
        }
        catch (InvalidOperationException e) // a string escape that is not valid text (lone surrogate)
        {
            throw new CartanFormatException(path, $"header holds an invalid string: {SafetensorsReader.FirstLine(e.Message)}");
        }
    }

    private static Entry ParseEntry(string path, string name, JsonElement v)
    {
        string what = $"tensor '{Clip(name)}'";
        if (v.ValueKind != JsonValueKind.Object)
            throw new CartanFormatException(path, $"{what} header entry is not an object");
        if (!v.TryGetProperty("dtype", out var dtEl) || dtEl.ValueKind != JsonValueKind.String)
            throw new CartanFormatException(path, $"{what} has no dtype string");
        string dtName = dtEl.GetString()!;
        if (!Decodable.ContainsKey(dtName) && !KnownUndecodable.ContainsKey(dtName))
            throw new CartanFormatException(path, $"{what} has unknown dtype '{Clip(dtName)}'");
        if (!v.TryGetProperty("shape", out var shEl) || shEl.ValueKind != JsonValueKind.Array)
            throw new CartanFormatException(path, $"{what} has no shape array");
        if (shEl.GetArrayLength() > 64)
            throw new CartanFormatException(path, $"{what} has {shEl.GetArrayLength()} dimensions (at most 64)");
        var shape = new long[shEl.GetArrayLength()];
        long count = 1;
        int k = 0;
        foreach (var d in shEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim) || dim < 0)
                throw new CartanFormatException(path, $"{what} shape holds {Clip(d.GetRawText())}, expected a non-negative integer");
            shape[k++] = dim;
            try { count = checked(count * dim); }
            catch (OverflowException)
            { throw new CartanFormatException(path, $"{what} shape element count overflows"); }
        }
        if (!v.TryGetProperty("data_offsets", out var offEl) || offEl.ValueKind != JsonValueKind.Array || offEl.GetArrayLength() != 2)
            throw new CartanFormatException(path, $"{what} has no data_offsets pair");
        var offs = new long[2];
        k = 0;
        foreach (var o in offEl.EnumerateArray())
        {
            if (o.ValueKind != JsonValueKind.Number || !o.TryGetInt64(out long off) || off < 0)
                throw new CartanFormatException(path, $"{what} data_offsets hold {Clip(o.GetRawText())}, expected a non-negative integer");
            offs[k++] = off;
        }
        if (offs[1] < offs[0])
            throw new CartanFormatException(path, $"{what} data_offsets [{offs[0]}, {offs[1]}] end before they begin");
        return new Entry(name, dtName, shape, offs[0], offs[1], count);
    }

    private static string Clip(string s) => SafetensorsReader.Clip(s);

    /// <summary>The (tensor, shard file) pairs of a sharded index's <c>weight_map</c>, validated: an object of strings, no name twice.</summary>
    internal static List<(string Tensor, string File)> WeightMap(System.Text.Json.JsonElement root, string where)
    {
        if (!root.TryGetProperty("weight_map", out var wm) || wm.ValueKind != System.Text.Json.JsonValueKind.Object)
            throw new CartanFormatException(where, "index has no weight_map object");
        var map = new List<(string, string)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in wm.EnumerateObject())
        {
            if (!seen.Add(p.Name))
                throw new CartanFormatException(where, $"weight_map names tensor '{SafetensorsReader.Clip(p.Name)}' twice");
            if (p.Value.ValueKind != System.Text.Json.JsonValueKind.String)
                throw new CartanFormatException(where, $"weight_map entry '{SafetensorsReader.Clip(p.Name)}' is not a file name string");
            map.Add((p.Name, p.Value.GetString()!));
        }
        return map;
    }

    /// <summary>
    /// Decodes the absolute byte range [start, end) of a file, holding values of one dtype, into destination; the range
    /// lies inside the tensor whose bytes are [tensorStart, tensorEnd).
    /// </summary>
    internal delegate void DecodeRange(long tensorStart, long tensorEnd, long start, long end, DType dtype, Span<double> destination);

    /// <summary>
    /// The lazy tensors of a parsed header (undecodable dtypes go to <c>skipped</c>). <paramref name="decode"/>(start, end,
    /// dtype, destination) decodes the absolute byte range [start, end) of the file; <paramref name="wrap"/> may wrap each
    /// loader (e.g. to translate network errors).
    /// </summary>
    /// <remarks>
    /// With <paramref name="decodeRange"/> — the same contract on a sub-range of one tensor — each tensor
    /// also offers <see cref="WeightTensor.ReadRange"/>, and <paramref name="release"/>(start, end) drops its pages.
    /// </remarks>
    internal static (List<WeightTensor> Tensors, List<SkippedTensor> Skipped) Tensors(Header header, long bufStart, string where,
        Action<long, long, DType, double[]> decode, Func<Func<double[]>, Func<double[]>>? wrap = null,
        DecodeRange? decodeRange = null, Action<long, long>? release = null)
    {
        var tensors = new List<WeightTensor>(header.Entries.Count);
        var skipped = new List<SkippedTensor>();
        foreach (var e in header.Entries)
        {
            if (e.DType is not DType dtype)
            {
                skipped.Add(new SkippedTensor(e.Name, e.Shape, e.DTypeName, $"{e.DTypeName} has no decoder"));
                continue;
            }
            long start = bufStart + e.Begin, end = bufStart + e.End, count = e.Count;
            string name = e.Name;
            var layout = e.Shape.Length == 4 ? TensorLayout.OIHW : TensorLayout.Unknown;
            Func<double[]> load = () =>
            {
                if (count > Array.MaxLength)
                    throw new CartanFormatException(where, $"tensor '{SafetensorsReader.Clip(name)}' has {count} elements, too many to load at once");
                var d = new double[count];
                if (count > 0) decode(start, end, dtype, d);
                return d;
            };
            int es = DTypes.Size(dtype);
            TensorRangeReader? range = decodeRange is null || es == 0 || (end - start) != count * es ? null
                : (first, dst) => decodeRange(start, end, start + first * es, start + (first + dst.Length) * es, dtype, dst);
            tensors.Add(new WeightTensor(name, e.Shape, dtype, DTypes.Name(dtype), wrap is null ? load : wrap(load), layout, where)
            {
                RangeReader = range,
                ReleasePages = release is null ? null : () => release(start, end),
            });
        }
        return (tensors, skipped);
    }
}

using System.Buffers.Binary;
using System.Globalization;
using Cartan.Tensors;

namespace Cartan.Formats.Onnx;

/// <summary>
/// Turns <see cref="TensorRecord"/>s into lazy <see cref="WeightTensor"/>s: checks shape × dtype against the bytes
/// (raw_data, typed fields or external file), resolves external data inside the model's folder, and builds loaders
/// that touch only the tensor's own bytes when run.
/// </summary>
internal sealed class OnnxTensorFactory
{
    private readonly MappedFile _map;
    private readonly string _file;
    private readonly string _dir;
    private readonly Dictionary<string, MappedFile> _external = new(StringComparer.Ordinal);

    public OnnxTensorFactory(MappedFile map, string file)
    {
        _map = map;
        _file = file;
        _dir = Path.GetDirectoryName(Path.GetFullPath(file)) ?? Path.GetFullPath(".");
    }

    /// <summary>External files mapped so far (owned by the model).</summary>
    public IEnumerable<MappedFile> ExternalMaps => _external.Values;

    /// <summary>Max elements of one tensor we will ever materialise as a double[].</summary>
    private const long MaxElements = 0x7FFFFFC7;

    public static DType? MapType(int onnxType) => onnxType switch
    {
        1 => DType.F32,
        2 => DType.U8,
        3 => DType.I8,
        4 => DType.U16,
        5 => DType.I16,
        6 => DType.I32,
        7 => DType.I64,
        9 => DType.Bool,
        10 => DType.F16,
        11 => DType.F64,
        12 => DType.U32,
        13 => DType.U64,
        16 => DType.BF16,
        _ => null,
    };

    public static string TypeName(int onnxType) => onnxType switch
    {
        0 => "UNDEFINED", 8 => "STRING", 14 => "COMPLEX64", 15 => "COMPLEX128",
        17 => "FLOAT8E4M3FN", 18 => "FLOAT8E4M3FNUZ", 19 => "FLOAT8E5M2", 20 => "FLOAT8E5M2FNUZ",
        21 => "UINT4", 22 => "INT4",
        _ => MapType(onnxType) is { } d ? DTypes.Name(d) : $"type {onnxType}",
    };

    /// <summary>The typed repeated field that carries values of <paramref name="t"/> when raw_data is absent.</summary>
    private static int TypedField(DType t) => t switch
    {
        DType.F32 => 4,
        DType.F64 => 10,
        DType.I64 => 7,
        DType.U32 or DType.U64 => 11,
        _ => 5, // int32_data: F16/BF16 bit patterns, I8/U8/I16/U16/I32/BOOL values
    };

    private CartanFormatException Fail(TensorRecord r, string problem) =>
        new(_file, $"tensor '{Clip(r.Name)}'{(r.Scope.Length > 0 ? $" in {Clip(r.Scope)}" : "")}: {problem}");

    /// <summary>Returns a tensor, or a skip record for tensors that carry no analysable numbers. Throws for malformed ones.</summary>
    public (WeightTensor? Tensor, SkippedTensor? Skip) Build(TensorRecord r)
    {
        var shape = r.Dims.ToArray();
        long count = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw Fail(r, $"negative dimension {d}");
            try { count = checked(count * d); }
            catch (OverflowException) { throw Fail(r, $"shape [{string.Join(",", shape)}] overflows 64-bit element count"); }
        }
        var dtype = MapType(r.DataType);
        if (dtype is null)
        {
            string reason = r.DataType == 8 ? "string tensor" : $"unsupported ONNX data type {TypeName(r.DataType)}";
            return (null, new SkippedTensor(r.Name, shape, TypeName(r.DataType), reason));
        }
        var dt = dtype.Value;
        int size = DTypes.Size(dt);
        string stored = DTypes.Name(dt);
        long bytes;
        try { bytes = checked(count * size); }
        catch (OverflowException) { throw Fail(r, $"shape [{string.Join(",", shape)}] overflows 64-bit byte length"); }

        if (r.External)
        {
            var (map, offset) = ResolveExternal(r, bytes);
            return (new WeightTensor(r.Name, shape, dt, stored, RawLoader(r, map, offset, bytes, count, dt), file: map.Path), null);
        }
        if (r.HasRaw)
        {
            if (r.RawLength != bytes)
                throw Fail(r, $"raw_data holds {r.RawLength} bytes but shape [{string.Join(",", shape)}] × {stored} needs {bytes}");
            return (new WeightTensor(r.Name, shape, dt, stored, RawLoader(r, _map, r.RawStart, bytes, count, dt), file: _file), null);
        }

        int field = TypedField(dt);
        for (int f = 0; f < r.TypedCounts.Length; f++)
        {
            if (f != field && r.TypedCounts[f] != 0)
                throw Fail(r, $"holds {r.TypedCounts[f]} values in {FieldName(f)}, which cannot carry {stored}");
        }
        if (r.TypedCounts[field] != count)
            throw Fail(r, $"holds {r.TypedCounts[field]} values in {FieldName(field)} but shape [{string.Join(",", shape)}] needs {count}");
        return (new WeightTensor(r.Name, shape, dt, stored, TypedLoader(r, field, count, dt), file: _file), null);
    }

    private static string FieldName(int f) => f switch
    {
        4 => "float_data", 5 => "int32_data", 6 => "string_data", 7 => "int64_data", 10 => "double_data", 11 => "uint64_data",
        _ => $"field {f}",
    };

    private Func<double[]> RawLoader(TensorRecord r, MappedFile map, long offset, long bytes, long count, DType dt)
    {
        string name = Clip(r.Name);
        return () =>
        {
            if (count > MaxElements) throw new CartanFormatException(map.Path, $"tensor '{name}' has {count} elements, too many to load at once");
            var dst = new double[count];
            Decode.ToDouble(dt, map.Span(offset, bytes), dst);
            return dst;
        };
    }

    private Func<double[]> TypedLoader(TensorRecord r, int field, long count, DType dt)
    {
        var map = _map;
        string file = _file, name = Clip(r.Name);
        int start = r.MsgStart, end = r.MsgEnd;
        return () =>
        {
            if (count > MaxElements) throw new CartanFormatException(file, $"tensor '{name}' has {count} elements, too many to load at once");
            var dst = new double[count];
            var data = map.Span(0, map.Length);
            long n = 0;
            var rd = new ProtoReader(data, start, end, file);
            while (rd.Next(out int f, out var w))
            {
                if (f != field) { rd.Skip(w); continue; }
                if (w == WireType.Len)
                {
                    var (s, l) = rd.ReadLen();
                    if (field is 4 or 10)
                    {
                        int size = field == 4 ? 4 : 8;
                        for (int k = 0; k + size <= l; k += size)
                        {
                            if (n >= count) throw new CartanFormatException(file, $"tensor '{name}' holds more values than its shape");
                            dst[n++] = field == 4
                                ? BinaryPrimitives.ReadSingleLittleEndian(data.Slice(s + k, 4))
                                : BinaryPrimitives.ReadDoubleLittleEndian(data.Slice(s + k, 8));
                        }
                    }
                    else
                    {
                        var inner = new ProtoReader(data, s, s + l, file);
                        while (inner.Position < inner.End)
                        {
                            if (n >= count) throw new CartanFormatException(file, $"tensor '{name}' holds more values than its shape");
                            dst[n++] = IntValue(dt, inner.ReadVarint());
                        }
                    }
                }
                else
                {
                    if (n >= count) throw new CartanFormatException(file, $"tensor '{name}' holds more values than its shape");
                    dst[n++] = w switch
                    {
                        WireType.Fixed32 when field == 4 => BitConverter.Int32BitsToSingle(unchecked((int)rd.ReadFixed32())),
                        WireType.Fixed64 when field == 10 => BitConverter.Int64BitsToDouble(unchecked((long)rd.ReadFixed64())),
                        WireType.Varint when field is 5 or 7 or 11 => IntValue(dt, rd.ReadVarint()),
                        _ => throw new CartanFormatException(file, $"tensor '{name}' has a value of wire type {(int)w} in {FieldName(field)}"),
                    };
                }
            }
            if (n != count) throw new CartanFormatException(file, $"tensor '{name}' decoded {n} values, shape needs {count}");
            return dst;
        };
    }

    /// <summary>Interprets one int32_data/int64_data/uint64_data varint as a value of <paramref name="dt"/>.</summary>
    private static double IntValue(DType dt, ulong v) => dt switch
    {
        DType.F16 => (double)BitConverter.UInt16BitsToHalf(unchecked((ushort)v)),
        DType.BF16 => BitConverter.Int32BitsToSingle(unchecked((int)((uint)(ushort)v << 16))),
        DType.I8 => unchecked((sbyte)v),
        DType.U8 => unchecked((byte)v),
        DType.I16 => unchecked((short)v),
        DType.U16 => unchecked((ushort)v),
        DType.I32 => unchecked((int)v),
        DType.Bool => (v & 0xFF) != 0 ? 1 : 0,
        DType.I64 => unchecked((long)v),
        DType.U32 => unchecked((uint)v),
        DType.U64 => v,
        _ => unchecked((long)v),
    };

    private (MappedFile Map, long Offset) ResolveExternal(TensorRecord r, long bytes)
    {
        string? location = null;
        long offset = 0;
        long? length = null;
        foreach (var (k, v) in r.ExternalData)
        {
            switch (k)
            {
                case "location": location = v; break;
                case "offset":
                    if (!long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out offset))
                        throw Fail(r, $"external data offset '{Clip(v)}' is not a non-negative integer");
                    break;
                case "length":
                    if (!long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out long len))
                        throw Fail(r, $"external data length '{Clip(v)}' is not a non-negative integer");
                    length = len;
                    break;
            }
        }
        if (string.IsNullOrEmpty(location)) throw Fail(r, "external data has no location");
        string full = SafeExternalPath(r, location);
        if (!File.Exists(full)) throw Fail(r, $"external data file '{Clip(location)}' not found beside the model");
        if (!_external.TryGetValue(full, out var map))
        {
            map = MappedFile.Open(full);
            _external[full] = map;
        }
        long len2 = length ?? bytes;
        if (len2 != bytes)
            throw Fail(r, $"external data length {len2} does not match shape [{string.Join(",", r.Dims)}] × {TypeName(r.DataType)} = {bytes} bytes");
        if (offset > map.Length || bytes > map.Length - offset)
            throw Fail(r, $"external data range [{offset}, {offset}+{bytes}) lies outside '{Clip(location)}' ({map.Length} bytes)");
        return (map, offset);
    }

    /// <summary>A file-supplied string made safe for a one-line message: control characters replaced, long strings cut.</summary>
    private static string Clip(string s)
    {
        if (s.Length > 120) s = s[..120] + "…";
        return string.Create(s.Length, s, (dst, src) =>
        {
            for (int i = 0; i < src.Length; i++) dst[i] = char.IsControl(src[i]) || src[i] is '\u2028' or '\u2029' ? '?' : src[i];
        });
    }

    /// <summary>
    /// Resolves an external-data location inside the model's folder: no absolute paths, no "..", no symbolic link
    /// (file or folder on the way) whose target lies outside the folder.
    /// </summary>
    private string SafeExternalPath(TensorRecord r, string location)
    {
        if (location.Contains('\0') || location.Contains(':') || location.StartsWith('/') || location.StartsWith('\\') || Path.IsPathRooted(location))
            throw Fail(r, $"external data location '{Clip(location)}' is an absolute path");
        var parts = location.Split('/', '\\');
        if (parts.Any(p => p == ".."))
            throw Fail(r, $"external data location '{Clip(location)}' escapes the model folder");
        string full;
        try { full = Path.GetFullPath(Path.Combine(_dir, location)); }
        catch (Exception e) when (e is ArgumentException or PathTooLongException or NotSupportedException)
        { throw Fail(r, $"external data location '{Clip(location)}' is not a valid path"); }
        string root = _dir.EndsWith(Path.DirectorySeparatorChar) ? _dir : _dir + Path.DirectorySeparatorChar;
        if (!full.StartsWith(root, StringComparison.Ordinal))
            throw Fail(r, $"external data location '{Clip(location)}' escapes the model folder");
        string cur = _dir;
        foreach (var p in parts)
        {
            if (p.Length == 0 || p == ".") continue;
            cur = Path.Combine(cur, p);
            FileSystemInfo fi = Directory.Exists(cur) ? new DirectoryInfo(cur) : new FileInfo(cur);
            if (fi.LinkTarget is null) continue;
            string? target;
            try { target = fi.ResolveLinkTarget(returnFinalTarget: true)?.FullName; }
            catch (IOException) { target = null; }
            if (target is null || !Path.GetFullPath(target).StartsWith(root, StringComparison.Ordinal))
                throw Fail(r, $"external data location '{Clip(location)}' is a symbolic link leading outside the model folder");
        }
        return full;
    }
}

using System.Buffers.Binary;
using System.Text;

namespace Cartan.Formats;

/// <summary>
/// Writes GGUF v3 files (little-endian) with metadata and F32 or F16 tensors, the layout <see cref="GgufReader"/> and
/// llama.cpp read: header, metadata key/values, tensor infos, padding to the alignment, then each tensor's bytes at an
/// aligned offset. Shapes are given row-major (PyTorch order) and stored as ggml's reversed <c>ne</c>.
/// The file is written under a temporary name in the same folder and moved into place.
/// </summary>
/// <remarks>
/// Metadata values are typed by their CLR type: byte → u8, sbyte → i8, ushort → u16, short → i16, uint → u32,
/// int → i32, float → f32, bool → bool, string → string, ulong → u64, long → i64, double → f64, and one-dimensional
/// arrays of any of these → array. llama.cpp is strict about types (its integer <c>llama.*</c> keys must be u32), so
/// callers choose the CLR type deliberately.
/// </remarks>
public sealed class GgufWriter
{
    /// <summary>The tensor types this writer produces.</summary>
    public enum TensorType { F32 = 0, F16 = 1 }

    private readonly List<(string Key, object Value)> _meta = [];
    private readonly List<(string Name, long[] Shape, TensorType Type, double[] Data)> _tensors = [];
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    /// <param name="alignment">Data alignment in bytes (a power of two; 32 is GGUF's default and is then not written
    /// as <c>general.alignment</c>).</param>
    public GgufWriter(int alignment = 32)
    {
        if (alignment <= 0 || (alignment & (alignment - 1)) != 0 || alignment > 1 << 20)
            throw new ArgumentException($"alignment {alignment} is not a power of two up to 1 MiB", nameof(alignment));
        Alignment = alignment;
        if (alignment != 32)
        {
            _keys.Add("general.alignment");
            _meta.Add(("general.alignment", (uint)alignment));
        }
    }

    public int Alignment { get; }

    /// <summary>Adds one metadata key. Throws <see cref="ArgumentException"/> for a repeated key or an unsupported type.</summary>
    public GgufWriter AddMetadata(string key, object value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        if (key == "general.alignment") throw new ArgumentException("general.alignment is set through the constructor");
        TypeOf(value, key, allowArray: true);
        if (!_keys.Add(key)) throw new ArgumentException($"metadata key '{key}' repeats");
        _meta.Add((key, value));
        return this;
    }

    /// <summary>Adds a tensor with row-major <paramref name="shape"/>; <paramref name="data"/> is row-major and is
    /// rounded to <paramref name="type"/> (F16: round to nearest even, as <see cref="Half"/> does).</summary>
    public GgufWriter AddTensor(string name, long[] shape, double[] data, TensorType type = TensorType.F32)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        if (type is not (TensorType.F32 or TensorType.F16)) throw new ArgumentException($"tensor '{name}': type {type} is not written");
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"tensor '{name}': negative dimension {d}");
            n = checked(n * d);
        }
        if (n != data.Length) throw new ArgumentException($"tensor '{name}': {data.Length} values given, shape [{string.Join(",", shape)}] needs {n}");
        if (!_names.Add(name)) throw new ArgumentException($"tensor name '{name}' repeats");
        _tensors.Add((name, (long[])shape.Clone(), type, data));
        return this;
    }

    /// <summary>Writes the file.</summary>
    public void Write(string path)
    {
        string tmp = path + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
            using (var w = new BinaryWriter(fs, new UTF8Encoding(false), leaveOpen: false))
                WriteTo(w);
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    private void WriteTo(BinaryWriter w)
    {
        w.Write(0x46554747u); // "GGUF"
        w.Write(3u);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)_meta.Count);
        foreach (var (key, value) in _meta)
        {
            WriteString(w, key);
            uint t = TypeOf(value, key, allowArray: true);
            w.Write(t);
            WriteValue(w, value, t);
        }
        long offset = 0;
        var offsets = new long[_tensors.Count];
        for (int i = 0; i < _tensors.Count; i++)
        {
            var (name, shape, type, data) = _tensors[i];
            WriteString(w, name);
            w.Write((uint)shape.Length);
            for (int d = shape.Length - 1; d >= 0; d--) w.Write((ulong)shape[d]);
            w.Write((uint)type);
            offsets[i] = offset;
            w.Write((ulong)offset);
            offset = AlignUp(checked(offset + (long)data.Length * (type == TensorType.F32 ? 4 : 2)));
        }
        Pad(w);
        long dataStart = w.BaseStream.Position;
        var buf = new byte[8192];
        for (int i = 0; i < _tensors.Count; i++)
        {
            var (_, _, type, data) = _tensors[i];
            long at = dataStart + offsets[i];
            while (w.BaseStream.Position < at) w.Write((byte)0);
            int size = type == TensorType.F32 ? 4 : 2;
            int per = buf.Length / size;
            for (int s = 0; s < data.Length; s += per)
            {
                int m = Math.Min(per, data.Length - s);
                for (int j = 0; j < m; j++)
                {
                    if (type == TensorType.F32) BinaryPrimitives.WriteSingleLittleEndian(buf.AsSpan(j * 4), (float)data[s + j]);
                    else BinaryPrimitives.WriteHalfLittleEndian(buf.AsSpan(j * 2), (Half)data[s + j]);
                }
                w.Write(buf, 0, m * size);
            }
        }
        Pad(w);
    }

    private long AlignUp(long v) => (v + Alignment - 1) / Alignment * Alignment;

    private void Pad(BinaryWriter w)
    {
        long pos = w.BaseStream.Position;
        for (long p = pos; p < AlignUp(pos); p++) w.Write((byte)0);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static uint TypeOf(object v, string key, bool allowArray) => v switch
    {
        byte => 0, sbyte => 1, ushort => 2, short => 3, uint => 4, int => 5, float => 6, bool => 7, string => 8,
        ulong => 10, long => 11, double => 12,
        Array a when allowArray && a.Rank == 1 && a.GetType().GetElementType() is { } et && et != typeof(object) && ElementType(et, key) >= 0 => 9,
        _ => throw new ArgumentException($"metadata '{key}': values of type {v.GetType().Name} cannot be stored in GGUF"),
    };

    private static int ElementType(Type t, string key)
    {
        if (t == typeof(byte)) return 0;
        if (t == typeof(sbyte)) return 1;
        if (t == typeof(ushort)) return 2;
        if (t == typeof(short)) return 3;
        if (t == typeof(uint)) return 4;
        if (t == typeof(int)) return 5;
        if (t == typeof(float)) return 6;
        if (t == typeof(bool)) return 7;
        if (t == typeof(string)) return 8;
        if (t == typeof(ulong)) return 10;
        if (t == typeof(long)) return 11;
        if (t == typeof(double)) return 12;
        throw new ArgumentException($"metadata '{key}': arrays of {t.Name} cannot be stored in GGUF");
    }

    private static void WriteValue(BinaryWriter w, object v, uint t)
    {
        switch (v)
        {
            case byte b: w.Write(b); break;
            case sbyte sb: w.Write(sb); break;
            case ushort us: w.Write(us); break;
            case short s: w.Write(s); break;
            case uint u: w.Write(u); break;
            case int i: w.Write(i); break;
            case float f: w.Write(f); break;
            case bool bo: w.Write((byte)(bo ? 1 : 0)); break;
            case string str: WriteString(w, str); break;
            case ulong ul: w.Write(ul); break;
            case long l: w.Write(l); break;
            case double d: w.Write(d); break;
            case Array a:
                uint et = (uint)ElementType(a.GetType().GetElementType()!, "");
                w.Write(et);
                w.Write((ulong)a.Length);
                foreach (var e in a)
                {
                    if (e is null) throw new ArgumentException("GGUF arrays cannot hold null");
                    WriteValue(w, e, et);
                }
                break;
            default: throw new ArgumentException($"type {v.GetType().Name} (GGUF type {t}) cannot be stored");
        }
    }
}

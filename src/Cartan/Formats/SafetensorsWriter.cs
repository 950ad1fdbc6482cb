using System.Buffers.Binary;
using System.Text.Json;
using Cartan.Tensors;

namespace Cartan.Formats;

/// <summary>
/// Writes safetensors files. The header lists <c>__metadata__</c> first, then the tensors in the given order with
/// contiguous data offsets; it is padded with spaces to a multiple of 8 bytes. The file is written under a temporary
/// name in the same folder and moved into place, so a reader never sees a half-written file.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>Writes raw little-endian tensor bytes. Throws <see cref="ArgumentException"/> when a tensor's byte length
    /// does not match its shape and dtype, when a name repeats, or when a dtype has no safetensors spelling.</summary>
    public static void Write(string path,
        IEnumerable<(string name, long[] shape, DType dtype, ReadOnlyMemory<byte> data)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        Validate(list, list.Select(t => t.name));
        WriteCore(path, list.Select(t => (t.name, t.shape, DTypes.Name(t.dtype), t.data)).ToList(), metadata);
    }

    /// <summary>
    /// Writes tensors whose dtype is given by its safetensors spelling, as read from another file's header — including
    /// dtypes Cartan cannot decode (F8_E4M3, …), whose bytes are copied as they are. Names must be unique; byte lengths
    /// are checked for the dtypes Cartan knows.
    /// </summary>
    public static void WriteStored(string path,
        IEnumerable<(string name, long[] shape, string dtype, ReadOnlyMemory<byte> data)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        var known = list.Where(t => Enum.TryParse<DType>(t.dtype == "BOOL" ? "Bool" : t.dtype, out var d) && DTypes.Size(d) > 0)
            .Select(t => (t.name, t.shape, Enum.Parse<DType>(t.dtype == "BOOL" ? "Bool" : t.dtype), t.data));
        // Validates names and the byte lengths of known dtypes with the typed path's checks, without writing.
        Validate(known.ToList(), list.Select(t => t.name));
        WriteCore(path, list, metadata);
    }

    private static void Validate(List<(string name, long[] shape, DType dtype, ReadOnlyMemory<byte> data)> typed, IEnumerable<string> allNames)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in allNames)
        {
            if (name == "__metadata__") throw new ArgumentException("'__metadata__' is reserved and cannot name a tensor");
            if (!names.Add(name)) throw new ArgumentException($"tensor name '{name}' repeats");
        }
        foreach (var (name, shape, dtype, data) in typed)
        {
            int size = DTypes.Size(dtype);
            if (size == 0) throw new ArgumentException($"tensor '{name}': {dtype} cannot be stored in safetensors");
            long count = 1;
            foreach (var d in shape)
            {
                if (d < 0) throw new ArgumentException($"tensor '{name}': negative dimension {d}");
                count = checked(count * d);
            }
            if (checked(count * size) != data.Length)
                throw new ArgumentException($"tensor '{name}': {data.Length} bytes given, shape [{string.Join(",", shape)}] x {dtype} needs {count * size}");
        }
    }

    private static void WriteCore(string path, List<(string name, long[] shape, string dtype, ReadOnlyMemory<byte> data)> list,
        IReadOnlyDictionary<string, string>? metadata)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var kv in metadata) w.WriteString(kv.Key, kv.Value);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, shape, dtype, data) in list)
            {
                w.WriteStartObject(name);
                w.WriteString("dtype", dtype);
                w.WriteStartArray("shape");
                foreach (var d in shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + data.Length);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += data.Length;
            }
            w.WriteEndObject();
        }
        int pad = (int)((8 - ms.Length % 8) % 8);
        for (int i = 0; i < pad; i++) ms.WriteByte((byte)' ');

        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? ".";
        string tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                Span<byte> len = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)ms.Length);
                fs.Write(len);
                ms.Position = 0;
                ms.CopyTo(fs);
                foreach (var t in list) fs.Write(t.data.Span);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>Writes float64 data as F64, F32, F16 or BF16 (round to nearest even).</summary>
    public static void Write(string path, IEnumerable<(string name, long[] shape, double[] data)> tensors,
        DType dtype = DType.F32, IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (dtype is not (DType.F64 or DType.F32 or DType.F16 or DType.BF16))
            throw new ArgumentException($"only F64, F32, F16 and BF16 can be written from float64 data, not {dtype}");
        Write(path, tensors.Select(t => (t.name, t.shape, dtype, (ReadOnlyMemory<byte>)Encode(t.data, dtype))), metadata);
    }

    /// <summary>float64 values as a float dtype's little-endian bytes (round to nearest even).</summary>
    public static byte[] Encode(double[] data, DType dtype)
    {
        int size = DTypes.Size(dtype);
        var b = new byte[checked(data.Length * size)];
        var s = b.AsSpan();
        for (int i = 0; i < data.Length; i++)
        {
            switch (dtype)
            {
                case DType.F64: BinaryPrimitives.WriteDoubleLittleEndian(s[(i * 8)..], data[i]); break;
                case DType.F32: BinaryPrimitives.WriteSingleLittleEndian(s[(i * 4)..], (float)data[i]); break;
                case DType.F16: BinaryPrimitives.WriteHalfLittleEndian(s[(i * 2)..], (Half)data[i]); break;
                case DType.BF16: BinaryPrimitives.WriteUInt16LittleEndian(s[(i * 2)..], ToBFloat16((float)data[i])); break;
                default: throw new ArgumentException($"cannot encode float data as {dtype}");
            }
        }
        return b;
    }

    /// <summary>float32 → bfloat16 bits, round to nearest even; NaN stays NaN.</summary>
    internal static ushort ToBFloat16(float f)
    {
        uint bits = BitConverter.SingleToUInt32Bits(f);
        if (float.IsNaN(f)) return (ushort)((bits >> 16) | 0x40);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }
}

using System.Buffers.Binary;
using System.Text;

namespace Cartan.Formats.Gguf;

/// <summary>One tensor entry of a GGUF header. <see cref="Ne"/> is ggml order (ne0 = fastest-varying).</summary>
public sealed record GgufTensorInfo(string Name, long[] Ne, GgmlTypes.Info Type, long Offset, long ByteLength)
{
    /// <summary>Row-major shape (reversed ne): a weight with ne = [in, out] is [out, in].</summary>
    public long[] Shape => [.. Ne.Reverse()];
    public long ElementCount => Ne.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// A parsed GGUF (v2/v3) header: metadata and tensor infos, all validated against the file size.
/// Metadata values are boxed as byte, sbyte, ushort, short, uint, int, float, bool, string, ulong, long,
/// double, or <c>object[]</c> for arrays (arrays may nest).
/// </summary>
public sealed class GgufHeader
{
    /// <summary>Arrays longer than this are refused (a guard against absurd counts; real vocabularies are ~10^5-10^6).</summary>
    public const long MaxArrayLength = 1L << 26;
    private const int MaxNesting = 8;
    private const long MaxTensors = 1L << 20;
    private const int MaxDims = 8;

    public required uint Version { get; init; }
    public required IReadOnlyDictionary<string, object> Metadata { get; init; }
    public required IReadOnlyList<GgufTensorInfo> Tensors { get; init; }
    public required long Alignment { get; init; }
    /// <summary>Absolute file offset of the tensor data section.</summary>
    public required long DataStart { get; init; }

    /// <summary>Parses and validates the header of a mapped GGUF file. Throws only <see cref="CartanFormatException"/>.</summary>
    public static GgufHeader Parse(MappedFile f)
    {
        var c = new Cursor(f);
        if (f.Length < 24) throw c.Fail("file too short for a GGUF header");
        uint magic = c.U32();
        if (magic != 0x46554747) throw c.Fail("missing GGUF magic");
        uint version = c.U32();
        if (version is 1) throw c.Fail("GGUF version 1 is not supported (only v2 and v3)");
        if (version is not (2 or 3))
        {
            if (BinaryPrimitives.ReverseEndianness(version) is 2 or 3) throw c.Fail("big-endian GGUF is not supported");
            throw c.Fail($"unsupported GGUF version {version}");
        }
        long nTensors = c.Count("tensor count", 1 + 8 + 4 + 8, MaxTensors);
        long nKv = c.Count("metadata count", 8 + 4, long.MaxValue);
        var meta = new Dictionary<string, object>(StringComparer.Ordinal);
        for (long i = 0; i < nKv; i++)
        {
            long at = c.Pos;
            string key = c.Str();
            uint t = c.U32();
            var v = c.Value(t, 0);
            if (!meta.TryAdd(key, v)) throw c.Fail($"duplicate metadata key '{key}' at byte {at}");
        }
        long alignment = 32;
        if (meta.TryGetValue("general.alignment", out var av))
        {
            alignment = av switch { uint u => u, int s => s, ulong ul when ul <= 1 << 20 => (long)ul, ushort us => us, byte b => b, _ => -1 };
            if (alignment <= 0 || alignment > 1 << 20 || (alignment & (alignment - 1)) != 0)
                throw c.Fail("general.alignment is not a power of two up to 1 MiB");
        }
        var infos = new List<(string Name, long[] Ne, uint Type, long Offset, long At)>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (long i = 0; i < nTensors; i++)
        {
            long at = c.Pos;
            string name = c.Str();
            uint nd = c.U32();
            if (nd > MaxDims) throw c.Fail($"tensor '{name}' has {nd} dimensions (at most {MaxDims})");
            var ne = new long[nd];
            for (int d = 0; d < nd; d++)
            {
                ulong v = c.U64();
                if (v > int.MaxValue * 64UL) throw c.Fail($"tensor '{name}' dimension {d} is {v}, beyond any file");
                ne[d] = (long)v;
            }
            uint type = c.U32();
            ulong off = c.U64();
            if (off > (ulong)f.Length) throw c.Fail($"tensor '{name}' offset {off} lies beyond the file");
            if (!names.Add(name)) throw c.Fail($"duplicate tensor name '{name}'");
            infos.Add((name, ne, type, (long)off, at));
        }
        long dataStart = AlignUp(c.Pos, alignment);
        if (dataStart > f.Length && nTensors > 0) throw c.Fail($"data section would start at byte {dataStart}, beyond the file ({f.Length} bytes)");
        var tensors = new List<GgufTensorInfo>(infos.Count);
        foreach (var (name, ne, typeId, off, at) in infos)
        {
            if (!GgmlTypes.TryGet(typeId, out var type)) throw c.Fail($"tensor '{name}' has unknown ggml type {typeId}");
            long n = 1;
            foreach (var d in ne)
            {
                if (d < 0) throw c.Fail($"tensor '{name}' has a negative dimension");
                if (d != 0 && n > long.MaxValue / d) throw c.Fail($"tensor '{name}' element count overflows");
                n *= d;
            }
            if (ne.Length > 0 && ne[0] % type.BlockElements != 0)
                throw c.Fail($"tensor '{name}' row length {ne[0]} is not a multiple of the {type.Name} block size {type.BlockElements}");
            if (ne.Length == 0 && type.BlockElements != 1) throw c.Fail($"scalar tensor '{name}' cannot be block-quantised");
            long bytes = n / type.BlockElements;
            if (bytes > long.MaxValue / type.BlockBytes) throw c.Fail($"tensor '{name}' byte size overflows");
            bytes *= type.BlockBytes;
            if (off % alignment != 0) throw c.Fail($"tensor '{name}' offset {off} is not aligned to {alignment}");
            if (off > f.Length - dataStart || bytes > f.Length - dataStart - off)
                throw c.Fail($"tensor '{name}' bytes [{dataStart + off}, {dataStart + off + bytes}) lie outside the file ({f.Length} bytes)");
            tensors.Add(new GgufTensorInfo(name, ne, type, off, bytes));
        }
        var sorted = tensors.Where(t => t.ByteLength > 0).OrderBy(t => t.Offset).ToList();
        for (int i = 1; i < sorted.Count; i++)
            if (sorted[i].Offset < sorted[i - 1].Offset + sorted[i - 1].ByteLength)
                throw c.Fail($"tensors '{sorted[i - 1].Name}' and '{sorted[i].Name}' overlap");
        return new GgufHeader { Version = version, Metadata = meta, Tensors = tensors, Alignment = alignment, DataStart = dataStart };
    }

    private static long AlignUp(long v, long a) => v > long.MaxValue - a ? long.MaxValue : (v + a - 1) / a * a;

    private sealed class Cursor(MappedFile f)
    {
        public long Pos;

        public CartanFormatException Fail(string problem) => new(f.Path, problem);

        private ReadOnlySpan<byte> Take(long n)
        {
            if (n < 0 || n > f.Length - Pos) throw Fail($"header truncated at byte {Pos} (needs {n} more bytes, file has {f.Length})");
            var s = f.Span(Pos, n);
            Pos += n;
            return s;
        }

        public byte U8() => Take(1)[0];
        public ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));
        public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
        public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

        /// <summary>A u64 count whose items each need at least <paramref name="minItemBytes"/> bytes: must fit in the rest of the file.</summary>
        public long Count(string what, long minItemBytes, long max)
        {
            long at = Pos;
            ulong n = U64();
            ulong fits = (ulong)(f.Length - Pos) / (ulong)Math.Max(1, minItemBytes);
            if (n > fits || n > (ulong)max) throw Fail($"{what} {n} at byte {at} cannot fit in the file");
            return (long)n;
        }

        public string Str()
        {
            long at = Pos;
            ulong n = U64();
            if (n > (ulong)(f.Length - Pos)) throw Fail($"string length {n} at byte {at} runs past the end of the file");
            if (n > int.MaxValue) throw Fail($"string length {n} at byte {at} is too large");
            var bytes = Take((long)n);
            try { return new UTF8Encoding(false, true).GetString(bytes); }
            catch (ArgumentException) { throw Fail($"string at byte {at} is not valid UTF-8"); }
        }

        private static int MinSize(uint t) => t switch
        {
            0 or 1 or 7 => 1,
            2 or 3 => 2,
            4 or 5 or 6 => 4,
            8 or 10 or 11 or 12 => 8,
            9 => 12,
            _ => 1,
        };

        public object Value(uint t, int depth)
        {
            switch (t)
            {
                case 0: return U8();
                case 1: return (sbyte)U8();
                case 2: return U16();
                case 3: return (short)U16();
                case 4: return U32();
                case 5: return (int)U32();
                case 6: return BitConverter.Int32BitsToSingle((int)U32());
                case 7:
                {
                    byte b = U8();
                    if (b > 1) throw Fail($"bool value {b} at byte {Pos - 1}");
                    return b == 1;
                }
                case 8: return Str();
                case 9:
                {
                    if (depth >= MaxNesting) throw Fail($"arrays nested deeper than {MaxNesting} at byte {Pos}");
                    uint et = U32();
                    if (et > 12) throw Fail($"unknown array element type {et} at byte {Pos - 4}");
                    long n = Count("array length", MinSize(et), MaxArrayLength);
                    var arr = new object[n];
                    for (long i = 0; i < n; i++) arr[i] = Value(et, depth + 1);
                    return arr;
                }
                case 10: return U64();
                case 11: return (long)U64();
                case 12: return BitConverter.Int64BitsToDouble((long)U64());
                default: throw Fail($"unknown metadata value type {t} at byte {Pos - 4}");
            }
        }
    }
}

using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Cartan.Tensors;

namespace Cartan.Formats;

/// <summary>
/// Reads NumPy <c>.npy</c> files (format versions 1.0, 2.0 and 3.0) and <c>.npz</c> archives.
/// <para>.npy: magic <c>\x93NUMPY</c>, version, header length, a Python dict literal with <c>descr</c>,
/// <c>fortran_order</c> and <c>shape</c>, then the raw data. Big-endian descrs are byte-swapped on load;
/// Fortran-order arrays keep their stored shape and are transposed to row-major on load.</para>
/// <para>.npz: the zip central directory is parsed here (System.IO.Compression only inflates). Stored entries are
/// read straight from the mapped file; deflated entries are inflated on load into a buffer sized by the entry's
/// .npy header, and inflation stops with an error the moment the stream would grow past it (zip bombs). An entry whose
/// declared uncompressed size differs from what its .npy header needs is refused at open. Tensor names are the entry
/// names without <c>.npy</c>, in central-directory order; a lone .npy file gives one tensor named after the file.</para>
/// </summary>
public static class NpyReader
{
    /// <summary>Largest .npy header accepted (numpy itself writes a few hundred bytes).</summary>
    public const int MaxHeaderBytes = 1 << 20;
    /// <summary>Deflate cannot expand data by more than about 1032:1; claims beyond this are refused at open.</summary>
    private const long MaxDeflateRatio = 1100;

    public static WeightModel Open(string path)
    {
        var file = MappedFile.Open(path);
        try
        {
            bool zip = file.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(file.Span(0, 4)) == 0x04034B50
                       || path.EndsWith(".npz", StringComparison.OrdinalIgnoreCase);
            if (zip) return OpenNpz(file, path);
            string name = Path.GetFileNameWithoutExtension(path);
            var h = ParseHeader(file.Span(0, Math.Min(file.Length, MaxHeaderBytes + 12L)), path, "file");
            if (file.Length - h.DataOffset != h.DataBytes)
                throw new CartanFormatException(path,
                    $"header says shape ({string.Join(",", h.Shape)}) of {h.Descr} ({h.DataBytes} bytes) but the file holds {file.Length - h.DataOffset} data bytes");
            long off = h.DataOffset;
            var t = new WeightTensor(name, h.Shape, h.DType, DTypes.Name(h.DType),
                () => h.ToDoubles(file.Span(off, h.DataBytes), path, name), Layout(h.Shape), path);
            return new WeightModel(path, "npy", [t], owned: [file]);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static TensorLayout Layout(long[] shape) => shape.Length == 4 ? TensorLayout.OIHW : TensorLayout.Unknown;

    // ---------------- .npy header ----------------

    internal sealed class NpyHeader
    {
        public required string Descr { get; init; }
        public required DType DType { get; init; }
        public required bool BigEndian { get; init; }
        public required bool Fortran { get; init; }
        public required long[] Shape { get; init; }
        public required long Count { get; init; }
        public required long DataBytes { get; init; }
        /// <summary>Offset of the data from the start of the .npy bytes (magic + version + length + header).</summary>
        public required long DataOffset { get; init; }

        public double[] ToDoubles(ReadOnlySpan<byte> data, string file, string tensor)
        {
            if (Count > Array.MaxLength)
                throw new CartanFormatException(file, $"array '{SafetensorsReader.Clip(tensor)}' has {Count} elements, too many to load at once");
            var d = new double[Count];
            int size = DTypes.Size(DType);
            if (BigEndian && size > 1)
            {
                var swapped = data.ToArray();
                for (int i = 0; i < swapped.Length; i += size) swapped.AsSpan(i, size).Reverse();
                Decode.ToDouble(DType, swapped, d);
            }
            else Decode.ToDouble(DType, data, d);
            return Fortran && Shape.Length > 1 ? ToRowMajor(d, Shape) : d;
        }
    }

    /// <summary>Reorders column-major (Fortran) data of the given shape into row-major order.</summary>
    internal static double[] ToRowMajor(double[] src, long[] shape)
    {
        int k = shape.Length;
        var dst = new double[src.Length];
        if (src.Length == 0) return dst;
        var fstride = new long[k];
        fstride[0] = 1;
        for (int j = 1; j < k; j++) fstride[j] = fstride[j - 1] * shape[j - 1];
        var idx = new long[k];
        long off = 0;
        for (long i = 0; i < dst.LongLength; i++)
        {
            dst[i] = src[off];
            for (int j = k - 1; j >= 0; j--)
            {
                idx[j]++;
                off += fstride[j];
                if (idx[j] < shape[j]) break;
                off -= fstride[j] * idx[j];
                idx[j] = 0;
            }
        }
        return dst;
    }

    /// <summary>The total length (magic to end of header) that the first 12 bytes announce.</summary>
    internal static long HeaderLength(ReadOnlySpan<byte> b, string file, string what)
    {
        if (b.Length < 10)
            throw new CartanFormatException(file, $"{what} is truncated: {b.Length} bytes, shorter than the .npy preamble");
        if (b[0] != 0x93 || b[1] != (byte)'N' || b[2] != (byte)'U' || b[3] != (byte)'M' || b[4] != (byte)'P' || b[5] != (byte)'Y')
            throw new CartanFormatException(file, $"{what} does not start with the .npy magic \\x93NUMPY");
        int major = b[6], minor = b[7];
        if (minor != 0 || major is < 1 or > 3)
            throw new CartanFormatException(file, $"{what} has unsupported .npy format version {major}.{minor}");
        if (major == 1) return 10 + BinaryPrimitives.ReadUInt16LittleEndian(b[8..]);
        if (b.Length < 12)
            throw new CartanFormatException(file, $"{what} is truncated inside the .npy preamble");
        uint len = BinaryPrimitives.ReadUInt32LittleEndian(b[8..]);
        if (len > MaxHeaderBytes)
            throw new CartanFormatException(file, $"{what} declares a {len}-byte .npy header (limit {MaxHeaderBytes})");
        return 12 + (long)len;
    }

    /// <summary>Parses the .npy preamble and header dict from <paramref name="b"/> (which must hold the whole header).</summary>
    internal static NpyHeader ParseHeader(ReadOnlySpan<byte> b, string file, string what)
    {
        long total = HeaderLength(b, file, what);
        if (total > b.Length)
            throw new CartanFormatException(file, $"{what} is truncated: its .npy header needs {total} bytes, only {b.Length} present");
        int start = b[6] == 1 ? 10 : 12;
        string text;
        try
        {
            var enc = b[6] == 3 ? (Encoding)new UTF8Encoding(false, true) : Encoding.Latin1;
            text = enc.GetString(b[start..(int)total]);
        }
        catch (DecoderFallbackException)
        { throw new CartanFormatException(file, $"{what} has a .npy header that is not valid UTF-8"); }
        var dict = new DictParser(text, file, what).ParseDict();

        if (!dict.TryGetValue("descr", out var descrObj))
            throw new CartanFormatException(file, $"{what} header has no 'descr'");
        if (descrObj is not string descr)
            throw new CartanFormatException(file, $"{what} holds a structured dtype, which is not supported");
        if (!dict.TryGetValue("fortran_order", out var fo) || fo is not bool fortran)
            throw new CartanFormatException(file, $"{what} header has no boolean 'fortran_order'");
        if (!dict.TryGetValue("shape", out var sh) || sh is not List<long> shapeList)
            throw new CartanFormatException(file, $"{what} header has no integer tuple 'shape'");
        if (shapeList.Count > 64)
            throw new CartanFormatException(file, $"{what} has {shapeList.Count} dimensions (at most 64)");

        var (dtype, big) = ParseDescr(descr, file, what);
        long count = 1;
        foreach (var d in shapeList)
        {
            if (d < 0) throw new CartanFormatException(file, $"{what} shape holds negative dimension {d}");
            try { count = checked(count * d); }
            catch (OverflowException) { throw new CartanFormatException(file, $"{what} shape element count overflows"); }
        }
        long bytes;
        try { bytes = checked(count * DTypes.Size(dtype)); }
        catch (OverflowException) { throw new CartanFormatException(file, $"{what} data size overflows"); }
        return new NpyHeader
        {
            Descr = descr, DType = dtype, BigEndian = big, Fortran = fortran, Shape = [.. shapeList],
            Count = count, DataBytes = bytes, DataOffset = total,
        };
    }

    private static (DType, bool) ParseDescr(string descr, string file, string what)
    {
        if (descr.Length < 2)
            throw new CartanFormatException(file, $"{what} has unsupported dtype '{SafetensorsReader.Clip(descr)}'");
        char order = descr[0];
        string code = descr[1..];
        DType? t = code switch
        {
            "f8" => DType.F64, "f4" => DType.F32, "f2" => DType.F16,
            "i1" => DType.I8, "u1" => DType.U8, "b1" => DType.Bool,
            "i2" => DType.I16, "u2" => DType.U16, "i4" => DType.I32, "u4" => DType.U32,
            "i8" => DType.I64, "u8" => DType.U64,
            _ => null,
        };
        if (t is null || order is not ('<' or '>' or '|'))
            throw new CartanFormatException(file, $"{what} has unsupported dtype '{SafetensorsReader.Clip(descr)}'");
        int size = DTypes.Size(t.Value);
        if (order == '|' && size > 1)
            throw new CartanFormatException(file, $"{what} dtype '{descr}' gives no byte order for a {size}-byte type");
        return (t.Value, order == '>');
    }

    /// <summary>A parser for the Python literal subset numpy writes: a dict of str keys to str, bool, int tuples or lists.</summary>
    private ref struct DictParser(string s, string file, string what)
    {
        private int _p;

        private readonly CartanFormatException Bad(string why) =>
            new(file, $"{what} has a malformed .npy header dict: {why} at character {_p}");

        private void Ws() { while (_p < s.Length && s[_p] is ' ' or '\t' or '\n' or '\r') _p++; }

        private bool Eat(char c) { Ws(); if (_p < s.Length && s[_p] == c) { _p++; return true; } return false; }

        public Dictionary<string, object> ParseDict()
        {
            if (!Eat('{')) throw Bad("expected '{'");
            var d = new Dictionary<string, object>(StringComparer.Ordinal);
            while (true)
            {
                if (Eat('}')) break;
                string key = ParseString();
                if (!Eat(':')) throw Bad("expected ':'");
                var v = ParseValue(0);
                if (!d.TryAdd(key, v)) throw Bad($"key '{SafetensorsReader.Clip(key)}' repeats");
                if (Eat(',')) continue;
                if (Eat('}')) break;
                throw Bad("expected ',' or '}'");
            }
            Ws();
            if (_p != s.Length) throw Bad("unexpected text after the dict");
            return d;
        }

        private string ParseString()
        {
            Ws();
            if (_p >= s.Length || s[_p] is not ('\'' or '"')) throw Bad("expected a quoted string");
            char q = s[_p++];
            var sb = new StringBuilder();
            while (_p < s.Length && s[_p] != q)
            {
                if (s[_p] == '\\') { _p++; if (_p >= s.Length) break; }
                sb.Append(s[_p++]);
                if (sb.Length > 4096) throw Bad("string too long");
            }
            if (_p >= s.Length) throw Bad("unterminated string");
            _p++;
            return sb.ToString();
        }

        private object ParseValue(int depth)
        {
            if (depth > 8) throw Bad("nesting too deep");
            Ws();
            if (_p >= s.Length) throw Bad("unexpected end");
            char c = s[_p];
            if (c is '\'' or '"') return ParseString();
            if (c is '(' or '[')
            {
                char close = c == '(' ? ')' : ']';
                _p++;
                var items = new List<object>();
                while (true)
                {
                    if (Eat(close)) break;
                    items.Add(ParseValue(depth + 1));
                    if (items.Count > 1024) throw Bad("sequence too long");
                    if (Eat(',')) continue;
                    if (Eat(close)) break;
                    throw Bad($"expected ',' or '{close}'");
                }
                if (items.All(i => i is long)) return items.Cast<long>().ToList();
                return items;
            }
            if (Word("True")) return true;
            if (Word("False")) return false;
            if (Word("None")) return "None";
            if (c == '-' || char.IsAsciiDigit(c))
            {
                int st = _p;
                if (c == '-') _p++;
                while (_p < s.Length && char.IsAsciiDigit(s[_p])) _p++;
                if (!long.TryParse(s.AsSpan(st, _p - st), System.Globalization.NumberStyles.AllowLeadingSign,
                        System.Globalization.CultureInfo.InvariantCulture, out long v))
                    throw Bad("integer out of range");
                if (_p < s.Length && s[_p] is 'L' or 'l') _p++; // Python 2 long suffix
                return v;
            }
            throw Bad($"unexpected character '{c}'");
        }

        private bool Word(string w)
        {
            if (string.CompareOrdinal(s, _p, w, 0, w.Length) != 0) return false;
            int end = _p + w.Length;
            if (end < s.Length && (char.IsAsciiLetterOrDigit(s[end]) || s[end] == '_')) return false;
            _p = end;
            return true;
        }
    }

    // ---------------- .npz ----------------

    private sealed record ZipEntry(string Name, ushort Method, ushort Flags, uint Crc, long CompressedSize,
        long UncompressedSize, long LocalOffset);

    private static WeightModel OpenNpz(MappedFile file, string path)
    {
        var entries = ReadCentralDirectory(file, path, out long cdOffset);
        var tensors = new List<WeightTensor>();
        var skipped = new List<SkippedTensor>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var ranges = new List<(long Start, long End, string Name)>();
        foreach (var e in entries)
        {
            string what = $"entry '{SafetensorsReader.Clip(e.Name)}'";
            if (!names.Add(e.Name)) throw new CartanFormatException(path, $"{what} appears twice in the archive");
            if ((e.Flags & 1) != 0) throw new CartanFormatException(path, $"{what} is encrypted");
            if (e.Method is not (0 or 8))
                throw new CartanFormatException(path, $"{what} uses compression method {e.Method} (only stored and deflated are supported)");

            // Local header: only its name and extra lengths matter; sizes come from the central directory.
            if (e.LocalOffset > cdOffset - 30)
                throw new CartanFormatException(path, $"{what} local header offset {e.LocalOffset} lies outside the entry area");
            var lh = file.Span(e.LocalOffset, 30);
            if (BinaryPrimitives.ReadUInt32LittleEndian(lh) != 0x04034B50)
                throw new CartanFormatException(path, $"{what} has no local header signature at offset {e.LocalOffset}");
            long dataStart = e.LocalOffset + 30 + BinaryPrimitives.ReadUInt16LittleEndian(lh[26..]) + BinaryPrimitives.ReadUInt16LittleEndian(lh[28..]);
            if (e.CompressedSize > cdOffset - dataStart)
                throw new CartanFormatException(path, $"{what} data [{dataStart}, +{e.CompressedSize}) runs past the entry area ending at {cdOffset}");
            ranges.Add((e.LocalOffset, dataStart + e.CompressedSize, e.Name));

            if (e.Name.EndsWith('/') && e.UncompressedSize == 0) continue; // a folder entry
            if (!e.Name.EndsWith(".npy", StringComparison.Ordinal))
            {
                skipped.Add(new SkippedTensor(e.Name, [], "zip entry", "not a .npy entry"));
                continue;
            }
            string tname = e.Name[..^4];
            tensors.Add(e.Method == 0
                ? StoredTensor(file, path, e, tname, what, dataStart)
                : DeflatedTensor(file, path, e, tname, what, dataStart));
        }
        ranges.Sort((a, b) => a.Start.CompareTo(b.Start));
        for (int i = 1; i < ranges.Count; i++)
            if (ranges[i].Start < ranges[i - 1].End)
                throw new CartanFormatException(path,
                    $"entries '{SafetensorsReader.Clip(ranges[i - 1].Name)}' and '{SafetensorsReader.Clip(ranges[i].Name)}' overlap in the archive");
        return new WeightModel(path, "npy", tensors, skipped: skipped, owned: [file]);
    }

    private static WeightTensor StoredTensor(MappedFile file, string path, ZipEntry e, string tname, string what, long dataStart)
    {
        if (e.CompressedSize != e.UncompressedSize)
            throw new CartanFormatException(path, $"{what} is stored but its compressed size {e.CompressedSize} differs from its size {e.UncompressedSize}");
        var h = ParseHeader(file.Span(dataStart, Math.Min(e.UncompressedSize, MaxHeaderBytes + 12L)), path, what);
        if (e.UncompressedSize - h.DataOffset != h.DataBytes)
            throw new CartanFormatException(path,
                $"{what} header says shape ({string.Join(",", h.Shape)}) of {h.Descr} ({h.DataBytes} bytes) but the entry holds {e.UncompressedSize - h.DataOffset} data bytes");
        long off = dataStart + h.DataOffset, len = h.DataBytes;
        return new WeightTensor(tname, h.Shape, h.DType, DTypes.Name(h.DType), () =>
        {
            uint crc = Crc32.Update(0, file.Span(dataStart, h.DataOffset));
            var data = file.Span(off, len);
            crc = Crc32.Update(crc, data);
            if (crc != e.Crc) throw new CartanFormatException(path, $"{what} fails its CRC-32 check");
            return h.ToDoubles(data, path, tname);
        }, Layout(h.Shape), path);
    }

    private static WeightTensor DeflatedTensor(MappedFile file, string path, ZipEntry e, string tname, string what, long dataStart)
    {
        // Inflate only the .npy preamble and header to learn what the entry must hold.
        NpyHeader h;
        using (var z = Inflater(file, path, what, dataStart, e.CompressedSize))
        {
            var pre = new byte[12];
            int got = ReadFully(z, pre, path, what);
            long total = HeaderLength(pre.AsSpan(0, got), path, what);
            var head = new byte[total];
            pre.AsSpan(0, got).CopyTo(head);
            if (total > got)
                got += ReadFully(z, head.AsSpan(got), path, what);
            h = ParseHeader(head.AsSpan(0, Math.Min(got, (int)total)), path, what);
        }
        long expected = h.DataOffset + h.DataBytes;
        if (e.UncompressedSize > expected)
            throw new CartanFormatException(path,
                $"{what} declares {e.UncompressedSize} uncompressed bytes but its .npy header ({h.Descr}, shape ({string.Join(",", h.Shape)})) needs only {expected}; refusing a possible zip bomb");
        if (e.UncompressedSize < expected)
            throw new CartanFormatException(path,
                $"{what} declares {e.UncompressedSize} uncompressed bytes but its .npy header ({h.Descr}, shape ({string.Join(",", h.Shape)})) needs {expected}");
        if (expected / MaxDeflateRatio > e.CompressedSize + 64)
            throw new CartanFormatException(path,
                $"{what} claims {expected} bytes from {e.CompressedSize} compressed bytes, beyond what deflate can produce");
        return new WeightTensor(tname, h.Shape, h.DType, DTypes.Name(h.DType), () =>
        {
            if (h.DataBytes > Array.MaxLength)
                throw new CartanFormatException(path, $"{what} holds {h.DataBytes} data bytes, too many to inflate at once");
            using var z = Inflater(file, path, what, dataStart, e.CompressedSize);
            var head = new byte[h.DataOffset];
            if (ReadFully(z, head, path, what) != head.Length)
                throw new CartanFormatException(path, $"{what} inflates to fewer bytes than its .npy header");
            var data = new byte[h.DataBytes];
            int n = ReadFully(z, data, path, what);
            if (n != data.Length)
                throw new CartanFormatException(path, $"{what} inflates to {h.DataOffset + n} bytes, fewer than the {expected} declared");
            if (ReadFully(z, new byte[1], path, what) != 0)
                throw new CartanFormatException(path,
                    $"{what} inflates beyond its declared {expected} bytes; refusing a zip bomb");
            uint crc = Crc32.Update(Crc32.Update(0, head), data);
            if (crc != e.Crc) throw new CartanFormatException(path, $"{what} fails its CRC-32 check");
            return h.ToDoubles(data, path, tname);
        }, Layout(h.Shape), path);
    }

    private static DeflateStream Inflater(MappedFile file, string path, string what, long start, long length) =>
        new(new MappedSliceStream(file, start, length), CompressionMode.Decompress);

    private static int ReadFully(Stream s, Span<byte> buf, string path, string what)
    {
        int got = 0;
        try
        {
            while (got < buf.Length)
            {
                int n = s.Read(buf[got..]);
                if (n == 0) break;
                got += n;
            }
        }
        catch (InvalidDataException ex)
        {
            throw new CartanFormatException(path, $"{what} holds corrupt deflate data: {SafetensorsReader.FirstLine(ex.Message)}");
        }
        return got;
    }

    private static List<ZipEntry> ReadCentralDirectory(MappedFile file, string path, out long cdOffset)
    {
        long len = file.Length;
        if (len < 22) throw new CartanFormatException(path, $"truncated: {len} bytes cannot hold a zip end-of-central-directory record");
        long scanFrom = Math.Max(0, len - 22 - 65535);
        var tail = file.Span(scanFrom, len - scanFrom);
        long eocd = -1;
        for (int i = tail.Length - 22; i >= 0; i--)
        {
            if (tail[i] == 0x50 && tail[i + 1] == 0x4B && tail[i + 2] == 5 && tail[i + 3] == 6)
            {
                int commentLen = BinaryPrimitives.ReadUInt16LittleEndian(tail[(i + 20)..]);
                if (i + 22 + commentLen <= tail.Length) { eocd = scanFrom + i; break; }
            }
        }
        if (eocd < 0) throw new CartanFormatException(path, "no zip end-of-central-directory record (truncated or not a zip)");
        var r = file.Span(eocd, 22);
        if (BinaryPrimitives.ReadUInt16LittleEndian(r[4..]) != 0 || BinaryPrimitives.ReadUInt16LittleEndian(r[6..]) != 0)
            throw new CartanFormatException(path, "multi-disk zip archives are not supported");
        long count = BinaryPrimitives.ReadUInt16LittleEndian(r[10..]);
        long cdSize = BinaryPrimitives.ReadUInt32LittleEndian(r[12..]);
        cdOffset = BinaryPrimitives.ReadUInt32LittleEndian(r[16..]);
        long cdLimit = eocd;
        if (count == 0xFFFF || cdSize == 0xFFFFFFFF || cdOffset == 0xFFFFFFFF)
        {
            if (eocd < 20) throw new CartanFormatException(path, "zip64 end-of-central-directory locator missing");
            var loc = file.Span(eocd - 20, 20);
            if (BinaryPrimitives.ReadUInt32LittleEndian(loc) != 0x07064B50)
                throw new CartanFormatException(path, "zip64 end-of-central-directory locator missing");
            ulong z64 = BinaryPrimitives.ReadUInt64LittleEndian(loc[8..]);
            if (z64 > (ulong)(eocd - 20 - 56))
                throw new CartanFormatException(path, $"zip64 end-of-central-directory offset {z64} lies outside the file");
            var z = file.Span((long)z64, 56);
            if (BinaryPrimitives.ReadUInt32LittleEndian(z) != 0x06064B50)
                throw new CartanFormatException(path, "zip64 end-of-central-directory record missing");
            ulong c64 = BinaryPrimitives.ReadUInt64LittleEndian(z[32..]);
            ulong s64 = BinaryPrimitives.ReadUInt64LittleEndian(z[40..]);
            ulong o64 = BinaryPrimitives.ReadUInt64LittleEndian(z[48..]);
            if (c64 > (ulong)len || s64 > (ulong)len || o64 > (ulong)len)
                throw new CartanFormatException(path, "zip64 end-of-central-directory values exceed the file size");
            count = (long)c64; cdSize = (long)s64; cdOffset = (long)o64;
            cdLimit = (long)z64;
        }
        if (cdOffset > cdLimit || cdSize > cdLimit - cdOffset)
            throw new CartanFormatException(path, $"central directory [{cdOffset}, +{cdSize}) lies outside the file before offset {cdLimit}");
        if (count > cdSize / 46)
            throw new CartanFormatException(path, $"central directory of {cdSize} bytes cannot hold {count} entries");

        var cd = file.Span(cdOffset, cdSize);
        var list = new List<ZipEntry>((int)count);
        int p = 0;
        for (long k = 0; k < count; k++)
        {
            if (cd.Length - p < 46 || BinaryPrimitives.ReadUInt32LittleEndian(cd[p..]) != 0x02014B50)
                throw new CartanFormatException(path, $"central directory record {k} is missing or truncated");
            var h = cd[p..];
            ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(h[8..]);
            ushort method = BinaryPrimitives.ReadUInt16LittleEndian(h[10..]);
            uint crc = BinaryPrimitives.ReadUInt32LittleEndian(h[16..]);
            long csize = BinaryPrimitives.ReadUInt32LittleEndian(h[20..]);
            long usize = BinaryPrimitives.ReadUInt32LittleEndian(h[24..]);
            int nameLen = BinaryPrimitives.ReadUInt16LittleEndian(h[28..]);
            int extraLen = BinaryPrimitives.ReadUInt16LittleEndian(h[30..]);
            int commentLen = BinaryPrimitives.ReadUInt16LittleEndian(h[32..]);
            long local = BinaryPrimitives.ReadUInt32LittleEndian(h[42..]);
            if (46L + nameLen + extraLen + commentLen > cd.Length - p)
                throw new CartanFormatException(path, $"central directory record {k} runs past the directory");
            string name = Encoding.UTF8.GetString(h.Slice(46, nameLen));
            var extra = h.Slice(46 + nameLen, extraLen);
            if (usize == 0xFFFFFFFF || csize == 0xFFFFFFFF || local == 0xFFFFFFFF)
            {
                bool found = false;
                int q = 0;
                while (q + 4 <= extra.Length)
                {
                    int id = BinaryPrimitives.ReadUInt16LittleEndian(extra[q..]);
                    int sz = BinaryPrimitives.ReadUInt16LittleEndian(extra[(q + 2)..]);
                    if (q + 4 + sz > extra.Length) break;
                    if (id == 1)
                    {
                        var f = extra.Slice(q + 4, sz);
                        int fp = 0;
                        for (int field = 0; field < 3; field++)
                        {
                            bool wanted = field switch { 0 => usize == 0xFFFFFFFF, 1 => csize == 0xFFFFFFFF, _ => local == 0xFFFFFFFF };
                            if (!wanted) continue;
                            if (fp + 8 > f.Length)
                                throw new CartanFormatException(path, $"central directory record {k} has a short zip64 extra field");
                            ulong v = BinaryPrimitives.ReadUInt64LittleEndian(f[fp..]);
                            fp += 8;
                            if (v > (ulong)long.MaxValue)
                                throw new CartanFormatException(path, $"central directory record {k} has a zip64 size beyond range");
                            if (field == 0) usize = (long)v; else if (field == 1) csize = (long)v; else local = (long)v;
                        }
                        found = true;
                        break;
                    }
                    q += 4 + sz;
                }
                if (!found)
                    throw new CartanFormatException(path, $"central directory record {k} needs a zip64 extra field but has none");
            }
            list.Add(new ZipEntry(name, method, flags, crc, csize, usize, local));
            p += 46 + nameLen + extraLen + commentLen;
        }
        return list;
    }

    /// <summary>A read-only stream over a byte range of a mapped file.</summary>
    private sealed class MappedSliceStream(MappedFile file, long start, long length) : Stream
    {
        private long _pos;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => length;
        public override long Position { get => _pos; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override int Read(Span<byte> buffer)
        {
            int n = (int)Math.Min(buffer.Length, length - _pos);
            if (n <= 0) return 0;
            file.Span(start + _pos, n).CopyTo(buffer);
            _pos += n;
            return n;
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

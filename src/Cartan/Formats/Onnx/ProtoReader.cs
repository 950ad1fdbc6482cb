namespace Cartan.Formats.Onnx;

/// <summary>Protobuf wire types (groups are rejected: ONNX never uses them).</summary>
internal enum WireType { Varint = 0, Fixed64 = 1, Len = 2, StartGroup = 3, EndGroup = 4, Fixed32 = 5 }

/// <summary>
/// A forward-only reader over one protobuf message held in <c>[start, end)</c> of a byte span (the whole file).
/// Positions are absolute offsets into that span, so recorded ranges can be resolved against the mapping later.
/// Every length is checked against the message's own end; every varint is at most 10 bytes. Any violation
/// throws <see cref="CartanFormatException"/> naming the file and the byte offset.
/// </summary>
internal ref struct ProtoReader
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly string _file;
    private readonly int _end;
    private int _pos;

    public ProtoReader(ReadOnlySpan<byte> data, int start, int end, string file)
    {
        _data = data;
        _pos = start;
        _end = end;
        _file = file;
    }

    public int Position => _pos;
    public int End => _end;

    /// <summary>Reads the next field header; false at the end of the message.</summary>
    public bool Next(out int field, out WireType wire)
    {
        if (_pos >= _end) { field = 0; wire = 0; return false; }
        int at = _pos;
        ulong key = ReadVarint();
        wire = (WireType)(key & 7);
        ulong f = key >> 3;
        if (f == 0 || f > 536_870_911) throw Fail(at, $"invalid protobuf field number {f}");
        if (wire is WireType.StartGroup or WireType.EndGroup || (int)wire > 5)
            throw Fail(at, $"unsupported protobuf wire type {(int)wire} for field {f}");
        field = (int)f;
        return true;
    }

    public ulong ReadVarint()
    {
        ulong v = 0;
        int at = _pos;
        for (int i = 0; i < 10; i++)
        {
            if (_pos >= _end) throw Fail(at, "varint runs past the end of its message");
            byte b = _data[_pos++];
            if (i == 9 && b > 1) throw Fail(at, "varint overflows 64 bits");
            v |= (ulong)(b & 0x7F) << (7 * i);
            if ((b & 0x80) == 0) return v;
        }
        throw Fail(at, "varint longer than 10 bytes");
    }

    /// <summary>A varint that must fit a non-negative long (dims, offsets).</summary>
    public long ReadInt64() => (long)ReadVarint();

    public int ReadEnumOrInt32()
    {
        ulong v = ReadVarint();
        return unchecked((int)v);
    }

    /// <summary>Reads a length prefix and returns the payload range, checked against this message's end; skips past it.</summary>
    public (int Start, int Length) ReadLen()
    {
        int at = _pos;
        ulong len = ReadVarint();
        if (len > (ulong)(_end - _pos))
            throw Fail(at, $"length-delimited field of {len} bytes runs past the end of its parent ({_end - _pos} bytes left)");
        int start = _pos;
        _pos += (int)len;
        return (start, (int)len);
    }

    public ReadOnlySpan<byte> ReadBytes()
    {
        var (s, l) = ReadLen();
        return _data.Slice(s, l);
    }

    public string ReadString() => System.Text.Encoding.UTF8.GetString(ReadBytes());

    public uint ReadFixed32()
    {
        if (_end - _pos < 4) throw Fail(_pos, "fixed32 field runs past the end of its message");
        uint v = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(_data.Slice(_pos, 4));
        _pos += 4;
        return v;
    }

    public ulong ReadFixed64()
    {
        if (_end - _pos < 8) throw Fail(_pos, "fixed64 field runs past the end of its message");
        ulong v = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(_data.Slice(_pos, 8));
        _pos += 8;
        return v;
    }

    public void Skip(WireType wire)
    {
        switch (wire)
        {
            case WireType.Varint: ReadVarint(); break;
            case WireType.Fixed64: ReadFixed64(); break;
            case WireType.Fixed32: ReadFixed32(); break;
            case WireType.Len: ReadLen(); break;
            default: throw Fail(_pos, $"unsupported protobuf wire type {(int)wire}");
        }
    }

    /// <summary>Requires <paramref name="wire"/> to be <paramref name="expected"/>.</summary>
    public void Expect(WireType wire, WireType expected, string what)
    {
        if (wire != expected) throw Fail(_pos, $"{what} has wire type {(int)wire}, expected {(int)expected}");
    }

    public CartanFormatException Fail(int at, string problem) => new(_file, $"{problem} (byte {at})");

    /// <summary>Counts the varints packed in <c>[start, start+len)</c>, validating each (≤ 10 bytes, none cut off).</summary>
    public static long CountPackedVarints(ReadOnlySpan<byte> data, int start, int len, string file)
    {
        long n = 0;
        int run = 0;
        for (int i = start; i < start + len; i++)
        {
            byte b = data[i];
            run++;
            if (run > 10 || (run == 10 && b > 1)) throw new CartanFormatException(file, $"packed varint overflows 64 bits (byte {i})");
            if ((b & 0x80) == 0) { n++; run = 0; }
        }
        if (run != 0) throw new CartanFormatException(file, $"packed varint cut off at the end of its field (byte {start + len})");
        return n;
    }
}

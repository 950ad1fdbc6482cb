using System.Buffers.Binary;

namespace Cartan.Formats.Tfjs;

/// <summary>
/// The shards of one tfjs weight group, memory-mapped and seen as one concatenated byte range.
/// Ranges inside one shard are returned as spans over the mapping; ranges that cross a shard
/// boundary are copied piece by piece into a fresh buffer.
/// </summary>
internal sealed class ShardSet
{
    private readonly MappedFile[] _files;
    private readonly long[] _starts;

    public ShardSet(MappedFile[] files)
    {
        _files = files;
        _starts = new long[files.Length + 1];
        long total = 0;
        for (int i = 0; i < files.Length; i++)
        {
            _starts[i] = total;
            total = checked(total + files[i].Length);
        }
        _starts[files.Length] = total;
        Length = total;
    }

    /// <summary>Total bytes of all shards.</summary>
    public long Length { get; }

    /// <summary>Name of the file that holds byte <paramref name="offset"/> of the concatenation (for messages).</summary>
    public string FileAt(long offset)
    {
        if (_files.Length == 0) return "(no shards)";
        return _files[ShardIndex(Math.Min(Math.Max(offset, 0), Math.Max(Length - 1, 0)))].Path;
    }

    private int ShardIndex(long offset)
    {
        // Last shard whose start is <= offset and that is not empty at offset.
        int lo = 0, hi = _files.Length - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (_starts[mid] <= offset) lo = mid; else hi = mid - 1;
        }
        // Skip empty shards that start at the same offset as the next one.
        while (lo < _files.Length - 1 && _starts[lo + 1] <= offset) lo++;
        return lo;
    }

    /// <summary>
    /// The bytes [offset, offset+length) of the concatenation. Callers must have checked the range
    /// against <see cref="Length"/>; a range over 2 GiB is refused.
    /// </summary>
    public ReadOnlySpan<byte> Read(long offset, long length, string tensorForMessages)
    {
        if (offset < 0 || length < 0 || offset > Length || length > Length - offset)
            throw new CartanFormatException(FileAt(offset), $"tensor '{tensorForMessages}' needs bytes [{offset}, {offset + length}) but the group's shards hold {Length} bytes");
        if (length > Array.MaxLength)
            throw new CartanFormatException(FileAt(offset), $"tensor '{tensorForMessages}' spans {length} bytes, more than one buffer can hold");
        if (length == 0) return ReadOnlySpan<byte>.Empty;
        int first = ShardIndex(offset);
        long inFirst = offset - _starts[first];
        if (length <= _files[first].Length - inFirst)
            return _files[first].Span(inFirst, length);
        var buffer = new byte[length];
        long done = 0;
        int s = first;
        while (done < length)
        {
            long local = offset + done - _starts[s];
            long take = Math.Min(_files[s].Length - local, length - done);
            if (take > 0)
            {
                _files[s].Span(local, take).CopyTo(buffer.AsSpan((int)done));
                done += take;
            }
            s++;
        }
        return buffer;
    }

    /// <summary>Reads a little-endian u32 at <paramref name="offset"/> (possibly across a shard boundary).</summary>
    public uint ReadUInt32(long offset, string tensorForMessages) =>
        BinaryPrimitives.ReadUInt32LittleEndian(Read(offset, 4, tensorForMessages));
}

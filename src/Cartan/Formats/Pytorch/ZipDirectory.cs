using System.Buffers.Binary;
using System.Text;

namespace Cartan.Formats.Pytorch;

/// <summary>One zip entry: where its (stored or deflated) bytes lie in the mapped file.</summary>
public sealed record ZipEntry(string Name, int Method, long DataOffset, long CompressedSize, long Size);

/// <summary>
/// A minimal, validating reader of a zip central directory (with ZIP64), enough to map the stored entries of a
/// <c>torch.save</c> archive in place. Every offset and size is checked against the file before use.
/// </summary>
public static class ZipDirectory
{
    private const int MaxEntries = 1 << 20;

    /// <summary>Reads the central directory of <paramref name="f"/>. Throws only <see cref="CartanFormatException"/>.</summary>
    public static IReadOnlyList<ZipEntry> Read(MappedFile f)
    {
        CartanFormatException Fail(string p) => new(f.Path, p);
        long len = f.Length;
        if (len < 22) throw Fail("file too short for a zip archive");
        // End of central directory: the last 22 + up to 65535 comment bytes.
        long scanFrom = Math.Max(0, len - 22 - 65535);
        var tail = f.Span(scanFrom, len - scanFrom);
        int eocd = -1;
        for (int i = tail.Length - 22; i >= 0; i--)
            if (tail[i] == 0x50 && tail[i + 1] == 0x4b && tail[i + 2] == 5 && tail[i + 3] == 6
                && i + 22 + BinaryPrimitives.ReadUInt16LittleEndian(tail.Slice(i + 20)) <= tail.Length) { eocd = i; break; }
        if (eocd < 0) throw Fail("zip end-of-central-directory record not found");
        long eocdAt = scanFrom + eocd;
        var e = f.Span(eocdAt, 22);
        long count = BinaryPrimitives.ReadUInt16LittleEndian(e.Slice(10));
        long cdSize = BinaryPrimitives.ReadUInt32LittleEndian(e.Slice(12));
        long cdOffset = BinaryPrimitives.ReadUInt32LittleEndian(e.Slice(16));
        if (BinaryPrimitives.ReadUInt16LittleEndian(e.Slice(4)) != 0 || BinaryPrimitives.ReadUInt16LittleEndian(e.Slice(6)) != 0)
            throw Fail("multi-disk zip archives are not supported");
        if (count == 0xFFFF || cdSize == 0xFFFFFFFF || cdOffset == 0xFFFFFFFF)
        {
            if (eocdAt < 20) throw Fail("ZIP64 locator missing");
            var loc = f.Span(eocdAt - 20, 20);
            if (BinaryPrimitives.ReadUInt32LittleEndian(loc) != 0x07064b50) throw Fail("ZIP64 locator missing");
            ulong z64 = BinaryPrimitives.ReadUInt64LittleEndian(loc.Slice(8));
            if (z64 > (ulong)(len - 56)) throw Fail("ZIP64 end record lies outside the file");
            var z = f.Span((long)z64, 56);
            if (BinaryPrimitives.ReadUInt32LittleEndian(z) != 0x06064b50) throw Fail($"bad ZIP64 end record signature at byte {z64}");
            ulong c64 = BinaryPrimitives.ReadUInt64LittleEndian(z.Slice(32));
            ulong s64 = BinaryPrimitives.ReadUInt64LittleEndian(z.Slice(40));
            ulong o64 = BinaryPrimitives.ReadUInt64LittleEndian(z.Slice(48));
            if (c64 > MaxEntries || s64 > (ulong)len || o64 > (ulong)len) throw Fail("ZIP64 end record holds impossible sizes");
            count = (long)c64; cdSize = (long)s64; cdOffset = (long)o64;
        }
        if (cdOffset > len || cdSize > len - cdOffset) throw Fail("zip central directory lies outside the file");
        if (count > cdSize / 46) throw Fail($"zip claims {count} entries in a {cdSize}-byte central directory");
        var cd = f.Span(cdOffset, cdSize);
        var entries = new List<ZipEntry>((int)count);
        var names = new HashSet<string>(StringComparer.Ordinal);
        int p = 0;
        for (long i = 0; i < count; i++)
        {
            if (cd.Length - p < 46 || BinaryPrimitives.ReadUInt32LittleEndian(cd.Slice(p)) != 0x02014b50)
                throw Fail($"bad zip central directory entry {i} at byte {cdOffset + p}");
            int flags = BinaryPrimitives.ReadUInt16LittleEndian(cd.Slice(p + 8));
            int method = BinaryPrimitives.ReadUInt16LittleEndian(cd.Slice(p + 10));
            long csize = BinaryPrimitives.ReadUInt32LittleEndian(cd.Slice(p + 20));
            long usize = BinaryPrimitives.ReadUInt32LittleEndian(cd.Slice(p + 24));
            int nlen = BinaryPrimitives.ReadUInt16LittleEndian(cd.Slice(p + 28));
            int xlen = BinaryPrimitives.ReadUInt16LittleEndian(cd.Slice(p + 30));
            int clen = BinaryPrimitives.ReadUInt16LittleEndian(cd.Slice(p + 32));
            long local = BinaryPrimitives.ReadUInt32LittleEndian(cd.Slice(p + 42));
            if (cd.Length - p - 46 < (long)nlen + xlen + clen) throw Fail($"zip central directory entry {i} runs past the directory");
            string name;
            try { name = new UTF8Encoding(false, true).GetString(cd.Slice(p + 46, nlen)); }
            catch (ArgumentException) { throw Fail($"zip entry {i} has a name that is not UTF-8"); }
            // ZIP64 extra field: the 0xFFFFFFFF fields follow in the order usize, csize, local offset.
            var extra = cd.Slice(p + 46 + nlen, xlen);
            int xp = 0;
            while (xp + 4 <= extra.Length)
            {
                int id = BinaryPrimitives.ReadUInt16LittleEndian(extra.Slice(xp));
                int sz = BinaryPrimitives.ReadUInt16LittleEndian(extra.Slice(xp + 2));
                if (xp + 4 + sz > extra.Length) throw Fail($"zip entry '{name}' has a truncated extra field");
                if (id == 1)
                {
                    var x = extra.Slice(xp + 4, sz);
                    int k = 0;
                    for (int field = 0; field < 3; field++)
                    {
                        long cur = field == 0 ? usize : field == 1 ? csize : local;
                        if (cur != 0xFFFFFFFF) continue;
                        if (k + 8 > x.Length) throw Fail($"zip entry '{name}' has a short ZIP64 field");
                        ulong v = BinaryPrimitives.ReadUInt64LittleEndian(x.Slice(k));
                        k += 8;
                        if (v > (ulong)len) throw Fail($"zip entry '{name}' has a ZIP64 size beyond the file");
                        if (field == 0) usize = (long)v; else if (field == 1) csize = (long)v; else local = (long)v;
                    }
                }
                xp += 4 + sz;
            }
            p += 46 + nlen + xlen + clen;
            if ((flags & 1) != 0) throw Fail($"zip entry '{name}' is encrypted");
            if (method is not (0 or 8)) throw Fail($"zip entry '{name}' uses compression method {method}");
            if (method == 0 && csize != usize) throw Fail($"stored zip entry '{name}' has different compressed and plain sizes");
            if (local > len - 30) throw Fail($"zip entry '{name}' local header lies outside the file");
            var lh = f.Span(local, 30);
            if (BinaryPrimitives.ReadUInt32LittleEndian(lh) != 0x04034b50) throw Fail($"zip entry '{name}' has a bad local header at byte {local}");
            long data = local + 30 + BinaryPrimitives.ReadUInt16LittleEndian(lh.Slice(26)) + BinaryPrimitives.ReadUInt16LittleEndian(lh.Slice(28));
            if (data > len || csize > len - data) throw Fail($"zip entry '{name}' data lies outside the file");
            if (!names.Add(name)) throw Fail($"duplicate zip entry '{name}'");
            entries.Add(new ZipEntry(name, method, data, csize, usize));
        }
        // Stored entries must not overlap (each byte of the archive belongs to one entry).
        var sorted = entries.Where(x => x.CompressedSize > 0).OrderBy(x => x.DataOffset).ToList();
        for (int i = 1; i < sorted.Count; i++)
            if (sorted[i].DataOffset < sorted[i - 1].DataOffset + sorted[i - 1].CompressedSize)
                throw Fail($"zip entries '{sorted[i - 1].Name}' and '{sorted[i].Name}' overlap");
        return entries;
    }
}

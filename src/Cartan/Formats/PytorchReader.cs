using System.IO.Compression;
using System.Text;
using Cartan.Formats.Pytorch;
using Cartan.Tensors;

namespace Cartan.Formats;

/// <summary>
/// Reads PyTorch zip checkpoints (<c>torch.save</c> since 1.6: <c>ARCHIVE/data.pkl</c> plus stored storages
/// <c>ARCHIVE/data/N</c>). The pickle is interpreted by <see cref="SafePickle"/> (an allowlist, nothing executed);
/// storages are memory-mapped in place. Nested dicts (<c>{"model": state_dict}</c>) and lists are flattened into
/// dotted names; non-tensor values are ignored. Strided (non-contiguous) tensors are materialised on load.
/// </summary>
public static class PytorchReader
{
    private const long MaxPickleBytes = 256L << 20;
    private const int MaxDepth = 64;
    private const long MaxVisits = 10_000_000;

    /// <summary>True when <paramref name="path"/> is a zip archive holding an entry that ends in <c>data.pkl</c>. Never throws for bad files.</summary>
    public static bool IsTorchZip(string path)
    {
        try
        {
            using var f = MappedFile.Open(path);
            if (f.Length < 4) return false;
            var h = f.Span(0, 2);
            if (h[0] != (byte)'P' || h[1] != (byte)'K') return false;
            return ZipDirectory.Read(f).Any(e => e.Name == "data.pkl" || e.Name.EndsWith("/data.pkl", StringComparison.Ordinal));
        }
        catch (CartanFormatException) { return false; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    public static WeightModel Open(string path)
    {
        var file = MappedFile.Open(path);
        try { return OpenMapped(path, file); }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static WeightModel OpenMapped(string path, MappedFile file)
    {
        CartanFormatException Fail(string p) => new(path, p);
        if (file.Length >= 2 && file.Span(0, 2)[0] == 0x80)
            throw Fail("legacy (pre-1.6, non-zip) torch.save format is not supported; re-save with a recent torch");
        if (file.Length < 4 || file.Span(0, 2)[0] != (byte)'P' || file.Span(0, 2)[1] != (byte)'K')
            throw Fail("not a zip archive (PyTorch checkpoints since 1.6 are zip files)");
        var entries = ZipDirectory.Read(file);
        var pkls = entries.Where(e => e.Name == "data.pkl" || e.Name.EndsWith("/data.pkl", StringComparison.Ordinal)).ToList();
        if (pkls.Count == 0) throw Fail("zip archive holds no data.pkl (not a torch.save checkpoint)");
        if (pkls.Count > 1) throw Fail("zip archive holds several data.pkl entries");
        var pkl = pkls[0];
        string prefix = pkl.Name[..^"data.pkl".Length];
        var byName = entries.ToDictionary(e => e.Name, StringComparer.Ordinal);

        if (byName.TryGetValue(prefix + "byteorder", out var bo))
        {
            var text = Encoding.ASCII.GetString(EntryBytes(file, bo, 64)).Trim();
            if (text != "little") throw Fail($"checkpoint byte order is '{text}', only little-endian is supported");
        }

        var root = SafePickle.Load(path, EntryBytes(file, pkl, MaxPickleBytes));
        var found = new List<(string Name, PickleTensor T)>();
        long visits = 0;
        void Walk(object? o, string name, int depth)
        {
            if (++visits > MaxVisits) throw Fail("checkpoint object graph is too large (or shared too often)");
            if (depth > MaxDepth) throw Fail($"checkpoint nests deeper than {MaxDepth} levels (or is cyclic)");
            string Sub(string k) => name.Length == 0 ? k : $"{name}.{k}";
            switch (o)
            {
                case PickleTensor t: found.Add((name, t)); break;
                case PickleDict d:
                    foreach (var (k, v) in d.Items)
                    {
                        string? key = k switch { string s => s, long l => l.ToString(System.Globalization.CultureInfo.InvariantCulture), _ => null };
                        if (key is not null) Walk(v, Sub(key), depth + 1);
                    }
                    break;
                case List<object?> l:
                    for (int i = 0; i < l.Count; i++) Walk(l[i], Sub(i.ToString(System.Globalization.CultureInfo.InvariantCulture)), depth + 1);
                    break;
                case object[] a:
                    for (int i = 0; i < a.Length; i++) Walk(a[i], Sub(i.ToString(System.Globalization.CultureInfo.InvariantCulture)), depth + 1);
                    break;
            }
        }
        Walk(root, "", 0);
        if (found.Count == 0 && root is not PickleDict) throw Fail("checkpoint holds no state dict (top-level object is not a dict)");

        var tensors = new List<WeightTensor>(found.Count);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, t) in found)
        {
            if (name.Length == 0) throw Fail("checkpoint holds a bare tensor, not a state dict");
            if (!names.Add(name)) throw Fail($"duplicate tensor name '{name}' after flattening nested dicts");
            if (!byName.TryGetValue(prefix + "data/" + t.Storage.Key, out var se))
                throw Fail($"tensor '{name}' refers to storage '{t.Storage.Key}' that the archive lacks");
            if (se.Method != 0) throw Fail($"storage '{t.Storage.Key}' is compressed; torch stores storages uncompressed");
            int es = DTypes.Size(t.Storage.DType);
            if (t.Storage.Numel > se.Size / es)
                throw Fail($"storage '{t.Storage.Key}' declares {t.Storage.Numel} elements but its entry holds {se.Size} bytes");
            long n = 1, maxIndex = t.Offset;
            bool empty = false;
            for (int i = 0; i < t.Shape.Length; i++)
            {
                long d = t.Shape[i];
                if (d == 0) { empty = true; continue; }
                if (n > long.MaxValue / d) throw Fail($"tensor '{name}' element count overflows");
                n *= d;
                long step = d - 1;
                if (t.Stride[i] != 0 && step > (long.MaxValue - maxIndex) / t.Stride[i]) throw Fail($"tensor '{name}' strides overflow");
                maxIndex += step * t.Stride[i];
            }
            if (empty) n = 0;
            if (!empty && maxIndex >= t.Storage.Numel)
                throw Fail($"tensor '{name}' reaches element {maxIndex} of storage '{t.Storage.Key}' which holds {t.Storage.Numel}");
            if (n > Array.MaxLength) throw Fail($"tensor '{name}' has {n} elements, too many to load at once");
            var layout = t.Shape.Length == 4 ? TensorLayout.OIHW : TensorLayout.Unknown;
            var tt = t;
            long dataOffset = se.DataOffset;
            bool contiguous = IsContiguous(t);
            tensors.Add(new WeightTensor(name, t.Shape, t.Storage.DType, DTypes.Name(t.Storage.DType),
                () => Load(file, tt, dataOffset, n), layout, path)
            {
                RangeReader = contiguous && n > 0 ? (first, dst) => Decode.ToDouble(tt.Storage.DType, file.Span(dataOffset + (tt.Offset + first) * es, (long)dst.Length * es), dst) : null,
                ReleasePages = contiguous && n > 0 ? () => file.DropPages(dataOffset + tt.Offset * es, n * es) : null,
            });
        }
        return new WeightModel(path, "pytorch", tensors, owned: [file]);
    }

    private static byte[] EntryBytes(MappedFile file, ZipEntry e, long limit)
    {
        if (e.Size > limit) throw new CartanFormatException(file.Path, $"zip entry '{e.Name}' is {e.Size} bytes, more than the {limit} allowed");
        var raw = file.Span(e.DataOffset, e.CompressedSize);
        if (e.Method == 0) return raw.ToArray();
        var output = new byte[e.Size];
        try
        {
            using var ms = new MemoryStream(raw.ToArray(), false);
            using var inflate = new DeflateStream(ms, CompressionMode.Decompress);
            int got = inflate.ReadAtLeast(output, output.Length, throwOnEndOfStream: false);
            if (got != output.Length || inflate.ReadByte() != -1)
                throw new CartanFormatException(file.Path, $"zip entry '{e.Name}' inflates to a size other than the {e.Size} bytes declared");
        }
        catch (InvalidDataException) { throw new CartanFormatException(file.Path, $"zip entry '{e.Name}' holds corrupt deflate data"); }
        return output;
    }

    /// <summary>Row-major contiguous: each stride equals the product of the later sizes, ignoring size-1 axes.</summary>
    private static bool IsContiguous(PickleTensor t)
    {
        long expect = 1;
        for (int i = t.Shape.Length - 1; i >= 0; i--)
        {
            if (t.Shape[i] != 1 && t.Stride[i] != expect) return false;
            expect *= t.Shape[i];
        }
        return true;
    }

    private static double[] Load(MappedFile file, PickleTensor t, long dataOffset, long n)
    {
        var dtype = t.Storage.DType;
        int es = DTypes.Size(dtype);
        var dst = new double[n];
        if (n == 0) return dst;
        if (IsContiguous(t))
        {
            Decode.ToDouble(dtype, file.Span(dataOffset + t.Offset * es, n * es), dst);
            file.DropPages(dataOffset + t.Offset * es, n * es);
            return dst;
        }
        // Strided: decode the covered range once, then gather.
        long maxIndex = t.Offset;
        for (int i = 0; i < t.Shape.Length; i++) maxIndex += (t.Shape[i] - 1) * t.Stride[i];
        long span = maxIndex - t.Offset + 1;
        if (span > Array.MaxLength || span > 64L * n + 1_000_000)
        {
            // A sparse view over a large storage: decode element by element.
            var one = new double[1];
            Gather(t, n, idx => { Decode.ToDouble(dtype, file.Span(dataOffset + idx * es, es), one); return one[0]; }, dst);
            return dst;
        }
        var block = new double[span];
        Decode.ToDouble(dtype, file.Span(dataOffset + t.Offset * es, span * es), block);
        long baseOff = t.Offset;
        Gather(t, n, idx => block[idx - baseOff], dst);
        return dst;
    }

    private static void Gather(PickleTensor t, long n, Func<long, double> at, double[] dst)
    {
        int r = t.Shape.Length;
        var idx = new long[r];
        long pos = t.Offset;
        for (long k = 0; k < n; k++)
        {
            dst[k] = at(pos);
            for (int i = r - 1; i >= 0; i--)
            {
                idx[i]++;
                pos += t.Stride[i];
                if (idx[i] < t.Shape[i]) break;
                pos -= idx[i] * t.Stride[i];
                idx[i] = 0;
            }
        }
    }
}

using System.Buffers.Binary;
using System.IO.Compression;
using Cartan.Formats;

namespace Cartan.Data;

/// <summary>An unsigned-byte IDX array (LeCun's MNIST format): its dimensions and its values, row-major.</summary>
public sealed record IdxArray(int[] Shape, byte[] Data);

/// <summary>
/// A safe reader of IDX files with unsigned-byte data (type 0x08), plain or gzip-compressed (detected by the 1F 8B magic).
/// Checks: magic 00 00 08 NDIM with 1 ≤ NDIM ≤ 4, every dimension ≥ 1, the element count within a limit (checked
/// arithmetic), and the data exactly that long (no missing, no trailing bytes). Plain files are memory-mapped; gzip files
/// are streamed through the decompressor, which never produces more than the header announces plus one byte. Every
/// problem with the input is a <see cref="CartanFormatException"/>.
/// </summary>
public static class Idx
{
    /// <summary>Default limit on the element count (2³⁰, 1 GiB of bytes).</summary>
    public const long DefaultMaxElements = 1L << 30;

    /// <summary>Reads an IDX file.</summary>
    public static IdxArray Read(string path, long maxElements = DefaultMaxElements)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new CartanFormatException(path, "file does not exist");
        long length = new FileInfo(path).Length;
        if (length < 4) throw new CartanFormatException(path, $"file is {length} bytes, shorter than an IDX magic number");
        bool gz;
        using (var probe = File.OpenRead(path))
        {
            Span<byte> m = stackalloc byte[2];
            gz = probe.Length >= 2 && probe.ReadAtLeast(m, 2, throwOnEndOfStream: false) == 2 && m[0] == 0x1F && m[1] == 0x8B;
        }
        return gz ? ReadGzip(path, maxElements) : ReadPlain(path, maxElements);
    }

    private static (int[] Shape, long Count) Header(string path, ReadOnlySpan<byte> magic, Func<int, byte[]> readDims, long maxElements)
    {
        if (magic[0] != 0 || magic[1] != 0) throw new CartanFormatException(path, "not an IDX file (first two bytes must be zero)");
        if (magic[2] != 0x08) throw new CartanFormatException(path, $"IDX data type 0x{magic[2]:X2} is not supported (only unsigned bytes, 0x08)");
        int ndim = magic[3];
        if (ndim is < 1 or > 4) throw new CartanFormatException(path, $"IDX rank {ndim} is outside 1..4");
        var dims = readDims(ndim);
        var shape = new int[ndim];
        long count = 1;
        for (int i = 0; i < ndim; i++)
        {
            uint d = BinaryPrimitives.ReadUInt32BigEndian(dims.AsSpan(4 * i));
            if (d == 0 || d > int.MaxValue) throw new CartanFormatException(path, $"IDX dimension {i} is {d}");
            shape[i] = (int)d;
            if (count > maxElements / d) throw new CartanFormatException(path, $"IDX array of shape [{string.Join(",", dims.Chunk(4).Select(c => BinaryPrimitives.ReadUInt32BigEndian(c)))}] exceeds the limit of {maxElements} elements");
            count *= d;
        }
        return (shape, count);
    }

    private static IdxArray ReadPlain(string path, long maxElements)
    {
        using var f = MappedFile.Open(path);
        if (f.Length < 4) throw new CartanFormatException(path, $"file is {f.Length} bytes, shorter than an IDX magic number");
        var magic = f.Span(0, 4).ToArray();
        var (shape, count) = Header(path, magic, ndim =>
        {
            if (f.Length < 4 + 4L * ndim) throw new CartanFormatException(path, $"file is {f.Length} bytes, too short for {ndim} IDX dimensions");
            return f.Span(4, 4L * ndim).ToArray();
        }, maxElements);
        long offset = 4 + 4L * shape.Length;
        if (f.Length - offset != count)
            throw new CartanFormatException(path, $"IDX header announces {count} bytes of data but the file holds {f.Length - offset}");
        return new IdxArray(shape, f.Span(offset, count).ToArray());
    }

    private static IdxArray ReadGzip(string path, long maxElements)
    {
        try
        {
            using var fs = File.OpenRead(path);
            using var z = new GZipStream(fs, CompressionMode.Decompress);
            var magic = new byte[4];
            Exact(z, magic, path, "the IDX magic number");
            var (shape, count) = Header(path, magic, ndim =>
            {
                var d = new byte[4 * ndim];
                Exact(z, d, path, "the IDX dimensions");
                return d;
            }, maxElements);
            var data = new byte[count];
            Exact(z, data, path, "the IDX data");
            if (z.ReadByte() >= 0) throw new CartanFormatException(path, $"IDX data continues past the {count} bytes its header announces");
            return new IdxArray(shape, data);
        }
        catch (InvalidDataException e)
        {
            throw new CartanFormatException(path, "corrupt gzip stream", e);
        }
        catch (IOException e) when (e is not FileNotFoundException)
        {
            throw new CartanFormatException(path, "cannot read the gzip stream", e);
        }
    }

    private static void Exact(Stream s, byte[] buffer, string path, string what)
    {
        int got = s.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        if (got != buffer.Length) throw new CartanFormatException(path, $"file ends inside {what} ({got} of {buffer.Length} bytes)");
    }
}

/// <summary>One split of Fashion-MNIST: images as floats in [0, 1] (N×28×28 row-major) and labels 0..9.</summary>
public sealed record ImageSet(float[] Images, int[] Labels, int Count, int Height, int Width);

/// <summary>Fashion-MNIST (Xiao, Rasul and Vollgraf 2017; MIT) from the gzipped IDX files of Debian's dataset-fashion-mnist.</summary>
public static class FashionMnist
{
    /// <summary>Where the Debian package installs the files.</summary>
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>The ten class names, by label.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>Loads the training (60 000) or test (10 000) split.</summary>
    public static ImageSet Load(string directory, bool train)
    {
        string prefix = train ? "train" : "t10k";
        string ip = Path.Combine(directory, $"{prefix}-images-idx3-ubyte.gz"), lp = Path.Combine(directory, $"{prefix}-labels-idx1-ubyte.gz");
        var img = Idx.Read(ip);
        var lab = Idx.Read(lp);
        if (img.Shape.Length != 3) throw new CartanFormatException(ip, $"expected N×H×W images, got rank {img.Shape.Length}");
        if (lab.Shape.Length != 1 || lab.Shape[0] != img.Shape[0]) throw new CartanFormatException(lp, $"expected {img.Shape[0]} labels");
        var labels = new int[lab.Data.Length];
        for (int i = 0; i < labels.Length; i++)
        {
            if (lab.Data[i] > 9) throw new CartanFormatException(lp, $"label {i} is {lab.Data[i]}, outside 0..9");
            labels[i] = lab.Data[i];
        }
        var images = new float[img.Data.Length];
        for (int i = 0; i < images.Length; i++) images[i] = img.Data[i] / 255f;
        return new ImageSet(images, labels, img.Shape[0], img.Shape[1], img.Shape[2]);
    }
}

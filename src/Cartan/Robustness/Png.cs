using System.Buffers.Binary;
using System.IO.Compression;
using Cartan.Tensors;

namespace Cartan.Robustness;

/// <summary>A minimal PNG encoder (8-bit grey or RGB, no interlace, filter 0 on every row, one zlib IDAT chunk).</summary>
public static class Png
{
    /// <summary>The encoded PNG of an 8-bit grey image (row-major, width·height bytes).</summary>
    public static byte[] EncodeGray(ReadOnlySpan<byte> pixels, int width, int height) => Encode(pixels, width, height, 1);

    /// <summary>The encoded PNG of an 8-bit RGB image (row-major, 3·width·height bytes).</summary>
    public static byte[] EncodeRgb(ReadOnlySpan<byte> pixels, int width, int height) => Encode(pixels, width, height, 3);

    private static byte[] Encode(ReadOnlySpan<byte> pixels, int width, int height, int channels)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        int row = checked(width * channels);
        if (pixels.Length != checked(row * height)) throw new ArgumentException($"{pixels.Length} bytes for a {width}×{height}×{channels} image", nameof(pixels));
        using var raw = new MemoryStream();
        using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
        {
            for (int r = 0; r < height; r++)
            {
                z.WriteByte(0);
                z.Write(pixels.Slice(r * row, row));
            }
        }
        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;
        ihdr[9] = (byte)(channels == 1 ? 0 : 2);
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "IDAT", raw.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream s, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        s.Write(len);
        Span<byte> t = [(byte)type[0], (byte)type[1], (byte)type[2], (byte)type[3]];
        s.Write(t);
        s.Write(data);
        uint crc = Crc32.Update(Crc32.Update(0, t), data);
        BinaryPrimitives.WriteUInt32BigEndian(len, crc);
        s.Write(len);
    }
}

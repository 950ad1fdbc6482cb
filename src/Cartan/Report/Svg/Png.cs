using System.IO.Compression;

namespace Cartan.Report.Svg;

/// <summary>A minimal PNG encoder (8-bit RGB or RGBA, no interlace) for heatmap rasters embedded as data URIs.</summary>
public static class Png
{
    /// <param name="pixels">row-major, 3 (RGB) or 4 (RGBA) bytes per pixel</param>
    public static byte[] Encode(int width, int height, byte[] pixels, bool alpha)
    {
        int bpp = alpha ? 4 : 3;
        if (width <= 0 || height <= 0 || pixels.Length != (long)width * height * bpp) throw new ArgumentException("pixel buffer does not match the size");
        using var ms = new MemoryStream();
        ms.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BigEndian(ihdr, 0, (uint)width); BigEndian(ihdr, 4, (uint)height);
        ihdr[8] = 8; ihdr[9] = (byte)(alpha ? 6 : 2);
        Chunk(ms, "IHDR", ihdr);
        using (var raw = new MemoryStream())
        {
            using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
                for (int y = 0; y < height; y++)
                {
                    z.WriteByte(0);
                    z.Write(pixels, y * width * bpp, width * bpp);
                }
            Chunk(ms, "IDAT", raw.ToArray());
        }
        Chunk(ms, "IEND", []);
        return ms.ToArray();
    }

    /// <summary>8-bit indexed-colour PNG: one palette index per pixel, palette of up to 256 RGB colours.</summary>
    public static byte[] EncodeIndexed(int width, int height, byte[] indices, (byte R, byte G, byte B)[] palette)
    {
        if (width <= 0 || height <= 0 || indices.Length != (long)width * height) throw new ArgumentException("index buffer does not match the size");
        if (palette.Length is 0 or > 256) throw new ArgumentException("palette must hold 1 to 256 colours");
        foreach (var i in indices) if (i >= palette.Length) throw new ArgumentException("index outside the palette");
        using var ms = new MemoryStream();
        ms.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BigEndian(ihdr, 0, (uint)width); BigEndian(ihdr, 4, (uint)height);
        ihdr[8] = 8; ihdr[9] = 3;
        Chunk(ms, "IHDR", ihdr);
        var plte = new byte[palette.Length * 3];
        for (int i = 0; i < palette.Length; i++) (plte[3 * i], plte[3 * i + 1], plte[3 * i + 2]) = palette[i];
        Chunk(ms, "PLTE", plte);
        using (var raw = new MemoryStream())
        {
            using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
                for (int y = 0; y < height; y++)
                {
                    z.WriteByte(0);
                    z.Write(indices, y * width, width);
                }
            Chunk(ms, "IDAT", raw.ToArray());
        }
        Chunk(ms, "IEND", []);
        return ms.ToArray();
    }

    private static void Chunk(Stream s, string type, byte[] data)
    {
        var head = new byte[8];
        BigEndian(head, 0, (uint)data.Length);
        for (int i = 0; i < 4; i++) head[4 + i] = (byte)type[i];
        s.Write(head);
        s.Write(data);
        uint crc = Crc32(head.AsSpan(4, 4), 0xFFFFFFFFu);
        crc = Crc32(data, crc) ^ 0xFFFFFFFFu;
        var c = new byte[4];
        BigEndian(c, 0, crc);
        s.Write(c);
    }

    /// <summary>Running CRC-32 (IEEE) in PNG's convention: pass 0xFFFFFFFF to start, xor the result with 0xFFFFFFFF to finish.</summary>
    public static uint Crc32(ReadOnlySpan<byte> data, uint crc) => ~Cartan.Tensors.Crc32.Update(~crc, data);

    private static void BigEndian(byte[] b, int at, uint v)
    {
        b[at] = (byte)(v >> 24); b[at + 1] = (byte)(v >> 16); b[at + 2] = (byte)(v >> 8); b[at + 3] = (byte)v;
    }
}

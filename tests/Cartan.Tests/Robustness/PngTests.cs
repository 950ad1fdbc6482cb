using System.Buffers.Binary;
using System.IO.Compression;
using Cartan.Robustness;
using Cartan.Tensors;

namespace Cartan.Tests.Robustness;

public class PngTests
{
    [Theory]
    [InlineData(1, 7, 5)]
    [InlineData(3, 4, 9)]
    [InlineData(1, 1, 1)]
    public void ChunksCarryValidCrcsAndThePixelsRoundTrip(int channels, int w, int h)
    {
        var px = Enumerable.Range(0, w * h * channels).Select(i => (byte)(i * 37 % 251)).ToArray();
        var png = channels == 1 ? Png.EncodeGray(px, w, h) : Png.EncodeRgb(px, w, h);
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        int pos = 8;
        var types = new List<string>();
        using var idat = new MemoryStream();
        while (pos < png.Length)
        {
            int len = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
            string type = System.Text.Encoding.ASCII.GetString(png, pos + 4, 4);
            var body = png.AsSpan(pos + 8, len);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos + 8 + len));
            // the CRC covers type and data; check it against a bitwise (table-free) CRC-32 as well as the library's
            Assert.Equal(BitwiseCrc(png.AsSpan(pos + 4, 4 + len)), crc);
            Assert.Equal(Crc32.Update(0, png.AsSpan(pos + 4, 4 + len)), crc);
            if (type == "IHDR")
            {
                Assert.Equal(w, BinaryPrimitives.ReadInt32BigEndian(body));
                Assert.Equal(h, BinaryPrimitives.ReadInt32BigEndian(body[4..]));
                Assert.Equal(8, body[8]);
                Assert.Equal(channels == 1 ? 0 : 2, body[9]);
            }
            if (type == "IDAT") idat.Write(body);
            types.Add(type);
            pos += 12 + len;
        }
        Assert.Equal(["IHDR", "IDAT", "IEND"], types);
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        using var raw = new MemoryStream();
        z.CopyTo(raw);
        var r = raw.ToArray();
        Assert.Equal(h * (1 + w * channels), r.Length);
        for (int row = 0; row < h; row++)
        {
            Assert.Equal(0, r[row * (1 + w * channels)]);
            Assert.Equal(px.AsSpan(row * w * channels, w * channels).ToArray(), r.AsSpan(row * (1 + w * channels) + 1, w * channels).ToArray());
        }
    }

    [Fact]
    public void RejectsAWrongPixelCount() => Assert.Throws<ArgumentException>(() => Png.EncodeGray(new byte[5], 2, 2));

    private static uint BitwiseCrc(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB88320 : c >> 1;
        }
        return ~c;
    }
}

using System.Buffers.Binary;
using Cartan.Tensors;

namespace Cartan.Formats.Gguf;

/// <summary>
/// Dequantises ggml blocks into float64, block by block, following the layouts of ggml-common.h and the
/// order of the reference <c>dequantize_row_*</c> loops. Scales are widened exactly to float64 and the
/// arithmetic is done in float64 (ggml uses float32; results differ by at most one float32 rounding).
/// </summary>
public static class GgmlDequant
{
    private const int QK = 256;

    /// <summary>Decodes <c>dst.Length</c> values (a whole number of blocks) of ggml type <paramref name="type"/>.</summary>
    public static void Decode(GgmlTypes.Info type, ReadOnlySpan<byte> src, Span<double> dst)
    {
        if (!type.Decodable) throw new ArgumentException($"no decoder for {type.Name}");
        if (dst.Length % type.BlockElements != 0) throw new ArgumentException("element count is not a whole number of blocks");
        long blocks = dst.Length / type.BlockElements;
        if (src.Length < blocks * type.BlockBytes) throw new ArgumentException("source shorter than the blocks it should hold");
        if (type.BlockElements == 1)
        {
            Cartan.Tensors.Decode.ToDouble(type.DType, src, dst);
            return;
        }
        int be = type.BlockElements, bb = type.BlockBytes;
        for (int b = 0; b < blocks; b++)
        {
            var s = src.Slice(b * bb, bb);
            var y = dst.Slice(b * be, be);
            switch (type.Name)
            {
                case "Q4_0": Q4_0(s, y); break;
                case "Q4_1": Q4_1(s, y); break;
                case "Q5_0": Q5_0(s, y); break;
                case "Q5_1": Q5_1(s, y); break;
                case "Q8_0": Q8_0(s, y); break;
                case "Q2_K": Q2_K(s, y); break;
                case "Q3_K": Q3_K(s, y); break;
                case "Q4_K": Q4_K(s, y); break;
                case "Q5_K": Q5_K(s, y); break;
                case "Q6_K": Q6_K(s, y); break;
                case "Q8_K": Q8_K(s, y); break;
                default: throw new ArgumentException($"no decoder for {type.Name}");
            }
        }
    }

    private static double H(ReadOnlySpan<byte> s, int at) => (double)BinaryPrimitives.ReadHalfLittleEndian(s.Slice(at, 2));

    // block_q4_0 { half d; u8 qs[16]; }: x[j] = (lo4 - 8) d, x[j+16] = (hi4 - 8) d
    private static void Q4_0(ReadOnlySpan<byte> s, Span<double> y)
    {
        double d = H(s, 0);
        for (int j = 0; j < 16; j++)
        {
            int q = s[2 + j];
            y[j] = ((q & 0xF) - 8) * d;
            y[j + 16] = ((q >> 4) - 8) * d;
        }
    }

    // block_q4_1 { half d, m; u8 qs[16]; }: x = q d + m
    private static void Q4_1(ReadOnlySpan<byte> s, Span<double> y)
    {
        double d = H(s, 0), m = H(s, 2);
        for (int j = 0; j < 16; j++)
        {
            int q = s[4 + j];
            y[j] = (q & 0xF) * d + m;
            y[j + 16] = (q >> 4) * d + m;
        }
    }

    // block_q5_0 { half d; u32 qh; u8 qs[16]; }: 5th bit of element j is bit j of qh
    private static void Q5_0(ReadOnlySpan<byte> s, Span<double> y)
    {
        double d = H(s, 0);
        uint qh = BinaryPrimitives.ReadUInt32LittleEndian(s.Slice(2, 4));
        for (int j = 0; j < 16; j++)
        {
            int q = s[6 + j];
            int h0 = (int)((qh >> j) & 1) << 4, h1 = (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = (((q & 0xF) | h0) - 16) * d;
            y[j + 16] = (((q >> 4) | h1) - 16) * d;
        }
    }

    // block_q5_1 { half d, m; u32 qh; u8 qs[16]; }
    private static void Q5_1(ReadOnlySpan<byte> s, Span<double> y)
    {
        double d = H(s, 0), m = H(s, 2);
        uint qh = BinaryPrimitives.ReadUInt32LittleEndian(s.Slice(4, 4));
        for (int j = 0; j < 16; j++)
        {
            int q = s[8 + j];
            int h0 = (int)((qh >> j) & 1) << 4, h1 = (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = ((q & 0xF) | h0) * d + m;
            y[j + 16] = ((q >> 4) | h1) * d + m;
        }
    }

    // block_q8_0 { half d; i8 qs[32]; }
    private static void Q8_0(ReadOnlySpan<byte> s, Span<double> y)
    {
        double d = H(s, 0);
        for (int j = 0; j < 32; j++) y[j] = (sbyte)s[2 + j] * d;
    }

    // block_q2_K { u8 scales[16]; u8 qs[64]; half d, dmin; }: element e lies in sub-block e/16 whose byte holds
    // scale (low nibble) and min (high nibble); its 2 bits sit in qs[32 (e/128) + e%32] at shift 2 ((e%128)/32).
    private static void Q2_K(ReadOnlySpan<byte> s, Span<double> y)
    {
        double d = H(s, 80), dmin = H(s, 82);
        for (int e = 0; e < QK; e++)
        {
            int sc = s[e >> 4];
            int q = (s[16 + 32 * (e >> 7) + (e & 31)] >> (2 * ((e & 127) >> 5))) & 3;
            y[e] = d * (sc & 0xF) * q - dmin * (sc >> 4);
        }
    }

    // block_q3_K { u8 hmask[32]; u8 qs[64]; u8 scales[12]; half d; }: 16 signed 6-bit scales (stored +32),
    // low 4 bits in nibbles of scales[0..7], high 2 bits in scales[8..11]; quant = low2 + 4 hbit - 4.
    private static void Q3_K(ReadOnlySpan<byte> s, Span<double> y)
    {
        var sb = s.Slice(96, 12);
        double d = H(s, 108);
        Span<int> scale = stackalloc int[16];
        for (int i = 0; i < 16; i++)
        {
            int lo = i < 8 ? sb[i] & 0xF : sb[i - 8] >> 4;
            int hi = (sb[8 + (i & 3)] >> (2 * (i >> 2))) & 3;
            scale[i] = (lo | (hi << 4)) - 32;
        }
        for (int e = 0; e < QK; e++)
        {
            int n = e >> 7, j = (e & 127) >> 5, l = e & 31;
            int low = (s[32 + 32 * n + l] >> (2 * j)) & 3;
            int hbit = (s[l] >> (4 * n + j)) & 1;
            y[e] = d * scale[e >> 4] * (low - (hbit != 0 ? 0 : 4));
        }
    }

    // The 12-byte packing of eight 6-bit scales and mins shared by Q4_K and Q5_K.
    private static void ScaleMinK4(ReadOnlySpan<byte> q, int j, out int sc, out int m)
    {
        if (j < 4) { sc = q[j] & 63; m = q[j + 4] & 63; }
        else { sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4); m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4); }
    }

    // block_q4_K { half d, dmin; u8 scales[12]; u8 qs[128]; }: 64-value chunks, low nibbles first then high.
    private static void Q4_K(ReadOnlySpan<byte> s, Span<double> y)
    {
        double d = H(s, 0), dmin = H(s, 2);
        var sb = s.Slice(4, 12);
        for (int c = 0; c < 4; c++)
        {
            ScaleMinK4(sb, 2 * c, out int s1, out int m1);
            ScaleMinK4(sb, 2 * c + 1, out int s2, out int m2);
            double d1 = d * s1, d2 = d * s2, o1 = dmin * m1, o2 = dmin * m2;
            for (int l = 0; l < 32; l++)
            {
                int q = s[16 + 32 * c + l];
                y[64 * c + l] = d1 * (q & 0xF) - o1;
                y[64 * c + 32 + l] = d2 * (q >> 4) - o2;
            }
        }
    }

    // block_q5_K { half d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]; }: 5th bits in qh, two bits per chunk.
    private static void Q5_K(ReadOnlySpan<byte> s, Span<double> y)
    {
        double d = H(s, 0), dmin = H(s, 2);
        var sb = s.Slice(4, 12);
        for (int c = 0; c < 4; c++)
        {
            ScaleMinK4(sb, 2 * c, out int s1, out int m1);
            ScaleMinK4(sb, 2 * c + 1, out int s2, out int m2);
            double d1 = d * s1, d2 = d * s2, o1 = dmin * m1, o2 = dmin * m2;
            for (int l = 0; l < 32; l++)
            {
                int q = s[48 + 32 * c + l];
                int h = s[16 + l];
                y[64 * c + l] = d1 * ((q & 0xF) | (((h >> (2 * c)) & 1) << 4)) - o1;
                y[64 * c + 32 + l] = d2 * ((q >> 4) | (((h >> (2 * c + 1)) & 1) << 4)) - o2;
            }
        }
    }

    // block_q6_K { u8 ql[128]; u8 qh[64]; i8 scales[16]; half d; }: per 128-value half, four 32-runs share ql/qh bytes.
    private static void Q6_K(ReadOnlySpan<byte> s, Span<double> y)
    {
        double d = H(s, 208);
        for (int n = 0; n < 2; n++)
        {
            int ql = 64 * n, qh = 128 + 32 * n, sc = 192 + 8 * n, o = 128 * n;
            for (int l = 0; l < 32; l++)
            {
                int is_ = l >> 4;
                int a = s[ql + l], b = s[ql + 32 + l], h = s[qh + l];
                int q1 = ((a & 0xF) | ((h & 3) << 4)) - 32;
                int q2 = ((b & 0xF) | (((h >> 2) & 3) << 4)) - 32;
                int q3 = ((a >> 4) | (((h >> 4) & 3) << 4)) - 32;
                int q4 = ((b >> 4) | (((h >> 6) & 3) << 4)) - 32;
                y[o + l] = d * (sbyte)s[sc + is_] * q1;
                y[o + l + 32] = d * (sbyte)s[sc + is_ + 2] * q2;
                y[o + l + 64] = d * (sbyte)s[sc + is_ + 4] * q3;
                y[o + l + 96] = d * (sbyte)s[sc + is_ + 6] * q4;
            }
        }
    }

    // block_q8_K { float d; i8 qs[256]; i16 bsums[16]; }
    private static void Q8_K(ReadOnlySpan<byte> s, Span<double> y)
    {
        double d = BinaryPrimitives.ReadSingleLittleEndian(s.Slice(0, 4));
        for (int j = 0; j < QK; j++) y[j] = d * (sbyte)s[4 + j];
    }
}

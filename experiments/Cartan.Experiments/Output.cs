using System.Globalization;
using System.Text;
using Cartan.Robustness;

namespace Cartan.Experiments;

public static class Output
{
    /// <summary>A .npy (version 1.0) file of float32 or int64 data.</summary>
    public static void WriteNpy(string path, float[] data, params int[] shape) => WriteNpy(path, "<f4", shape, System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()).ToArray());

    public static void WriteNpy(string path, long[] data, params int[] shape) => WriteNpy(path, "<i8", shape, System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()).ToArray());

    private static void WriteNpy(string path, string descr, int[] shape, byte[] bytes)
    {
        string sh = shape.Length == 1 ? $"({shape[0]},)" : "(" + string.Join(", ", shape) + ")";
        string header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {sh}, }}";
        int total = 10 + header.Length + 1;
        header += new string(' ', (64 - total % 64) % 64) + "\n";
        using var f = File.Create(path);
        f.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        f.Write(BitConverter.GetBytes((ushort)header.Length));
        f.Write(Encoding.ASCII.GetBytes(header));
        f.Write(bytes);
    }

    /// <summary>Grey tiles (each h×w, values in [0, 1]) laid out rows×cols with a 2-pixel gap, upscaled, as PNG bytes.</summary>
    public static byte[] TilePng(IReadOnlyList<float[]> tiles, int h, int w, int cols, int scale, bool normalise = false)
    {
        int rows = (tiles.Count + cols - 1) / cols, gap = 2;
        int W = cols * (w * scale + gap) + gap, H = rows * (h * scale + gap) + gap;
        var px = new byte[W * H];
        Array.Fill(px, (byte)255);
        for (int t = 0; t < tiles.Count; t++)
        {
            var tile = tiles[t];
            float lo = 0, hi = 1;
            if (normalise) { lo = tile.Min(); hi = tile.Max(); if (hi <= lo) hi = lo + 1; }
            int r0 = gap + (t / cols) * (h * scale + gap), c0 = gap + (t % cols) * (w * scale + gap);
            for (int r = 0; r < h * scale; r++)
                for (int c = 0; c < w * scale; c++)
                {
                    float v = (tile[(r / scale) * w + c / scale] - lo) / (hi - lo);
                    px[(r0 + r) * W + c0 + c] = (byte)Math.Clamp(Math.Round(v * 255), 0, 255);
                }
        }
        return Png.EncodeGray(px, W, H);
    }

    /// <summary>Reliability diagrams (accuracy bars per confidence bin, the diagonal, counts as a faint histogram) as SVG.</summary>
    public static string ReliabilitySvg(IReadOnlyList<(string Title, ReliabilityBin[] Bins, double Ece)> panels)
    {
        const int P = 220, M = 30;
        int width = panels.Count * (P + M) + M, height = P + 2 * M + 20;
        var s = new StringBuilder();
        string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
        s.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"11\">\n");
        s.Append($"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n");
        for (int p = 0; p < panels.Count; p++)
        {
            var (title, bins, ece) = panels[p];
            double x0 = M + p * (P + M), y0 = M;
            s.Append($"<text x=\"{F(x0)}\" y=\"{F(y0 - 8)}\">{title} (ECE {ece:0.0000})</text>\n");
            s.Append($"<rect x=\"{F(x0)}\" y=\"{F(y0)}\" width=\"{P}\" height=\"{P}\" fill=\"none\" stroke=\"black\"/>\n");
            int total = bins.Sum(b => b.Count);
            double bw = (double)P / bins.Length;
            for (int b = 0; b < bins.Length; b++)
            {
                var bin = bins[b];
                double frac = total > 0 ? (double)bin.Count / total : 0;
                s.Append($"<rect x=\"{F(x0 + b * bw)}\" y=\"{F(y0 + P - frac * P)}\" width=\"{F(bw)}\" height=\"{F(frac * P)}\" fill=\"#ddd\"/>\n");
                if (bin.Count == 0) continue;
                s.Append($"<rect x=\"{F(x0 + b * bw + 1)}\" y=\"{F(y0 + P - bin.Accuracy * P)}\" width=\"{F(bw - 2)}\" height=\"{F(bin.Accuracy * P)}\" fill=\"#3869b1\" fill-opacity=\"0.8\"/>\n");
                s.Append($"<line x1=\"{F(x0 + b * bw + 1)}\" x2=\"{F(x0 + (b + 1) * bw - 1)}\" y1=\"{F(y0 + P - bin.Confidence * P)}\" y2=\"{F(y0 + P - bin.Confidence * P)}\" stroke=\"#d62728\" stroke-width=\"2\"/>\n");
            }
            s.Append($"<line x1=\"{F(x0)}\" y1=\"{F(y0 + P)}\" x2=\"{F(x0 + P)}\" y2=\"{F(y0)}\" stroke=\"gray\" stroke-dasharray=\"4\"/>\n");
            s.Append($"<text x=\"{F(x0 + P / 2 - 30)}\" y=\"{F(y0 + P + 16)}\">confidence</text>\n");
        }
        s.Append($"<text x=\"{M}\" y=\"{height - 6}\">blue: accuracy per bin; red: mean confidence; grey: share of samples; dashed: perfect calibration</text>\n");
        s.Append("</svg>\n");
        return s.ToString();
    }
}

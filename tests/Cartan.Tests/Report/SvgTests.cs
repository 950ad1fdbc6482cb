using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using Cartan.Linalg;
using Cartan.Report;
using Cartan.Report.Svg;

namespace Cartan.Tests.Report;

public sealed class SvgTests
{
    [Theory]
    [InlineData(0.13, 1.0)]
    [InlineData(7, 1.0)]
    [InlineData(0.0031, 0.001)]
    [InlineData(2.4, 5.0)]
    [InlineData(12345, 20000)]
    public void NiceStep_IsOneTwoOrFiveTimesAPowerOfTen_AndAtLeastTheRawStep(double raw, double expectedAtMost)
    {
        double s = Scale.NiceStep(raw);
        Assert.True(s >= raw * (1 - 1e-12));
        double m = s / Math.Pow(10, Math.Floor(Math.Log10(s) + 1e-12));
        Assert.Contains(Math.Round(m, 9), new[] { 1.0, 2.0, 5.0, 10.0 });
        Assert.True(s < raw * 2.5 + 1e-12 || raw <= expectedAtMost);
    }

    [Fact]
    public void LinearTicks_CoverTheData_AreEvenlySpaced_AndIncludeZero()
    {
        var sc = Scale.For([-3.2, 7.9], 0, 100, log: false);
        Assert.True(sc.Lo <= -3.2 && sc.Hi >= 7.9);
        var t = sc.Ticks();
        Assert.Contains(0.0, t);
        var d = t.Zip(t.Skip(1), (x, y) => y - x).ToList();
        Assert.All(d, x => Assert.Equal(d[0], x, 9));
        Assert.InRange(t.Length, 3, 12);
        Assert.Equal(0, sc.Map(sc.Lo), 9);
        Assert.Equal(100, sc.Map(sc.Hi), 9);
    }

    [Fact]
    public void LogScale_MapsDecadesEvenly_AndRejectsNonPositive()
    {
        var sc = Scale.For([0.02, 5, 340, double.NaN, -1, 0], 0, 300, log: true);
        Assert.Equal(0.01, sc.Lo, 12);
        Assert.Equal(1000, sc.Hi, 9);
        Assert.Equal(new[] { 0.01, 0.1, 1, 10, 100, 1000 }, sc.Ticks().Select(x => Math.Round(x, 12)));
        Assert.Equal(60, sc.Map(0.1) - sc.Map(0.01), 9); // 5 decades over 300 px
        Assert.Equal(sc.Map(10) - sc.Map(1), sc.Map(1000) - sc.Map(100), 9);
        Assert.True(double.IsNaN(sc.Map(0)));
        Assert.True(double.IsNaN(sc.Map(-2)));
        Assert.True(double.IsNaN(sc.Map(double.PositiveInfinity)));
        // One decade: 2 and 5 ticks are added.
        Assert.Contains(2.0, Scale.Logarithmic(1, 10, 0, 1).Ticks().Select(x => Math.Round(x, 12)));
        // Degenerate data still give a valid scale.
        var flat = Scale.For([3, 3, 3], 0, 1, log: false);
        Assert.True(flat.Hi > flat.Lo);
        var none = Scale.For([double.NaN], 0, 1, log: true);
        Assert.True(none.Hi > none.Lo && none.Lo > 0);
    }

    [Fact]
    public void ColorMap_ClampsAndMarksMissing()
    {
        Assert.Equal(ColorMap.At(0), ColorMap.At(-5));
        Assert.Equal(ColorMap.At(1), ColorMap.At(17));
        Assert.Equal(ColorMap.Missing, ColorMap.At(double.NaN));
        Assert.NotEqual(ColorMap.At(0), ColorMap.At(1));
        Assert.Equal(0, ColorMap.Normalize(-3, 0, 1, false));
        Assert.Equal(1, ColorMap.Normalize(9, 0, 1, false));
        Assert.Equal(0.5, ColorMap.Normalize(10, 1, 100, true), 12);
        Assert.True(double.IsNaN(ColorMap.Normalize(0, 1, 100, true)));
        Assert.True(double.IsNaN(ColorMap.Normalize(double.PositiveInfinity, 0, 1, false)));
        Assert.Matches("^#[0-9a-f]{6}$", ColorMap.Hex(ColorMap.At(0.3)));
    }

    [Fact]
    public void LinePlot_NeverWritesNaN_AndBreaksTheLineAtMissingPoints()
    {
        var svg = Plot.LinePlot(new LinePlotSpec
        {
            Title = "t <&>", XLog = true, YLog = true,
            Series = [new("a", [1, 2, 3, 4, 5, 6], [1, 0.5, double.NaN, 0.25, -1, double.PositiveInfinity]) { Markers = true }],
            VLines = [new RefLine(double.NaN, "bad"), new RefLine(3, "ok")],
        });
        Assert.DoesNotContain("NaN", svg);
        Assert.DoesNotContain("Infinity", svg);
        Assert.Contains("t &lt;&amp;&gt;", svg);
        var path = Regex.Match(svg, "<path d=\"([^\"]+)\"").Groups[1].Value;
        Assert.Equal(2, path.Count(c => c == 'M')); // [1, 2] then [4]
        Assert.Equal(3, Regex.Matches(svg, "<circle ").Count);
        Assert.Contains(">ok<", svg);
        Assert.DoesNotContain(">bad<", svg);
        // Every number in the SVG is finite.
        foreach (Match m in Regex.Matches(svg, "\\s(?:x|y|x1|x2|y1|y2|cx|cy|width|height)=\"([^\"]+)\""))
            Assert.True(double.TryParse(m.Groups[1].Value.TrimEnd('%'), System.Globalization.CultureInfo.InvariantCulture, out var v) && double.IsFinite(v), m.Value);
    }

    [Fact]
    public void Heatmap_SmallIsVector_LargeIsPng_BoxesAndMasksDrawn()
    {
        var small = Plot.Heatmap(new HeatmapSpec
        {
            Values = [[0, 0.5], [1, double.NaN]], Boxes = [(0, 0, 1, 2, "#f00", "window")], Mask = [[0, 1], [2, 0]], ShowValues = true,
        });
        Assert.Equal(4, Regex.Matches(small, "<rect x=\"[^\"]+\" y=\"[^\"]+\" width=\"[^\"]+\" height=\"[^\"]+\" fill=\"#[0-9a-f]{6}\"><title>").Count);
        Assert.Contains(ColorMap.Hex(ColorMap.Missing), small);
        Assert.Contains("<title>window</title>", small);
        Assert.Contains("fill=\"#ff8c00\"", small);
        Assert.DoesNotContain("NaN", small);

        var rnd = new Random(3);
        var big = Enumerable.Range(0, 300).Select(_ => Enumerable.Range(0, 250).Select(_ => rnd.NextDouble()).ToArray()).ToArray();
        var svg = Plot.Heatmap(new HeatmapSpec { Values = big, LogColor = true });
        var b64 = Regex.Matches(svg, "href=\"data:image/png;base64,([^\"]+)\"").Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(2, b64.Count); // the matrix and the colour bar
        var (w, h) = PngSize(Convert.FromBase64String(b64[0]));
        Assert.Equal((Plot.MaxRaster, Plot.MaxRaster), (w, h));
        Assert.DoesNotContain("<rect x=\"0\" y=\"0\" width=\"1\"", svg);
    }

    private static (int W, int H) PngSize(byte[] png)
    {
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        Assert.Equal("IHDR", Encoding.ASCII.GetString(png, 12, 4));
        return ((png[16] << 24) | (png[17] << 16) | (png[18] << 8) | png[19], (png[20] << 24) | (png[21] << 16) | (png[22] << 8) | png[23]);
    }

    [Fact]
    public void Png_HasTheStandardCrc_AndItsPixelsInflateBack()
    {
        Assert.Equal(0xCBF43926u, Png.Crc32("123456789"u8, 0xFFFFFFFFu) ^ 0xFFFFFFFFu); // the CRC-32 check value
        var px = new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
        var png = Png.Encode(2, 2, px, alpha: false);
        Assert.Equal((2, 2), PngSize(png));
        int at = 8;
        var idat = new MemoryStream();
        while (at < png.Length)
        {
            int len = (png[at] << 24) | (png[at + 1] << 16) | (png[at + 2] << 8) | png[at + 3];
            var type = Encoding.ASCII.GetString(png, at + 4, 4);
            uint crc = Png.Crc32(png.AsSpan(at + 4, 4 + len), 0xFFFFFFFFu) ^ 0xFFFFFFFFu;
            uint stored = (uint)((png[at + 8 + len] << 24) | (png[at + 9 + len] << 16) | (png[at + 10 + len] << 8) | png[at + 11 + len]);
            Assert.Equal(crc, stored);
            if (type == "IDAT") idat.Write(png, at + 8, len);
            at += 12 + len;
        }
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        var raw = new MemoryStream();
        z.CopyTo(raw);
        Assert.Equal(new byte[] { 0, 1, 2, 3, 4, 5, 6, 0, 7, 8, 9, 10, 11, 12 }, raw.ToArray());
        Assert.Throws<ArgumentException>(() => Png.EncodeIndexed(2, 1, [0, 3], [(0, 0, 0), (1, 1, 1)]));
    }

    [Fact]
    public void AlphaByXmin_MatchesTheClosedForm()
    {
        // λ = 1, e, e²: xmin = 1 → α = 1 + 3/(0+1+2) = 2; xmin = e → α = 1 + 2/(0+1) = 3.
        var (x, al) = Figures.AlphaByXmin([Math.E * Math.E, 1, Math.E, 0, -1]);
        Assert.Equal(new[] { 1, Math.E }, x);
        Assert.Equal(2, al[0], 12);
        Assert.Equal(3, al[1], 12);
        // Exact Pareto quantiles with density exponent 2.5: the estimate at the smallest xmin is close to 2.5.
        int n = 4000;
        var pareto = Enumerable.Range(0, n).Select(i => Math.Pow(1 - (i + 0.5) / n, -1 / 1.5)).ToArray();
        var (_, a2) = Figures.AlphaByXmin(pareto);
        Assert.InRange(a2[0], 2.45, 2.55);
        Assert.True(a2.Length <= Figures.MaxPoints + 2);
    }

    [Fact]
    public void RankEnergy_IsMonotoneAndEndsAtOne()
    {
        var sigma = Enumerable.Range(1, 1000).Select(i => 1.0 / i).ToArray();
        var (k, cum) = Figures.RankEnergy(sigma);
        Assert.Equal(1, k[0]);
        Assert.Equal(1000, k[^1]);
        Assert.Equal(1, cum[^1], 12);
        Assert.Equal(1 / sigma.Sum(s => s * s), cum[0], 12);
        Assert.True(cum.Zip(cum.Skip(1)).All(p => p.First <= p.Second));
        Assert.True(k.Length <= Figures.MaxPoints + 2);
    }

    [Fact]
    public void TransportMagnitude_OfAlignedBases_IsTheDiagonalOfNormalisedSpectra()
    {
        int m = 3;
        var eye = new double[] { 1, 0, 0, 0, 1, 0, 0, 0, 1 };
        var perm = new double[] { 0, 1, 0, 1, 0, 0, 0, 0, 1 }; // swaps the first two directions
        double[] sf = [3, 2, 1], st = [4, 1, 1];
        var from = new SvdResult(eye, sf, eye, m, m);
        var to = new SvdResult(eye, st, perm, m, m);
        var k = Figures.TransportMagnitude(from, to, sf, st);
        double nf = Math.Sqrt(14), nt = Math.Sqrt(18);
        Assert.Equal(4 / nt * 2 / nf, k[0][1], 12);
        Assert.Equal(1 / nt * 3 / nf, k[1][0], 12);
        Assert.Equal(1 / nt * 1 / nf, k[2][2], 12);
        Assert.Equal(0, k[0][0], 12);
        Assert.Equal(2, Figures.TransportMagnitude(from, to, sf, st, max: 2).Length);
    }

    [Fact]
    public void ReportOfA100LayerModel_StaysUnder15MB()
    {
        // A synthetic 12-block transformer: 100 layers with 4096 singular values, 99 interfaces with 256×256 |K|, 12×6 head maps.
        var rnd = new Random(7);
        var layers = Enumerable.Range(0, 100).Select(i => new LayerRecord
        {
            Name = $"model.layers.{i / 8}.w{i % 8}.weight", Role = new[] { "attn_q", "attn_k", "attn_v", "attn_o", "mlp_up", "mlp_gate", "mlp_down", "linear" }[i % 8],
            Shape = [4096, 4096], DType = "BF16", Matrix = [4096, 4096], View = "out", Status = "ok", Block = i / 8, Rank = 4096, StableRank = 20, Frobenius = 50,
            Spectrum = Enumerable.Range(1, 4096).Select(j => Math.Pow(j, -0.4) * (1 + 0.01 * rnd.NextDouble())).ToArray(),
            Sigma = Enumerable.Range(1, 10).Select(j => Math.Pow(j, -0.4)).ToArray(),
            Extra = new Dictionary<string, object?>
            {
                ["tau"] = 2.0 + rnd.NextDouble(), ["alpha"] = new Dictionary<string, object?> { ["top"] = 0.7, ["mle"] = 0.8, ["hel"] = 0.8, ["ols"] = 0.9 },
                ["effective_rank"] = new Dictionary<string, object?> { ["0.5"] = 400, ["0.9"] = 2000, ["0.99"] = 3500 },
                ["ww"] = new Dictionary<string, object?> { ["alpha"] = 3.1, ["xmin"] = 0.05, ["n_tail"] = 300, ["ks_d"] = 0.05, ["status"] = "ok" },
            },
        }).ToList();
        var ifs = Enumerable.Range(0, 99).Select(i => new InterfaceRecord
        {
            From = layers[i].Name, To = layers[i + 1].Name, Dim = 4096, Kind = "x", InferredBy = "test",
            TransportMagnitude = Enumerable.Range(0, 256).Select(_ => Enumerable.Range(0, 256).Select(_ => rnd.NextDouble() * 1e-3).ToArray()).ToArray(),
            Extra = new Dictionary<string, object?>
            {
                ["k_from"] = 180, ["k_to"] = 170,
                ["flag"] = new Dictionary<string, object?> { ["grid"] = new[] { 1, 2, 4, 8, 16, 32, 64, 128, 256 },
                    ["overlap"] = Enumerable.Range(0, 9).Select(_ => Enumerable.Range(0, 9).Select(_ => rnd.NextDouble()).ToArray()).ToArray(),
                    ["intersection_dim"] = Enumerable.Range(0, 9).Select(_ => new int[9]).ToArray() },
            },
        }).ToList();
        var heads = Enumerable.Range(0, 12).SelectMany(b => new[] { "Q", "K", "V", "O", "QK", "OV" }.Select(k => (IReadOnlyDictionary<string, object?>)new Dictionary<string, object?>
        {
            ["layer"] = $"model.layers.{b}.q", ["block"] = b, ["kind"] = k, ["mean_overlap"] = 0.1,
            ["overlap"] = Enumerable.Range(0, 32).Select(_ => Enumerable.Range(0, 32).Select(_ => rnd.NextDouble()).ToArray()).ToArray(),
        })).ToList();
        var a = new AnalysisResult
        {
            Tool = new ToolInfo("cartan", "test", "managed"), Model = new ModelInfo("synthetic", "safetensors", "llama", 300),
            Settings = [new("q", 0.9)], Layers = layers, Interfaces = ifs, Heads = heads, Skipped = [],
        };
        var html = HtmlReport.ToHtml(a);
        long bytes = Encoding.UTF8.GetByteCount(html);
        Assert.True(bytes < 15_000_000, $"{bytes / 1e6:F1} MB");
        Assert.DoesNotContain("NaN", Regex.Replace(html, "data:image/png;base64,[^\"]+", ""));
        File.WriteAllText(Path.Combine(ReportTestData.ResultsDir, "synthetic-100-layers.size.txt"), $"{bytes} bytes\n");
    }
}

using System.Buffers.Binary;
using System.Globalization;
using System.Text.RegularExpressions;
using Cartan.Cli;
using SkiaSharp;

namespace Cartan.Tests.Report;

/// <summary>
/// Two <c>cartan analyze --out</c> runs (in-process) on the small safetensors fixture: 32 figures, line plots and a
/// transport heatmap with an embedded raster. Shared by the tests below so the analysis runs twice, not per test.
/// </summary>
public sealed class PngRunsFixture : IDisposable
{
    public string Root { get; } = TestPaths.NewTempDir();
    public string First => Path.Combine(Root, "run1", "figures");
    public string Second => Path.Combine(Root, "run2", "figures");

    public PngRunsFixture()
    {
        var model = TestPaths.Fixture("safetensors", "small.safetensors");
        foreach (var run in new[] { "run1", "run2" })
        {
            var (stdout, stderr) = (new StringWriter(), new StringWriter());
            int rc = Cartan.Cli.Cli.Run(["analyze", model, "--out", Path.Combine(Root, run), "--quiet", "--threads", "2"], stdout, stderr);
            Assert.True(rc == 0, $"analyze exited {rc}: {stderr}");
        }
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}

public sealed class FigurePngTests(PngRunsFixture runs) : IClassFixture<PngRunsFixture>
{
    private static readonly Regex SvgRoot = new("<svg [^>]*?\\bwidth=\"([0-9.]+)\" height=\"([0-9.]+)\"");

    /// <summary>Width and height read from the PNG's IHDR chunk by hand (no decoder involved).</summary>
    private static (int W, int H) Ihdr(byte[] png)
    {
        Assert.True(png.Length > 33, "PNG too short");
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));
        return ((int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(16)), (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(20)));
    }

    private static SKBitmap Decode(byte[] png) => SKBitmap.Decode(png) ?? throw new Xunit.Sdk.XunitException("Skia could not decode the PNG");

    private static int DistinctColours(SKBitmap b)
    {
        var set = new HashSet<uint>();
        foreach (var c in b.Pixels) set.Add((uint)c);
        return set.Count;
    }

    [Fact]
    public void EverySvgFigure_HasAPngTwin_AtTwiceItsSize_ThatDecodesAndIsNotBlank()
    {
        var svgs = Directory.GetFiles(runs.First, "fig-*.svg").Order(StringComparer.Ordinal).ToArray();
        var pngs = Directory.GetFiles(runs.First, "fig-*.png").Order(StringComparer.Ordinal).ToArray();
        Assert.True(svgs.Length >= 20, $"only {svgs.Length} figures");
        Assert.Equal(svgs.Select(p => Path.ChangeExtension(p, ".png")), pngs);
        Assert.Empty(Directory.GetFiles(runs.First, ".*")); // no temporary file left behind
        bool sawRaster = false;
        foreach (var svgPath in svgs)
        {
            var svg = File.ReadAllText(svgPath);
            var m = SvgRoot.Match(svg);
            Assert.True(m.Success, $"{Path.GetFileName(svgPath)}: no width/height on the root element");
            int w = (int)Math.Ceiling(2 * double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
            int h = (int)Math.Ceiling(2 * double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
            var bytes = File.ReadAllBytes(Path.ChangeExtension(svgPath, ".png"));
            Assert.Equal((w, h), Ihdr(bytes));
            using var bmp = Decode(bytes);
            Assert.Equal((w, h), (bmp.Width, bmp.Height));
            int colours = DistinctColours(bmp);
            Assert.True(colours >= 50, $"{Path.GetFileName(svgPath)}: only {colours} distinct colours");
            Assert.Equal(SKColors.White, bmp.GetPixel(0, 0)); // opaque white background, as on the page
            sawRaster |= svg.Contains("<image ", StringComparison.Ordinal);
        }
        Assert.True(sawRaster, "the fixture run drew no heatmap raster; pick a fixture that does");
    }

    [Fact]
    public void FigureText_IsDrawn_WithTheEmbeddedFont()
    {
        var svgPath = Directory.GetFiles(runs.First, "fig-001-*.svg").Single();
        var svg = File.ReadAllText(svgPath);
        Assert.Contains("<text", svg);
        var noText = Regex.Replace(svg, "<text\\b[^>]*>.*?</text>", "", RegexOptions.Singleline);
        Assert.DoesNotContain("<text", noText);

        using var with = Decode(FigurePng.Render(svg));
        using var without = Decode(FigurePng.Render(noText));
        Assert.Equal((with.Width, with.Height), (without.Width, without.Height));
        int differ = 0;
        for (int y = 0; y < with.Height; y++)
            for (int x = 0; x < with.Width; x++)
                if (with.GetPixel(x, y) != without.GetPixel(x, y)) differ++;
        // Titles, tick labels, axis labels and legend: thousands of pixels at 2×.
        Assert.True(differ > 2000, $"only {differ} pixels differ with and without the text");

        // The bold title (y = 15, 13 px) is the only thing in the top band: dark ink with text, none without.
        static int Dark(SKBitmap b, int rows)
        {
            int n = 0;
            for (int y = 0; y < rows; y++)
                for (int x = 0; x < b.Width; x++)
                    if (b.GetPixel(x, y) is var c && c.Red < 128 && c.Green < 128 && c.Blue < 128) n++;
            return n;
        }
        Assert.Equal(0, Dark(without, 40));
        Assert.True(Dark(with, 40) > 200, $"the title band has only {Dark(with, 40)} dark pixels");
    }

    [Fact]
    public void EveryCharacterOfOurLabels_HasAGlyphInTheEmbeddedFont()
    {
        // Every non-ASCII character the figure code can write (read from its source), printable ASCII, and the
        // text of the fixture run's figures.
        var sources = new[] { "src/Cartan/Report/Figures.cs", "src/Cartan/Report/Svg/Plot.cs", "src/Cartan/Report/Svg/Scale.cs" }
            .Select(p => File.ReadAllText(Path.Combine(TestPaths.RepoRoot, p))).ToArray();
        var ours = string.Concat(sources.SelectMany(t => t).Where(c => c > 127 && !char.IsSurrogate(c)).Distinct());
        Assert.Contains('α', ours);
        var ascii = new string(Enumerable.Range(33, 94).Select(i => (char)i).ToArray());
        var figureText = string.Concat(Directory.GetFiles(runs.First, "fig-*.svg").Select(f => string.Concat(
            Regex.Matches(File.ReadAllText(f), "<text\\b[^>]*>(.*?)</text>", RegexOptions.Singleline).Select(m => System.Net.WebUtility.HtmlDecode(m.Groups[1].Value)))));
        Assert.NotEmpty(figureText);
        Assert.Equal("", FigurePng.MissingGlyphs(ours + ascii + figureText));
        // The check can fail: Japanese and Chinese are not in DejaVu Sans.
        Assert.Equal("あ中", FigurePng.MissingGlyphs("a中bあ中"));
    }

    [Fact]
    public void SameAnalysis_GivesByteIdenticalPngs_AcrossRuns()
    {
        var a = Directory.GetFiles(runs.First, "fig-*.png").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        var b = Directory.GetFiles(runs.Second, "fig-*.png").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(a, b);
        foreach (var name in a)
            Assert.True(File.ReadAllBytes(Path.Combine(runs.First, name!)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(runs.Second, name!))), $"{name} differs between two runs");
    }

    [Fact]
    public void EmbeddedRasters_AreDrawnPixelated_LikeInABrowser()
    {
        // A 2×1 raster (black, white) stretched to 200×20: nearest-neighbour sampling gives only those two colours
        // in the image area; the default (bilinear) sampling would blend greys along the middle.
        var png = Cartan.Report.Svg.Png.Encode(2, 1, [0, 0, 0, 255, 255, 255], alpha: false);
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"220\" height=\"40\" viewBox=\"0 0 220 40\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>" +
                  "<image x=\"10\" y=\"10\" width=\"200\" height=\"20\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64," +
                  Convert.ToBase64String(png) + "\"/></svg>";
        using var bmp = Decode(FigurePng.Render(svg));
        Assert.Equal((440, 80), (bmp.Width, bmp.Height));
        var inside = new HashSet<SKColor>();
        for (int y = 22; y < 58; y++)
            for (int x = 22; x < 418; x++) inside.Add(bmp.GetPixel(x, y));
        Assert.Equal(new HashSet<SKColor> { SKColors.Black, SKColors.White }, inside);
        Assert.Equal(SKColors.Black, bmp.GetPixel(100, 40));
        Assert.Equal(SKColors.White, bmp.GetPixel(340, 40));
    }

    [Fact]
    public void MergeOut_WritesTheFiguresAsSvgAndPng_LikeAnalyze()
    {
        var dir = Path.Combine(runs.Root, "shards");
        var model = TestPaths.Fixture("safetensors", "small.safetensors");
        var parts = new List<string>();
        for (int i = 0; i < 2; i++)
        {
            var part = Path.Combine(dir, $"part{i}.json");
            var err = new StringWriter();
            Assert.True(Cartan.Cli.Cli.Run(["analyze", model, "--shard", $"{i}/2", "--json", part, "--quiet", "--spectra-only"], new StringWriter(), err) == 0, err.ToString());
            parts.Add(part);
        }
        var merged = Path.Combine(dir, "merged");
        var stderr = new StringWriter();
        Assert.True(Cartan.Cli.Cli.Run(["merge", .. parts, "--out", merged], new StringWriter(), stderr) == 0, stderr.ToString());
        var figures = Path.Combine(merged, "figures");
        var svgs = Directory.GetFiles(figures, "fig-*.svg").Order(StringComparer.Ordinal).ToArray();
        Assert.NotEmpty(svgs);
        Assert.Equal(svgs.Select(p => Path.ChangeExtension(p, ".png")), Directory.GetFiles(figures, "fig-*.png").Order(StringComparer.Ordinal));
        // The merged parts hold the same per-layer numbers as the single run: the same depth profile, the same PNG bytes.
        const string depth = "fig-001-depth-alpha-mle.png";
        Assert.Equal(File.ReadAllBytes(Path.Combine(runs.First, depth)), File.ReadAllBytes(Path.Combine(figures, depth)));
    }

    [Fact]
    public void NoPng_WritesTheSvgFiguresOnly()
    {
        var dir = Path.Combine(runs.Root, "nopng");
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        int rc = Cartan.Cli.Cli.Run(["analyze", TestPaths.Fixture("safetensors", "small.safetensors"), "--out", dir, "--quiet", "--no-png", "--spectra-only"], stdout, stderr);
        Assert.True(rc == 0, stderr.ToString());
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(dir, "figures"), "fig-*.svg"));
        Assert.Empty(Directory.GetFiles(Path.Combine(dir, "figures"), "*.png"));
    }
}

using System.Text;
using Cartan.Report;
using SkiaSharp;
using Svg.Skia;
using Svg.Skia.TypefaceProviders;

namespace Cartan.Cli;

/// <summary>
/// PNG copies of the report figures: rasterises our own standalone SVG (<see cref="Figures.Standalone"/>) with
/// Svg.Skia on SkiaSharp at <see cref="Scale"/>× the SVG's size, onto white, and writes <c>fig-NNN-id.png</c> beside
/// <c>fig-NNN-id.svg</c>. Lives in the CLI, not in the Cartan library, so that the library keeps no native
/// dependency (libSkiaSharp, libHarfBuzzSharp) and no embedded font.
/// </summary>
/// <remarks>
/// The Linux native Skia is the NoDependencies build: it sees no system font, so every font family our SVG names
/// (only <c>sans-serif</c> today) is drawn with the embedded DejaVu Sans (bold for weights ≥ 600). Rasters inside the
/// SVG (heatmaps, colour bars) are marked <c>image-rendering:pixelated</c>, which Svg.Skia ignores; they are drawn
/// with nearest-neighbour sampling here so the cells stay sharp, as in a browser. The output depends only on the
/// SVG text, the font and the Skia build, so the same analysis gives byte-identical PNG files.
/// </remarks>
public static class FigurePng
{
    /// <summary>Pixels per SVG user unit: figures come out at twice their on-screen size.</summary>
    public const float Scale = 2f;

    /// <summary>Largest PNG side in pixels; larger figures are refused rather than allocating gigabytes.</summary>
    public const int MaxSide = 16384;

    private static readonly Lazy<(SKTypeface Regular, SKTypeface Bold)> Fonts = new(() => (LoadFont("DejaVuSans.ttf"), LoadFont("DejaVuSans-Bold.ttf")));

    private static SKTypeface LoadFont(string name)
    {
        using var s = typeof(FigurePng).Assembly.GetManifestResourceStream("Cartan.Fonts." + name)
            ?? throw new InvalidOperationException($"embedded font {name} is missing from {typeof(FigurePng).Assembly.GetName().Name}");
        using var data = SKData.Create(s);
        return SKTypeface.FromData(data) ?? throw new InvalidOperationException($"Skia could not read the embedded font {name}");
    }

    /// <summary>The PNG file name of a figure: its SVG file name with the extension <c>.png</c>.</summary>
    public static string FileName(Figure f) => Path.ChangeExtension(f.FileName, ".png");

    /// <summary>Rasterises a standalone SVG document (text) to PNG bytes at <paramref name="scale"/>× its size.</summary>
    public static byte[] Render(string svg, float scale = Scale)
    {
        using var doc = new SKSvg();
        doc.Settings.TypefaceProviders = [new EmbeddedFonts()];
        using (var reader = new StringReader(svg))
        using (var xml = System.Xml.XmlReader.Create(reader, new System.Xml.XmlReaderSettings { DtdProcessing = System.Xml.DtdProcessing.Prohibit, XmlResolver = null }))
            doc.Load(xml);
        var model = doc.Model ?? throw new InvalidOperationException("the SVG could not be read");
        NearestNeighbourImages(model);
        using var picture = doc.SkiaModel.ToSKPicture(model) ?? throw new InvalidOperationException("the SVG gave no picture");
        var r = picture.CullRect;
        double wd = Math.Ceiling(r.Width * scale), hd = Math.Ceiling(r.Height * scale);
        if (!(wd >= 1 && hd >= 1 && wd <= MaxSide && hd <= MaxSide)) throw new InvalidOperationException($"figure size {r.Width}×{r.Height} cannot be rasterised at {scale}×");
        using var bitmap = new SKBitmap(new SKImageInfo((int)wd, (int)hd, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(SKColors.White);
            canvas.Scale(scale);
            canvas.Translate(-r.Left, -r.Top);
            canvas.DrawPicture(picture);
        }
        using var pixels = bitmap.PeekPixels();
        // Sub filter + zlib 6: within 15% of the smallest files (all filters) at a third of the encoding time.
        using var png = pixels.Encode(new SKPngEncoderOptions(SKPngEncoderFilterFlags.Sub, 6)) ?? throw new InvalidOperationException("PNG encoding failed");
        return png.ToArray();
    }

    /// <summary>
    /// The characters of <paramref name="text"/> (whitespace aside) that the embedded font has no glyph for: those
    /// (in the regular or the bold face) would be drawn as empty boxes. Layer names from a model can hold any script; our own labels must not.
    /// </summary>
    public static string MissingGlyphs(string text)
    {
        var missing = new SortedSet<string>(StringComparer.Ordinal);
        using SKFont regular = new(Fonts.Value.Regular), bold = new(Fonts.Value.Bold);
        foreach (var rune in text.EnumerateRunes())
            if (!Rune.IsWhiteSpace(rune) && !Rune.IsControl(rune) && (regular.GetGlyph(rune.Value) == 0 || bold.GetGlyph(rune.Value) == 0)) missing.Add(rune.ToString());
        return string.Concat(missing);
    }

    /// <summary>
    /// Writes <c>dir/fig-NNN-id.png</c> for every figure (atomically, like the SVGs), rasterising up to
    /// <paramref name="parallelism"/> figures at once; returns the paths in figure order.
    /// </summary>
    public static IReadOnlyList<string> Export(IReadOnlyList<Figure> figures, string dir, int parallelism)
    {
        Directory.CreateDirectory(dir);
        var paths = figures.Select(f => Path.Combine(dir, FileName(f))).ToArray();
        _ = Fonts.Value;
        Parallel.For(0, figures.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, parallelism) }, i =>
        {
            var png = Render(Figures.Standalone(figures[i].Svg));
            AtomicFile.Write(paths[i], s => s.Write(png));
        });
        return paths;
    }

    /// <summary>Draws every raster image of the picture (and of nested pictures) with nearest-neighbour sampling.</summary>
    private static void NearestNeighbourImages(ShimSkiaSharp.SKPicture picture)
    {
        if (picture.Commands is not { } commands) return;
        var nearest = new ShimSkiaSharp.SKSamplingOptions(ShimSkiaSharp.SKFilterMode.Nearest, ShimSkiaSharp.SKMipmapMode.None);
        for (int i = 0; i < commands.Count; i++)
        {
            if (commands[i] is ShimSkiaSharp.DrawImageCanvasCommand d)
                commands[i] = new ShimSkiaSharp.DrawImageCanvasCommand(d.Image, d.Source, d.Dest, d.Paint, nearest);
            else if (commands[i] is ShimSkiaSharp.DrawPictureCanvasCommand { Picture: { } inner })
                NearestNeighbourImages(inner);
        }
    }

    /// <summary>Every family resolves to the embedded DejaVu Sans: the NoDependencies Skia has no font manager to ask.</summary>
    private sealed class EmbeddedFonts : ITypefaceProvider
    {
        public SKTypeface? FromFamilyName(string fontFamily, SKFontStyleWeight fontWeight, SKFontStyleWidth fontWidth, SKFontStyleSlant fontStyle) =>
            (int)fontWeight >= (int)SKFontStyleWeight.SemiBold ? Fonts.Value.Bold : Fonts.Value.Regular;
    }
}

using System.Globalization;
using System.Net;
using System.Text;

namespace Cartan.Report.Svg;

/// <summary>One line (and optional point markers with hover text) of a <see cref="LinePlotSpec"/>.</summary>
public sealed record Series(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y)
{
    public string? Color { get; init; }
    public bool Markers { get; init; }
    public bool Dashed { get; init; }
    public bool Line { get; init; } = true;
    public double Width { get; init; } = 1.6;
    /// <summary>Hover text per point (shown by markers).</summary>
    public IReadOnlyList<string>? Tips { get; init; }
}

/// <summary>A vertical (or horizontal) reference line with a label.</summary>
public sealed record RefLine(double At, string Label, string Color = "#888");

public sealed record LinePlotSpec
{
    public string Title { get; init; } = "";
    public string XLabel { get; init; } = "";
    public string YLabel { get; init; } = "";
    public bool XLog { get; init; }
    public bool YLog { get; init; }
    public bool YIncludeZero { get; init; }
    public IReadOnlyList<Series> Series { get; init; } = [];
    public IReadOnlyList<RefLine> VLines { get; init; } = [];
    public IReadOnlyList<RefLine> HLines { get; init; } = [];
    public int Width { get; init; } = 440;
    public int Height { get; init; } = 320;
}

/// <summary>A matrix shown as coloured cells, with optional window boxes and a class mask.</summary>
public sealed record HeatmapSpec
{
    public string Title { get; init; } = "";
    public required double[][] Values { get; init; }
    public bool LogColor { get; init; }
    public double? Lo { get; init; }
    public double? Hi { get; init; }
    public string XLabel { get; init; } = "";
    public string YLabel { get; init; } = "";
    public string ValueLabel { get; init; } = "";
    public IReadOnlyList<string>? RowLabels { get; init; }
    public IReadOnlyList<string>? ColLabels { get; init; }
    /// <summary>Rectangles in cell coordinates: rows [R0, R1), columns [C0, C1).</summary>
    public IReadOnlyList<(int R0, int C0, int R1, int C1, string Color, string Label)> Boxes { get; init; } = [];
    /// <summary>Per-cell class drawn over the colours: 0 none, 1 overlap (orange tint), 2 noise (dimmed).</summary>
    public byte[][]? Mask { get; init; }
    /// <summary>Print the value in each cell (small matrices only).</summary>
    public bool ShowValues { get; init; }
    public int Size { get; init; } = 300;
}

/// <summary>
/// Small, dependency-free SVG figures. All coordinates are finite (non-finite data are skipped or drawn as
/// "missing" grey), text is escaped, and nothing refers outside the document (rasters are PNG data URIs).
/// </summary>
public static class Plot
{
    /// <summary>Cells above which a heatmap is drawn as an embedded PNG instead of SVG rectangles.</summary>
    public const int VectorCellLimit = 576;
    /// <summary>Largest raster side; bigger matrices are max-pooled.</summary>
    public const int MaxRaster = 128;
    /// <summary>Colour levels of a raster heatmap (indexed PNG); the last palette entry is "missing".</summary>
    public const int Levels = 96;

    public static string F(double v) => double.IsFinite(v) ? Math.Round(v, 1).ToString("0.#", CultureInfo.InvariantCulture) : "0";
    public static string E(string? s) => WebUtility.HtmlEncode(s ?? "");
    public static string Num(double? v) => v is double d && double.IsFinite(d) ? d.ToString("G4", CultureInfo.InvariantCulture) : "–";

    private static void Open(StringBuilder sb, int w, int h, string title)
    {
        sb.Append("<svg class=\"fig\" viewBox=\"0 0 ").Append(w).Append(' ').Append(h).Append("\" width=\"").Append(w).Append("\" height=\"").Append(h)
          .Append("\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\"><title>").Append(E(title)).Append("</title>")
          .Append("<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>");
        if (title.Length > 0) sb.Append("<text x=\"").Append(w / 2).Append("\" y=\"15\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">").Append(E(title)).Append("</text>");
    }

    public static string LinePlot(LinePlotSpec s)
    {
        const int left = 62, top = 26, bottom = 42;
        var named = s.Series.Where(q => q.Name.Length > 0).ToList();
        int legend = named.Count == 0 ? 0 : LegendWidth(named.Select(q => q.Name));
        int right = 14 + legend, w = s.Width + legend, h = s.Height;
        var xs = s.Series.SelectMany(q => q.X).Concat(s.VLines.Select(v => v.At));
        var ys = s.Series.SelectMany(q => q.Y).Concat(s.HLines.Select(v => v.At));
        var X = Scale.For(xs, left, w - right, s.XLog);
        var Y = Scale.For(ys, h - bottom, top, s.YLog, s.YIncludeZero);
        var sb = new StringBuilder();
        Open(sb, w, h, s.Title);
        Axes(sb, X, Y, left, top, w - right, h - bottom, s.XLabel, s.YLabel);
        sb.Append("<svg x=\"").Append(left).Append("\" y=\"").Append(top).Append("\" width=\"").Append(w - right - left).Append("\" height=\"").Append(h - bottom - top)
          .Append("\" viewBox=\"").Append(left).Append(' ').Append(top).Append(' ').Append(w - right - left).Append(' ').Append(h - bottom - top).Append("\" overflow=\"hidden\">");
        foreach (var v in s.VLines)
        {
            double x = X.Map(v.At);
            if (!double.IsFinite(x)) continue;
            sb.Append("<line x1=\"").Append(F(x)).Append("\" x2=\"").Append(F(x)).Append("\" y1=\"").Append(top).Append("\" y2=\"").Append(h - bottom)
              .Append("\" stroke=\"").Append(v.Color).Append("\" stroke-dasharray=\"4 3\"><title>").Append(E(v.Label)).Append("</title></line>")
              .Append("<text x=\"").Append(F(x > (left + w - right) / 2.0 ? x - 3 : x + 3)).Append("\" y=\"").Append(top + 10).Append("\" fill=\"").Append(v.Color)
              .Append(x > (left + w - right) / 2.0 ? "\" text-anchor=\"end" : "").Append("\" font-size=\"10\">").Append(E(v.Label)).Append("</text>");
        }
        foreach (var v in s.HLines)
        {
            double y = Y.Map(v.At);
            if (!double.IsFinite(y)) continue;
            sb.Append("<line x1=\"").Append(left).Append("\" x2=\"").Append(w - right).Append("\" y1=\"").Append(F(y)).Append("\" y2=\"").Append(F(y))
              .Append("\" stroke=\"").Append(v.Color).Append("\" stroke-dasharray=\"4 3\"><title>").Append(E(v.Label)).Append("</title></line>")
              .Append("<text x=\"").Append(left + 4).Append("\" y=\"").Append(F(y - 3)).Append("\" fill=\"").Append(v.Color).Append("\" font-size=\"10\">").Append(E(v.Label)).Append("</text>");
        }
        int ci = 0;
        foreach (var q in s.Series)
        {
            var color = q.Color ?? ColorMap.Lines[ci % ColorMap.Lines.Length];
            ci++;
            if (q.Line) sb.Append(PathData(q, X, Y, color));
            if (q.Markers)
            {
                sb.Append("<g fill=\"").Append(color).Append("\">");
                for (int i = 0; i < Math.Min(q.X.Count, q.Y.Count); i++)
                {
                    double x = X.Map(q.X[i]), y = Y.Map(q.Y[i]);
                    if (!double.IsFinite(x) || !double.IsFinite(y)) continue;
                    sb.Append("<circle cx=\"").Append(F(x)).Append("\" cy=\"").Append(F(y)).Append("\" r=\"3\">");
                    var tip = q.Tips is not null && i < q.Tips.Count ? q.Tips[i] : $"{q.Name}: ({Num(q.X[i])}, {Num(q.Y[i])})";
                    sb.Append("<title>").Append(E(tip)).Append("</title></circle>");
                }
                sb.Append("</g>");
            }
        }
        sb.Append("</svg>");
        Legend(sb, s.Series.Select((q, i) => (q.Name, q.Color ?? ColorMap.Lines[i % ColorMap.Lines.Length], q.Dashed)).Where(t => t.Name.Length > 0).ToList(), w - right + 8, top);
        sb.Append("</svg>");
        return sb.ToString();
    }

    /// <summary>Polyline path of a series; a non-finite point breaks the line.</summary>
    internal static string PathData(Series q, Scale X, Scale Y, string color)
    {
        var d = new StringBuilder();
        bool pen = false;
        for (int i = 0; i < Math.Min(q.X.Count, q.Y.Count); i++)
        {
            double x = X.Map(q.X[i]), y = Y.Map(q.Y[i]);
            if (!double.IsFinite(x) || !double.IsFinite(y)) { pen = false; continue; }
            d.Append(pen ? 'L' : 'M').Append(F(x)).Append(',').Append(F(y));
            pen = true;
        }
        if (d.Length == 0) return "";
        return $"<path d=\"{d}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"{F(q.Width)}\"{(q.Dashed ? " stroke-dasharray=\"5 3\"" : "")}><title>{E(q.Name)}</title></path>";
    }

    private static int LegendWidth(IEnumerable<string> names) => Math.Min(230, 34 + 6 * names.Max(n => n.Length));

    private static void Legend(StringBuilder sb, List<(string Name, string Color, bool Dashed)> items, int rightX, int top)
    {
        if (items.Count == 0) return;
        int width = LegendWidth(items.Select(i => i.Name)) - 8;
        int x = rightX, y = top;
        sb.Append("<g class=\"legend\"><rect x=\"").Append(x).Append("\" y=\"").Append(y).Append("\" width=\"").Append(width).Append("\" height=\"").Append(items.Count * 13 + 6)
          .Append("\" fill=\"#fff\" fill-opacity=\"0.85\" stroke=\"#ccc\"/>");
        for (int i = 0; i < items.Count; i++)
        {
            int yy = y + 12 + i * 13;
            sb.Append("<line x1=\"").Append(x + 4).Append("\" x2=\"").Append(x + 18).Append("\" y1=\"").Append(yy - 4).Append("\" y2=\"").Append(yy - 4)
              .Append("\" stroke=\"").Append(items[i].Color).Append("\" stroke-width=\"2\"").Append(items[i].Dashed ? " stroke-dasharray=\"4 2\"" : "").Append("/>")
              .Append("<text x=\"").Append(x + 22).Append("\" y=\"").Append(yy).Append("\" font-size=\"10\">").Append(E(items[i].Name)).Append("</text>");
        }
        sb.Append("</g>");
    }

    private static void Axes(StringBuilder sb, Scale X, Scale Y, int x0, int y0, int x1, int y1, string xl, string yl)
    {
        sb.Append("<g stroke=\"#eee\">");
        foreach (var t in X.Ticks()) { var x = F(X.Map(t)); sb.Append("<line x1=\"").Append(x).Append("\" x2=\"").Append(x).Append("\" y1=\"").Append(y0).Append("\" y2=\"").Append(y1).Append("\"/>"); }
        foreach (var t in Y.Ticks()) { var y = F(Y.Map(t)); sb.Append("<line x1=\"").Append(x0).Append("\" x2=\"").Append(x1).Append("\" y1=\"").Append(y).Append("\" y2=\"").Append(y).Append("\"/>"); }
        sb.Append("</g><rect x=\"").Append(x0).Append("\" y=\"").Append(y0).Append("\" width=\"").Append(x1 - x0).Append("\" height=\"").Append(y1 - y0).Append("\" fill=\"none\" stroke=\"#444\"/>");
        sb.Append("<g font-size=\"10\" fill=\"#333\">");
        foreach (var t in X.Ticks()) sb.Append("<text x=\"").Append(F(X.Map(t))).Append("\" y=\"").Append(y1 + 13).Append("\" text-anchor=\"middle\">").Append(E(Scale.Label(t))).Append("</text>");
        foreach (var t in Y.Ticks()) sb.Append("<text x=\"").Append(x0 - 4).Append("\" y=\"").Append(F(Y.Map(t) + 3)).Append("\" text-anchor=\"end\">").Append(E(Scale.Label(t))).Append("</text>");
        sb.Append("</g>");
        sb.Append("<text x=\"").Append((x0 + x1) / 2).Append("\" y=\"").Append(y1 + 30).Append("\" text-anchor=\"middle\">").Append(E(xl)).Append("</text>");
        sb.Append("<text transform=\"translate(14 ").Append((y0 + y1) / 2).Append(") rotate(-90)\" text-anchor=\"middle\">").Append(E(yl)).Append("</text>");
    }

    // ------------------------------------------------------------------ heatmap

    public static string Heatmap(HeatmapSpec s)
    {
        var v = s.Values;
        int rows = v.Length, cols = rows == 0 ? 0 : v.Max(r => r.Length);
        int labelW = s.RowLabels is null ? 40 : Math.Min(140, 12 + 6 * s.RowLabels.Max(l => l.Length));
        int left = labelW + 14, top = 26, size = s.Size;
        double cw = cols == 0 ? 0 : (double)size / Math.Max(rows, cols), cwid = cw * cols, chgt = cw * rows;
        int w = (int)(left + cwid + 80), h = (int)(top + chgt + 46);
        var finite = v.SelectMany(r => r).Where(x => double.IsFinite(x) && (!s.LogColor || x > 0)).ToList();
        double lo = s.Lo ?? (finite.Count > 0 ? finite.Min() : 0), hi = s.Hi ?? (finite.Count > 0 ? finite.Max() : 1);
        if (s.LogColor && !(lo > 0)) lo = hi > 0 ? hi * 1e-6 : 1e-6;
        if (!(hi > lo)) hi = lo + (lo == 0 ? 1 : Math.Abs(lo));
        var sb = new StringBuilder();
        Open(sb, w, h, s.Title);
        if (rows == 0 || cols == 0)
        {
            sb.Append("<text x=\"20\" y=\"50\">(empty)</text></svg>");
            return sb.ToString();
        }
        double At(int r, int c) => c < v[r].Length ? v[r][c] : double.NaN;
        if ((long)rows * cols <= VectorCellLimit)
        {
            sb.Append("<g>");
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++)
                {
                    double x = At(r, c);
                    var col = ColorMap.At(ColorMap.Normalize(x, lo, hi, s.LogColor));
                    sb.Append("<rect x=\"").Append(F(left + c * cw)).Append("\" y=\"").Append(F(top + r * cw)).Append("\" width=\"").Append(F(cw + 0.3)).Append("\" height=\"").Append(F(cw + 0.3))
                      .Append("\" fill=\"").Append(ColorMap.Hex(col)).Append("\"><title>")
                      .Append(E($"{(s.RowLabels is { } rl && r < rl.Count ? rl[r] : r.ToString(CultureInfo.InvariantCulture))} × {(s.ColLabels is { } cl && c < cl.Count ? cl[c] : c.ToString(CultureInfo.InvariantCulture))}: {Num(x)}"))
                      .Append("</title></rect>");
                    if (s.ShowValues && cw >= 18)
                    {
                        bool dark = ColorMap.Normalize(x, lo, hi, s.LogColor) is var t && !(t > 0.6);
                        sb.Append("<text x=\"").Append(F(left + (c + 0.5) * cw)).Append("\" y=\"").Append(F(top + (r + 0.5) * cw + 3)).Append("\" text-anchor=\"middle\" font-size=\"")
                          .Append(F(Math.Min(10, cw / 3.2))).Append("\" fill=\"").Append(dark ? "#fff" : "#000").Append("\">").Append(E(double.IsFinite(x) ? x.ToString("G2", CultureInfo.InvariantCulture) : "–")).Append("</text>");
                    }
                    if (s.Mask is { } mk && r < mk.Length && c < mk[r].Length && mk[r][c] != 0)
                        sb.Append("<rect x=\"").Append(F(left + c * cw)).Append("\" y=\"").Append(F(top + r * cw)).Append("\" width=\"").Append(F(cw)).Append("\" height=\"").Append(F(cw))
                          .Append(mk[r][c] == 1 ? "\" fill=\"#ff8c00\" fill-opacity=\"0.35\"/>" : "\" fill=\"#fff\" fill-opacity=\"0.65\"/>");
                }
            sb.Append("</g>");
        }
        else
        {
            int pr = Math.Min(rows, MaxRaster), pc = Math.Min(cols, MaxRaster);
            var px = new byte[pr * pc];
            var mask = s.Mask is null ? null : new byte[pr * pc * 4];
            for (int i = 0; i < pr; i++)
                for (int j = 0; j < pc; j++)
                {
                    // Max-pool |value| over the source cells that fall in this pixel (keeps isolated peaks visible).
                    int r0 = (int)((long)i * rows / pr), r1 = Math.Max(r0 + 1, (int)((long)(i + 1) * rows / pr));
                    int c0 = (int)((long)j * cols / pc), c1 = Math.Max(c0 + 1, (int)((long)(j + 1) * cols / pc));
                    double best = double.NaN; byte cls = 0;
                    for (int r = r0; r < r1; r++)
                        for (int c = c0; c < c1; c++)
                        {
                            double x = At(r, c);
                            if (double.IsFinite(x) && !(best >= x)) best = x;
                            if (s.Mask is { } mk && r < mk.Length && c < mk[r].Length) cls = Math.Max(cls, mk[r][c]);
                        }
                    double t = ColorMap.Normalize(best, lo, hi, s.LogColor);
                    px[i * pc + j] = double.IsNaN(t) ? (byte)Levels : (byte)Math.Round(t * (Levels - 1));
                    if (mask is not null && cls != 0)
                    {
                        int m = (i * pc + j) * 4;
                        (mask[m], mask[m + 1], mask[m + 2], mask[m + 3]) = cls == 1 ? ((byte)255, (byte)140, (byte)0, (byte)90) : ((byte)255, (byte)255, (byte)255, (byte)166);
                    }
                }
            Image(sb, left, top, cwid, chgt, Png.EncodeIndexed(pc, pr, px, Palette));
            if (mask is not null) Image(sb, left, top, cwid, chgt, Png.Encode(pc, pr, mask, true));
        }
        sb.Append("<rect x=\"").Append(left).Append("\" y=\"").Append(top).Append("\" width=\"").Append(F(cwid)).Append("\" height=\"").Append(F(chgt)).Append("\" fill=\"none\" stroke=\"#444\"/>");
        foreach (var b in s.Boxes)
        {
            sb.Append("<rect x=\"").Append(F(left + b.C0 * cw)).Append("\" y=\"").Append(F(top + b.R0 * cw)).Append("\" width=\"").Append(F(Math.Max(1, (b.C1 - b.C0) * cw)))
              .Append("\" height=\"").Append(F(Math.Max(1, (b.R1 - b.R0) * cw))).Append("\" fill=\"none\" stroke=\"").Append(b.Color).Append("\" stroke-width=\"2\"><title>")
              .Append(E(b.Label)).Append("</title></rect>");
        }
        // Axis labels: row/column names when given and few, else index ticks.
        sb.Append("<g font-size=\"9\" fill=\"#333\">");
        int rstep = Math.Max(1, (int)Math.Ceiling(rows / 16.0)), cstep = Math.Max(1, (int)Math.Ceiling(cols / 16.0));
        for (int r = 0; r < rows; r += rstep)
            sb.Append("<text x=\"").Append(left - 3).Append("\" y=\"").Append(F(top + (r + 0.5) * cw + 3)).Append("\" text-anchor=\"end\">")
              .Append(E(s.RowLabels is { } rl && r < rl.Count ? rl[r] : (r + 1).ToString(CultureInfo.InvariantCulture))).Append("</text>");
        for (int c = 0; c < cols; c += cstep)
            sb.Append("<text x=\"").Append(F(left + (c + 0.5) * cw)).Append("\" y=\"").Append(F(top + chgt + 11)).Append("\" text-anchor=\"middle\">")
              .Append(E(s.ColLabels is { } cl && c < cl.Count ? cl[c] : (c + 1).ToString(CultureInfo.InvariantCulture))).Append("</text>");
        sb.Append("</g>");
        sb.Append("<text x=\"").Append(F(left + cwid / 2)).Append("\" y=\"").Append(F(top + chgt + 27)).Append("\" text-anchor=\"middle\">").Append(E(s.XLabel)).Append("</text>");
        sb.Append("<text transform=\"translate(10 ").Append(F(top + chgt / 2)).Append(") rotate(-90)\" text-anchor=\"middle\">").Append(E(s.YLabel)).Append("</text>");
        ColorBar(sb, left + cwid + 14, top, chgt, lo, hi, s.LogColor, s.ValueLabel);
        sb.Append("</svg>");
        return sb.ToString();
    }

    private static readonly (byte R, byte G, byte B)[] Palette =
        [.. Enumerable.Range(0, Levels).Select(i => ColorMap.At(i / (Levels - 1.0))), ColorMap.Missing];

    private static void Image(StringBuilder sb, double x, double y, double w, double h, byte[] png) =>
        sb.Append("<image x=\"").Append(F(x)).Append("\" y=\"").Append(F(y)).Append("\" width=\"").Append(F(w)).Append("\" height=\"").Append(F(h))
          .Append("\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64,").Append(Convert.ToBase64String(png)).Append("\"/>");

    private static void ColorBar(StringBuilder sb, double x, double y, double h, double lo, double hi, bool log, string label)
    {
        const int n = 32;
        var px = new byte[n * 3];
        for (int i = 0; i < n; i++) { var c = ColorMap.At(1 - i / (n - 1.0)); px[3 * i] = c.R; px[3 * i + 1] = c.G; px[3 * i + 2] = c.B; }
        Image(sb, x, y, 12, h, Png.Encode(1, n, px, false));
        sb.Append("<rect x=\"").Append(F(x)).Append("\" y=\"").Append(F(y)).Append("\" width=\"12\" height=\"").Append(F(h)).Append("\" fill=\"none\" stroke=\"#444\"/>");
        sb.Append("<g font-size=\"9\">");
        var scale = log ? Scale.Logarithmic(lo, hi, y + h, y) : Scale.Linear(lo, hi, y + h, y);
        var ticks = scale.Ticks(4).Where(t => t >= lo * (1 - 1e-9) - 1e-300 && t <= hi * (1 + 1e-9) + 1e-300).ToList();
        if (ticks.Count < 2) ticks = [lo, hi];
        foreach (var t in ticks)
            sb.Append("<text x=\"").Append(F(x + 15)).Append("\" y=\"").Append(F(scale.Map(t) + 3)).Append("\">").Append(E(Scale.Label(t))).Append("</text>");
        sb.Append("</g><text x=\"").Append(F(x)).Append("\" y=\"").Append(F(y + h + 14)).Append("\" font-size=\"9\">").Append(E(label)).Append("</text>");
    }

    // ------------------------------------------------------------------ graph

    /// <summary>Nodes on a circle, undirected edges, hubs drawn larger and red.</summary>
    public static string Graph(string title, IReadOnlyList<string> nodes, IReadOnlyList<(int A, int B)> edges, ISet<int> hubs, int size = 300)
    {
        int w = size + 40, h = size + 50;
        var sb = new StringBuilder();
        Open(sb, w, h, title);
        int n = nodes.Count;
        double cx = w / 2.0, cy = 28 + size / 2.0, rad = size / 2.0 - 24;
        (double X, double Y) P(int i) => n == 1 ? (cx, cy) : (cx + rad * Math.Cos(2 * Math.PI * i / n - Math.PI / 2), cy + rad * Math.Sin(2 * Math.PI * i / n - Math.PI / 2));
        sb.Append("<g stroke=\"#6a7\" stroke-opacity=\"0.7\">");
        foreach (var (a, b) in edges)
        {
            if (a < 0 || b < 0 || a >= n || b >= n) continue;
            var (p, q) = (P(a), P(b));
            sb.Append("<line x1=\"").Append(F(p.X)).Append("\" y1=\"").Append(F(p.Y)).Append("\" x2=\"").Append(F(q.X)).Append("\" y2=\"").Append(F(q.Y))
              .Append("\"><title>").Append(E($"{nodes[a]} — {nodes[b]}")).Append("</title></line>");
        }
        sb.Append("</g>");
        for (int i = 0; i < n; i++)
        {
            var p = P(i);
            bool hub = hubs.Contains(i);
            int deg = edges.Count(e => e.A == i || e.B == i);
            sb.Append("<circle cx=\"").Append(F(p.X)).Append("\" cy=\"").Append(F(p.Y)).Append("\" r=\"").Append(hub ? 8 : 5).Append("\" fill=\"").Append(hub ? "#d62728" : "#4e79a7")
              .Append("\" stroke=\"#222\"><title>").Append(E($"{nodes[i]}: degree {deg}{(hub ? ", hub" : "")}")).Append("</title></circle>");
            if (n <= 40)
                sb.Append("<text x=\"").Append(F(p.X + 9)).Append("\" y=\"").Append(F(p.Y - 6)).Append("\" font-size=\"9\">").Append(E(nodes[i])).Append("</text>");
        }
        sb.Append("<text x=\"8\" y=\"").Append(h - 6).Append("\" font-size=\"10\">").Append(E($"{n} groups, {edges.Count} edges, {hubs.Count} hubs (red)")).Append("</text></svg>");
        return sb.ToString();
    }
}

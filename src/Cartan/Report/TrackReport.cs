using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Cartan.Engine;
using Cartan.Report.Svg;

namespace Cartan.Report;

/// <summary>
/// Writes a <see cref="TrackResult"/>: <c>track.json</c> (schema <c>cartan.track/1</c>, series aligned with <c>checkpoints[]</c>,
/// field names as in <c>analysis.json</c>) and one self-contained HTML page with depth × time heatmaps (layer or interface ×
/// checkpoint) and curves over training, in the analysis report's style and under its Content Security Policy.
/// </summary>
public static class TrackReport
{
    // ------------------------------------------------------------------ JSON

    public static void WriteJson(TrackResult r, string path) => AtomicFile.WriteText(path, ToJson(r));

    public static string ToJson(TrackResult r)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
            JsonReport.Value(w, Tree(r));
        return Encoding.UTF8.GetString(ms.ToArray()) + "\n";
    }

    private static KeyValuePair<string, object?> P(string k, object? v) => new(k, v);

    /// <summary>Series keys nested at their first '.': <c>alpha.mle</c> → <c>alpha: {mle: […]}</c>.</summary>
    private static List<KeyValuePair<string, object?>> Nest(IEnumerable<KeyValuePair<string, object?>> flat)
    {
        var result = new List<KeyValuePair<string, object?>>();
        foreach (var (key, value) in flat)
        {
            int dot = key.IndexOf('.');
            if (dot < 0) { result.Add(P(key, value)); continue; }
            string head = key[..dot], tail = key[(dot + 1)..];
            int at = result.FindIndex(kv => kv.Key == head);
            if (at < 0) { result.Add(P(head, new List<KeyValuePair<string, object?>>())); at = result.Count - 1; }
            ((List<KeyValuePair<string, object?>>)result[at].Value!).Add(P(tail, value));
        }
        return result;
    }

    private static List<KeyValuePair<string, object?>> Tree(TrackResult r) =>
    [
        P("schema", TrackResult.SchemaName),
        P("tool", new List<KeyValuePair<string, object?>> { P("name", r.Tool.Name), P("version", r.Tool.Version), P("lapack", r.Tool.Lapack) }),
        P("source", r.Source),
        P("order", r.Order.ToString().ToLowerInvariant()),
        P("axis", r.Axis),
        P("settings", r.Settings),
        P("checkpoints", r.Checkpoints.Select(c => new List<KeyValuePair<string, object?>>
        {
            P("index", c.Index), P("name", c.Entry.Name), P("path", c.Entry.Path), P("step", c.Entry.Step),
            P("modified", c.Entry.Modified.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture)),
            P("format", c.Format), P("architecture", c.Architecture), P("layers", c.Layers), P("interfaces", c.Interfaces),
            P("failed_layers", c.FailedLayers), P("certificates_passed", c.CertificatesPassed), P("certificates", c.Certificates), P("seconds", c.Seconds),
        }).ToList()),
        P("layers", r.Layers.Select(l =>
        {
            var rec = new List<KeyValuePair<string, object?>> { P("name", l.Name), P("role", l.Role), P("block", l.Block), P("matrix", l.Matrix), P("status", l.Status) };
            rec.AddRange(Nest(l.Series.Select(kv => P(kv.Key, kv.Value))));
            return rec;
        }).ToList()),
        P("interfaces", r.Interfaces.Select(f =>
        {
            var rec = new List<KeyValuePair<string, object?>> { P("from", f.From), P("to", f.To), P("dim", f.Dim), P("kind", f.Kind), P("status", f.Status) };
            rec.AddRange(Nest(f.Series.Select(kv => P(kv.Key, kv.Value)).Append(P("certificate.pass", f.CertificatePass))));
            rec.Add(P("trend", new List<KeyValuePair<string, object?>>
            {
                P("axis", r.Axis), P("beta_log_slope", f.BetaLogSlope), P("beta_diag_log_slope", f.BetaDiagLogSlope), P("beta_ratio", f.BetaRatio),
            }));
            return rec;
        }).ToList()),
        P("skipped", r.Skipped.Select(s => new List<KeyValuePair<string, object?>> { P("name", s.Name), P("reason", s.Reason) }).ToList()),
        P("seconds", r.Seconds),
    ];

    // ------------------------------------------------------------------ figures

    /// <summary>Column labels of the heatmaps: the step (or the index) of each checkpoint.</summary>
    private static List<string> Columns(TrackResult r) =>
        [.. r.Checkpoints.Select(c => r.Axis == "step" ? c.Entry.Step!.Value.ToString(CultureInfo.InvariantCulture) : c.Index.ToString(CultureInfo.InvariantCulture))];

    private static double[] Row(double?[] s) => [.. s.Select(v => v ?? double.NaN)];

    private static double?[] Series(IReadOnlyList<KeyValuePair<string, double?[]>> s, string key) =>
        s.FirstOrDefault(kv => kv.Key == key).Value ?? [];

    /// <summary>r_0.9 / d of a layer per checkpoint.</summary>
    private static double?[] R09OverD(TrackLayer l)
    {
        var r = Series(l.Series, "effective_rank.0.9");
        var d = Series(l.Series, "rank");
        return [.. Enumerable.Range(0, Math.Min(r.Length, d.Length)).Select(t => r[t] is double x && d[t] is double y && y > 0 ? x / y : (double?)null)];
    }

    internal static readonly (string Key, string Label, bool Log)[] LayerMetrics =
    [
        ("alpha.mle", "α (mle chart)", false), ("tau", "τ", false), ("effective_rank.0.9", "effective rank r_0.9", false),
        ("r09_over_d", "r_0.9 / d", false), ("stable_rank", "stable rank", false), ("ww.alpha", "α_WW (ESD tail)", false),
    ];

    internal static readonly (string Key, string Label, bool Log)[] InterfaceMetrics =
    [
        ("imbalance.beta", "imbalance β", true), ("imbalance.beta_diag", "diagonal imbalance β_diag", true), ("commutator", "commutator κ", true),
        ("certificate.pass", "certificate (1 pass, 0 fail)", false),
    ];

    public static IReadOnlyList<Figure> Figures(TrackResult r)
    {
        var list = new List<Figure>();
        void Add(string id, string section, string title, string caption, string svg) =>
            list.Add(new Figure(list.Count + 1, Cartan.Report.Figures.Slug(id), section, title, caption, svg));
        var cols = Columns(r);
        int size = Math.Clamp(16 * Math.Max(cols.Count, 1), 300, 720);
        string xl = r.Axis == "step" ? "checkpoint (step)" : "checkpoint (index)";
        var xs = Enumerable.Range(0, r.Checkpoints.Count).Select(r.X).ToList();

        if (r.Layers.Count > 0)
        {
            var rowLabels = r.Layers.Select(l => Short(l.Name)).ToList();
            foreach (var (key, label, log) in LayerMetrics)
            {
                var m = r.Layers.Select(l => Row(key == "r09_over_d" ? R09OverD(l) : Series(l.Series, key))).ToArray();
                if (m.All(row => row.All(x => !double.IsFinite(x)))) continue;
                Add("track-layers-" + key, "layers", $"{label}: layer × checkpoint", $"{label} of every analysed matrix (rows, in the analysis' order) at every checkpoint (columns, in training order); grey: not computed.",
                    Plot.Heatmap(new HeatmapSpec { Title = $"{label} over training", Values = m, LogColor = log, RowLabels = rowLabels, ColLabels = cols, XLabel = xl, YLabel = "layer", ValueLabel = label, Size = size }));
            }
        }
        if (r.Interfaces.Count > 0)
        {
            var rowLabels = r.Interfaces.Select(f => Short(f.From) + " → " + Short(f.To)).ToList();
            foreach (var (key, label, log) in InterfaceMetrics)
            {
                var m = r.Interfaces.Select(f => key == "certificate.pass"
                    ? f.CertificatePass.Select(p => p is bool b ? (b ? 1.0 : 0.0) : double.NaN).ToArray()
                    : Row(Series(f.Series, key))).ToArray();
                if (m.All(row => row.All(x => !double.IsFinite(x)))) continue;
                Add("track-interfaces-" + key, "interfaces", $"{label}: interface × checkpoint", $"{label} of every interface (rows) at every checkpoint (columns, in training order){(log ? ", log colour scale" : "")}; grey: not computed.",
                    Plot.Heatmap(new HeatmapSpec { Title = $"{label} over training", Values = m, LogColor = log, Lo = key == "certificate.pass" ? 0 : null, Hi = key == "certificate.pass" ? 1 : null, RowLabels = rowLabels, ColLabels = cols, XLabel = xl, YLabel = "interface", ValueLabel = label, Size = size }));
            }
            foreach (var (key, label, log) in InterfaceMetrics.Where(k => k.Key != "certificate.pass"))
            {
                var series = r.Interfaces.Select((f, i) =>
                {
                    var y = Series(f.Series, key);
                    var keep = Enumerable.Range(0, y.Length).Where(t => y[t] is double v && (!log || v > 0)).ToList();
                    return new Series($"interface {i + 1}", keep.Select(t => xs[t]).ToList(), keep.Select(t => y[t]!.Value).ToList())
                    { Markers = true, Tips = keep.Select(t => $"{rowLabels[i]} at {cols[t]}: {Plot.Num(y[t])}").ToList() };
                }).Where(s => s.X.Count > 0).ToList();
                if (series.Count == 0) continue;
                Add("track-curve-" + key, "interfaces", $"{label} over training", $"{label} of each interface (numbered as in the interface table) against the checkpoint{(log ? " (log scale: an exponential decay is a straight line)" : "")}.",
                    Plot.LinePlot(new LinePlotSpec { Title = $"{label} over training", XLabel = xl, YLabel = label, YLog = log, Series = series }));
            }
        }
        return list;
    }

    private static string Short(string name) => name.Length > 28 ? "…" + name[^27..] : name;

    // ------------------------------------------------------------------ HTML

    /// <summary>Writes the page and, when <paramref name="figuresDir"/> is given, every figure as an SVG file there.</summary>
    public static IReadOnlyList<Figure> WriteHtml(TrackResult r, string path, string? figuresDir = null)
    {
        var figures = Figures(r);
        AtomicFile.WriteText(path, ToHtml(r, figures));
        if (figuresDir is not null) Cartan.Report.Figures.Export(figures, figuresDir);
        return figures;
    }

    public static string ToHtml(TrackResult r) => ToHtml(r, Figures(r));

    private static string E(string? s) => WebUtility.HtmlEncode(s ?? "");
    private static string Fmt(double? v) => HtmlReport.Fmt(v);

    private static string Td(string key, double? v) =>
        v is double d && double.IsFinite(d) ? $"<td class=\"n\" data-k=\"{key}\" data-v=\"{d.ToString("R", CultureInfo.InvariantCulture)}\">{Fmt(d)}</td>" : $"<td class=\"n\" data-k=\"{key}\">–</td>";

    private static double? FirstKnown(double?[] s) => s.FirstOrDefault(v => v is not null);
    private static double? LastKnown(double?[] s) => s.LastOrDefault(v => v is not null);

    public static string ToHtml(TrackResult r, IReadOnlyList<Figure> figures)
    {
        var sb = new StringBuilder();
        var bySection = figures.GroupBy(f => f.Section).ToDictionary(g => g.Key, g => g.ToList());
        void Figs(string section)
        {
            if (!bySection.TryGetValue(section, out var fs)) return;
            sb.Append("<div class=\"figs\">");
            foreach (var f in fs)
                sb.Append("<figure id=\"fig-").Append(f.Number).Append("\" data-fig=\"").Append(f.Number).Append("\" data-id=\"").Append(E(f.Id)).Append("\">")
                  .Append(f.Svg).Append("<figcaption><b>Figure ").Append(f.Number).Append(".</b> ").Append(E(f.Title)).Append(". ").Append(E(f.Caption))
                  .Append(" <span class=\"file\">[").Append(E(f.FileName)).Append("]</span></figcaption></figure>");
            sb.Append("</div>");
        }
        var ci = CultureInfo.InvariantCulture;
        sb.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">")
          .Append("<meta http-equiv=\"Content-Security-Policy\" content=\"").Append(HtmlReport.Csp).Append("\">")
          .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
          .Append("<title>cartan track: ").Append(E(r.Source)).Append("</title><style>").Append(HtmlReport.Style).Append("</style><script>").Append(HtmlReport.ErrorCapture).Append("</script></head><body>");
        sb.Append("<pre id=\"js-errors\" data-count=\"0\" hidden></pre>");
        sb.Append("<nav><b>cartan track</b> <a href=\"#overview\">Checkpoints</a> <a href=\"#layers\">Layers over training</a> <a href=\"#interfaces\">Interfaces over training</a> <a href=\"#figures\">Figure index</a></nav><main>");

        sb.Append("<section id=\"overview\"><h1>").Append(E(r.Source)).Append("</h1><p>")
          .Append(r.Checkpoints.Count).Append(" checkpoints ordered by ").Append(E(r.Order.ToString().ToLowerInvariant())).Append(", each analysed as <code>cartan analyze</code> would; ")
          .Append(r.Layers.Count).Append(" layers and ").Append(r.Interfaces.Count).Append(" interfaces tracked; axis of slopes and curves: ").Append(E(r.Axis))
          .Append(r.Seconds is double s ? $"; {s.ToString("0.0", ci)} s in all" : "").Append(".</p>");
        sb.Append("<table id=\"checkpoint-table\"><caption>Checkpoints</caption><tr><th>#</th><th>name</th><th>step</th><th>format</th><th>architecture</th><th>layers</th><th>interfaces</th><th>failed layers</th><th>certificates passed</th><th>seconds</th></tr>");
        foreach (var c in r.Checkpoints)
            sb.Append("<tr><td class=\"n\">").Append(c.Index).Append("</td><td>").Append(E(c.Entry.Name)).Append("</td>").Append(Td("step", c.Entry.Step))
              .Append("<td>").Append(E(c.Format)).Append("</td><td>").Append(E(c.Architecture)).Append("</td>").Append(Td("layers", c.Layers)).Append(Td("interfaces", c.Interfaces))
              .Append(Td("failed_layers", c.FailedLayers)).Append("<td class=\"n\">").Append(c.CertificatesPassed).Append(" / ").Append(c.Certificates).Append("</td>").Append(Td("seconds", c.Seconds)).Append("</tr>");
        sb.Append("</table>");
        if (r.Skipped.Count > 0)
        {
            sb.Append("<table id=\"skipped\"><caption>Entries not taken as checkpoints</caption><tr><th>name</th><th>reason</th></tr>");
            foreach (var k in r.Skipped) sb.Append("<tr><td>").Append(E(k.Name)).Append("</td><td>").Append(E(k.Reason)).Append("</td></tr>");
            sb.Append("</table>");
        }
        sb.Append("<details><summary>Analysis settings (first checkpoint)</summary><table class=\"kv\" id=\"settings\">");
        foreach (var kv in r.Settings) sb.Append("<tr><th>").Append(E(kv.Key)).Append("</th><td>").Append(E(JsonReport.ToJsonValue(kv.Value))).Append("</td></tr>");
        sb.Append("</table></details></section>");

        sb.Append("<section id=\"layers\"><h2>Layers over training</h2><p>Rows: matrices (depth); columns: checkpoints (time). First and last values per layer below.</p>");
        Figs("layers");
        sb.Append("<div class=\"scroll\"><table id=\"track-layer-table\"><thead><tr><th>#</th><th>layer</th><th>role</th><th>matrix</th><th>α mle first</th><th>α mle last</th><th>τ first</th><th>τ last</th><th>r_0.9 first</th><th>r_0.9 last</th><th>stable rank first</th><th>stable rank last</th></tr></thead><tbody>");
        for (int i = 0; i < r.Layers.Count; i++)
        {
            var l = r.Layers[i];
            sb.Append("<tr><td class=\"n\">").Append(i + 1).Append("</td><td>").Append(E(l.Name)).Append("</td><td>").Append(E(l.Role)).Append("</td><td>").Append(l.Matrix[0]).Append('×').Append(l.Matrix[1]).Append("</td>");
            foreach (var key in new[] { "alpha.mle", "tau", "effective_rank.0.9", "stable_rank" })
                sb.Append(Td(key + ".first", FirstKnown(Series(l.Series, key)))).Append(Td(key + ".last", LastKnown(Series(l.Series, key))));
            sb.Append("</tr>");
        }
        sb.Append("</tbody></table></div></section>");

        sb.Append("<section id=\"interfaces\"><h2>Interfaces over training</h2>");
        if (r.Interfaces.Count == 0) sb.Append("<p>No interfaces in these checkpoints.</p>");
        else
        {
            sb.Append("<p>Imbalance β = ‖W_{ℓ+1}ᵀW_{ℓ+1} − W_ℓW_ℓᵀ‖_F / (‖W_{ℓ+1}ᵀW_{ℓ+1}‖_F + ‖W_ℓW_ℓᵀ‖_F) and commutator κ of the interface Grams (docs/metrics.md). The slope is the least-squares slope of ln β against the ")
              .Append(E(r.Axis)).Append(": negative when β falls; −slope is its exponential decay rate.</p>");
            Figs("interfaces");
            sb.Append("<div class=\"scroll\"><table id=\"track-iface-table\"><thead><tr><th>#</th><th>from</th><th>to</th><th>dim</th><th>β first</th><th>β last</th><th>β last/first</th><th>slope of ln β</th><th>slope of ln β_diag</th><th>κ first</th><th>κ last</th><th>certificates passed</th></tr></thead><tbody>");
            for (int i = 0; i < r.Interfaces.Count; i++)
            {
                var f = r.Interfaces[i];
                var beta = Series(f.Series, "imbalance.beta");
                var kappa = Series(f.Series, "commutator");
                sb.Append("<tr><td class=\"n\">").Append(i + 1).Append("</td><td>").Append(E(f.From)).Append("</td><td>").Append(E(f.To)).Append("</td>").Append(Td("dim", f.Dim))
                  .Append(Td("beta.first", FirstKnown(beta))).Append(Td("beta.last", LastKnown(beta))).Append(Td("trend.beta_ratio", f.BetaRatio))
                  .Append(Td("trend.beta_log_slope", f.BetaLogSlope)).Append(Td("trend.beta_diag_log_slope", f.BetaDiagLogSlope))
                  .Append(Td("commutator.first", FirstKnown(kappa))).Append(Td("commutator.last", LastKnown(kappa)))
                  .Append("<td class=\"n\">").Append(f.CertificatePass.Count(p => p == true)).Append(" / ").Append(f.CertificatePass.Count(p => p is not null)).Append("</td></tr>");
            }
            sb.Append("</tbody></table></div>");
        }
        sb.Append("</section><section id=\"figures\"><h2>Figure index</h2><ol class=\"index\">");
        foreach (var f in figures) sb.Append("<li value=\"").Append(f.Number).Append("\"><a href=\"#fig-").Append(f.Number).Append("\">").Append(E(f.Title)).Append("</a> <span class=\"file\">").Append(E(f.FileName)).Append("</span></li>");
        sb.Append("</ol></section></main><footer>cartan ").Append(E(r.Tool.Version)).Append(" · ").Append(TrackResult.SchemaName)
          .Append("</footer><script>document.body.setAttribute('data-ready','1');</script></body></html>\n");
        return sb.ToString();
    }
}

using System.Globalization;
using System.Net;
using System.Text;

namespace Cartan.Report;

/// <summary>
/// A self-contained HTML page of an analysis (no external scripts or fonts). For now: the model, the
/// settings, the layer table and the interface table; the papers' figures come with the report issue.
/// </summary>
public static class HtmlReport
{
    public static void Write(AnalysisResult a, string path) => AtomicFile.WriteText(path, ToHtml(a));

    public static string ToHtml(AnalysisResult a)
    {
        static string E(string? s) => WebUtility.HtmlEncode(s ?? "");
        static string N(double? v) => v is double d && double.IsFinite(d) ? d.ToString("G6", CultureInfo.InvariantCulture) : "–";
        var sb = new StringBuilder();
        sb.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>cartan: ").Append(E(a.Model.Source)).Append("</title>");
        sb.Append("<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td:first-child,th:first-child{text-align:left}caption{text-align:left;font-weight:bold;margin:1em 0 .3em}.skipped,.failed{color:#a00}.unreliable{color:#a60}</style></head><body>");
        sb.Append("<h1>cartan analysis</h1><p>").Append(E(a.Model.Source)).Append(" — format ").Append(E(a.Model.Format))
          .Append(", architecture ").Append(E(a.Model.Architecture)).Append(", ").Append(a.Model.TensorCount).Append(" tensors; cartan ")
          .Append(E(a.Tool.Version)).Append(", LAPACK: ").Append(E(a.Tool.Lapack)).Append("</p>");
        sb.Append("<table><caption>layers</caption><tr><th>name</th><th>role</th><th>matrix</th><th>rank</th><th>σ₁</th><th>‖W‖_F</th><th>stable rank</th><th>status</th></tr>");
        foreach (var l in a.Layers)
            sb.Append("<tr class=\"").Append(E(l.Status)).Append("\"><td>").Append(E(l.Name)).Append("</td><td>").Append(E(l.Role)).Append("</td><td>")
              .Append(l.Matrix[0]).Append('×').Append(l.Matrix[1]).Append("</td><td>").Append(l.Rank?.ToString(CultureInfo.InvariantCulture) ?? "–")
              .Append("</td><td>").Append(N(l.Sigma is { Length: > 0 } s ? s[0] : null)).Append("</td><td>").Append(N(l.Frobenius))
              .Append("</td><td>").Append(N(l.StableRank)).Append("</td><td>").Append(E(l.Status + (l.Reason is null ? "" : ": " + l.Reason))).Append("</td></tr>");
        sb.Append("</table><table><caption>interfaces</caption><tr><th>from</th><th>to</th><th>dim</th><th>kind</th></tr>");
        foreach (var i in a.Interfaces)
            sb.Append("<tr><td>").Append(E(i.From)).Append("</td><td>").Append(E(i.To)).Append("</td><td>").Append(i.Dim).Append("</td><td>").Append(E(i.Kind)).Append("</td></tr>");
        sb.Append("</table><table><caption>not analysed</caption><tr><th>name</th><th>reason</th></tr>");
        foreach (var s in a.Skipped)
            sb.Append("<tr><td>").Append(E(s.Name)).Append("</td><td>").Append(E(s.Reason)).Append("</td></tr>");
        sb.Append("</table></body></html>\n");
        return sb.ToString();
    }
}

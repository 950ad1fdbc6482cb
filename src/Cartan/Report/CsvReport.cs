using System.Collections;
using System.Globalization;
using System.Text;

namespace Cartan.Report;

/// <summary><c>layers.csv</c>: one row per <c>layers[]</c> record, nested fields flattened with '.' (e.g. <c>alpha.mle</c>).</summary>
public static class CsvReport
{
    public static void Write(AnalysisResult a, string path) => AtomicFile.WriteText(path, ToCsv(a));

    public static string ToCsv(AnalysisResult a)
    {
        var rows = a.Layers.Select(Flatten).ToList();
        var columns = new List<string>();
        var seen = new HashSet<string>();
        foreach (var r in rows)
            foreach (var k in r.Keys)
                if (seen.Add(k)) columns.Add(k);
        var sb = new StringBuilder();
        sb.AppendLine(string.Join(",", columns.Select(Escape)));
        foreach (var r in rows)
            sb.AppendLine(string.Join(",", columns.Select(c => r.TryGetValue(c, out var v) ? Escape(v) : "")));
        return sb.ToString();
    }

    private static Dictionary<string, string> Flatten(LayerRecord l)
    {
        var d = new Dictionary<string, string>();
        void Put(string key, object? v)
        {
            switch (v)
            {
                case null: d[key] = ""; break;
                case IEnumerable<KeyValuePair<string, object?>> dict:
                    foreach (var kv in dict) Put($"{key}.{kv.Key}", kv.Value);
                    break;
                case string s: d[key] = s; break;
                case IEnumerable e: d[key] = string.Join(" ", e.Cast<object?>().Select(Format)); break;
                default: d[key] = Format(v); break;
            }
        }
        Put("name", l.Name); Put("role", l.Role); Put("shape", l.Shape); Put("dtype", l.DType); Put("matrix", l.Matrix);
        Put("view", l.View); Put("status", l.Status); Put("reason", l.Reason); Put("block", l.Block); Put("rank", l.Rank);
        Put("frobenius", l.Frobenius); Put("sigma", l.Sigma); Put("stable_rank", l.StableRank);
        foreach (var kv in l.Extra) Put(kv.Key, kv.Value);
        return d;
    }

    private static string Format(object? v) => v switch
    {
        null => "",
        double x => double.IsFinite(x) ? x.ToString("R", CultureInfo.InvariantCulture) : "",
        float f => float.IsFinite(f) ? ((double)f).ToString("R", CultureInfo.InvariantCulture) : "",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };

    private static string Escape(string s) =>
        s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
}

using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cartan.Report;

namespace Cartan.Tests.Report;

/// <summary>The numbers the page shows are the numbers of analysis.json.</summary>
public sealed class ReportNumbersTests
{
    private static readonly Regex CellRe = new("<td class=\"n\" data-k=\"([^\"]+)\"(?: data-v=\"([^\"]+)\")?>([^<]*)</td>");

    /// <summary>The JSON value at a table key: "alpha.mle", "effective_rank.0.9", "sigma.0", "certificate.radius".</summary>
    private static JsonElement? At(JsonElement rec, string key)
    {
        foreach (var first in new[] { "effective_rank", "certificate", "transport", "imbalance", "chart_residual", "alpha", "ww", "sigma" })
            if (key.StartsWith(first + ".", StringComparison.Ordinal))
            {
                if (!rec.TryGetProperty(first, out var inner) || inner.ValueKind == JsonValueKind.Null) return null;
                var rest = key[(first.Length + 1)..];
                if (inner.ValueKind == JsonValueKind.Array) return inner[int.Parse(rest, CultureInfo.InvariantCulture)];
                return inner.TryGetProperty(rest, out var v) ? v : null;
            }
        return rec.TryGetProperty(key, out var x) ? x : null;
    }

    private static int CompareRows(string html, string rowAttr, JsonElement records, Func<JsonElement, string, double?>? derived = null)
    {
        int compared = 0;
        foreach (Match row in Regex.Matches(html, $"<tr[^>]* {rowAttr}=\"(\\d+)\">(.*?)</tr>", RegexOptions.Singleline))
        {
            var rec = records[int.Parse(row.Groups[1].Value, CultureInfo.InvariantCulture)];
            foreach (Match c in CellRe.Matches(row.Groups[2].Value))
            {
                string key = c.Groups[1].Value, shown = c.Groups[3].Value;
                double? expected = derived?.Invoke(rec, key);
                if (expected is null && At(rec, key) is { ValueKind: JsonValueKind.Number } v) expected = v.GetDouble();
                if (expected is null) { Assert.Equal("–", shown); compared++; continue; }
                var x = double.Parse(shown, CultureInfo.InvariantCulture);
                Assert.True(Math.Abs(x - expected.Value) <= 5e-5 * Math.Abs(expected.Value) + 1e-300, $"{key} of record {row.Groups[1].Value}: shown {shown}, JSON {expected}");
                Assert.Equal(expected.Value, double.Parse(c.Groups[2].Value, CultureInfo.InvariantCulture));
                compared++;
            }
        }
        return compared;
    }

    [Fact]
    public void LayerAndCertificateTables_ShowTheJsonNumbers()
    {
        var a = ReportTestData.WithCertificates(ReportTestData.Default);
        var html = HtmlReport.ToHtml(a);
        using var doc = JsonDocument.Parse(JsonReport.ToJson(a));
        var layers = doc.RootElement.GetProperty("layers");
        int n = CompareRows(html, "data-layer", layers, (rec, key) => key == "r09_over_d"
            ? rec.GetProperty("effective_rank").GetProperty("0.9").GetDouble() / rec.GetProperty("rank").GetDouble() : null);
        // 14 numeric columns of every layer are compared (block, rank, σ₁, ‖W‖_F, stable rank, τ, 4 α, r_0.9, r_0.9/d, α_WW, Hellinger).
        Assert.Equal(14 * a.Layers.Count, n);

        var table = Regex.Match(html, "<table id=\"cert-table\".*?</table>", RegexOptions.Singleline).Value;
        var ifs = doc.RootElement.GetProperty("interfaces");
        int m = CompareRows(table, "data-iface", ifs);
        Assert.Equal(6 * 3, m);
        foreach (Match row in Regex.Matches(table, "<tr data-iface=\"(\\d+)\">(.*?)</tr>", RegexOptions.Singleline))
        {
            bool pass = ifs[int.Parse(row.Groups[1].Value, CultureInfo.InvariantCulture)].GetProperty("certificate").GetProperty("pass").GetBoolean();
            Assert.Contains(pass ? ">PASS<" : ">FAIL<", row.Groups[2].Value);
        }
        // The interface table: 10 numbers per interface (dim, windows, transport error and bounds, alignment, baseline, β, κ).
        var itable = Regex.Match(html, "<table id=\"iface-table\".*?</table>", RegexOptions.Singleline).Value;
        Assert.Equal(10 * a.Interfaces.Count, CompareRows(itable, "data-row", ifs));
    }

    [Fact]
    public void ConsoleSummary_ListsWorstLayersAndFailedCertificates()
    {
        var a = ReportTestData.WithCertificates(ReportTestData.Default);
        var worstName = a.Layers[5].Name;
        a = a with { Layers = a.Layers.Select((l, i) => i == 5 ? l with { Status = "failed", Reason = "matrix holds NaN or Infinity" } : l).ToList() };
        var text = ConsoleSummary.Build(a, worst: 5);
        var lines = text.Split('\n');
        Assert.StartsWith("worst layers (5 of 37)", lines[0]);
        Assert.Contains(worstName, lines[2]);
        Assert.Contains("failed: matrix holds NaN", lines[2]);
        Assert.Contains("certificates: 2 of 3 pass", text);
        Assert.Single(lines, l => l.Contains("FAIL #2 ", StringComparison.Ordinal));
        Assert.DoesNotContain("FAIL #1 ", text);
    }

    [Fact]
    public void Incidence_graph_nodes_are_row_groups_not_hub_columns()
    {
        var a = ReportTestData.WithCertificates(ReportTestData.Default);
        var f0 = a.Interfaces[0];
        var pam = new Dictionary<string, object?>((IDictionary<string, object?>)f0.Extra["pam"]!) { ["hubs"] = new[] { 700, 1500 } };
        var extra = new Dictionary<string, object?>(f0.Extra) { ["pam"] = pam };
        a = a with { Interfaces = a.Interfaces.Select((f, i) => i == 0 ? f with { Extra = extra } : f).ToList() };
        var fig = Figures.Build(a).Single(x => x.Id == "iface-001-incidence");
        // 4 row groups (the srs and labels of the hand-made PAM), whatever the hub column indices are.
        Assert.Equal(4, Regex.Matches(fig.Svg, "<circle").Count);
        Assert.Contains("2 hub columns", fig.Caption);
    }
}

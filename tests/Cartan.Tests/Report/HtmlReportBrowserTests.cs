using System.Text.RegularExpressions;
using Cartan.Report;

namespace Cartan.Tests.Report;

/// <summary>Opens reports in headless Chromium: no console errors, no external requests, every section with figures.</summary>
public sealed class HtmlReportBrowserTests
{
    private static readonly Regex FigureRe = new("<figure id=\"fig-(\\d+)\" data-fig=\"\\d+\" data-id=\"([^\"]+)\">(.*?)</figure>", RegexOptions.Singleline);

    /// <summary>Errors the page recorded (#js-errors) and console lines Chromium logged.</summary>
    private static (int Count, string Text, bool Ready, List<string> Console) Inspect(string dom, string stderr)
    {
        var m = Regex.Match(dom, "<pre id=\"js-errors\" data-count=\"(\\d+)\"[^>]*>(.*?)</pre>", RegexOptions.Singleline);
        Assert.True(m.Success, "the page lost its error element");
        bool ready = Regex.IsMatch(dom, "<body[^>]*data-ready=\"1\"");
        return (int.Parse(m.Groups[1].Value), m.Groups[2].Value, ready, Chromium.ConsoleLines(stderr));
    }

    private static Dictionary<string, string> Figures(string html) =>
        FigureRe.Matches(html).ToDictionary(m => m.Groups[2].Value, m => m.Groups[3].Value);

    private static bool NonEmpty(string svg) =>
        svg.Contains("<svg", StringComparison.Ordinal) &&
        (Regex.IsMatch(svg, "<path d=\"M") || svg.Contains("<image", StringComparison.Ordinal) || Regex.IsMatch(svg, "<rect x=\"[^\"]+\" y=\"[^\"]+\" width=\"[^\"]+\" height=\"[^\"]+\" fill=\"#") || svg.Contains("<circle", StringComparison.Ordinal));

    private static void AssertNoExternalReferences(string html)
    {
        Assert.DoesNotContain("http:", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("https:", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<link", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(" src=", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("url(", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("@import", html, StringComparison.OrdinalIgnoreCase);
        foreach (Match m in Regex.Matches(html, "href=\"([^\"]*)\""))
            Assert.True(m.Groups[1].Value.StartsWith('#') || m.Groups[1].Value.StartsWith("data:image/png;base64,", StringComparison.Ordinal), $"link outside the page: {m.Groups[1].Value[..Math.Min(60, m.Groups[1].Value.Length)]}");
        Assert.Contains(HtmlReport.Csp, html);
    }

    [Fact]
    public void DefaultModelReport_OpensCleanInChromium_WithEverySectionAndFigure()
    {
        var a = ReportTestData.Default;
        var dir = ReportTestData.ResultsDir;
        var file = Path.Combine(dir, "default-report.html");
        var figs = HtmlReport.Write(a, file, Path.Combine(dir, "figures"));
        var html = File.ReadAllText(file);
        AssertNoExternalReferences(html);

        var (dom, stderr) = Chromium.Run(file, "--dump-dom");
        var (count, text, ready, console) = Inspect(dom, stderr);
        Assert.True(ready, "the page's script did not run to the end");
        Assert.True(count == 0, "page errors: " + text);
        Assert.True(console.Count == 0, "console: " + string.Join("\n", console));

        foreach (var id in new[] { "overview", "verdict", "settings", "depth", "chain-table", "layers", "layer-table", "layer-filter", "interfaces", "iface-table", "heads", "skipped", "figures" })
            Assert.Contains($"id=\"{id}\"", dom);
        var shown = Figures(dom);
        Assert.Equal(figs.Count, shown.Count);
        foreach (var (id, svg) in shown) Assert.True(NonEmpty(svg), $"figure {id} is empty");
        // Every section has its figures: depth profiles, each layer's three plots, each interface's heatmaps, each head kind.
        foreach (var k in new[] { "depth-alpha-mle", "depth-alpha-top", "depth-alpha-hel", "depth-alpha-ols", "depth-tau", "depth-r09-over-d", "depth-stable-rank", "depth-chain-budget", "heads-composition" })
            Assert.True(shown.ContainsKey(k), k);
        for (int i = 0; i < a.Layers.Count; i++)
            foreach (var kind in new[] { "esd", "alpha-xmin", "rank-energy" })
                Assert.True(shown.ContainsKey($"layer-{i + 1:000}-{kind}"), $"layer {i + 1} {kind}");
        for (int i = 0; i < a.Interfaces.Count; i++)
            foreach (var kind in new[] { "transport", "flag-overlap" })
                Assert.True(shown.ContainsKey($"iface-{i + 1:000}-{kind}"), $"interface {i + 1} {kind}");
        foreach (var block in Enumerable.Range(0, 6))
            foreach (var kind in new[] { "q", "k", "v", "o", "qk", "ov" })
                Assert.True(shown.ContainsKey($"heads-b{block}-{kind}"), $"block {block} {kind}");
        Assert.Equal(a.Layers.Count, Regex.Matches(dom, "<tr class=\"[a-z]+\" data-layer=").Count);

        // Screenshots for the README: the top of the page, one layer, the interfaces and the attention heads
        // (a copy of the page showing only that section, since headless screenshots show the top of a page).
        foreach (var (name, css) in new[]
                 {
                     ("report-overview.png", ""),
                     ("report-layer.png", "main>section:not(#layers){display:none}#layers>p,#layers>input,#layers>span,#layers>.scroll{display:none}"),
                     ("report-interface.png", "main>section:not(#interfaces){display:none}#interfaces>.scroll{display:none}"),
                     ("report-heads.png", "main>section:not(#heads){display:none}"),
                 })
        {
            var page = Path.Combine(dir, Path.ChangeExtension(name, ".html"));
            File.WriteAllText(page, html.Replace("</head>", $"<style>{css}</style></head>", StringComparison.Ordinal));
            var png = Path.Combine(dir, name);
            File.Delete(png);
            Chromium.Run(page, "--screenshot=" + png, "--window-size=1400,1800", "--hide-scrollbars");
            Assert.True(File.Exists(png) && new FileInfo(png).Length > 50_000, $"no screenshot {name}");
        }
    }

    [Fact]
    public void ReportWithCertificates_ShowsPamFiguresAndTables_InChromium()
    {
        var a = ReportTestData.WithCertificates(ReportTestData.Default);
        var file = Path.Combine(ReportTestData.ResultsDir, "certificates-report.html");
        HtmlReport.Write(a, file);
        var html = File.ReadAllText(file);
        AssertNoExternalReferences(html);
        var (dom, stderr) = Chromium.Run(file, "--dump-dom");
        var (count, text, ready, console) = Inspect(dom, stderr);
        Assert.True(ready && count == 0 && console.Count == 0, text + string.Join("\n", console));
        Assert.Contains("id=\"cert-table\"", dom);
        Assert.Contains("ICM labels", dom);
        var shown = Figures(dom);
        foreach (var i in new[] { 1, 2, 3 })
            foreach (var kind in new[] { "pam", "block-energy", "incidence" })
                Assert.True(shown.TryGetValue($"iface-{i:000}-{kind}", out var svg) && NonEmpty(svg), $"interface {i} {kind}");
        Assert.False(shown.ContainsKey("iface-004-pam"));
        Assert.Contains("certified: 2 of 3 interfaces", dom);
    }

    [Fact]
    public void TheDetector_CatchesScriptErrorsAndBlockedRequests()
    {
        // The same checks on a page that breaks the rules must fail: otherwise the clean result above means nothing.
        var a = ReportTestData.Default with { Layers = ReportTestData.Default.Layers.Take(2).ToList(), Interfaces = [], Heads = [], Chains = [] };
        var html = HtmlReport.ToHtml(a).Replace("<main>", "<main><img src=\"https://example.invalid/x.png\"><script>undefinedFunction();</script>", StringComparison.Ordinal);
        var file = Path.Combine(ReportTestData.ResultsDir, "broken-report.html");
        File.WriteAllText(file, html);
        var (dom, stderr) = Chromium.Run(file, "--dump-dom");
        var (count, text, _, console) = Inspect(dom, stderr);
        Assert.True(count >= 2, "expected a blocked request and a script error, got: " + text);
        Assert.Contains("example.invalid", text);
        Assert.Contains("undefinedFunction", text);
        Assert.NotEmpty(console);
    }
}

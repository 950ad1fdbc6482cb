using Cartan.Engine;
using Cartan.Formats;
using Cartan.Graph;
using Cartan.Report;

namespace Cartan.Tests.Report;

/// <summary>Every fixture model gets a report (HTML, figures, console summary) without error.</summary>
public sealed class FixtureReportTests
{
    /// <summary>Model inputs among the fixtures: weight files and model folders/manifests, found by their names.</summary>
    public static IEnumerable<string> Models()
    {
        var root = TestPaths.Fixtures;
        foreach (var f in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(f);
            var ext = Path.GetExtension(f);
            if (ext is ".safetensors" && !name.Contains("-of-", StringComparison.Ordinal)) yield return f;
            else if (name.EndsWith(".safetensors.index.json", StringComparison.Ordinal)) yield return f;
            else if (ext is ".onnx" or ".npy" or ".npz" or ".gguf" or ".pt" or ".bin" && !Path.GetDirectoryName(f)!.Contains("tfjs", StringComparison.Ordinal) && !name.StartsWith("weights", StringComparison.Ordinal)) yield return f;
            else if (name == "model.json" || name.EndsWith("weights_manifest.json", StringComparison.Ordinal)) yield return f;
        }
    }

    [Fact]
    public void EveryFixtureModel_GetsAReport()
    {
        var dir = Path.Combine(ReportTestData.ResultsDir, "fixtures");
        int reports = 0, rejected = 0;
        var rejectedNames = new List<string>();
        foreach (var path in Models())
        {
            WeightModel model;
            try { model = WeightSource.Open(path); }
            catch (CartanFormatException) { rejected++; rejectedNames.Add(Path.GetFileName(path)); continue; } // deliberately malformed inputs
            using (model)
            {
                var graph = ModelGraph.Build(model, new GraphOptions());
                var a = Analyzer.Run(model, graph, new AnalyzeOptions());
                var name = Path.GetRelativePath(TestPaths.Fixtures, path).Replace('/', '_');
                var figs = HtmlReport.Write(a, Path.Combine(dir, name + ".html"), Path.Combine(dir, name + "-figures"));
                var html = File.ReadAllText(Path.Combine(dir, name + ".html"));
                Assert.Contains("id=\"layer-table\"", html);
                var text = System.Text.RegularExpressions.Regex.Replace(string.Concat(figs.Select(f => f.Svg)), "data:image/png;base64,[^\"]+", "");
                Assert.DoesNotContain("NaN", text);
                Assert.DoesNotContain("Infinity", text);
                Assert.Equal(figs.Count, Directory.GetFiles(Path.Combine(dir, name + "-figures"), "fig-*.svg").Length);
                Assert.StartsWith("worst layers", ConsoleSummary.Build(a));
                reports++;
            }
        }
        // The fixtures hold more than 20 readable models of six formats; a few are deliberately malicious.
        Assert.True(reports >= 20, $"only {reports} reports (rejected: {string.Join(", ", rejectedNames)})");
        Assert.True(rejected <= 8, $"too many fixtures rejected: {string.Join(", ", rejectedNames)}");
    }
}

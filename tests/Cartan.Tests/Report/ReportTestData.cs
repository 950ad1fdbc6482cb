using Cartan.Cli;
using Cartan.Engine;
using Cartan.Graph;
using Cartan.Report;

namespace Cartan.Tests.Report;

/// <summary>The embedded default model's analysis, computed once for all report tests.</summary>
public static class ReportTestData
{
    private static readonly Lazy<AnalysisResult> _default = new(() =>
    {
        using var model = DefaultModel.Open();
        var graph = ModelGraph.Build(model, new GraphOptions());
        // Certificates are added by hand below (WithCertificates) so that the tests know exactly which interfaces carry one;
        // real certificates are rendered by FixtureReportTests.
        return Analyzer.Run(model, graph, new AnalyzeOptions { NoCertificate = true });
    }, LazyThreadSafetyMode.ExecutionAndPublication);

    public static AnalysisResult Default => _default.Value;

    /// <summary>The default analysis with a hand-made certificate and PAM on the first interfaces (the PAM stage is not wired in yet).</summary>
    public static AnalysisResult WithCertificates(AnalysisResult a)
    {
        var ifs = a.Interfaces.Select((f, i) =>
        {
            if (i >= 3) return f;
            var extra = new Dictionary<string, object?>(f.Extra)
            {
                ["certificate"] = new Dictionary<string, object?>
                {
                    ["radius"] = 0.0123456789 * (i + 1), ["delta"] = 0.25 / (i + 1), ["epsilon"] = 1e-3 * (i + 2), ["pass"] = i != 1,
                    ["supports_equal"] = true, ["row_groups"] = 4 + i, ["active_gap"] = 0.5 + i, ["noise_margin"] = 0.031 * (i + 1),
                    ["labels"] = new Dictionary<string, object?> { ["0"] = "SC", ["1"] = "SA", ["2"] = "ST" }, ["labels_pass"] = true,
                },
                ["pam"] = new Dictionary<string, object?>
                {
                    ["shape"] = new[] { 4, 6 },
                    ["energy"] = new Dictionary<string, object?> { ["core"] = 0.7, ["overlap"] = 0.2, ["noise"] = 0.1 },
                    ["hubs"] = new[] { 1 },
                    ["srs"] = new Dictionary<string, object?> { ["0"] = new[] { 0, 1 }, ["1"] = new[] { 2 }, ["2"] = new[] { 3, 4 }, ["3"] = new[] { 5 } },
                    ["edges"] = new[] { new[] { 0, 1 }, new[] { 1, 2 }, new[] { 1, 3 } },
                    ["matrix"] = Enumerable.Range(0, 4).Select(r => Enumerable.Range(0, 6).Select(c => 1.0 / (1 + Math.Abs(r - c))).ToArray()).ToArray(),
                    ["mask"] = Enumerable.Range(0, 4).Select(r => Enumerable.Range(0, 6).Select(c => r == c ? "core" : Math.Abs(r - c) == 1 ? "overlap" : "noise").ToArray()).ToArray(),
                    ["block_energy"] = new[] { new[] { 0.5, 0.1 }, new[] { 0.05, 0.35 } },
                },
            };
            return f with { Extra = extra };
        }).ToList();
        return a with { Interfaces = ifs };
    }

    public static string ResultsDir
    {
        get
        {
            var d = Path.Combine(TestPaths.RepoRoot, "TestResults", "report");
            Directory.CreateDirectory(d);
            return d;
        }
    }
}

using Cartan.Engine;
using Cartan.Formats;
using Cartan.Graph;
using Cartan.Report;

namespace Cartan.Tests.Report;

public class FigureExportTests
{
    [Fact]
    public void Exporting_into_a_used_folder_leaves_only_this_runs_figures_and_foreign_files()
    {
        using var model = WeightSource.Open(TestPaths.Fixture("safetensors", "small.safetensors"));
        var graph = ModelGraph.Build(model, new GraphOptions());
        var full = Figures.Build(Analyzer.Run(model, graph, new AnalyzeOptions()));
        var spectra = Figures.Build(Analyzer.Run(model, graph, new AnalyzeOptions { SpectraOnly = true }));
        Assert.True(full.Count > spectra.Count);
        var dir = TestPaths.NewTempDir();
        Figures.Export(full, dir);
        File.WriteAllText(Path.Combine(dir, "fig-999-stale.png"), "an earlier run's raster");
        File.WriteAllText(Path.Combine(dir, "notes.txt"), "not ours");
        File.WriteAllText(Path.Combine(dir, "fig-notes.md"), "not ours either");
        Figures.Export(spectra, dir);
        var svgs = Directory.GetFiles(dir, "fig-*.svg").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(spectra.Select(f => f.FileName).Order(StringComparer.Ordinal), svgs);
        Assert.False(File.Exists(Path.Combine(dir, "fig-999-stale.png")));
        Assert.True(File.Exists(Path.Combine(dir, "notes.txt")));
        Assert.True(File.Exists(Path.Combine(dir, "fig-notes.md")));
    }
}

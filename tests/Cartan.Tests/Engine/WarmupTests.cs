using Cartan.Engine;
using Cartan.Graph;

namespace Cartan.Tests.Engine;

public class WarmupTests
{
    [Theory]
    [InlineData(MatrixView.Out)]
    [InlineData(MatrixView.Tap)]
    public void The_warm_up_model_exercises_the_whole_analysis_without_a_failure(MatrixView view)
    {
        // Warmup swallows its errors, so a model that stopped reaching the analysis would only make runs slower:
        // check here that every stage runs on it (streamed layers, convolutions, an interface with its certificate).
        using var model = Warmup.TinyModel();
        var graph = ModelGraph.Build(model, new GraphOptions { ConvView = view });
        Assert.Equal(4, graph.Layers.Count);
        Assert.Contains(graph.Layers, l => l.Blocks is not null);
        var r = Analyzer.Run(model, graph, new AnalyzeOptions { Parallelism = 1, Graph = new GraphOptions { ConvView = view } });
        Assert.All(r.Layers, l => Assert.Contains(l.Status, new[] { "ok", "unreliable" }));
        if (view == MatrixView.Out)
        {
            Assert.NotEmpty(r.Interfaces);
            Assert.All(r.Interfaces, f => Assert.Equal("ok", f.Status));
        }
    }

    [Fact]
    public async Task Start_finishes_and_does_not_throw_even_for_odd_options()
    {
        await Warmup.Start(new AnalyzeOptions { Parallelism = 1, SpectraOnly = true });
        await Warmup.Start(new AnalyzeOptions { Parallelism = 1, Metrics = LayerMetrics.Ww, Graph = new GraphOptions { ConvView = MatrixView.Tap } });
        await Warmup.Start(new AnalyzeOptions { Parallelism = 1, Shard = (1, 3), MaxMemory = 1 });
    }
}

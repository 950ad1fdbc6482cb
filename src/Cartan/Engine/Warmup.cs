using Cartan.Formats;
using Cartan.Graph;
using Cartan.Tensors;

namespace Cartan.Engine;

/// <summary>
/// Runs the analysis once on a tiny in-memory model (two dense layers and two 3×3 convolutions, F32, seeded), on a
/// background thread, while the caller opens the real model: the code of the analysis is compiled and OpenBLAS is
/// loaded on a core that start-up leaves idle, instead of in the first jobs of the real run (where the two job threads
/// waited on the same compilations: the first job of each took 50–100 ms longer than the rest). Nothing is written
/// and nothing of it is kept; failures are swallowed (the real run reports its own). Call <see cref="Task.Wait()"/>
/// before the real <see cref="Analyzer.Run"/>: the warm-up sets the BLAS thread count while it runs.
/// </summary>
public static class Warmup
{
    public static Task Start(AnalyzeOptions options) => Task.Factory.StartNew(() =>
    {
        try
        {
            using var model = TinyModel();
            var graphOptions = new GraphOptions { ConvView = options.Graph.ConvView };
            var graph = ModelGraph.Build(model, graphOptions);
            Analyzer.Run(model, graph, options with
            {
                Parallelism = 1, MaxMemory = null, Notice = null, Shard = null, Graph = graphOptions,
            });
        }
        catch (Exception)
        {
            // Only a warm-up: the real analysis reports its own errors.
        }
    }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>The in-memory model: LLaMA-style up/down projections (an interface between them) and two convolutions.</summary>
    internal static WeightModel TinyModel()
    {
        var rng = new Random(20261126);
        WeightTensor Tensor(string name, long[] shape)
        {
            long count = shape.Aggregate(1L, (a, b) => a * b);
            var bytes = new byte[count * 4];
            for (long i = 0; i < count; i++)
                BitConverter.TryWriteBytes(bytes.AsSpan((int)(i * 4), 4), (float)(rng.NextDouble() - 0.5));
            double[] All()
            {
                var d = new double[count];
                Decode.ToDouble(DType.F32, bytes, d);
                return d;
            }
            return new WeightTensor(name, shape, DType.F32, "F32", All)
            {
                RangeReader = (start, dst) => Decode.ToDouble(DType.F32, bytes.AsSpan((int)(start * 4), dst.Length * 4), dst),
            };
        }
        return new WeightModel("warm-up", "safetensors",
        [
            Tensor("model.layers.0.mlp.up_proj.weight", [48, 32]),
            Tensor("model.layers.0.mlp.down_proj.weight", [32, 48]),
            Tensor("layer1.0.conv1.weight", [16, 8, 3, 3]),
            Tensor("layer1.0.conv2.weight", [16, 16, 3, 3]),
        ]);
    }
}

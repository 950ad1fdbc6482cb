using System.Collections.Concurrent;
using System.Reflection;
using Cartan.Formats;
using Cartan.Graph;
using Cartan.Report;

namespace Cartan.Engine;

/// <summary>Settings of an analysis run; every threshold is printed into <c>settings</c>.</summary>
public sealed record AnalyzeOptions
{
    public GraphOptions Graph { get; init; } = new();
    /// <summary>How many of the largest singular values each layer record lists (at least 10).</summary>
    public int SigmaCount { get; init; } = 10;
    /// <summary>Numerical-rank tolerance factor: σ_i counts when σ_i &gt; max(m,n)·eps·σ₁ (methods.md §0.4).</summary>
    public double RankEps { get; init; } = 2.220446049250313e-16;
    /// <summary>Below this rank a layer is marked <c>unreliable</c> (methods.md §0.5).</summary>
    public int UnreliableRank { get; init; } = 8;
    /// <summary>Parallel layer jobs (default: the number of cores).</summary>
    public int Parallelism { get; init; } = Environment.ProcessorCount;
}

/// <summary>Progress of a run: completed, total, and the item just finished.</summary>
public readonly record struct Progress(int Done, int Total, string Item);

/// <summary>Runs the per-layer and per-interface analyses of a model graph; pure over the matrices it loads.</summary>
public static class Analyzer
{
    public static string Version =>
        typeof(Analyzer).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public static AnalysisResult Run(WeightModel model, ModelGraph graph, AnalyzeOptions options, IProgress<Progress>? progress = null)
    {
        var layers = new LayerRecord[graph.Layers.Count];
        int done = 0, total = graph.Layers.Count;
        var spectra = new ConcurrentDictionary<string, double[]>();
        Parallel.For(0, graph.Layers.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Parallelism) }, i =>
        {
            var spec = graph.Layers[i];
            layers[i] = AnalyzeLayer(spec, options, spectra);
            progress?.Report(new Progress(Interlocked.Increment(ref done), total, spec.Name));
        });

        var interfaces = graph.Interfaces.Select(f => new InterfaceRecord
        {
            From = f.From, To = f.To, Dim = f.Dim, Kind = f.Kind, InferredBy = f.InferredBy,
        }).ToList();

        var settings = new List<KeyValuePair<string, object?>>
        {
            new("sigma_count", options.SigmaCount),
            new("rank_eps", options.RankEps),
            new("unreliable_rank", options.UnreliableRank),
            new("include_embeddings", options.Graph.IncludeEmbeddings),
            new("conv_view", options.Graph.ConvView.ToString().ToLowerInvariant()),
            new("infer_pairs", options.Graph.InferPairs),
            new("heads", graph.Heads?.NumHeads),
            new("kv_heads", graph.Heads?.NumKvHeads),
            new("heads_source", graph.Heads?.Source),
        };
        return new AnalysisResult
        {
            Tool = new ToolInfo("cartan", Version, Linalg.Lapack.BackendName),
            Model = new ModelInfo(model.Source, model.Format, graph.Architecture, model.Tensors.Count + model.Skipped.Count),
            Settings = settings,
            Layers = layers,
            Interfaces = interfaces,
            Skipped = graph.Skipped.Select(s => new SkippedRecord(s.Name, s.Shape, s.DType, s.Role, s.Reason))
                .Concat(model.Skipped.Select(s => new SkippedRecord(s.Name, s.Shape, s.StoredType, Roles.Other, s.Reason))).ToList(),
        };
    }

    private static LayerRecord AnalyzeLayer(LayerSpec spec, AnalyzeOptions o, ConcurrentDictionary<string, double[]> spectra)
    {
        var rec = new LayerRecord
        {
            Name = spec.Name, Role = spec.Role, Shape = spec.Shape, DType = spec.DType, Matrix = [spec.Rows, spec.Cols],
            View = spec.View.ToString().ToLowerInvariant(), Status = "ok", Block = spec.Block,
        };
        double[] a;
        try { a = spec.Load(); }
        catch (CartanFormatException e) { return rec with { Status = "failed", Reason = e.Message }; }
        double fro2 = 0;
        foreach (var x in a)
        {
            if (!double.IsFinite(x)) return rec with { Status = "failed", Reason = "matrix holds NaN or Infinity" };
            fro2 += x * x;
        }
        if (fro2 == 0) return rec with { Status = "skipped", Reason = "all-zero matrix (methods.md §0.5)", Rank = 0, Frobenius = 0 };
        var sigma = Linalg.Lapack.SingularValues(a, spec.Rows, spec.Cols);
        spectra[spec.Name] = sigma;
        double tol = Math.Max(spec.Rows, spec.Cols) * o.RankEps * sigma[0];
        int rank = sigma.Count(s => s > tol);
        string status = rank < 2 ? "skipped" : rank < o.UnreliableRank ? "unreliable" : "ok";
        string? reason = rank < 2 ? "numerical rank below 2: no spectrum statistics (methods.md §0.5)"
            : rank < o.UnreliableRank ? $"numerical rank {rank} < {o.UnreliableRank}: power-law fits unreliable (methods.md §0.5)" : null;
        return rec with
        {
            Status = status, Reason = reason, Rank = rank, Frobenius = Math.Sqrt(fro2),
            Sigma = sigma.Take(Math.Max(o.SigmaCount, 10)).ToArray(),
            StableRank = fro2 / (sigma[0] * sigma[0]),
        };
    }
}

namespace Cartan.Report;

/// <summary>Which tool and numerical backend produced an analysis.</summary>
public sealed record ToolInfo(string Name, string Version, string Lapack);

/// <summary>What was analysed.</summary>
public sealed record ModelInfo(string Source, string Format, string Architecture, int TensorCount);

/// <summary>
/// One analysed matrix (output contract <c>layers[]</c>). Numbers that could not be computed are null,
/// and <see cref="Status"/>/<see cref="Reason"/> say why.
/// </summary>
public sealed record LayerRecord
{
    public required string Name { get; init; }
    public required string Role { get; init; }
    public required long[] Shape { get; init; }
    public required string DType { get; init; }
    public required int[] Matrix { get; init; }
    public required string View { get; init; }
    /// <summary><c>ok</c>, <c>unreliable</c> (rank &lt; 8), <c>skipped</c> or <c>failed</c>.</summary>
    public required string Status { get; init; }
    public string? Reason { get; init; }
    public int? Block { get; init; }
    public int? Rank { get; init; }
    public double? Frobenius { get; init; }
    /// <summary>Largest singular values, descending (at least 10, or all if fewer).</summary>
    public double[]? Sigma { get; init; }
    /// <summary>‖W‖_F² / σ₁².</summary>
    public double? StableRank { get; init; }
    /// <summary>Per-layer GSA I profile and peer metrics, as name → value (filled by the spectra stage).</summary>
    public IReadOnlyDictionary<string, object?> Extra { get; init; } = new Dictionary<string, object?>();
    /// <summary>All singular values, descending, for the report's figures (ESD, α(xmin), rank energy); not written to JSON or CSV.</summary>
    public double[]? Spectrum { get; init; }
}

/// <summary>One adjacent pair (output contract <c>interfaces[]</c>).</summary>
public sealed record InterfaceRecord
{
    public required string From { get; init; }
    public required string To { get; init; }
    public required int Dim { get; init; }
    public required string Kind { get; init; }
    public required string InferredBy { get; init; }
    public string Status { get; init; } = "ok";
    public string? Reason { get; init; }
    public IReadOnlyDictionary<string, object?> Extra { get; init; } = new Dictionary<string, object?>();
    /// <summary>|K| on the leading singular directions (rows: `to` side, columns: `from` side) for the report's heatmap; not written to JSON.</summary>
    public double[][]? TransportMagnitude { get; init; }
    /// <summary>The PAM (physical alignment matrix), block-pooled to at most 96×96 for the report (not written to JSON).</summary>
    public double[][]? PamMatrix { get; init; }
    /// <summary>Core/overlap/noise class of each cell of <see cref="PamMatrix"/> ("core", "overlap", "noise"; majority in a pooled cell).</summary>
    public string[][]? PamMask { get; init; }
}

/// <summary>A tensor that was not analysed, with the reason.</summary>
public sealed record SkippedRecord(string Name, long[] Shape, string DType, string Role, string Reason);

/// <summary>Which part of the plan a sharded run covered, and the plan itself (layer names, interface pairs, head blocks in order).</summary>
public sealed record ShardInfo(int Index, int Count, string[] PlanLayers, string[][] PlanInterfaces, int[] PlanHeadBlocks);

/// <summary>The whole analysis: schema <c>cartan.analysis/1</c>.</summary>
public sealed record AnalysisResult
{
    public const string SchemaName = "cartan.analysis/1";
    public string Schema { get; init; } = SchemaName;
    public required ToolInfo Tool { get; init; }
    public required ModelInfo Model { get; init; }
    /// <summary>Every threshold used, with its value (ordered).</summary>
    public required IReadOnlyList<KeyValuePair<string, object?>> Settings { get; init; }
    public required IReadOnlyList<LayerRecord> Layers { get; init; }
    public required IReadOnlyList<InterfaceRecord> Interfaces { get; init; }
    public IReadOnlyList<IReadOnlyDictionary<string, object?>> Heads { get; init; } = [];
    public IReadOnlyList<IReadOnlyDictionary<string, object?>> Chains { get; init; } = [];
    public required IReadOnlyList<SkippedRecord> Skipped { get; init; }
    /// <summary>Model-level summary (counts, certified fraction, per-kind means, worst margins).</summary>
    public IReadOnlyList<KeyValuePair<string, object?>> Summary { get; init; } = [];
    /// <summary>Set on the output of a <c>--shard i/n</c> run: the whole plan, so that <c>cartan merge</c> can restore the order.</summary>
    public ShardInfo? Shard { get; init; }
    /// <summary>Wall time of the analysis in seconds.</summary>
    public double? Seconds { get; init; }
}

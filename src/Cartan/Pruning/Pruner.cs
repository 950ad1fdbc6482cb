using System.Diagnostics;
using Cartan.Formats;
using Cartan.Graph;
using Cartan.Linalg;
using Cartan.Tensors;

namespace Cartan.Pruning;

public enum PruneMethod { Magnitude, Wanda, SparseGpt, Cvr }

/// <summary>Every setting of a pruning run (printed into prune.json).</summary>
public sealed record PruneSettings
{
    public PruneMethod Method { get; init; } = PruneMethod.Magnitude;
    public required SparsityPattern Pattern { get; init; }
    /// <summary>Magnitude only: compare over the whole matrix instead of per output row. Default false (per row).</summary>
    public bool PerLayer { get; init; }
    public CvrOptions Cvr { get; init; } = new();
    public EcOptions Ec { get; init; } = new();
    public SparseGptOptions SparseGpt { get; init; } = new();
    public PruneProfileOptions Profile { get; init; } = new();

    public static PruneMethod ParseMethod(string s) => s switch
    {
        "magnitude" => PruneMethod.Magnitude,
        "wanda" => PruneMethod.Wanda,
        "sparsegpt" => PruneMethod.SparseGpt,
        "cvr" => PruneMethod.Cvr,
        _ => throw new ArgumentException($"method must be magnitude, wanda, sparsegpt or cvr, got '{s}'"),
    };

    public static string MethodName(PruneMethod m) => m switch
    {
        PruneMethod.Wanda => "wanda", PruneMethod.SparseGpt => "sparsegpt", PruneMethod.Cvr => "cvr", _ => "magnitude",
    };

    /// <summary>True when the method needs calibration statistics (everything but magnitude; also the OWL profile and activation-weighted EC).</summary>
    public bool NeedsCalibration => Method != PruneMethod.Magnitude || Profile.Kind == ProfileKind.Owl || Ec.ActivationWeightedRows;
}

/// <summary>One pruned matrix (canonical out × in) with its report numbers.</summary>
public sealed record LayerPruneResult
{
    public required double[] Weights { get; init; }
    public required bool[] Mask { get; init; }
    public required double TargetSparsity { get; init; }
    public required double KeptFraction { get; init; }
    /// <summary>N:M only: trailing columns left dense (cols % M).</summary>
    public int RemainderDense { get; init; }
    public EcResult? Ec { get; init; }
    /// <summary>SparseGPT only: features whose Hessian diagonal was 0 (their columns were zeroed).</summary>
    public int DeadFeatures { get; init; }
    /// <summary>Input features with zero variance (CVR) or zero norm (Wanda): their scores are 0 (methods.md §5(e)).</summary>
    public int ZeroActivationFeatures { get; init; }
    public double Seconds { get; init; }
}

/// <summary>One prunable tensor of a model, read in canonical orientation.</summary>
public sealed record PruneTarget(string TensorName, string Role, int? Block, int Rows, int Cols, TensorLayout Layout, DType DType);

/// <summary>A model run: the targets, per-unit sparsities and each layer's result.</summary>
public sealed record ModelPruneResult(IReadOnlyList<PruneTarget> Targets, IReadOnlyList<LayerPruneResult> Layers,
    IReadOnlyList<string> Units, IReadOnlyList<double> UnitSparsity, IReadOnlyList<double?> UnitMetric, string UnitKind);

/// <summary>Pruning of matrices and of whole models (methods.md §5).</summary>
public static class Pruner
{
    /// <summary>
    /// Prunes one matrix W (out × in, row-major) at <paramref name="sparsity"/> (ignored for N:M), then applies EC.
    /// <paramref name="stats"/> are the layer input's statistics (required for Wanda, CVR, SparseGPT (with Hessian),
    /// activation-weighted EC). Throws <see cref="ArgumentException"/> on a bad request.
    /// </summary>
    public static LayerPruneResult PruneMatrix(ReadOnlySpan<double> w, int rows, int cols, double sparsity, PruneSettings settings, CalibrationStats? stats = null)
    {
        var sw = Stopwatch.StartNew();
        if (rows <= 0 || cols <= 0 || (long)rows * cols != w.Length) throw new ArgumentException($"W has {w.Length} values, not {rows}×{cols}");
        if (!settings.Pattern.IsNM && !(sparsity >= 0 && sparsity < 1)) throw new ArgumentException($"layer sparsity must lie in [0, 1), got {sparsity}");
        foreach (var v in w) if (!double.IsFinite(v)) throw new ArgumentException("W holds a non-finite value");
        if (stats is not null && stats.Features != cols) throw new ArgumentException($"statistics have {stats.Features} features, W has {cols} inputs");
        if (settings.NeedsCalibration && settings.Method != PruneMethod.Magnitude && stats is null)
            throw new ArgumentException($"{PruneSettings.MethodName(settings.Method)} needs calibration statistics");
        if (settings.Ec.ActivationWeightedRows && stats is null) throw new ArgumentException("activation-weighted EC needs calibration statistics");
        bool perLayer = settings.PerLayer;
        if (perLayer && settings.Method != PruneMethod.Magnitude) throw new ArgumentException("per-layer comparison is offered for magnitude only");

        bool[] mask;
        double[] pruned;
        int remainder = 0, dead = 0, zeroAct = 0;
        switch (settings.Method)
        {
            case PruneMethod.SparseGpt:
                var href = SparseGpt.ReferenceHessian(stats!);
                var pattern = settings.Pattern.IsNM ? settings.Pattern : SparsityPattern.Unstructured(Math.Max(sparsity, double.Epsilon));
                var r = SparseGpt.Prune(w, rows, cols, href, pattern, settings.SparseGpt);
                mask = r.Mask; pruned = r.Weights; remainder = r.RemainderDense; dead = r.DeadFeatures;
                break;
            default:
                double[] scores;
                if (settings.Method == PruneMethod.Magnitude) scores = Scores.Magnitude(w);
                else if (settings.Method == PruneMethod.Wanda)
                {
                    var norms = stats!.L2Norms();
                    zeroAct = norms.Count(v => v == 0);
                    scores = Scores.Wanda(w, rows, cols, norms);
                }
                else
                {
                    var f = Scores.CvrActivationFactor(stats!);
                    zeroAct = f.Count(v => v == 0);
                    scores = Scores.Cvr(w, rows, cols, f, settings.Cvr);
                }
                mask = Masks.ForPattern(scores, rows, cols, settings.Pattern, sparsity, perLayer, out remainder);
                pruned = Masks.Apply(w, mask);
                break;
        }
        EcResult? ec = null;
        if (settings.Ec.Mode != EcMode.None)
        {
            ec = EnergyCompensation.Apply(w, pruned, mask, rows, cols, settings.Ec,
                settings.Ec.ActivationWeightedRows ? stats!.Variances() : default);
            pruned = ec.Weights;
        }
        return new LayerPruneResult
        {
            Weights = pruned, Mask = mask, TargetSparsity = settings.Pattern.IsNM ? settings.Pattern.Nominal : sparsity,
            KeptFraction = Masks.KeptFraction(mask), RemainderDense = remainder, Ec = ec, DeadFeatures = dead,
            ZeroActivationFeatures = zeroAct, Seconds = sw.Elapsed.TotalSeconds,
        };
    }

    /// <summary>
    /// The prunable tensors of a model: the graph's 2-D layers (embeddings and LM head excluded by the graph), one per
    /// tensor (a fused q/k/v tensor is pruned as one matrix), floating-point only, in graph order.
    /// </summary>
    public static List<PruneTarget> Targets(WeightModel model, ModelGraph graph)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var list = new List<PruneTarget>();
        foreach (var l in graph.Layers.OrderBy(l => l.Order))
        {
            if (l.Shape.Length != 2 || l.Role is Roles.Embedding or Roles.LmHead or Roles.Conv or Roles.Lstm) continue;
            if (!seen.Add(l.TensorName)) continue;
            var t = model.Find(l.TensorName);
            if (t is null || !DTypes.IsFloat(t.DType)) continue;
            bool inOut = l.Layout == TensorLayout.InOut;
            int rows = checked((int)(inOut ? t.Shape[1] : t.Shape[0])), cols = checked((int)(inOut ? t.Shape[0] : t.Shape[1]));
            list.Add(new PruneTarget(l.TensorName, l.Role, l.Block, rows, cols, inOut ? TensorLayout.InOut : TensorLayout.OutIn, t.DType));
        }
        return list;
    }

    /// <summary>A target's canonical out × in matrix.</summary>
    public static double[] Load(WeightModel model, PruneTarget t)
    {
        var d = model.Find(t.TensorName)!.ReadDoubles();
        return t.Layout == TensorLayout.InOut ? MatrixOps.Transpose(d, t.Cols, t.Rows) : d;
    }

    /// <summary>A canonical matrix back in the tensor's stored orientation.</summary>
    public static double[] ToStored(PruneTarget t, double[] canonical) =>
        t.Layout == TensorLayout.InOut ? MatrixOps.Transpose(canonical, t.Rows, t.Cols) : canonical;

    /// <summary>
    /// Prunes every target of the model. Profiles allocate per decoder block when every target has a block index
    /// (OWL's and AlphaPruning's unit), else per layer. <paramref name="stats"/> maps weight tensor (or module) names to
    /// the statistics of their input (see <see cref="CalibrationStatsFile"/>). <paramref name="progress"/> is told each
    /// finished layer. Throws <see cref="ArgumentException"/> on a bad request (missing statistics, N:M with a non-uniform
    /// profile, no targets).
    /// </summary>
    public static ModelPruneResult PruneModel(WeightModel model, ModelGraph graph, PruneSettings settings,
        IReadOnlyDictionary<string, CalibrationStats>? stats = null, Action<PruneTarget, LayerPruneResult>? progress = null)
    {
        var targets = Targets(model, graph);
        CheckRequest(targets, settings);
        CalibrationStats? StatsOf(PruneTarget t) => stats is null ? null : CalibrationStatsFile.Find(stats, t.TensorName);
        if (settings.NeedsCalibration)
        {
            if (stats is null) throw new ArgumentException($"{PruneSettings.MethodName(settings.Method)} needs calibration statistics");
            foreach (var t in targets)
                if (StatsOf(t) is null) throw new ArgumentException($"the calibration statistics have no entry for '{t.TensorName}'");
        }
        var plan = Allocate(model, targets, settings, StatsOf);
        var results = new List<LayerPruneResult>(targets.Count);
        for (int k = 0; k < targets.Count; k++)
        {
            var t = targets[k];
            var r = PruneMatrix(Load(model, t), t.Rows, t.Cols, plan.SparsityOf(k), settings, StatsOf(t));
            results.Add(r);
            progress?.Invoke(t, r);
        }
        return plan.Result(results);
    }

    /// <summary>Rejects requests no model can satisfy: no targets, or N:M with a non-uniform profile.</summary>
    public static void CheckRequest(IReadOnlyList<PruneTarget> targets, PruneSettings settings)
    {
        if (targets.Count == 0) throw new ArgumentException("the model has no prunable 2-D weights");
        if (settings.Pattern.IsNM && settings.Profile.Kind != ProfileKind.Uniform)
            throw new ArgumentException("layerwise profiles apply to unstructured sparsity only (N:M is fixed per group)");
    }

    /// <summary>
    /// The layerwise sparsity of every target under the settings' profile (methods.md §5, issue 10 item 3): units are
    /// decoder blocks when every target has a block index, else single layers. OWL reads the Wanda scores of the dense
    /// weights with <paramref name="statsOf"/> (which must then answer for every target); the spectral profile reads
    /// only the weights; uniform reads nothing. Used by <see cref="PruneModel"/> and by block-sequential calibration,
    /// which prunes the targets one block at a time with <see cref="PruneMatrix"/>.
    /// </summary>
    public static PruneAllocation Allocate(WeightModel model, IReadOnlyList<PruneTarget> targets, PruneSettings settings,
        Func<PruneTarget, CalibrationStats?> statsOf)
    {
        CheckRequest(targets, settings);
        bool byBlock = targets.All(t => t.Block is not null);
        var unitNames = targets.Select(t => byBlock ? $"block {t.Block}" : t.TensorName).ToList();
        var units = unitNames.Distinct().ToList();
        var unitIndex = units.Select((u, i) => (u, i)).ToDictionary(x => x.u, x => x.i);
        var unitOf = unitNames.Select(u => unitIndex[u]).ToArray();
        var unitParams = new long[units.Count];
        for (int k = 0; k < targets.Count; k++) unitParams[unitOf[k]] += (long)targets[k].Rows * targets[k].Cols;

        double s = settings.Pattern.Nominal;
        double[] unitSparsity;
        var unitMetric = new double?[units.Count];
        switch (settings.Profile.Kind)
        {
            case ProfileKind.Owl:
            {
                // OWL pools the Wanda scores of all layers of the unit and counts those above M × the pooled mean.
                var pooled = new List<double>[units.Count];
                for (int u = 0; u < units.Count; u++) pooled[u] = [];
                for (int k = 0; k < targets.Count; k++)
                {
                    var t = targets[k];
                    var st = statsOf(t) ?? throw new ArgumentException($"the OWL profile needs calibration statistics for '{t.TensorName}'");
                    pooled[unitOf[k]].AddRange(Scores.Wanda(Load(model, t), t.Rows, t.Cols, st.L2Norms()));
                }
                var ratios = new double[units.Count];
                for (int u = 0; u < units.Count; u++) { ratios[u] = SparsityProfiles.OutlierRatio(pooled[u].ToArray(), settings.Profile.OwlM); unitMetric[u] = ratios[u]; }
                unitSparsity = SparsityProfiles.Owl(ratios, unitParams, s, settings.Profile.Lambda);
                break;
            }
            case ProfileKind.Spectral:
            {
                var sums = new double[units.Count];
                var counts = new int[units.Count];
                for (int k = 0; k < targets.Count; k++)
                {
                    var t = targets[k];
                    var sigma = Lapack.SingularValues(Load(model, t), t.Rows, t.Cols);
                    if (SparsityProfiles.HeavyTail(sigma, t.Rows, t.Cols, settings.Profile.Metric) is double h && double.IsFinite(h))
                    { sums[unitOf[k]] += h; counts[unitOf[k]]++; }
                }
                for (int u = 0; u < units.Count; u++) unitMetric[u] = counts[u] > 0 ? sums[u] / counts[u] : null;
                unitSparsity = SparsityProfiles.Spectral(unitMetric, unitParams, s, settings.Profile.Lambda);
                break;
            }
            default:
                unitSparsity = SparsityProfiles.Uniform(units.Count, s);
                break;
        }
        return new PruneAllocation(targets, unitOf, units, unitSparsity, unitMetric, byBlock ? "block" : "layer");
    }
}

/// <summary>The per-target sparsity a profile allocated (see <see cref="Pruner.Allocate"/>).</summary>
public sealed record PruneAllocation(IReadOnlyList<PruneTarget> Targets, IReadOnlyList<int> UnitOf, IReadOnlyList<string> Units,
    IReadOnlyList<double> UnitSparsity, IReadOnlyList<double?> UnitMetric, string UnitKind)
{
    /// <summary>The sparsity allocated to target <paramref name="k"/>.</summary>
    public double SparsityOf(int k) => UnitSparsity[UnitOf[k]];

    /// <summary>The model result for these targets, given one layer result per target in order.</summary>
    public ModelPruneResult Result(IReadOnlyList<LayerPruneResult> layers)
    {
        if (layers.Count != Targets.Count) throw new ArgumentException($"{layers.Count} layer results for {Targets.Count} targets");
        return new ModelPruneResult(Targets, layers, Units, UnitSparsity, UnitMetric, UnitKind);
    }
}

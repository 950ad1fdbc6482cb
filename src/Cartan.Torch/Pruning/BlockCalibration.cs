using System.Diagnostics;
using Cartan.Formats;
using Cartan.Graph;
using Cartan.Pruning;
using static TorchSharp.torch;

namespace Cartan.Torch.Pruning;

/// <summary>Settings of a block-sequential calibration run.</summary>
public sealed record CalibrationOptions
{
    /// <summary>Use the dense model's block outputs as the next block's inputs (default false: the already-pruned
    /// model's, Wanda's convention, methods.md §5(c) step 6).</summary>
    public bool DenseInputs { get; init; }
    /// <summary>Calibration sequences per forward batch (memory only; the statistics do not depend on it).</summary>
    public int BatchSize { get; init; } = 8;
    /// <summary>
    /// Prune the layers of a block in forward order, each layer group seeing inputs computed with the block's
    /// already-pruned earlier groups (SparseGPT's "true sequential", methods.md §5(e)); default false: every layer of a
    /// block sees the inputs of the block's dense weights (Wanda's convention). A group is the set of layers sharing one
    /// input ([q,k,v], [o], [gate,up], [down] for LLaMA; [c_attn], [attn.c_proj], [c_fc], [mlp.c_proj] for GPT-2).
    /// Costs one forward pass over all calibration batches per group (plus one for the block outputs) instead of two
    /// per block. Independent of <see cref="DenseInputs"/>, which concerns the next block's inputs: with both on, the
    /// layers inside a block are pruned sequentially and the next block reads the dense block's outputs.
    /// </summary>
    public bool SequentialWithinBlock { get; init; }
}

/// <summary>
/// Block-sequential calibration as in Wanda and SparseGPT (methods.md §5(c)): the calibration sequences are embedded,
/// then run through the decoder one block at a time. For each block the input of every prunable linear layer is
/// reduced to float64 statistics (<see cref="CalibrationStats"/>: n, Σx, Σx² per input feature, and XᵀX for
/// SparseGPT); layers reading the same input (q/k/v, gate/up) share one accumulator. A callback then prunes the
/// block, and the block's outputs are recomputed with the pruned weights as the next block's inputs (or, with
/// <see cref="CalibrationOptions.DenseInputs"/>, the dense outputs are kept). With
/// <see cref="CalibrationOptions.SequentialWithinBlock"/> the block is instead run once per input group, in forward
/// order, each run collecting only that group's statistics and pruning only its layers, so later groups see the inputs
/// of the block with its earlier groups already pruned.
/// </summary>
public static class BlockCalibration
{
    /// <summary>
    /// Runs the calibration. <paramref name="afterBlock"/>(block, statistics of its linear inputs by HF weight name) is
    /// called once per block after its statistics are complete and before its outputs are (re)computed; it may change the
    /// block's weights (pruning). Returns every weight's input statistics by HF weight name. The network is used in its
    /// own dtype; statistics are accumulated in float64. With <see cref="CalibrationOptions.SequentialWithinBlock"/>
    /// <paramref name="afterBlock"/> is called once per input group of the block, in forward order, with that group's
    /// statistics only, each collected by a forward pass run after the previous call returned (G groups: G passes, plus
    /// one to recompute the block's outputs unless <see cref="CalibrationOptions.DenseInputs"/>). Without a callback
    /// the weights cannot change, so the sequential and the ordinary run give the same statistics and the ordinary
    /// (cheaper) one is run.
    /// </summary>
    public static Dictionary<string, CalibrationStats> Run(IBlockDecoder network, IReadOnlyList<int[]> samples, bool withHessian,
        CalibrationOptions options, Action<int, IReadOnlyDictionary<string, CalibrationStats>>? afterBlock = null)
    {
        if (samples.Count == 0) throw new ArgumentException("no calibration samples");
        if (options.BatchSize < 1) throw new ArgumentException("batch size must be ≥ 1");
        int seqLen = samples[0].Length;
        if (seqLen < 1 || samples.Any(s => s.Length != seqLen)) throw new ArgumentException("calibration samples must share one positive length");
        var all = new Dictionary<string, CalibrationStats>(StringComparer.Ordinal);
        using var _ = no_grad();
        var hidden = new List<Tensor>();
        try
        {
            for (int i = 0; i < samples.Count; i += options.BatchSize)
            {
                int b = Math.Min(options.BatchSize, samples.Count - i);
                var ids = new long[b * seqLen];
                for (int r = 0; r < b; r++) for (int t = 0; t < seqLen; t++) ids[r * seqLen + t] = samples[i + r][t];
                using var idT = tensor(ids, [b, seqLen], dtype: ScalarType.Int64);
                hidden.Add(network.EmbedInputs(idT));
            }
            for (int block = 0; block < network.BlockCount; block++)
            {
                if (options.SequentialWithinBlock && afterBlock is not null)
                {
                    var next = SequentialBlock(network, block, hidden, withHessian, options, all, afterBlock);
                    foreach (var h in hidden) h.Dispose();
                    hidden = next;
                    continue;
                }
                var acc = new Dictionary<string, Accumulator>(StringComparer.Ordinal);
                var groups = new List<(IReadOnlyList<string> Names, Accumulator Acc)>();
                void Tap(IReadOnlyList<string> names, Tensor x)
                {
                    if (!acc.TryGetValue(names[0], out var a))
                    {
                        a = new Accumulator((int)x.shape[^1], withHessian);
                        acc[names[0]] = a;
                        groups.Add((names, a));
                    }
                    a.Add(x);
                }
                var outputs = new List<Tensor>(hidden.Count);
                try
                {
                    foreach (var h in hidden) outputs.Add(network.ForwardBlock(block, h, Tap));
                    var blockStats = new Dictionary<string, CalibrationStats>(StringComparer.Ordinal);
                    foreach (var (names, a) in groups)
                    {
                        var s = a.ToStats();
                        foreach (var n in names) blockStats[n] = s;
                    }
                    foreach (var a in acc.Values) a.Dispose();
                    acc.Clear();
                    foreach (var (k, v) in blockStats) all[k] = v;
                    if (afterBlock is not null)
                    {
                        afterBlock(block, blockStats);
                        if (!options.DenseInputs)
                        {
                            foreach (var o in outputs) o.Dispose();
                            outputs.Clear();
                            foreach (var h in hidden) outputs.Add(network.ForwardBlock(block, h));
                        }
                    }
                }
                catch
                {
                    foreach (var o in outputs) o.Dispose();
                    foreach (var a in acc.Values) a.Dispose();
                    throw;
                }
                foreach (var h in hidden) h.Dispose();
                hidden = outputs;
            }
        }
        finally
        {
            foreach (var h in hidden) h.Dispose();
        }
        return all;
    }

    /// <summary>
    /// One block in sequential mode: pass g runs the block (groups &lt; g already pruned) over every batch, accumulates
    /// only group g's input and hands it to <paramref name="afterBlock"/>. Returns the block's outputs for the next block:
    /// pass 0's (dense) with DenseInputs, otherwise a final pass with every group pruned.
    /// </summary>
    private static List<Tensor> SequentialBlock(IBlockDecoder network, int block, List<Tensor> hidden, bool withHessian,
        CalibrationOptions options, Dictionary<string, CalibrationStats> all, Action<int, IReadOnlyDictionary<string, CalibrationStats>> afterBlock)
    {
        var order = new List<IReadOnlyList<string>>();          // groups in forward order, as pass 0 meets them
        var position = new Dictionary<string, int>(StringComparer.Ordinal);
        int current = 0;
        Accumulator? acc = null;
        void Tap(IReadOnlyList<string> names, Tensor x)
        {
            if (!position.TryGetValue(names[0], out int g))
            {
                g = order.Count;
                position[names[0]] = g;
                order.Add(names);
            }
            if (g != current) return;
            acc ??= new Accumulator((int)x.shape[^1], withHessian);
            acc.Add(x);
        }
        var outputs = new List<Tensor>(hidden.Count);
        try
        {
            foreach (var h in hidden) outputs.Add(network.ForwardBlock(block, h, Tap));   // pass 0: dense block
            for (current = 0; current < order.Count; current++)
            {
                if (current > 0)
                    foreach (var h in hidden) network.ForwardBlock(block, h, Tap).Dispose();
                if (acc is null) throw new InvalidOperationException($"block {block} did not show group {current} its input again");
                var s = acc.ToStats();
                acc.Dispose();
                acc = null;
                var groupStats = new Dictionary<string, CalibrationStats>(StringComparer.Ordinal);
                foreach (var n in order[current]) groupStats[n] = s;
                foreach (var (k, v) in groupStats) all[k] = v;
                afterBlock(block, groupStats);
            }
            if (!options.DenseInputs)
            {
                foreach (var o in outputs) o.Dispose();
                outputs.Clear();
                foreach (var h in hidden) outputs.Add(network.ForwardBlock(block, h));
            }
            return outputs;
        }
        catch
        {
            foreach (var o in outputs) o.Dispose();
            acc?.Dispose();
            throw;
        }
    }

    /// <summary>float64 running sums of one linear input, kept as tensors until the block is done.</summary>
    private sealed class Accumulator(int features, bool withHessian) : IDisposable
    {
        private long _n;
        // Created inside the block's dispose scope (from the tap), so detached from it: they outlive the forward call.
        private readonly Tensor _sum = zeros(features, dtype: ScalarType.Float64).DetachFromDisposeScope();
        private readonly Tensor _sumSq = zeros(features, dtype: ScalarType.Float64).DetachFromDisposeScope();
        private readonly Tensor? _h = withHessian ? zeros(features, features, dtype: ScalarType.Float64).DetachFromDisposeScope() : null;

        public void Add(Tensor x)
        {
            using var scope = NewDisposeScope();
            if (x.shape[^1] != features) throw new ArgumentException($"input has {x.shape[^1]} features, {features} expected");
            var f = x.reshape(-1, features).to(ScalarType.Float64);
            _n += f.shape[0];
            _sum.add_(f.sum([0L]));  // not sum(0): the literal 0 binds to the ScalarType overload
            _sumSq.add_(f.mul(f).sum([0L]));
            if (_h is not null) _h.add_(matmul(f.t(), f));
        }

        public CalibrationStats ToStats()
        {
            double[] D(Tensor t) { using var c = t.contiguous(); return c.data<double>().ToArray(); }
            return CalibrationStats.FromTotals(_n, D(_sum), D(_sumSq), _h is null ? default : D(_h));
        }

        public void Dispose() { _sum.Dispose(); _sumSq.Dispose(); _h?.Dispose(); }
    }
}

/// <summary>The result of <see cref="CalibratedPruner.Run"/>.</summary>
public sealed record CalibratedPruneResult(ModelPruneResult Run, IReadOnlyDictionary<string, CalibrationStats> Statistics,
    IReadOnlyDictionary<string, double[]> Replaced, double CalibrationSeconds);

/// <summary>
/// Prunes a decoder with statistics from block-sequential calibration, using the pruning library for every decision
/// (<see cref="Pruner.Allocate"/> for the layerwise profile, <see cref="Pruner.PruneMatrix"/> for masks, SparseGPT
/// updates and EC), so a calibrated run and a <c>--calib-stats</c> run of the same statistics prune identically.
/// </summary>
public static class CalibratedPruner
{
    /// <summary>
    /// Prunes the targets of <paramref name="weights"/> (the file <paramref name="network"/> was loaded from) block by block.
    /// The network's parameters are overwritten with the pruned weights. Statistics are returned by tensor name of the file.
    /// Throws <see cref="ArgumentException"/> for a request the model cannot satisfy.
    /// </summary>
    public static CalibratedPruneResult Run(HfModule network, WeightModel weights, ModelGraph graph, PruneSettings settings,
        IReadOnlyList<int[]> samples, CalibrationOptions options, Action<PruneTarget, LayerPruneResult>? progress = null)
    {
        if (network is not IBlockDecoder decoder)
            throw new ArgumentException($"calibration runs block by block and needs a decoder (LLaMA- or GPT-2-style), not '{network.Config.ModelType}'");
        var targets = Pruner.Targets(weights, graph);
        Pruner.CheckRequest(targets, settings);
        // File tensor name ↔ network weight name (GPT-2 checkpoints may drop "transformer.").
        var fileNames = new HashSet<string>(weights.Tensors.Select(t => t.Name), StringComparer.Ordinal);
        var toFile = new Dictionary<string, string>(StringComparer.Ordinal);
        var param = new Dictionary<string, TorchSharp.Modules.Parameter>(StringComparer.Ordinal);
        foreach (var (name, p) in network.Weights)
            foreach (var n in network.CheckpointNames(name))
                if (fileNames.Contains(n)) { toFile[name] = n; param[n] = p; break; }
        var index = targets.Select((t, k) => (t.TensorName, k)).ToDictionary(x => x.TensorName, x => x.k, StringComparer.Ordinal);

        var sw = Stopwatch.StartNew();
        Dictionary<string, CalibrationStats> ByFile(IReadOnlyDictionary<string, CalibrationStats> byNet)
        {
            var d = new Dictionary<string, CalibrationStats>(StringComparer.Ordinal);
            foreach (var (k, v) in byNet) if (toFile.TryGetValue(k, out var f)) d[f] = v;
            return d;
        }

        // OWL allocates from the dense model's Wanda scores: one dense pass first.
        PruneAllocation plan;
        if (settings.Profile.Kind == ProfileKind.Owl)
        {
            var dense = ByFile(BlockCalibration.Run(decoder, samples, withHessian: false, options with { DenseInputs = true, SequentialWithinBlock = false }));
            plan = Pruner.Allocate(weights, targets, settings, t => dense.GetValueOrDefault(t.TensorName));
        }
        else plan = Pruner.Allocate(weights, targets, settings, _ => null);

        var results = new LayerPruneResult?[targets.Count];
        var replaced = new Dictionary<string, double[]>(StringComparer.Ordinal);
        void PruneTarget(int k, CalibrationStats? stats)
        {
            var t = targets[k];
            var r = Pruner.PruneMatrix(Pruner.Load(weights, t), t.Rows, t.Cols, plan.SparsityOf(k), settings, stats);
            results[k] = r;
            var stored = Pruner.ToStored(t, r.Weights);
            replaced[t.TensorName] = stored;
            if (param.TryGetValue(t.TensorName, out var p))
            {
                using var _ = no_grad();
                using var src = tensor(stored, p.shape, dtype: ScalarType.Float64);
                p.copy_(src);
            }
            progress?.Invoke(t, r);
        }

        var stats = ByFile(BlockCalibration.Run(decoder, samples, settings.Method == PruneMethod.SparseGpt, options, (block, blockStats) =>
        {
            foreach (var (k, s) in ByFile(blockStats).OrderBy(kv => index.GetValueOrDefault(kv.Key, int.MaxValue)))
                if (index.TryGetValue(k, out int ti) && results[ti] is null) PruneTarget(ti, s);
        }));
        double calibSeconds = sw.Elapsed.TotalSeconds - results.Where(r => r is not null).Sum(r => r!.Seconds);
        // Targets no block reads (none for LLaMA/GPT-2) are pruned from their weights alone, if the method allows.
        for (int k = 0; k < targets.Count; k++)
            if (results[k] is null)
            {
                if (settings.NeedsCalibration) throw new ArgumentException($"no calibration input reaches '{targets[k].TensorName}'");
                PruneTarget(k, null);
            }
        return new CalibratedPruneResult(plan.Result(results.Select(r => r!).ToList()), stats, replaced, calibSeconds);
    }
}

/// <summary>Calibration sequences drawn from a token stream.</summary>
public static class CalibrationSampler
{
    /// <summary>
    /// <paramref name="samples"/> windows of <paramref name="seqLen"/> consecutive tokens with start offsets drawn uniformly
    /// from [0, tokens − seqLen] by a <see cref="Random"/> seeded with <paramref name="seed"/> (Wanda draws random windows
    /// of C4 documents the same way). Throws <see cref="ArgumentException"/> when the stream is shorter than one window.
    /// </summary>
    public static int[][] Draw(ReadOnlySpan<int> tokens, int samples, int seqLen, int seed)
    {
        if (samples < 1) throw new ArgumentException($"calibration samples must be ≥ 1, got {samples}");
        if (seqLen < 1) throw new ArgumentException($"sequence length must be ≥ 1, got {seqLen}");
        if (tokens.Length < seqLen) throw new ArgumentException($"the calibration text has {tokens.Length} tokens, fewer than one sequence of {seqLen}");
        var rng = new Random(seed);
        var result = new int[samples][];
        for (int i = 0; i < samples; i++)
        {
            int start = rng.Next(0, tokens.Length - seqLen + 1);
            result[i] = tokens.Slice(start, seqLen).ToArray();
        }
        return result;
    }
}

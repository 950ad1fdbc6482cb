using System.Text.Json;
using Cartan.Formats;
using Cartan.Tensors;

namespace Cartan.Graph;

/// <summary>Attention geometry of a layer: H query heads, H_kv key/value heads, head dimension d_h (methods.md §0.3).</summary>
public sealed record HeadInfo(int NumHeads, int NumKvHeads, int HeadDim, string Source);

/// <summary>
/// One analysable matrix: a tensor (or a q/k/v split of a fused tensor) with its role and canonical view.
/// <see cref="Load"/> returns the canonical row-major out×in matrix in float64.
/// </summary>
public sealed class LayerSpec
{
    public required string Name { get; init; }
    public required string TensorName { get; init; }
    public required string Role { get; init; }
    /// <summary>The name the role was read from (tensor name, op-graph path or bias name).</summary>
    public required string Label { get; init; }
    public required string Rule { get; init; }
    public int? Block { get; init; }
    public required long[] Shape { get; init; }
    public required string DType { get; init; }
    public required TensorLayout Layout { get; init; }
    public required MatrixView View { get; init; }
    public required int Rows { get; init; }
    public required int Cols { get; init; }
    public HeadInfo? Heads { get; init; }
    /// <summary>Forward order of the layer in the model (file order or op-graph order).</summary>
    public int Order { get; init; }
    public required Func<MatrixView, double[]> LoadView { get; init; }
    public double[] Load() => LoadView(View);
    /// <summary>
    /// Reads blocks of the matrix in <see cref="View"/> straight from the file (null when the view is not a plain
    /// row-major reading of the stored bytes, or the reader offers no range reads): lets a spectrum be formed band by
    /// band without a float64 copy of the whole matrix.
    /// </summary>
    public MatrixBlockReader? Blocks { get; init; }
    /// <summary>Drops the mapped pages of the tensor after <see cref="Blocks"/> reads (optional; memory only).</summary>
    public Action? ReleasePages { get; init; }
    /// <summary>(rows, cols) of the matrix in another view (convolutions only differ).</summary>
    public required Func<MatrixView, (int Rows, int Cols)> ShapeIn { get; init; }
    public bool IsConv => Shape.Length >= 3 && Role is Roles.Conv;
    /// <summary>Spatial taps kh·kw of a convolution (1 for a dense layer).</summary>
    public int Taps => IsConv && Canonical.ConvDims(Shape, Layout) is { } c ? (int)c.Taps : 1;
}

/// <summary>
/// Fills <paramref name="destination"/> (rowCount×colCount, row-major) with rows [row0, row0+rowCount) and columns
/// [col0, col0+colCount) of a layer's matrix in its view, decoding only those elements.
/// </summary>
public delegate void MatrixBlockReader(int row0, int rowCount, int col0, int colCount, Span<double> destination);

/// <summary>A tensor that is not analysed, with the reason (shown by <c>inspect</c> and in the JSON).</summary>
public sealed record SkippedLayer(string Name, long[] Shape, string DType, string Role, string Reason);

/// <summary>An adjacent pair: <see cref="From"/> writes into the space of dimension <see cref="Dim"/> that <see cref="To"/> reads.</summary>
public sealed record InterfaceSpec(string From, string To, int Dim, string Kind, string InferredBy);

/// <summary>Options of graph inference (all printed into <c>settings</c>).</summary>
public sealed record GraphOptions
{
    public bool IncludeEmbeddings { get; init; }
    public int? Heads { get; init; }
    public int? KvHeads { get; init; }
    public bool InferPairs { get; init; } = true;
    public IReadOnlyList<(string From, string To)> ExplicitPairs { get; init; } = [];
    public MatrixView ConvView { get; init; } = MatrixView.Out;
    /// <summary>Analyse only layers whose name matches (a fused q/k/v part is named TENSOR#q, #k, #v); null: all.</summary>
    public System.Text.RegularExpressions.Regex? Layers { get; init; }
    /// <summary>Leave out layers whose name matches; null: none.</summary>
    public System.Text.RegularExpressions.Regex? Exclude { get; init; }
}

/// <summary>
/// The layer graph of a model: analysable matrices with roles and heads, skipped tensors with reasons,
/// and the adjacent interfaces (methods.md §0, §2(b) "Interface").
/// </summary>
public sealed class ModelGraph
{
    public required string Architecture { get; init; }
    public required IReadOnlyList<LayerSpec> Layers { get; init; }
    public required IReadOnlyList<SkippedLayer> Skipped { get; init; }
    public required IReadOnlyList<InterfaceSpec> Interfaces { get; init; }
    public HeadInfo? Heads { get; init; }
    /// <summary>Problems with explicit requests (e.g. an unknown --pair name); the CLI turns them into usage errors.</summary>
    public required IReadOnlyList<string> Errors { get; init; }

    public LayerSpec? Layer(string name) => Layers.FirstOrDefault(l => l.Name == name);

    public static ModelGraph Build(WeightModel model, GraphOptions? options = null) => new GraphBuilder(model, options ?? new()).Build();
}

internal sealed class GraphBuilder(WeightModel model, GraphOptions opts)
{
    private readonly List<LayerSpec> _layers = [];
    private readonly List<SkippedLayer> _skipped = [];
    private readonly List<string> _errors = [];
    private readonly Dictionary<string, OpNode> _weightConsumer = new();
    private readonly Dictionary<string, int> _nodeIndex = new();

    public ModelGraph Build()
    {
        IndexGraph();
        var heads = HeadsFromConfig() ?? HeadsFromOptions() ?? HeadsFromGraph();
        if (opts.Heads is not null && heads is not null && heads.Source != "command line")
            heads = HeadsFromOptions();
        int order = 0;
        var ordered = OrderTensors();
        foreach (var t in ordered) AddTensor(t, heads, order++);
        string arch = Architecture(); // from every analysable layer, before any selection
        if (opts.Layers is not null || opts.Exclude is not null) Select();
        var interfaces = opts.InferPairs ? InferInterfaces() : [];
        foreach (var (a, b) in opts.ExplicitPairs) AddExplicit(interfaces, a, b);
        return new ModelGraph
        {
            Architecture = arch, Layers = _layers, Skipped = _skipped, Interfaces = interfaces, Heads = heads, Errors = _errors,
        };
    }

    // ---------------------------------------------------------------- op graph indexing

    private static readonly HashSet<string> WeightOps = ["MatMul", "Gemm", "Conv", "ConvTranspose", "LSTM", "GRU", "RNN", "Gather",
        "_FusedMatMul", "_FusedConv2D", "Conv2D", "DepthwiseConv2dNative", "Dense", "Conv1D", "Embedding", "Conv2DTranspose", "DepthwiseConv2D", "SeparableConv2D", "GatherV2", "Einsum", "BatchMatMulV2"];

    private void IndexGraph()
    {
        var g = model.Graph;
        if (g is null) return;
        var tensorNames = new HashSet<string>(model.Tensors.Select(t => t.Name));
        for (int i = 0; i < g.Nodes.Count; i++)
        {
            var n = g.Nodes[i];
            _nodeIndex.TryAdd(n.Name, i);
            for (int k = 0; k < n.Inputs.Count; k++)
            {
                var input = n.Inputs[k];
                if (!tensorNames.Contains(input)) continue;
                // Keras layers-model: weights are named "layer/kernel"; the node input list holds activations.
                if (WeightOps.Contains(n.OpType) && !_weightConsumer.ContainsKey(input)) _weightConsumer[input] = n;
            }
            // Keras layers-model nodes own their weights by name prefix.
            foreach (var t in model.Tensors)
                if (!_weightConsumer.ContainsKey(t.Name) && t.Name.StartsWith(n.Name + "/", StringComparison.Ordinal))
                    _weightConsumer[t.Name] = n;
        }
        // Follow a Transpose (or Identity/Cast) between a weight and its consumer.
        foreach (var t in model.Tensors)
        {
            if (_weightConsumer.ContainsKey(t.Name)) continue;
            foreach (var c in g.ConsumersOf(t.Name))
            {
                if (c.OpType is not ("Transpose" or "Identity" or "Cast" or "Dequantize" or "DequantizeLinear")) continue;
                foreach (var c2 in c.Outputs.SelectMany(g.ConsumersOf))
                    if (WeightOps.Contains(c2.OpType)) { _weightConsumer[t.Name] = c2; break; }
            }
        }
    }

    private IEnumerable<WeightTensor> OrderTensors()
    {
        if (_weightConsumer.Count == 0) return model.Tensors;
        // Forward order: by the position of the consuming node; unconsumed tensors keep file order at the end.
        return model.Tensors
            .Select((t, i) => (t, i))
            .OrderBy(x => _weightConsumer.TryGetValue(x.t.Name, out var n) && _nodeIndex.TryGetValue(n.Name, out var k) ? k : int.MaxValue)
            .ThenBy(x => x.i)
            .Select(x => x.t);
    }

    // ---------------------------------------------------------------- heads

    private HeadInfo? HeadsFromOptions()
    {
        if (opts.Heads is not int h) return null;
        return new HeadInfo(h, opts.KvHeads ?? h, 0, "command line");
    }

    private HeadInfo? HeadsFromConfig()
    {
        if (model.Config is not JsonElement cfg || cfg.ValueKind != JsonValueKind.Object) return null;
        int? Int(params string[] keys)
        {
            foreach (var k in keys)
                if (cfg.TryGetProperty(k, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) && i > 0) return i;
            return null;
        }
        var h = Int("num_attention_heads", "n_head", "num_heads", "n_heads", "head_count");
        if (h is null) return null;
        var kv = Int("num_key_value_heads", "n_kv_heads", "num_kv_heads", "head_count_kv") ?? h.Value;
        var hidden = Int("hidden_size", "n_embd", "d_model", "dim", "embedding_length");
        var hd = Int("head_dim") ?? (hidden is int d && d % h.Value == 0 ? d / h.Value : 0);
        return new HeadInfo(h.Value, kv, hd, "config.json");
    }

    /// <summary>ONNX exports reshape q/k/v to [batch, seq, H, d_h] with a shape built from constants: read H and d_h there.</summary>
    private HeadInfo? HeadsFromGraph()
    {
        var g = model.Graph;
        if (g is null) return null;
        var consts = new Dictionary<string, double>();
        foreach (var t in model.Tensors)
            if (t.HasNumericData && t.ElementCount == 1 && t.Shape.Length <= 1)
            {
                try { consts[t.Name] = t.ReadDoubles()[0]; } catch (CartanFormatException) { }
            }
        var counts = new Dictionary<(int, int), int>();
        foreach (var n in g.Nodes.Where(n => n.OpType == "Reshape" && n.Inputs.Count >= 2))
        {
            var vals = new List<double?>();
            if (!g.Producers.TryGetValue(n.Inputs[1], out var concat)) continue;
            if (concat.OpType != "Concat") continue;
            foreach (var ci in concat.Inputs)
            {
                double? v = null;
                if (consts.TryGetValue(ci, out var d)) v = d;
                else if (g.Producers.TryGetValue(ci, out var u) && u.OpType == "Unsqueeze" && u.Inputs.Count > 0 && consts.TryGetValue(u.Inputs[0], out var d2)) v = d2;
                vals.Add(v);
            }
            if (vals.Count == 4 && vals[2] is double hh && vals[3] is double dh && hh >= 1 && dh >= 1)
            {
                var key = ((int)hh, (int)dh);
                counts[key] = counts.GetValueOrDefault(key) + 1;
            }
        }
        if (counts.Count == 0) return null;
        var best = counts.OrderByDescending(kv => kv.Value).First().Key;
        return new HeadInfo(best.Item1, best.Item1, best.Item2, "op graph (Reshape to [batch, seq, H, d_h])");
    }

    // ---------------------------------------------------------------- layers

    private (string Label, string Rule)? GraphLabel(WeightTensor t)
    {
        var g = model.Graph;
        if (g is null || !_weightConsumer.TryGetValue(t.Name, out var node)) return null;
        // 1) a meaningful node path (/encoder/layer.0/attention/self/query/MatMul)
        if (node.Name.Contains('/') && node.Name.Count(c => c == '/') >= 2)
        {
            var path = node.Name;
            int cut = path.LastIndexOf('/');
            return (RoleRules.Normalise(path[..cut]), "op-graph node path");
        }
        // 2) the bias added right after the product (Add with an initializer named *.bias), or Gemm's C input
        string? bias = null;
        if (node.OpType == "Gemm" && node.Inputs.Count > 2) bias = node.Inputs[2];
        else
            foreach (var o in node.Outputs)
                foreach (var c in g.ConsumersOf(o))
                    if (c.OpType is "Add" or "BiasAdd")
                        bias ??= c.Inputs.FirstOrDefault(i => i != o && model.Find(i) is { } bt && bt.Shape.Length == 1);
        if (bias is not null && !IsOpaque(bias))
        {
            var b = RoleRules.Normalise(bias);
            foreach (var suffix in new[] { ".bias", ".b", ".beta" })
                if (b.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)) { b = b[..^suffix.Length]; break; }
            return (b, "op-graph bias name");
        }
        return null;
    }

    /// <summary>Exporter-generated names that say nothing (<c>onnx::MatMul_788</c>, <c>927</c>).</summary>
    private static bool IsOpaque(string name) =>
        name.StartsWith("onnx::", StringComparison.Ordinal) || name.All(c => char.IsDigit(c) || c == '_') ||
        System.Text.RegularExpressions.Regex.IsMatch(name, @"^(Constant|const|initializer)[_\d]*$", System.Text.RegularExpressions.RegexOptions.IgnoreCase);

    /// <summary>Applies --layers / --exclude: unselected layers become skipped entries with the reason.</summary>
    private void Select()
    {
        var kept = new List<LayerSpec>(_layers.Count);
        foreach (var l in _layers)
        {
            string? why = opts.Layers is { } inc && !inc.IsMatch(l.Name) ? $"not selected by --layers {inc}"
                : opts.Exclude is { } exc && exc.IsMatch(l.Name) ? $"excluded by --exclude {exc}" : null;
            if (why is null) kept.Add(l);
            else _skipped.Add(new SkippedLayer(l.Name, l.Shape, l.DType, l.Role, why));
        }
        if (kept.Count == 0 && _layers.Count > 0)
            _errors.Add($"{(opts.Layers is not null ? $"--layers '{opts.Layers}'" : "")}{(opts.Layers is not null && opts.Exclude is not null ? " with " : "")}" +
                $"{(opts.Exclude is not null ? $"--exclude '{opts.Exclude}'" : "")} selects none of the {_layers.Count} analysable layers (names such as '{_layers[0].Name}')");
        _layers.Clear();
        _layers.AddRange(kept);
    }

    private void Skip(WeightTensor t, string role, string reason) =>
        _skipped.Add(new SkippedLayer(t.Name, t.Shape, t.StoredType, role, reason));

    /// <summary>Orders of skipped weights that sit in the data path (depthwise/grouped convs): no order-based pair crosses them.</summary>
    private readonly List<int> _blocking = [];
    private int _currentOrder;

    private void SkipBlocking(WeightTensor t, string reason)
    {
        _blocking.Add(_currentOrder);
        Skip(t, Roles.Conv, reason);
    }

    private void AddTensor(WeightTensor t, HeadInfo? heads, int order)
    {
        _currentOrder = order;
        if (!t.HasNumericData) { Skip(t, Roles.Other, $"no numeric data ({t.StoredType})"); return; }
        if (t.Shape.Length < 2) { Skip(t, Roles.Other, t.Shape.Length == 0 ? "scalar" : "1-D tensor (bias, norm gain or vector)"); return; }
        if (t.DType is DType.I32 or DType.I64 or DType.U32 or DType.U64 or DType.Bool or DType.I16 or DType.U16)
        { Skip(t, Roles.Other, "integer tensor (indices or shapes, not a weight)"); return; }
        if (t.Shape.Any(d => d == 0)) { Skip(t, Roles.Other, "empty tensor"); return; }

        _weightConsumer.TryGetValue(t.Name, out var consumer);
        (string Label, string Rule) label = IsOpaque(t.Name) ? GraphLabel(t) ?? (t.Name, "tensor name") : (t.Name, "tensor name");
        if (!IsOpaque(t.Name) && RoleRules.Classify(t.Name) is null && GraphLabel(t) is { } gl) label = gl;
        var match = RoleRules.Classify(label.Label);
        string role = match?.Role ?? Roles.Linear;
        string rule = match is null ? "default" : $"name rule {match.Rule} ({label.Rule})";
        int? block = match?.Block ?? RoleRules.Block(RoleRules.Normalise(label.Label));
        var layout = t.Layout;

        if (consumer is not null)
        {
            switch (consumer.OpType)
            {
                case "Gather" or "GatherV2" or "Embedding":
                    role = Roles.Embedding; rule = "op-graph Gather (lookup table)"; break;
                case "LSTM" or "GRU" or "RNN":
                    role = Roles.Lstm; rule = $"op-graph {consumer.OpType}"; break;
                case "Conv" or "ConvTranspose" or "_FusedConv2D" or "Conv2D" or "DepthwiseConv2dNative" or "Conv1D" or "Conv2DTranspose" or "DepthwiseConv2D" or "SeparableConv2D":
                    if (t.Shape.Length >= 3) { role = Roles.Conv; rule = $"op-graph {consumer.OpType}"; }
                    long groups = consumer.IntAttr("group") ?? 1;
                    if (consumer.OpType is "DepthwiseConv2dNative" or "DepthwiseConv2D")
                    { SkipBlocking(t, "depthwise convolution: blocks of 1×k² are too small for spectra (methods.md §0.5)"); return; }
                    if (groups > 1)
                    { SkipBlocking(t, $"grouped convolution ({groups} groups): per-group blocks are not analysed yet"); return; }
                    break;
            }
        }

        if (role == Roles.Lstm)
        {
            // ONNX LSTM W/R: [num_directions, gates·hidden, input]: rows of all directions stacked.
            if (t.Shape.Length != 3) { Skip(t, Roles.Lstm, "recurrent weight of unexpected rank"); return; }
            long r = t.Shape[0] * t.Shape[1], c = t.Shape[2];
            AddMatrix(t, t.Name, Roles.Lstm, label.Label, rule, block, TensorLayout.OutIn, MatrixView.Out, r, c, null, order,
                _ => t.ReadDoubles(), _ => ((int)r, (int)c));
            return;
        }
        // A 1×1 convolution named as a transformer projection (tfjs/TF "qkv_transform" kernels [1,1,in,out]) is a dense layer.
        if (t.Shape.Length == 4 && match is { } nm && (Roles.IsAttention(nm.Role) || Roles.IsMlp(nm.Role)))
        {
            var convLayout = layout is TensorLayout.OIHW or TensorLayout.HWIO or TensorLayout.IOHW ? layout
                : model.Format == "tfjs" || IsKerasKernel(t.Name) ? TensorLayout.HWIO : TensorLayout.OIHW;
            var pd = Canonical.ConvDims(t.Shape, convLayout)!.Value;
            if (pd.Taps == 1)
            {
                AddDense(t, nm.Role, $"name rule {nm.Rule} (1×1 convolution as a dense layer)", label.Label, block, convLayout, pd.O, pd.I, heads, order,
                    _ => Canonical.Matrix(t.ReadDoubles(), t.Shape, convLayout, MatrixView.Out), convLayout == TensorLayout.OIHW ? RowMajor(t, pd.I) : null);
                return;
            }
        }

        if (t.Shape.Length >= 3)
        {
            if (t.Shape.Length > 5) { Skip(t, Roles.Other, $"{t.Shape.Length}-D tensor of unknown use"); return; }
            if (role is not Roles.Conv)
            {
                if (consumer is null && !(t.Shape.Length == 4 && (layout is TensorLayout.OIHW or TensorLayout.HWIO or TensorLayout.IOHW || model.Format is "safetensors" or "pytorch" or "npy" or "gguf")))
                { Skip(t, role, $"{t.Shape.Length}-D tensor not consumed by a convolution"); return; }
                role = Roles.Conv;
                rule = consumer is null ? "4-D weight (convolution kernel)" : rule;
            }
            if (layout is TensorLayout.Unknown or TensorLayout.OutIn or TensorLayout.InOut)
                layout = model.Format == "tfjs" || IsKerasKernel(t.Name) ? TensorLayout.HWIO : TensorLayout.OIHW;
            var cd = Canonical.ConvDims(t.Shape, layout)!.Value;
            if (cd.I == 1 && cd.O > 1 && cd.Taps > 1)
            { SkipBlocking(t, "depthwise convolution: blocks of 1×k² are too small for spectra (methods.md §0.5)"); return; }
            var view = opts.ConvView;
            var lay = layout;
            var (rr, cc) = Canonical.MatrixShape(t.Shape, layout, view);
            if (!IsConvOk(t, rr, cc)) return;
            // OIHW kernels with range reads: the In and Tap views are scattered band by band from the file's row order.
            var outRows = layout == TensorLayout.OIHW ? RowMajor(t, cd.I * cd.Taps)?.Invoke(0, cd.O) : null;
            AddMatrix(t, t.Name, Roles.Conv, label.Label, rule, block, layout, view, rr, cc, null, order,
                v => outRows is not null && v is MatrixView.In or MatrixView.Tap
                    ? Canonical.MatrixFromOutRows(outRows, (int)cd.O, (int)cd.I, (int)cd.Taps, v)
                    : Canonical.Matrix(t.ReadDoubles(), t.Shape, lay, v),
                v => { var s = Canonical.MatrixShape(t.Shape, lay, v); return ((int)s.Rows, (int)s.Cols); },
                layout == TensorLayout.OIHW && view == MatrixView.Out ? RowMajor(t, cc)?.Invoke(0, rr) : null);
            return;
        }

        // 2-D
        if (layout == TensorLayout.Unknown && IsKerasKernel(t.Name)) layout = TensorLayout.InOut;
        if (layout == TensorLayout.Unknown)
        {
            layout = model.Format == "tfjs" || (match?.Family == "gpt2" && IsGpt2Conv1D(t)) ? TensorLayout.InOut : TensorLayout.OutIn;
        }
        if (match?.Family == "gpt2" && layout == TensorLayout.OutIn && IsGpt2Conv1D(t)) layout = TensorLayout.InOut;
        if ((role is Roles.Embedding or Roles.LmHead) && !opts.IncludeEmbeddings)
        {
            Skip(t, role, $"{(role == Roles.Embedding ? "embedding" : "LM head")} excluded by default (--include-embeddings)");
            return;
        }
        var (rows, cols) = Canonical.MatrixShape(t.Shape, layout, MatrixView.Out);
        var l2 = layout;
        AddDense(t, role, rule, label.Label, block, l2, rows, cols, heads, order, _ => Canonical.Matrix(t.ReadDoubles(), t.Shape, l2, MatrixView.Out),
            l2 == TensorLayout.InOut ? null : RowMajor(t, cols));
    }

    /// <summary>A dense (out×in) layer: size checks, the q/k/v split of a fused projection, heads, the record.</summary>
    private void AddDense(WeightTensor t, string role, string rule, string label, int? block, TensorLayout layout, long rows, long cols,
        HeadInfo? heads, int order, Func<MatrixView, double[]> full, Func<long, long, MatrixBlockReader?>? blocks)
    {
        if (rows > int.MaxValue || cols > int.MaxValue || rows * cols > 1L << 31)
        { Skip(t, role, $"matrix {rows}×{cols} too large for one buffer"); return; }
        if (Math.Min(rows, cols) < 2) { Skip(t, role, $"matrix {rows}×{cols}: rank below 2, no spectrum (methods.md §0.5)"); return; }
        if (role == Roles.Qkv)
        {
            SplitQkv(t, label, rule, block, layout, (int)rows, (int)cols, heads, order, full, blocks);
            return;
        }
        var hi = role switch
        {
            Roles.Q or Roles.O => heads,
            Roles.K or Roles.V => heads is null ? null : heads with { NumHeads = heads.NumKvHeads },
            _ => null,
        };
        hi = CompleteHeads(hi, role, (int)rows, (int)cols);
        AddMatrix(t, t.Name, role, label, rule, block, layout, MatrixView.Out, rows, cols, hi, order, full, _ => ((int)rows, (int)cols), blocks?.Invoke(0, rows));
    }

    private bool IsConvOk(WeightTensor t, long rr, long cc)
    {
        if (rr * cc > 1L << 31) { Skip(t, Roles.Conv, $"matrix {rr}×{cc} too large for one buffer"); return false; }
        if (Math.Min(rr, cc) < 2) { Skip(t, Roles.Conv, $"matrix {rr}×{cc}: rank below 2, no spectrum (methods.md §0.5)"); return false; }
        return true;
    }

    /// <summary>Keras/TensorFlow names weights ".../kernel" and stores them [in, out] (dense) or HWIO (conv), whatever file holds them.</summary>
    private static bool IsKerasKernel(string name) =>
        name.EndsWith("/kernel", StringComparison.Ordinal) || name.EndsWith(".kernel", StringComparison.Ordinal) || name.EndsWith("/kernel:0", StringComparison.Ordinal);

    /// <summary>GPT-2's Conv1D stores [in, out]; c_attn is d×3d, c_fc d×4d, c_proj 4d×d (mlp) or d×d (attn).</summary>
    private static bool IsGpt2Conv1D(WeightTensor t) => t.Shape.Length == 2;

    private static HeadInfo? CompleteHeads(HeadInfo? h, string role, int rows, int cols)
    {
        if (h is null) return null;
        int width = role == Roles.O ? cols : rows;
        if (h.NumHeads <= 0 || width % h.NumHeads != 0) return null;
        return h with { HeadDim = width / h.NumHeads };
    }

    /// <summary>
    /// Block reads of matrices stored row-major in <paramref name="t"/> with <paramref name="cols"/> columns: the result
    /// (firstRow, rows) reads the rows×cols matrix whose row 0 is stored row firstRow (a part of a fused tensor, or the
    /// whole). Null when the tensor offers no range reads.
    /// </summary>
    private static Func<long, long, MatrixBlockReader?>? RowMajor(WeightTensor t, long cols)
    {
        if (!t.CanReadRange) return null;
        return (firstRow, rows) => (row0, rowCount, col0, colCount, dst) =>
        {
            if (row0 < 0 || rowCount < 0 || row0 + rowCount > rows || col0 < 0 || colCount < 0 || col0 + colCount > cols
                || dst.Length < (long)rowCount * colCount)
                throw new ArgumentOutOfRangeException(nameof(row0), "block outside the matrix");
            long first = (firstRow + row0) * cols + col0;
            if (colCount == cols) { t.ReadRange(first, dst[..(rowCount * colCount)]); return; }
            for (int r = 0; r < rowCount; r++) t.ReadRange(first + r * cols, dst.Slice(r * colCount, colCount));
        };
    }

    private void SplitQkv(WeightTensor t, string label, string rule, int? block, TensorLayout layout, int rows, int cols,
        HeadInfo? heads, int order, Func<MatrixView, double[]> full, Func<long, long, MatrixBlockReader?>? blocks)
    {
        int q, kv;
        if (heads is not null && heads.NumHeads > 0 && cols % heads.NumHeads == 0 && heads.NumKvHeads != heads.NumHeads)
        {
            int hd = heads.HeadDim > 0 ? heads.HeadDim : cols / heads.NumHeads;
            q = heads.NumHeads * hd; kv = heads.NumKvHeads * hd;
            if (q + 2 * kv != rows) { q = rows / 3; kv = q; }
        }
        else { q = rows / 3; kv = q; }
        if (q + 2 * kv != rows)
        {
            Skip(t, Roles.Qkv, $"fused QKV with {rows} rows cannot be split into q, k, v");
            return;
        }
        var parts = new[] { ("q", Roles.Q, 0, q), ("k", Roles.K, q, kv), ("v", Roles.V, q + kv, kv) };
        double[]? cache = null;
        foreach (var (suffix, role, start, count) in parts)
        {
            var hi = role == Roles.Q ? heads : heads is null ? null : heads with { NumHeads = heads.NumKvHeads };
            hi = CompleteHeads(hi, role, count, cols);
            int s0 = start, n0 = count;
            AddMatrix(t, $"{t.Name}#{suffix}", role, label, rule + " (fused QKV split)", block, layout, MatrixView.Out, count, cols, hi, order,
                v => Linalg.MatrixOps.RowBlock(cache ??= full(v), cols, s0, n0), _ => (n0, cols), blocks?.Invoke(s0, n0));
        }
        cache = null;
    }

    private void AddMatrix(WeightTensor t, string name, string role, string label, string rule, int? block, TensorLayout layout,
        MatrixView view, long rows, long cols, HeadInfo? heads, int order, Func<MatrixView, double[]> load, Func<MatrixView, (int, int)> shapeIn,
        MatrixBlockReader? blocks = null)
    {
        _layers.Add(new LayerSpec
        {
            Name = name, TensorName = t.Name, Role = role, Label = label, Rule = rule, Block = block, Shape = t.Shape,
            DType = t.StoredType, Layout = layout, View = view, Rows = (int)rows, Cols = (int)cols, Heads = heads, Order = order,
            LoadView = load, ShapeIn = shapeIn, Blocks = blocks, ReleasePages = blocks is null ? null : t.ReleasePages,
        });
    }

    private string Architecture()
    {
        if (model.Config is JsonElement cfg && cfg.ValueKind == JsonValueKind.Object && cfg.TryGetProperty("model_type", out var mt) && mt.ValueKind == JsonValueKind.String)
        {
            var s = mt.GetString()!.ToLowerInvariant();
            if (s is "mistral" or "qwen2" or "qwen" or "llama") return s == "llama" ? "llama" : s;
            return s;
        }
        var roles = _layers.Select(l => l.Role).ToHashSet();
        var names = string.Join("\n", _layers.Select(l => l.Label));
        if (roles.Contains(Roles.Gate) && roles.Contains(Roles.Q)) return "llama";
        if (names.Contains("c_attn")) return "gpt2";
        if (names.Contains("attention.self.query") || names.Contains("attention.output.dense")) return "bert";
        if (names.Contains("in_proj") || names.Contains("encoder_layer")) return "vit";
        if (roles.Contains(Roles.Conv) && names.Contains("layer1.") && names.Contains("downsample")) return "resnet";
        if (roles.Contains(Roles.Q) || roles.Contains(Roles.V)) return "transformer";
        if (roles.Contains(Roles.Lstm)) return "rnn";
        if (roles.Contains(Roles.Conv)) return "cnn";
        if (_layers.Count > 0) return "mlp";
        return "unknown";
    }

    // ---------------------------------------------------------------- interfaces

    private List<InterfaceSpec> InferInterfaces()
    {
        var list = new List<InterfaceSpec>();
        bool transformer = _layers.Any(l => Roles.IsAttention(l.Role) && l.Block is not null);
        if (transformer) BlockInterfaces(list);
        else if (ResNetInterfaces(list)) { }
        else if (model.Graph is not null && _weightConsumer.Count > 0) DataFlowInterfaces(list);
        else OrderInterfaces(list);
        return list;
    }

    private void AddPair(List<InterfaceSpec> list, LayerSpec a, LayerSpec b, string kind, string by)
    {
        // a writes rows-dim outputs; b reads its input columns (conv: the in-view's columns = input channels).
        int outDim = a.IsConv ? a.ShapeIn(MatrixView.Out).Rows : a.Rows;
        int inDim = b.IsConv ? b.ShapeIn(MatrixView.In).Cols : b.Cols;
        if (outDim != inDim) return;
        if (list.Any(i => i.From == a.Name && i.To == b.Name)) return;
        list.Add(new InterfaceSpec(a.Name, b.Name, outDim, kind, by));
    }

    private void BlockInterfaces(List<InterfaceSpec> list)
    {
        var blocks = _layers.Where(l => l.Block is not null).GroupBy(l => l.Block!.Value).OrderBy(g => g.Key).ToList();
        LayerSpec? One(IEnumerable<LayerSpec> b, string role) => b.Where(l => l.Role == role).OrderBy(l => l.Order).FirstOrDefault();
        for (int i = 0; i < blocks.Count; i++)
        {
            var b = blocks[i];
            var q = One(b, Roles.Q); var k = One(b, Roles.K); var v = One(b, Roles.V); var o = One(b, Roles.O);
            var up = One(b, Roles.Up); var gate = One(b, Roles.Gate); var down = One(b, Roles.Down);
            const string by = "block structure";
            if (v is not null && o is not null) AddPair(list, v, o, "v→o (value into output projection)", by);
            if (o is not null)
            {
                if (up is not null) AddPair(list, o, up, "o→up (residual stream)", by);
                if (gate is not null) AddPair(list, o, gate, "o→gate (residual stream)", by);
            }
            if (up is not null && down is not null) AddPair(list, up, down, "up→down (MLP hidden)", by);
            if (gate is not null && down is not null) AddPair(list, gate, down, "gate→down (MLP hidden)", by);
            var writer = down ?? o;
            if (i + 1 < blocks.Count && writer is not null)
            {
                var nb = blocks[i + 1];
                foreach (var target in new[] { One(nb, Roles.Q), One(nb, Roles.K), One(nb, Roles.V) })
                    if (target is not null)
                        AddPair(list, writer, target, $"{(down is not null ? "down" : "o")}→{target.Role[5..]} (next block, residual stream)", by);
            }
        }
    }

    private static readonly HashSet<string> PassThrough = new(StringComparer.OrdinalIgnoreCase)
    {
        "Add", "BiasAdd", "Relu", "Relu6", "LeakyRelu", "PRelu", "Elu", "Selu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Swish",
        "Gelu", "Erf", "Mul", "Div", "Clip", "BatchNormalization", "FusedBatchNorm", "FusedBatchNormV3", "InstanceNormalization",
        "LayerNormalization", "GroupNormalization", "MaxPool", "AveragePool", "AvgPool", "GlobalAveragePool", "Pad", "Identity",
        "Dropout", "Cast", "Squeeze", "Unsqueeze", "Flatten", "Reshape", "Activation", "ReLU", "Softplus", "Mish", "Sqrt", "Pow",
        "Sub", "ReduceMean", "Neg", "Abs", "Exp", "Log", "Max", "Min", "AddV2", "Mean", "Transpose",
    };

    private void DataFlowInterfaces(List<InterfaceSpec> list)
    {
        var g = model.Graph!;
        var byNode = new Dictionary<OpNode, List<LayerSpec>>();
        foreach (var l in _layers)
            if (_weightConsumer.TryGetValue(l.TensorName, out var n))
            {
                if (!byNode.TryGetValue(n, out var ls)) byNode[n] = ls = [];
                ls.Add(l);
            }
        var weightNames = new HashSet<string>(model.Tensors.Select(t => t.Name));
        foreach (var l in _layers.OrderBy(l => l.Order))
        {
            if (!_weightConsumer.TryGetValue(l.TensorName, out var start)) continue;
            // BFS from the layer's node output, through shape- and scale-preserving ops and at most one residual Add.
            var queue = new Queue<(string Value, int Adds, int Depth)>();
            foreach (var o in start.Outputs) queue.Enqueue((o, 0, 0));
            var seen = new HashSet<string>();
            while (queue.Count > 0)
            {
                var (value, adds, depth) = queue.Dequeue();
                if (!seen.Add(value) || depth > 64) continue;
                foreach (var c in g.ConsumersOf(value))
                {
                    if (c == start) continue;
                    if (byNode.TryGetValue(c, out var targets) && c.Inputs.Count > 0 && c.Inputs[0] == value)
                    {
                        foreach (var t in targets)
                            AddPair(list, l, t, adds == 0 ? "data flow" : "data flow through a residual Add", "op graph");
                        continue;
                    }
                    if (!PassThrough.Contains(c.OpType)) continue;
                    bool residual = c.OpType is "Add" or "AddV2" && c.Inputs.Count(i => !weightNames.Contains(i)) >= 2;
                    if (residual && adds >= 1) continue;
                    foreach (var o in c.Outputs) queue.Enqueue((o, adds + (residual ? 1 : 0), depth + 1));
                }
            }
        }
    }

    private void OrderInterfaces(List<InterfaceSpec> list)
    {
        var ordered = _layers.Where(l => l.Role is Roles.Linear or Roles.Conv or Roles.Up or Roles.Down or Roles.Gate).OrderBy(l => l.Order).ToList();
        for (int i = 0; i + 1 < ordered.Count; i++)
        {
            // A skipped depthwise or grouped conv between the two is part of the data path: no direct pair.
            if (_blocking.Any(b => b > ordered[i].Order && b < ordered[i + 1].Order)) continue;
            AddPair(list, ordered[i], ordered[i + 1], "consecutive layers with matching dimensions", "file order");
        }
    }

    private static readonly System.Text.RegularExpressions.Regex ResNetName =
        new(@"^(?<pre>.*?)layer(?<stage>\d+)\.(?<block>\d+)\.(?<part>conv\d+|downsample\.0)\.weight$", System.Text.RegularExpressions.RegexOptions.Compiled);

    /// <summary>
    /// torchvision ResNet naming (layerS.B.convK, layerS.B.downsample.0, stem conv1, fc): convs chain inside a block; a
    /// block's last conv feeds the next block's first conv and its downsample branch; the stem feeds the first block;
    /// the last block feeds fc. Pairs through one residual Add only (methods.md §2(b)). Returns false when not a ResNet.
    /// </summary>
    private bool ResNetInterfaces(List<InterfaceSpec> list)
    {
        var blocks = new SortedDictionary<(int Stage, int Block), SortedDictionary<string, LayerSpec>>();
        string? prefix = null;
        foreach (var l in _layers)
        {
            var m = ResNetName.Match(l.TensorName);
            if (!m.Success) continue;
            prefix ??= m.Groups["pre"].Value;
            var key = (int.Parse(m.Groups["stage"].Value, System.Globalization.CultureInfo.InvariantCulture), int.Parse(m.Groups["block"].Value, System.Globalization.CultureInfo.InvariantCulture));
            if (!blocks.TryGetValue(key, out var parts)) blocks[key] = parts = new(StringComparer.Ordinal);
            parts[m.Groups["part"].Value] = l;
        }
        if (blocks.Count < 2) return false;
        const string by = "ResNet block structure";
        LayerSpec? previousOut = _layers.FirstOrDefault(l => l.TensorName == prefix + "conv1.weight");
        foreach (var ((stage, block), parts) in blocks)
        {
            var convs = parts.Where(p => p.Key.StartsWith("conv", StringComparison.Ordinal)).OrderBy(p => int.Parse(p.Key[4..], System.Globalization.CultureInfo.InvariantCulture)).Select(p => p.Value).ToList();
            if (convs.Count == 0) continue;
            parts.TryGetValue("downsample.0", out var down);
            if (previousOut is not null)
            {
                AddPair(list, previousOut, convs[0], "block output → next block's first conv (through the residual Add)", by);
                if (down is not null) AddPair(list, previousOut, down, "block output → downsample branch", by);
            }
            for (int i = 0; i + 1 < convs.Count; i++) AddPair(list, convs[i], convs[i + 1], "conv → conv inside a block", by);
            previousOut = convs[^1];
        }
        var fc = _layers.FirstOrDefault(l => l.TensorName == prefix + "fc.weight");
        if (fc is not null && previousOut is not null) AddPair(list, previousOut, fc, "last block → fc (through global pooling)", by);
        return true;
    }

    private void AddExplicit(List<InterfaceSpec> list, string a, string b)
    {
        var la = _layers.FirstOrDefault(l => l.Name == a);
        var lb = _layers.FirstOrDefault(l => l.Name == b);
        if (la is null || lb is null)
        {
            _errors.Add($"--pair {a} {b}: {(la is null ? a : b)} is not an analysed layer (see `cartan inspect`)");
            return;
        }
        int before = list.Count;
        AddPair(list, la, lb, "explicit", "--pair");
        if (list.Count == before && !list.Any(i => i.From == a && i.To == b))
            _errors.Add($"--pair {a} {b}: {a} writes {la.Rows} outputs but {b} reads {(lb.IsConv ? lb.ShapeIn(MatrixView.In).Cols : lb.Cols)} inputs");
    }
}

using Cartan.Formats.Onnx;
using Cartan.Tensors;

namespace Cartan.Formats;

/// <summary>
/// Reads ONNX models with our own protobuf wire-format walk (no protobuf library, no ONNX Runtime).
/// Tensors come from graph initializers and <c>Constant</c> nodes, in the main graph and, recursively, in the
/// subgraphs of If/Loop/Scan; data stays in the memory mapping (or the mapped external-data file) until a
/// tensor is read. The op graph (all nodes, subgraph nodes with their scope) is returned as
/// <see cref="WeightModel.Graph"/>, and each weight's <see cref="WeightTensor.Layout"/> is set from how the
/// graph uses it (MatMul B → InOut, Gemm B → OutIn/InOut by transB, Conv W → OIHW, ConvTranspose W → IOHW,
/// a 2-D Transpose in between flips MatMul/Gemm layouts).
/// </summary>
public static class OnnxReader
{
    /// <summary>Opens an .onnx file. Throws <see cref="CartanFormatException"/> for anything malformed.</summary>
    public static WeightModel Open(string path) => Open(MappedFile.Open(path), path);

    /// <summary>
    /// Reads an ONNX model from memory that is already mapped (the embedded default model). The model takes
    /// ownership of <paramref name="map"/>; <paramref name="path"/> names it in errors and anchors external data.
    /// </summary>
    public static WeightModel Open(MappedFile map, string path)
    {
        var owned = new List<IDisposable> { map };
        try
        {
            var parser = new OnnxModelParser(map, path);
            parser.Parse();
            var factory = new OnnxTensorFactory(map, path);
            var tensors = new List<WeightTensor>();
            var skipped = new List<SkippedTensor>();
            try
            {
                foreach (var rec in parser.Tensors)
                {
                    var (t, s) = factory.Build(rec);
                    if (t is not null) tensors.Add(t);
                    if (s is not null) skipped.Add(s);
                }
            }
            finally
            {
                owned.AddRange(factory.ExternalMaps);
            }
            foreach (var sp in parser.Sparse)
                skipped.Add(new SkippedTensor(sp.Name, sp.Dims, "SPARSE", "sparse initializer (not supported)"));
            var graph = new OpGraph(parser.Nodes, parser.GraphInputs, parser.GraphOutputs);
            ApplyLayouts(graph, tensors);
            return new WeightModel(path, "onnx", tensors, graph, skipped, owned);
        }
        catch
        {
            foreach (var d in owned) d.Dispose();
            throw;
        }
    }

    /// <summary>Sets layout hints from the op graph; the first use of a tensor that gives a hint wins.</summary>
    internal static void ApplyLayouts(OpGraph graph, IReadOnlyList<WeightTensor> tensors)
    {
        var byName = new Dictionary<string, List<WeightTensor>>(StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            if (!byName.TryGetValue(t.Name, out var l)) byName[t.Name] = l = [];
            l.Add(t);
        }

        void Set(string name, TensorLayout layout)
        {
            if (!byName.TryGetValue(name, out var list)) return;
            foreach (var t in list)
                if (t.Layout == TensorLayout.Unknown) t.Layout = layout;
        }

        static TensorLayout Flip(TensorLayout l) => l == TensorLayout.InOut ? TensorLayout.OutIn : TensorLayout.InOut;

        // Layout the consumer implies for a 2-D tensor feeding its B input, or null when the node is not a MatMul/Gemm B use.
        static TensorLayout? WeightUse(OpNode n, string value)
        {
            if (n.Inputs.Count < 2 || n.Inputs[1] != value) return null;
            return n.OpType switch
            {
                "MatMul" => TensorLayout.InOut,
                "Gemm" => n.IntAttr("transB") is { } tb && tb != 0 ? TensorLayout.OutIn : TensorLayout.InOut,
                _ => null,
            };
        }

        foreach (var n in graph.Nodes)
        {
            switch (n.OpType)
            {
                case "MatMul" or "Gemm" when n.Inputs.Count >= 2:
                    if (WeightUse(n, n.Inputs[1]) is { } l) Set(n.Inputs[1], l);
                    break;
                case "Conv" when n.Inputs.Count >= 2:
                    Set(n.Inputs[1], TensorLayout.OIHW);
                    break;
                case "ConvTranspose" when n.Inputs.Count >= 2:
                    Set(n.Inputs[1], TensorLayout.IOHW);
                    break;
                case "Transpose":
                {
                    if (n.Inputs.Count < 1 || n.Outputs.Count < 1 || !byName.TryGetValue(n.Inputs[0], out var src)) break;
                    if (!src.Any(t => t.Shape.Length == 2)) break;
                    bool swap = !n.Attributes.TryGetValue("perm", out var p) || p is long[] { Length: 2 } perm && perm[0] == 1 && perm[1] == 0;
                    if (!swap) break;
                    foreach (var c in graph.ConsumersOf(n.Outputs[0]))
                    {
                        if (WeightUse(c, n.Outputs[0]) is { } cl) { Set(n.Inputs[0], Flip(cl)); break; }
                    }
                    break;
                }
            }
        }
    }
}

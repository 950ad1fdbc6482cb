namespace Cartan.Formats;

/// <summary>
/// One operator of a model's compute graph (ONNX node, tfjs graph-model node, Keras layer).
/// Attributes hold long, double, string, long[], double[] or string[] values.
/// <paramref name="Scope"/> is the path of the subgraph that holds the node ("" for the main graph,
/// e.g. "If_3/then_branch" for a node inside an ONNX If).
/// </summary>
public sealed record OpNode(string Name, string OpType, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs,
    IReadOnlyDictionary<string, object> Attributes, string Scope = "")
{
    public long? IntAttr(string key) => Attributes.TryGetValue(key, out var v) && v is long l ? l : null;
    public string? StringAttr(string key) => Attributes.TryGetValue(key, out var v) && v is string s ? s : null;
}

/// <summary>The op graph of a model: nodes in file order (topological for ONNX), graph inputs and outputs.</summary>
public sealed class OpGraph
{
    public OpGraph(IReadOnlyList<OpNode> nodes, IReadOnlyList<string>? inputs = null, IReadOnlyList<string>? outputs = null)
    {
        Nodes = nodes;
        Inputs = inputs ?? [];
        Outputs = outputs ?? [];
        var producers = new Dictionary<string, OpNode>();
        var consumers = new Dictionary<string, List<OpNode>>();
        foreach (var n in nodes)
        {
            foreach (var o in n.Outputs) if (o.Length > 0) producers[o] = n;
            foreach (var i in n.Inputs)
            {
                if (i.Length == 0) continue;
                if (!consumers.TryGetValue(i, out var list)) consumers[i] = list = [];
                list.Add(n);
            }
        }
        Producers = producers;
        Consumers = consumers.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<OpNode>)kv.Value);
    }

    public IReadOnlyList<OpNode> Nodes { get; }
    public IReadOnlyList<string> Inputs { get; }
    public IReadOnlyList<string> Outputs { get; }
    /// <summary>Value name → the node that writes it.</summary>
    public IReadOnlyDictionary<string, OpNode> Producers { get; }
    /// <summary>Value name → the nodes that read it.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<OpNode>> Consumers { get; }

    public IReadOnlyList<OpNode> ConsumersOf(string value) =>
        Consumers.TryGetValue(value, out var l) ? l : [];
}

using System.Text.Json;

namespace Cartan.Formats.Tfjs;

/// <summary>Builds the <see cref="OpGraph"/> of a tfjs graph-model (GraphDef JSON) or layers-model (Keras config JSON).</summary>
internal static class TfjsGraph
{
    /// <summary>Strips a control-input caret and any ":N" (or function-body ":out:N") suffix: the name of the producing node.</summary>
    public static string PlainName(string reference)
    {
        var s = reference.StartsWith('^') ? reference[1..] : reference;
        int colon = s.IndexOf(':');
        return colon >= 0 ? s[..colon] : s;
    }

    // ---------------- graph-model ----------------

    public static OpGraph FromGraphDef(JsonRead j, JsonElement model, JsonElement topology)
    {
        var nodes = new List<OpNode>();
        ReadNodeList(j, j.Required(topology, "node", "modelTopology"), "", "modelTopology.node", nodes);

        if (JsonRead.Optional(topology, "library") is { } lib)
        {
            j.Object(lib, "modelTopology.library");
            if (JsonRead.Optional(lib, "function") is { } funcs)
            {
                foreach (var f in j.Array(funcs, "modelTopology.library.function").EnumerateArray())
                {
                    j.Object(f, "a library function");
                    var sig = j.Object(j.Required(f, "signature", "a library function"), "a function signature");
                    var fname = j.String(j.Required(sig, "name", "a function signature"), "a function name");
                    if (fname.Length == 0) throw j.Fail("a library function has an empty name");
                    if (JsonRead.Optional(f, "nodeDef") is { } defs)
                        ReadNodeList(j, defs, fname, $"function '{JsonRead.Clip(fname)}'", nodes);
                }
            }
        }
        if (JsonRead.Optional(model, "modelInitializer") is { } init)
        {
            j.Object(init, "modelInitializer");
            if (JsonRead.Optional(init, "node") is { } initNodes)
                ReadNodeList(j, initNodes, "modelInitializer", "modelInitializer.node", nodes);
        }

        var inputs = nodes.Where(n => n.Scope.Length == 0 && n.OpType == "Placeholder").Select(n => n.Name).ToList();
        var outputs = new List<string>();
        if (JsonRead.Optional(model, "signature") is { } sig2 && sig2.ValueKind == JsonValueKind.Object
            && JsonRead.Optional(sig2, "outputs") is { } outs)
        {
            foreach (var o in j.Object(outs, "signature.outputs").EnumerateObject())
            {
                j.Object(o.Value, "a signature output");
                outputs.Add(PlainName(j.String(j.Required(o.Value, "name", "a signature output"), "a signature output name")));
            }
        }
        return new OpGraph(nodes, inputs, outputs);
    }

    private static void ReadNodeList(JsonRead j, JsonElement list, string scope, string what, List<OpNode> into)
    {
        foreach (var n in j.Array(list, what).EnumerateArray())
        {
            j.Object(n, $"a node of {what}");
            var name = j.String(j.Required(n, "name", $"a node of {what}"), "a node name");
            if (name.Length == 0) throw j.Fail($"a node of {what} has an empty name");
            var op = j.String(j.Required(n, "op", $"node '{JsonRead.Clip(name)}'"), $"the op of node '{JsonRead.Clip(name)}'");
            var inputs = new List<string>();
            if (JsonRead.Optional(n, "input") is { } ins)
                foreach (var i in j.Array(ins, $"the inputs of node '{JsonRead.Clip(name)}'").EnumerateArray())
                    inputs.Add(PlainName(j.String(i, $"an input of node '{JsonRead.Clip(name)}'")));
            var attrs = new Dictionary<string, object>();
            if (JsonRead.Optional(n, "attr") is { } attr)
            {
                foreach (var a in j.Object(attr, $"the attributes of node '{JsonRead.Clip(name)}'").EnumerateObject())
                {
                    var v = AttrValue(j, a.Value, $"attribute '{JsonRead.Clip(a.Name)}' of node '{JsonRead.Clip(name)}'");
                    if (v is not null) attrs[a.Name] = v;
                }
            }
            into.Add(new OpNode(name, op, inputs, [name], attrs, scope));
        }
    }

    /// <summary>
    /// A TensorFlow AttrValue in JSON form reduced to a simple value: b → long 0/1, i → long, f → double,
    /// s → string, type → string, list → long[]/double[]/string[]. Tensors, shapes and functions are left out (null).
    /// </summary>
    private static object? AttrValue(JsonRead j, JsonElement v, string what)
    {
        j.Object(v, what);
        foreach (var p in v.EnumerateObject())
        {
            switch (p.Name)
            {
                case "b": return j.Bool(p.Value, what) ? 1L : 0L;
                case "i": return j.Integer(p.Value, what);
                case "f": return j.Float(p.Value, what);
                case "s": return j.Bytes(p.Value, what);
                case "type": return TypeName(j, p.Value, what);
                case "list": return ListValue(j, p.Value, what);
            }
        }
        return null;
    }

    private static string TypeName(JsonRead j, JsonElement e, string what) =>
        e.ValueKind == JsonValueKind.Number ? j.Integer(e, what).ToString(System.Globalization.CultureInfo.InvariantCulture) : j.String(e, what);

    private static object ListValue(JsonRead j, JsonElement list, string what)
    {
        j.Object(list, what);
        // Pick the first non-empty member (some converters write every member, most of them empty).
        foreach (var key in new[] { "s", "i", "f", "b", "type" })
        {
            if (JsonRead.Optional(list, key) is not { } arr) continue;
            j.Array(arr, what);
            if (arr.GetArrayLength() == 0) continue;
            switch (key)
            {
                case "s": return arr.EnumerateArray().Select(e => j.Bytes(e, what)).ToArray();
                case "i": return arr.EnumerateArray().Select(e => j.Integer(e, what)).ToArray();
                case "f": return arr.EnumerateArray().Select(e => j.Float(e, what)).ToArray();
                case "b": return arr.EnumerateArray().Select(e => j.Bool(e, what) ? 1L : 0L).ToArray();
                default: return arr.EnumerateArray().Select(e => TypeName(j, e, what)).ToArray();
            }
        }
        return System.Array.Empty<string>();
    }

    // ---------------- layers-model ----------------

    private static readonly HashSet<string> ModelClasses = ["Sequential", "Functional", "Model"];

    /// <summary>One OpNode per Keras layer; nested models add their layers under a scope named after them.</summary>
    public static OpGraph FromKeras(JsonRead j, JsonElement topology)
    {
        var cfg = JsonRead.Optional(topology, "model_config") is { } mc ? j.Object(mc, "modelTopology.model_config") : topology;
        var nodes = new List<OpNode>();
        var (ins, outs) = ReadModel(j, cfg, "", nodes, 0);
        return new OpGraph(nodes, ins, outs);
    }

    private static (List<string> Inputs, List<string> Outputs) ReadModel(JsonRead j, JsonElement model, string scope, List<OpNode> nodes, int depth)
    {
        if (depth > 32) throw j.Fail("Keras models are nested more than 32 deep");
        var cls = j.String(j.Required(model, "class_name", "the Keras model config"), "the Keras model class_name");
        var config = j.Required(model, "config", "the Keras model config");
        JsonElement layers;
        if (config.ValueKind == JsonValueKind.Array) layers = config; // Keras 2.0 Sequential: config is the layer list
        else layers = j.Array(j.Required(j.Object(config, "the Keras model config"), "layers", "the Keras model config"), "the Keras layer list");

        bool sequential = cls == "Sequential";
        string? previous = null;
        var names = new List<string>();
        foreach (var layer in layers.EnumerateArray())
        {
            j.Object(layer, "a Keras layer");
            var lcls = j.String(j.Required(layer, "class_name", "a Keras layer"), "a Keras layer class_name");
            var lcfg = JsonRead.Optional(layer, "config") is { } c ? j.Object(c, $"the config of a {JsonRead.Clip(lcls)} layer") : default;
            string name;
            if (JsonRead.Optional(layer, "name") is { } n) name = j.String(n, "a Keras layer name");
            else if (lcfg.ValueKind == JsonValueKind.Object && JsonRead.Optional(lcfg, "name") is { } n2) name = j.String(n2, "a Keras layer name");
            else throw j.Fail($"a {JsonRead.Clip(lcls)} layer has no name");
            if (name.Length == 0) throw j.Fail($"a {JsonRead.Clip(lcls)} layer has an empty name");

            var inputs = new List<string>();
            if (JsonRead.Optional(layer, "inbound_nodes") is { } inbound)
                CollectInbound(j, inbound, inputs, 0);
            else if (sequential && previous is not null)
                inputs.Add(previous);

            var attrs = new Dictionary<string, object>();
            if (lcfg.ValueKind == JsonValueKind.Object)
                foreach (var p in lcfg.EnumerateObject())
                    if (SimpleConfigValue(p.Value) is { } v) attrs[p.Name] = v;
            nodes.Add(new OpNode(name, lcls, inputs, [name], attrs, scope));
            names.Add(name);
            previous = name;

            if (ModelClasses.Contains(lcls) && lcfg.ValueKind == JsonValueKind.Object)
                ReadModel(j, layer, scope.Length == 0 ? name : scope + "/" + name, nodes, depth + 1);
        }

        var ins = new List<string>();
        var outs = new List<string>();
        if (config.ValueKind == JsonValueKind.Object)
        {
            if (JsonRead.Optional(config, "input_layers") is { } il) CollectInbound(j, il, ins, 0);
            if (JsonRead.Optional(config, "output_layers") is { } ol) CollectInbound(j, ol, outs, 0);
        }
        if (sequential && ins.Count == 0 && names.Count > 0) ins.Add(names[0]);
        if (sequential && outs.Count == 0 && names.Count > 0) outs.Add(names[^1]);
        return (ins, outs);
    }

    /// <summary>
    /// Layer names referenced by inbound_nodes / input_layers in either Keras spelling:
    /// nested lists of [layer, node_index, tensor_index, kwargs], or Keras 3 objects with config.keras_history.
    /// </summary>
    private static void CollectInbound(JsonRead j, JsonElement e, List<string> into, int depth)
    {
        if (depth > 64) throw j.Fail("inbound_nodes are nested more than 64 deep");
        switch (e.ValueKind)
        {
            case JsonValueKind.Array:
            {
                int len = e.GetArrayLength();
                if (len >= 2 && e[0].ValueKind == JsonValueKind.String && e[1].ValueKind == JsonValueKind.Number)
                {
                    var s = e[0].GetString()!;
                    if (!into.Contains(s)) into.Add(s);
                    return;
                }
                foreach (var x in e.EnumerateArray()) CollectInbound(j, x, into, depth + 1);
                return;
            }
            case JsonValueKind.Object:
                if (e.TryGetProperty("keras_history", out var h)) { CollectInbound(j, h, into, depth + 1); return; }
                foreach (var p in e.EnumerateObject()) CollectInbound(j, p.Value, into, depth + 1);
                return;
            default:
                return;
        }
    }

    private static object? SimpleConfigValue(JsonElement v)
    {
        switch (v.ValueKind)
        {
            case JsonValueKind.String: return v.GetString();
            case JsonValueKind.True: return 1L;
            case JsonValueKind.False: return 0L;
            case JsonValueKind.Number:
                return v.TryGetInt64(out var l) ? l : v.TryGetDouble(out var d) ? d : null;
            case JsonValueKind.Array:
            {
                var items = v.EnumerateArray().ToList();
                if (items.Count == 0) return null;
                if (items.All(x => x.ValueKind == JsonValueKind.Number && x.TryGetInt64(out _)))
                    return items.Select(x => x.GetInt64()).ToArray();
                if (items.All(x => x.ValueKind == JsonValueKind.Number && x.TryGetDouble(out _)))
                    return items.Select(x => x.GetDouble()).ToArray();
                if (items.All(x => x.ValueKind == JsonValueKind.String))
                    return items.Select(x => x.GetString()!).ToArray();
                return null;
            }
            default: return null;
        }
    }
}

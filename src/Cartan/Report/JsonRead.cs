using System.Text.Json;

namespace Cartan.Report;

/// <summary>Bad analysis JSON handed to <c>cartan merge</c>.</summary>
public sealed class AnalysisReadException(string message) : Exception(message);

/// <summary>
/// Reads a <c>cartan.analysis/1</c> file back into an <see cref="AnalysisResult"/> whose extra fields keep their
/// order, so that writing it again reproduces the same text (used by <c>cartan merge</c>).
/// </summary>
public static class JsonRead
{
    public static AnalysisResult Read(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new AnalysisReadException($"{path}: cannot read: {e.Message}"); }
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            return FromElement(doc.RootElement, path);
        }
        catch (JsonException e) { throw new AnalysisReadException($"{path}: invalid JSON: {e.Message.Split('\n')[0]}"); }
        catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or FormatException or InvalidCastException)
        { throw new AnalysisReadException($"{path}: not a cartan analysis ({e.Message.Split('\n')[0]})"); }
    }

    /// <summary>Converts JSON into plain values: objects → ordered key/value lists, arrays → lists, integers → long, other numbers → double.</summary>
    public static object? Value(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => e.EnumerateObject().Select(p => new KeyValuePair<string, object?>(p.Name, Value(p.Value))).ToList(),
        JsonValueKind.Array => e.EnumerateArray().Select(Value).ToList(),
        JsonValueKind.String => e.GetString(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Null => null,
        JsonValueKind.Number => IsInteger(e) && e.TryGetInt64(out var l) ? (object)l : e.GetDouble(),
        _ => null,
    };

    private static bool IsInteger(JsonElement e)
    {
        var raw = e.GetRawText();
        return raw.IndexOfAny(['.', 'e', 'E']) < 0;
    }

    private static AnalysisResult FromElement(JsonElement root, string path)
    {
        if (root.GetProperty("schema").GetString() != AnalysisResult.SchemaName)
            throw new AnalysisReadException($"{path}: schema is not {AnalysisResult.SchemaName}");
        var tool = root.GetProperty("tool");
        var model = root.GetProperty("model");
        ShardInfo? shard = null;
        if (root.TryGetProperty("shard", out var sh))
            shard = new ShardInfo(sh.GetProperty("index").GetInt32(), sh.GetProperty("count").GetInt32(),
                sh.GetProperty("plan_layers").EnumerateArray().Select(x => x.GetString()!).ToArray(),
                sh.GetProperty("plan_interfaces").EnumerateArray().Select(x => x.EnumerateArray().Select(y => y.GetString()!).ToArray()).ToArray(),
                sh.GetProperty("plan_head_blocks").EnumerateArray().Select(x => x.GetInt32()).ToArray());
        return new AnalysisResult
        {
            Tool = new ToolInfo(tool.GetProperty("name").GetString()!, tool.GetProperty("version").GetString()!, tool.GetProperty("lapack").GetString()!),
            Model = new ModelInfo(model.GetProperty("source").GetString()!, model.GetProperty("format").GetString()!,
                model.GetProperty("architecture").GetString()!, model.GetProperty("tensor_count").GetInt32()),
            Settings = (List<KeyValuePair<string, object?>>)Value(root.GetProperty("settings"))!,
            Layers = root.GetProperty("layers").EnumerateArray().Select(Layer).ToList(),
            Interfaces = root.GetProperty("interfaces").EnumerateArray().Select(Interface).ToList(),
            Heads = root.GetProperty("heads").EnumerateArray().Select(Dict).ToList(),
            Chains = root.GetProperty("chains").EnumerateArray().Select(Dict).ToList(),
            Skipped = root.GetProperty("skipped").EnumerateArray().Select(s => new SkippedRecord(s.GetProperty("name").GetString()!,
                s.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray(), s.GetProperty("dtype").GetString()!,
                s.GetProperty("role").GetString()!, s.GetProperty("reason").GetString()!)).ToList(),
            Summary = root.TryGetProperty("summary", out var sm) ? (List<KeyValuePair<string, object?>>)Value(sm)! : [],
            Seconds = root.TryGetProperty("seconds", out var sec) && sec.ValueKind == JsonValueKind.Number ? sec.GetDouble() : null,
            Shard = shard,
        };
    }

    private static IReadOnlyDictionary<string, object?> Dict(JsonElement e)
    {
        var d = new Dictionary<string, object?>();
        foreach (var p in e.EnumerateObject()) d[p.Name] = Value(p.Value);
        return d;
    }

    private static readonly HashSet<string> LayerFields = ["name", "role", "shape", "dtype", "matrix", "view", "status", "reason", "block", "rank", "frobenius", "sigma", "stable_rank"];
    private static readonly HashSet<string> InterfaceFields = ["from", "to", "dim", "kind", "inferred_by", "status", "reason"];

    private static string? Str(JsonElement e, string k) => e.TryGetProperty(k, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
    private static int? Int(JsonElement e, string k) => e.TryGetProperty(k, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : null;
    private static double? Dbl(JsonElement e, string k) => e.TryGetProperty(k, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    private static LayerRecord Layer(JsonElement e) => new()
    {
        Name = Str(e, "name")!, Role = Str(e, "role")!, DType = Str(e, "dtype")!, View = Str(e, "view")!, Status = Str(e, "status")!,
        Shape = e.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray(),
        Matrix = e.GetProperty("matrix").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
        Reason = Str(e, "reason"), Block = Int(e, "block"), Rank = Int(e, "rank"), Frobenius = Dbl(e, "frobenius"),
        Sigma = e.TryGetProperty("sigma", out var s) && s.ValueKind == JsonValueKind.Array ? s.EnumerateArray().Select(x => x.GetDouble()).ToArray() : null,
        StableRank = Dbl(e, "stable_rank"),
        Extra = Rest(e, LayerFields),
    };

    private static InterfaceRecord Interface(JsonElement e) => new()
    {
        From = Str(e, "from")!, To = Str(e, "to")!, Dim = Int(e, "dim")!.Value, Kind = Str(e, "kind")!, InferredBy = Str(e, "inferred_by")!,
        Status = Str(e, "status") ?? "ok", Reason = Str(e, "reason"),
        Extra = Rest(e, InterfaceFields),
    };

    private static IReadOnlyDictionary<string, object?> Rest(JsonElement e, HashSet<string> known)
    {
        var d = new Dictionary<string, object?>();
        foreach (var p in e.EnumerateObject())
            if (!known.Contains(p.Name)) d[p.Name] = Value(p.Value);
        return d;
    }
}

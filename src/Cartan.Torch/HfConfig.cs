using System.Text.Json;
using Cartan.Formats;

namespace Cartan.Torch;

/// <summary>Typed reads of a Hugging Face <c>config.json</c>; a missing or mistyped required key is a
/// <see cref="CartanFormatException"/> naming the key.</summary>
public sealed class HfConfig
{
    public HfConfig(JsonElement json, string source = "config.json")
    {
        if (json.ValueKind != JsonValueKind.Object) throw new CartanFormatException(source, "config.json is not a JSON object");
        Json = json.Clone();
        Source = source;
    }

    public static HfConfig Parse(string json, string source = "config.json")
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return new HfConfig(doc.RootElement, source);
        }
        catch (JsonException e) { throw new CartanFormatException(source, $"invalid JSON: {e.Message.Split('\n')[0]}"); }
    }

    public JsonElement Json { get; }
    public string Source { get; }

    public string ModelType => String("model_type") ?? throw Missing("model_type");

    private bool TryGet(string key, out JsonElement v) =>
        Json.TryGetProperty(key, out v) && v.ValueKind != JsonValueKind.Null;

    private CartanFormatException Missing(string key) => new(Source, $"config.json has no usable '{key}'");

    public string? String(string key) => TryGet(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public int Int(string key, int? fallback = null)
    {
        if (TryGet(key, out var v))
        {
            if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) && i >= 0) return i;
            throw new CartanFormatException(Source, $"config.json '{key}' is not a non-negative integer");
        }
        return fallback ?? throw Missing(key);
    }

    public double Double(string key, double? fallback = null)
    {
        if (TryGet(key, out var v))
        {
            if (v.ValueKind == JsonValueKind.Number) return v.GetDouble();
            throw new CartanFormatException(Source, $"config.json '{key}' is not a number");
        }
        return fallback ?? throw Missing(key);
    }

    public bool Bool(string key, bool fallback)
    {
        if (!TryGet(key, out var v)) return fallback;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new CartanFormatException(Source, $"config.json '{key}' is not true or false"),
        };
    }

    public int[] IntArray(string key)
    {
        if (!TryGet(key, out var v) || v.ValueKind != JsonValueKind.Array) throw Missing(key);
        var list = new List<int>();
        foreach (var e in v.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int i) || i <= 0)
                throw new CartanFormatException(Source, $"config.json '{key}' holds something other than positive integers");
            list.Add(i);
        }
        return [.. list];
    }

    /// <summary>Requires <paramref name="value"/> in [1, limit]; sizes from untrusted configs stay small enough to allocate.</summary>
    internal int Positive(string key, int value, int limit = 1 << 20)
    {
        if (value < 1 || value > limit) throw new CartanFormatException(Source, $"config.json '{key}' = {value} is outside 1..{limit}");
        return value;
    }
}

using System.Text;
using System.Text.Json;

namespace Cartan.Formats.Tfjs;

/// <summary>Typed access to untrusted JSON: every wrong kind becomes a <see cref="CartanFormatException"/> naming the file.</summary>
internal readonly struct JsonRead(string file)
{
    public string File { get; } = file;

    public CartanFormatException Fail(string problem) => new(File, problem);

    public JsonElement Object(JsonElement e, string what)
    {
        if (e.ValueKind != JsonValueKind.Object) throw Fail($"{what} must be a JSON object, found {Kind(e)}");
        return e;
    }

    public JsonElement Array(JsonElement e, string what)
    {
        if (e.ValueKind != JsonValueKind.Array) throw Fail($"{what} must be a JSON array, found {Kind(e)}");
        return e;
    }

    public string String(JsonElement e, string what)
    {
        if (e.ValueKind != JsonValueKind.String) throw Fail($"{what} must be a string, found {Kind(e)}");
        return e.GetString()!;
    }

    public JsonElement Required(JsonElement obj, string key, string what)
    {
        if (!obj.TryGetProperty(key, out var v)) throw Fail($"{what} has no \"{key}\"");
        return v;
    }

    /// <summary>The property, or null when absent or JSON null.</summary>
    public static JsonElement? Optional(JsonElement obj, string key) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public double FiniteNumber(JsonElement e, string what)
    {
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetDouble(out var d) || !double.IsFinite(d))
            throw Fail($"{what} must be a finite number, found {Kind(e)}");
        return d;
    }

    /// <summary>An integer given as a JSON number or (protobuf JSON int64) as a decimal string.</summary>
    public long Integer(JsonElement e, string what)
    {
        if (e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out var l)) return l;
        if (e.ValueKind == JsonValueKind.String && long.TryParse(e.GetString(), System.Globalization.NumberStyles.AllowLeadingSign,
                System.Globalization.CultureInfo.InvariantCulture, out l)) return l;
        throw Fail($"{what} must be an integer, found {Kind(e)}");
    }

    /// <summary>A float given as a JSON number or as a string ("NaN", "Infinity", "-Infinity", or digits).</summary>
    public double Float(JsonElement e, string what)
    {
        if (e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out var d)) return d;
        if (e.ValueKind == JsonValueKind.String)
        {
            var s = e.GetString();
            if (s == "NaN") return double.NaN;
            if (s == "Infinity") return double.PositiveInfinity;
            if (s == "-Infinity") return double.NegativeInfinity;
            if (double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out d)) return d;
        }
        throw Fail($"{what} must be a number, found {Kind(e)}");
    }

    public bool Bool(JsonElement e, string what) => e.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Fail($"{what} must be true or false, found {Kind(e)}"),
    };

    /// <summary>
    /// A protobuf <c>bytes</c> field: base64 text (standard protobuf JSON) or an array of byte values
    /// (some converters). Decoded as UTF-8; text that is not base64 is kept as it is.
    /// </summary>
    public string Bytes(JsonElement e, string what)
    {
        if (e.ValueKind == JsonValueKind.String)
        {
            var s = e.GetString()!;
            var buf = new byte[(s.Length / 4 + 1) * 3];
            return Convert.TryFromBase64String(s, buf, out int n) ? Encoding.UTF8.GetString(buf, 0, n) : s;
        }
        if (e.ValueKind == JsonValueKind.Array)
        {
            var bytes = new byte[e.GetArrayLength()];
            int i = 0;
            foreach (var b in e.EnumerateArray())
            {
                if (b.ValueKind != JsonValueKind.Number || !b.TryGetInt32(out var v) || v < 0 || v > 255)
                    throw Fail($"{what} must hold byte values 0..255");
                bytes[i++] = (byte)v;
            }
            return Encoding.UTF8.GetString(bytes);
        }
        throw Fail($"{what} must be a base64 string or a byte array, found {Kind(e)}");
    }

    public static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => $"the number {Clip(e.GetRawText())}",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    /// <summary>Text from the file made safe for a one-line message: control characters escaped, long text clipped.</summary>
    public static string Clip(string? s)
    {
        if (s is null) return "";
        var sb = new StringBuilder(Math.Min(s.Length, 160));
        foreach (var c in s)
        {
            if (sb.Length >= 160) { sb.Append('…'); break; }
            if (char.IsControl(c) || c == '\u2028' || c == '\u2029') sb.Append($"\\u{(int)c:x4}");
            else sb.Append(c);
        }
        return sb.ToString();
    }
}

using System.Collections;
using System.Text;
using System.Text.Json;

namespace Cartan.Report;

/// <summary>
/// Writes <see cref="AnalysisResult"/> as the contract's JSON. Non-finite numbers become <c>null</c>
/// (NaN and Infinity never appear). Writes to a temporary name and moves it into place.
/// </summary>
public static class JsonReport
{
    public static void Write(AnalysisResult a, string path) => AtomicFile.Write(path, s => Write(a, s));

    public static string ToJson(AnalysisResult a)
    {
        using var ms = new MemoryStream();
        Write(a, ms);
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    public static void Write(AnalysisResult a, Stream stream)
    {
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteString("schema", a.Schema);
        w.WritePropertyName("tool");
        w.WriteStartObject();
        w.WriteString("name", a.Tool.Name);
        w.WriteString("version", a.Tool.Version);
        w.WriteString("lapack", a.Tool.Lapack);
        w.WriteEndObject();
        w.WritePropertyName("model");
        w.WriteStartObject();
        w.WriteString("source", a.Model.Source);
        w.WriteString("format", a.Model.Format);
        w.WriteString("architecture", a.Model.Architecture);
        w.WriteNumber("tensor_count", a.Model.TensorCount);
        w.WriteEndObject();
        w.WritePropertyName("settings");
        w.WriteStartObject();
        foreach (var kv in a.Settings) { w.WritePropertyName(kv.Key); Value(w, kv.Value); }
        w.WriteEndObject();

        w.WritePropertyName("layers");
        w.WriteStartArray();
        foreach (var l in a.Layers)
        {
            w.WriteStartObject();
            w.WriteString("name", l.Name);
            w.WriteString("role", l.Role);
            w.WritePropertyName("shape"); Value(w, l.Shape);
            w.WriteString("dtype", l.DType);
            w.WritePropertyName("matrix"); Value(w, l.Matrix);
            w.WriteString("view", l.View);
            w.WriteString("status", l.Status);
            w.WritePropertyName("reason"); Value(w, l.Reason);
            w.WritePropertyName("block"); Value(w, l.Block);
            w.WritePropertyName("rank"); Value(w, l.Rank);
            w.WritePropertyName("frobenius"); Value(w, l.Frobenius);
            w.WritePropertyName("sigma"); Value(w, l.Sigma);
            w.WritePropertyName("stable_rank"); Value(w, l.StableRank);
            foreach (var kv in l.Extra) { w.WritePropertyName(kv.Key); Value(w, kv.Value); }
            w.WriteEndObject();
        }
        w.WriteEndArray();

        w.WritePropertyName("interfaces");
        w.WriteStartArray();
        foreach (var i in a.Interfaces)
        {
            w.WriteStartObject();
            w.WriteString("from", i.From);
            w.WriteString("to", i.To);
            w.WriteNumber("dim", i.Dim);
            w.WriteString("kind", i.Kind);
            w.WriteString("inferred_by", i.InferredBy);
            w.WriteString("status", i.Status);
            w.WritePropertyName("reason"); Value(w, i.Reason);
            foreach (var kv in i.Extra) { w.WritePropertyName(kv.Key); Value(w, kv.Value); }
            w.WriteEndObject();
        }
        w.WriteEndArray();

        w.WritePropertyName("summary"); Value(w, a.Summary);
        if (a.Shard is { } sh)
        {
            w.WritePropertyName("shard");
            w.WriteStartObject();
            w.WriteNumber("index", sh.Index);
            w.WriteNumber("count", sh.Count);
            w.WritePropertyName("plan_layers"); Value(w, sh.PlanLayers);
            w.WritePropertyName("plan_interfaces"); Value(w, sh.PlanInterfaces);
            w.WritePropertyName("plan_head_blocks"); Value(w, sh.PlanHeadBlocks);
            w.WriteEndObject();
        }
        w.WritePropertyName("seconds"); Value(w, a.Seconds);
        w.WritePropertyName("heads"); Value(w, a.Heads);
        w.WritePropertyName("chains"); Value(w, a.Chains);

        w.WritePropertyName("skipped");
        w.WriteStartArray();
        foreach (var s in a.Skipped) WriteSkipped(w, s.Name, s.Shape, s.DType, s.Role, s.Reason);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>One record of a <c>skipped</c> list: a tensor that is not analysed, with the reason.</summary>
    public static void WriteSkipped(Utf8JsonWriter w, string name, long[] shape, string dtype, string role, string reason)
    {
        w.WriteStartObject();
        w.WriteString("name", name);
        w.WritePropertyName("shape"); Value(w, shape);
        w.WriteString("dtype", dtype);
        w.WriteString("role", role);
        w.WriteString("reason", reason);
        w.WriteEndObject();
    }

    /// <summary>Compact JSON text of a value (for comparisons).</summary>
    public static string ToJsonValue(object? v)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms)) Value(w, v);
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>Writes any supported value: null, bool, string, integers, doubles (non-finite → null), dictionaries, sequences.</summary>
    public static void Value(Utf8JsonWriter w, object? v)
    {
        switch (v)
        {
            case null: w.WriteNullValue(); break;
            case string s: w.WriteStringValue(s); break;
            case bool b: w.WriteBooleanValue(b); break;
            case int i: w.WriteNumberValue(i); break;
            case long l: w.WriteNumberValue(l); break;
            case ulong ul: w.WriteNumberValue(ul); break;
            case uint ui: w.WriteNumberValue(ui); break;
            case short sh: w.WriteNumberValue(sh); break;
            case byte by: w.WriteNumberValue(by); break;
            case double d: if (double.IsFinite(d)) w.WriteNumberValue(d); else w.WriteNullValue(); break;
            case float f: if (float.IsFinite(f)) w.WriteNumberValue((double)f); else w.WriteNullValue(); break;
            case IEnumerable<KeyValuePair<string, object?>> dict:
                w.WriteStartObject();
                foreach (var kv in dict) { w.WritePropertyName(kv.Key); Value(w, kv.Value); }
                w.WriteEndObject();
                break;
            case IEnumerable e:
                w.WriteStartArray();
                foreach (var x in e) Value(w, x);
                w.WriteEndArray();
                break;
            case Enum en: w.WriteStringValue(en.ToString().ToLowerInvariant()); break;
            default: throw new ArgumentException($"cannot write {v.GetType().Name} to JSON");
        }
    }
}

/// <summary>Writes a file through a temporary sibling and a move, so a reader never sees a half-written file.</summary>
public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
                write(fs);
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    public static void WriteText(string path, string text) =>
        Write(path, s => { var b = new UTF8Encoding(false).GetBytes(text); s.Write(b); });
}

using System.Globalization;
using System.Text;
using System.Text.Json;
using Cartan.Formats;
using Cartan.Graph;

namespace Cartan.Report;

/// <summary>The <c>cartan inspect</c> listing: tensors, inferred layers, roles, views, heads, interfaces, and every skip with its reason. No maths.</summary>
public static class InspectReport
{
    public static string ToText(WeightModel model, ModelGraph g)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"model: {model.Source}");
        sb.AppendLine($"format: {model.Format}   architecture: {g.Architecture}   tensors: {model.Tensors.Count + model.Skipped.Count}");
        sb.AppendLine(g.Heads is { } h
            ? $"heads: {h.NumHeads} (kv {h.NumKvHeads}{(h.HeadDim > 0 ? $", d_h {h.HeadDim}" : "")}) from {h.Source}"
            : "heads: unknown (give --heads H [--kv-heads G] or a config.json)");
        sb.AppendLine();
        sb.AppendLine($"layers ({g.Layers.Count}):");
        int w = Math.Min(56, g.Layers.Select(l => l.Name.Length).DefaultIfEmpty(4).Max());
        sb.AppendLine($"  {"name".PadRight(w)}  {"role",-9} {"block",5}  {"shape",-16} {"dtype",-10} {"matrix",-11} {"view",-4} {"heads",-8} {"label / rule"}");
        foreach (var l in g.Layers.OrderBy(l => l.Order))
        {
            var heads = l.Heads is { } hh ? $"{hh.NumHeads}×{hh.HeadDim}" : "-";
            sb.AppendLine($"  {Fit(l.Name, w)}  {l.Role,-9} {(l.Block?.ToString(CultureInfo.InvariantCulture) ?? "-"),5}  {Shape(l.Shape),-16} {l.DType,-10} {$"{l.Rows}×{l.Cols}",-11} {l.View.ToString().ToLowerInvariant(),-4} {heads,-8} {(l.Label != l.TensorName ? l.Label + "; " : "")}{l.Rule}");
        }
        var skipped = g.Skipped.Select(s => (s.Name, s.Shape, s.DType, s.Reason))
            .Concat(model.Skipped.Select(s => (s.Name, s.Shape, DType: s.StoredType, s.Reason))).ToList();
        sb.AppendLine();
        sb.AppendLine($"not analysed ({skipped.Count}):");
        int ws = Math.Min(56, skipped.Select(s => s.Name.Length).DefaultIfEmpty(4).Max());
        foreach (var s in skipped)
            sb.AppendLine($"  {Fit(s.Name, ws)}  {Shape(s.Shape),-16} {s.DType,-10} {s.Reason}");
        sb.AppendLine();
        sb.AppendLine($"interfaces ({g.Interfaces.Count}):");
        foreach (var i in g.Interfaces)
            sb.AppendLine($"  {i.From} → {i.To}  dim {i.Dim}  {i.Kind} [{i.InferredBy}]");
        return sb.ToString();
    }

    public static string ToJson(WeightModel model, ModelGraph g)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("schema", "cartan.inspect/1");
            w.WriteString("source", model.Source);
            w.WriteString("format", model.Format);
            w.WriteString("architecture", g.Architecture);
            w.WriteNumber("tensor_count", model.Tensors.Count + model.Skipped.Count);
            w.WritePropertyName("heads");
            if (g.Heads is { } h)
            {
                w.WriteStartObject();
                w.WriteNumber("num_heads", h.NumHeads);
                w.WriteNumber("num_kv_heads", h.NumKvHeads);
                w.WriteNumber("head_dim", h.HeadDim);
                w.WriteString("source", h.Source);
                w.WriteEndObject();
            }
            else w.WriteNullValue();
            w.WritePropertyName("layers");
            w.WriteStartArray();
            foreach (var l in g.Layers.OrderBy(l => l.Order))
            {
                w.WriteStartObject();
                w.WriteString("name", l.Name);
                w.WriteString("tensor", l.TensorName);
                w.WriteString("role", l.Role);
                w.WritePropertyName("block"); JsonReport.Value(w, l.Block);
                w.WritePropertyName("shape"); JsonReport.Value(w, l.Shape);
                w.WriteString("dtype", l.DType);
                w.WritePropertyName("matrix"); JsonReport.Value(w, new[] { l.Rows, l.Cols });
                w.WriteString("view", l.View.ToString().ToLowerInvariant());
                w.WriteString("layout", l.Layout.ToString());
                w.WriteString("label", l.Label);
                w.WriteString("rule", l.Rule);
                w.WritePropertyName("heads");
                if (l.Heads is { } lh)
                {
                    w.WriteStartObject();
                    w.WriteNumber("num_heads", lh.NumHeads);
                    w.WriteNumber("head_dim", lh.HeadDim);
                    w.WriteEndObject();
                }
                else w.WriteNullValue();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WritePropertyName("skipped");
            w.WriteStartArray();
            foreach (var s in g.Skipped) JsonReport.WriteSkipped(w, s.Name, s.Shape, s.DType, s.Role, s.Reason);
            foreach (var s in model.Skipped) JsonReport.WriteSkipped(w, s.Name, s.Shape, s.StoredType, Roles.Other, s.Reason);
            w.WriteEndArray();
            w.WritePropertyName("interfaces");
            w.WriteStartArray();
            foreach (var i in g.Interfaces)
            {
                w.WriteStartObject();
                w.WriteString("from", i.From);
                w.WriteString("to", i.To);
                w.WriteNumber("dim", i.Dim);
                w.WriteString("kind", i.Kind);
                w.WriteString("inferred_by", i.InferredBy);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private static string Shape(long[] s) => "[" + string.Join(",", s) + "]";
    private static string Fit(string s, int w) => s.Length > w ? "…" + s[^(w - 1)..] : s.PadRight(w);
}

using Cartan.Report;

namespace Cartan.Engine;

/// <summary>Model-level summary of an analysis: counts by status, certified interfaces, chains, per-kind means, worst margins.</summary>
public static class Summary
{
    private static object? Get(IReadOnlyDictionary<string, object?> d, string key) => d.TryGetValue(key, out var v) ? v : null;

    private static object? Field(object? dict, string key) =>
        dict is IEnumerable<KeyValuePair<string, object?>> kvs ? kvs.FirstOrDefault(kv => kv.Key == key).Value : null;

    public static List<KeyValuePair<string, object?>> Of(AnalysisResult a)
    {
        var layers = a.Layers.GroupBy(l => l.Status).ToDictionary(g => g.Key, g => g.Count());
        var withCert = a.Interfaces.Where(i => Get(i.Extra, "certificate") is not null).ToList();
        int certified = withCert.Count(i => Field(Get(i.Extra, "certificate"), "pass") is true);
        int labels = withCert.Count(i => Field(Get(i.Extra, "certificate"), "labels_pass") is true);
        int boundHolds = a.Interfaces.Count(i => Field(Get(i.Extra, "transport"), "bound_holds") is true);
        var byKind = a.Interfaces.GroupBy(i => KindStem(i.Kind)).Select(g => new KeyValuePair<string, object?>(g.Key, new List<KeyValuePair<string, object?>>
        {
            new("count", g.Count()),
            new("certified", g.Count(i => Field(Get(i.Extra, "certificate"), "pass") is true)),
            new("mean_alignment", Mean(g.Select(i => Field(Get(i.Extra, "transport"), "alignment").AsDouble()))),
            new("mean_commutator", Mean(g.Select(i => Get(i.Extra, "commutator").AsDouble()))),
            new("mean_truncation_error", Mean(g.Select(i => Field(Get(i.Extra, "transport"), "error").AsDouble()))),
        })).ToList();
        var worst = withCert
            .Select(i => (i, r: Field(Get(i.Extra, "certificate"), "radius").AsDouble(), e: Field(Get(i.Extra, "certificate"), "epsilon").AsDouble()))
            .Where(x => x.r is not null && x.e is not null)
            .OrderBy(x => x.r!.Value - x.e!.Value)
            .Take(5)
            .Select(x => (object?)new List<KeyValuePair<string, object?>>
            {
                new("from", x.i.From), new("to", x.i.To), new("radius", x.r), new("epsilon", x.e), new("margin", x.r - x.e),
            }).ToList();
        return
        [
            new("layers", new List<KeyValuePair<string, object?>>
            {
                new("ok", layers.GetValueOrDefault("ok")), new("unreliable", layers.GetValueOrDefault("unreliable")),
                new("skipped", layers.GetValueOrDefault("skipped")), new("failed", layers.GetValueOrDefault("failed")),
            }),
            new("tensors_not_analysed", a.Skipped.Count),
            new("interfaces", new List<KeyValuePair<string, object?>>
            {
                new("total", a.Interfaces.Count), new("with_certificate", withCert.Count), new("certified", certified),
                new("certified_fraction", withCert.Count > 0 ? (double)certified / withCert.Count : null),
                new("labels_certified", labels), new("transport_bound_holds", boundHolds),
            }),
            new("chains", new List<KeyValuePair<string, object?>>
            {
                new("total", a.Chains.Count), new("bound_holds", a.Chains.Count(c => Get(c, "bound_holds") is true)),
            }),
            new("by_kind", byKind),
            new("worst_certificate_margins", worst),
        ];
    }

    /// <summary>A number read back from JSON may be a long (an integral value): both count.</summary>
    private static double? AsDouble(this object? v) => v switch { double d => d, long l => l, int i => i, _ => null };

    /// <summary>"v→o (value into output projection)" → "v→o".</summary>
    public static string KindStem(string kind)
    {
        int i = kind.IndexOf(' ');
        return i > 0 ? kind[..i] : kind;
    }

    private static double? Mean(IEnumerable<double?> xs)
    {
        var v = xs.Where(x => x is double d && double.IsFinite(d)).Select(x => x!.Value).ToList();
        return v.Count > 0 ? v.Average() : null;
    }
}

using Cartan.Report;

namespace Cartan.Engine;

/// <summary>
/// Side-by-side comparison of two analyses of models with the same tensor names (dense and pruned, two checkpoints):
/// every layer and interface present in both, with the scalar metrics of each and their differences (b − a).
/// </summary>
public static class Compare
{
    /// <summary>Scalar layer metrics compared (dotted paths into the layer record).</summary>
    public static readonly string[] LayerMetrics =
        ["rank", "frobenius", "stable_rank", "tau", "alpha.mle", "alpha.ols", "chart_residual.hellinger", "effective_rank.0.9", "ww.alpha", "ww.xmin"];

    /// <summary>Scalar interface metrics compared.</summary>
    public static readonly string[] InterfaceMetrics =
        ["k_from", "k_to", "transport.error", "transport.bound", "transport.alignment", "commutator", "imbalance.beta", "certificate.radius", "certificate.pass"];

    public static List<KeyValuePair<string, object?>> Of(AnalysisResult a, AnalysisResult b)
    {
        var bl = b.Layers.ToDictionary(l => l.Name);
        var layers = new List<object?>();
        foreach (var la in a.Layers)
        {
            if (!bl.TryGetValue(la.Name, out var lb)) continue;
            layers.Add(Row(la.Name, la.Role, LayerMetrics.Select(m => (m, Get(la, m), Get(lb, m)))));
        }
        var bi = b.Interfaces.ToDictionary(i => (i.From, i.To));
        var ifaces = new List<object?>();
        foreach (var ia in a.Interfaces)
        {
            if (!bi.TryGetValue((ia.From, ia.To), out var ib)) continue;
            ifaces.Add(Row($"{ia.From} → {ia.To}", ia.Kind, InterfaceMetrics.Select(m => (m, Get(ia.Extra, m), Get(ib.Extra, m)))));
        }
        return
        [
            new("schema", "cartan.compare/1"),
            new("a", Describe(a)),
            new("b", Describe(b)),
            new("only_in_a", a.Layers.Where(l => !bl.ContainsKey(l.Name)).Select(l => (object?)l.Name).ToList()),
            new("only_in_b", b.Layers.Where(l => !a.Layers.Any(x => x.Name == l.Name)).Select(l => (object?)l.Name).ToList()),
            new("layers", layers),
            new("interfaces", ifaces),
        ];
    }

    private static List<KeyValuePair<string, object?>> Describe(AnalysisResult r) =>
    [
        new("source", r.Model.Source), new("format", r.Model.Format), new("architecture", r.Model.Architecture),
        new("layers", r.Layers.Count), new("interfaces", r.Interfaces.Count),
    ];

    private static List<KeyValuePair<string, object?>> Row(string name, string role, IEnumerable<(string Metric, object? A, object? B)> metrics)
    {
        var values = new List<KeyValuePair<string, object?>>();
        foreach (var (m, va, vb) in metrics)
        {
            object? diff = (Num(va), Num(vb)) switch
            {
                (double x, double y) => y - x,
                _ => va is bool ba && vb is bool bb ? (object)(ba == bb ? "same" : $"{ba}→{bb}") : null,
            };
            values.Add(new(m, new List<KeyValuePair<string, object?>> { new("a", va), new("b", vb), new("diff", diff) }));
        }
        return [new("name", name), new("role", role), new("metrics", values)];
    }

    private static double? Num(object? v) => v switch { double d when double.IsFinite(d) => d, long l => l, int i => i, _ => null };

    private static object? Get(LayerRecord l, string path) => path switch
    {
        "rank" => l.Rank,
        "frobenius" => l.Frobenius,
        "stable_rank" => l.StableRank,
        _ => Get(l.Extra, path),
    };

    /// <summary>Follows a dotted path through nested key/value lists; the last segment may itself contain a dot (e.g. "0.9").</summary>
    private static object? Get(IReadOnlyDictionary<string, object?> d, string path)
    {
        int dot = path.IndexOf('.');
        if (dot < 0) return d.TryGetValue(path, out var v) ? v : null;
        if (!d.TryGetValue(path[..dot], out var inner)) return d.TryGetValue(path, out var whole) ? whole : null;
        var rest = path[(dot + 1)..];
        return inner is IEnumerable<KeyValuePair<string, object?>> kvs ? kvs.FirstOrDefault(kv => kv.Key == rest).Value : null;
    }
}

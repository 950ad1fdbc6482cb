using System.Globalization;
using System.Text;
using static Cartan.Report.Figures;

namespace Cartan.Report;

/// <summary>
/// The compact text summary printed after a run: the worst layers and every failed certificate or bound.
/// "Worst" ranks layers by problems first (failed, skipped, unreliable, a chart at its bound, a failed ESD tail fit,
/// α_WW outside WeightWatcher's [2, 6] rule of thumb), then by concentration τ/log d (1 = rank one).
/// </summary>
public static class ConsoleSummary
{
    public static string Build(AnalysisResult a, int worst = 10, int width = 48)
    {
        var sb = new StringBuilder();
        string Cut(string s) => s.Length > width ? "…" + s[^(width - 1)..] : s;
        var ranked = a.Layers.Select(l => (l, flags: Flags(l))).OrderByDescending(t => Severity(t.l, t.flags)).ThenByDescending(t => Concentration(t.l) ?? -1).Take(worst).ToList();
        int w = Math.Max(5, Math.Min(width, a.Layers.Select(l => l.Name.Length).DefaultIfEmpty(5).Max()));
        sb.AppendLine($"worst layers ({ranked.Count} of {a.Layers.Count}):");
        sb.AppendLine($"  {"layer".PadRight(w)}  {"role",-9} {"α mle",8} {"τ",7} {"τ/log d",7} {"r0.9/d",7} {"α_WW",7}  notes");
        foreach (var (l, flags) in ranked)
            sb.AppendLine($"  {Cut(l.Name).PadRight(w)}  {l.Role,-9} {N(Dbl(l.Extra, "alpha", "mle")),8} {N(Dbl(l.Extra, "tau")),7} {N(Concentration(l)),7} {N(Metric(l, "r09-over-d")),7} {N(Dbl(l.Extra, "ww", "alpha")),7}  {(flags.Count == 0 ? "-" : string.Join("; ", flags))}");
        var bad = a.Interfaces.Select((f, i) => (f, i)).Where(t => Get(t.f.Extra, "certificate", "pass") is false || t.f.Status == "failed" || Get(t.f.Extra, "transport", "bound_holds") is false).ToList();
        int certs = a.Interfaces.Count(f => Get(f.Extra, "certificate") is not null);
        sb.AppendLine(certs == 0
            ? $"certificates: none in this analysis; {a.Interfaces.Count - bad.Count} of {a.Interfaces.Count} interfaces ok"
            : $"certificates: {a.Interfaces.Count(f => Get(f.Extra, "certificate", "pass") is true)} of {certs} pass");
        // Bugs (a violated bound) first, then the certificates with the smallest margin r* − ε; at most `worst` lines.
        var shown = bad.OrderByDescending(t => Get(t.f.Extra, "transport", "bound_holds") is false || t.f.Status == "failed")
            .ThenByDescending(t => (Dbl(Get(t.f.Extra, "certificate"), "radius") ?? 0) - (Dbl(Get(t.f.Extra, "certificate"), "epsilon") ?? 0))
            .Take(worst).OrderBy(t => t.i).ToList();
        foreach (var (f, i) in shown)
        {
            var c = Get(f.Extra, "certificate");
            sb.AppendLine($"  FAIL #{i + 1} {Cut(f.From)} → {Cut(f.To)}: " + (c is not null && Get(c, "pass") is false
                ? $"certificate ε={N(Dbl(c, "epsilon"))} δ={N(Dbl(c, "delta"))} r*={N(Dbl(c, "radius"))} gap={N(Dbl(c, "active_gap"))} noise margin={N(Dbl(c, "noise_margin"))}"
                : f.Reason ?? "transport bound violated"));
        }
        if (bad.Count > shown.Count) sb.AppendLine($"  … and {bad.Count - shown.Count} more failed certificates (see analysis.json / report.html)");
        foreach (var c in a.Chains.Where(c => Get(c, "bound_holds") is false))
            sb.AppendLine($"  FAIL chain {Str(c, "name")}: net displacement {N(Dbl(c, "net_displacement"))} > bound {N(Dbl(c, "bound"))}");
        return sb.ToString();
    }

    private static double? Concentration(LayerRecord l) =>
        Dbl(l.Extra, "tau") is double t && l.Rank is int d && d > 1 ? t / Math.Log(d) : null;

    internal static List<string> Flags(LayerRecord l)
    {
        var f = new List<string>();
        if (l.Status != "ok") f.Add(l.Status + (l.Reason is null ? "" : ": " + l.Reason));
        foreach (var c in Pairs(Get(l.Extra, "charts")))
        {
            if (Get(c.Value, "at_lower_bound") is true) f.Add($"{c.Key} chart at lower bound");
            if (Get(c.Value, "at_upper_bound") is true) f.Add($"{c.Key} chart at upper bound");
        }
        if (l.Spectrum is not null && Str(l.Extra, "ww", "status") == "failed") f.Add("ESD tail fit failed");
        if (Dbl(l.Extra, "ww", "alpha") is double aw && (aw < 2 || aw > 6)) f.Add($"α_WW {aw:0.##} outside [2, 6]");
        return f;
    }

    private static int Severity(LayerRecord l, List<string> flags) =>
        (l.Status == "failed" ? 1000 : l.Status == "skipped" ? 500 : l.Status == "unreliable" ? 100 : 0) + flags.Count;

    private static string N(double? v) => v is double d && double.IsFinite(d) ? d.ToString("G4", CultureInfo.InvariantCulture) : "-";
}

using System.Globalization;
using System.Net;
using System.Text;
using static Cartan.Report.Figures;

namespace Cartan.Report;

/// <summary>
/// One self-contained HTML page of an analysis: overview and verdict strip, depth profiles, per-layer spectra
/// and a sortable/filterable layer table, per-interface heatmaps and certificate tables, per-block head overlaps.
/// Figures are inline SVG (rasters as PNG data URIs), scripts are plain inline JavaScript, and a Content Security
/// Policy forbids every network request, so the file opens offline and never fetches anything.
/// </summary>
public static class HtmlReport
{
    /// <summary>The page's Content-Security-Policy: nothing may be loaded from anywhere; only inline code and data: images.</summary>
    public const string Csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'";

    public static void Write(AnalysisResult a, string path) => Write(a, path, null);

    /// <summary>Writes the page and, when <paramref name="figuresDir"/> is given, every figure as an SVG file there.</summary>
    public static IReadOnlyList<Figure> Write(AnalysisResult a, string path, string? figuresDir)
    {
        var figures = Build(a);
        AtomicFile.WriteText(path, ToHtml(a, figures));
        if (figuresDir is not null) Export(figures, figuresDir);
        return figures;
    }

    public static string ToHtml(AnalysisResult a) => ToHtml(a, Build(a));

    private static string E(string? s) => WebUtility.HtmlEncode(s ?? "");
    /// <summary>Display format of numbers in tables (5 significant digits).</summary>
    public static string Fmt(double? v) => v is double d && double.IsFinite(d) ? d.ToString("G5", CultureInfo.InvariantCulture) : "–";
    private static string R(double d) => d.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>A numeric table cell carrying its full value (for sorting) and its JSON key (for checking).</summary>
    private static string Td(string key, double? v) =>
        v is double d && double.IsFinite(d) ? $"<td class=\"n\" data-k=\"{key}\" data-v=\"{R(d)}\">{Fmt(d)}</td>" : $"<td class=\"n\" data-k=\"{key}\">–</td>";

    private static string Value(object? v) => v switch
    {
        null => "null",
        string s => s,
        bool b => b ? "true" : "false",
        System.Collections.IEnumerable e => "[" + string.Join(", ", e.Cast<object?>().Select(Value)) + "]",
        _ => Num(v) is double d ? d.ToString("G6", CultureInfo.InvariantCulture) : v.ToString() ?? "",
    };

    public static string ToHtml(AnalysisResult a, IReadOnlyList<Figure> figures)
    {
        var bySection = figures.GroupBy(f => f.Section).ToDictionary(g => g.Key, g => g.ToList());
        var sb = new StringBuilder();
        void Figs(string section)
        {
            if (!bySection.TryGetValue(section, out var fs)) return;
            sb.Append("<div class=\"figs\">");
            foreach (var f in fs)
                sb.Append("<figure id=\"fig-").Append(f.Number).Append("\" data-fig=\"").Append(f.Number).Append("\" data-id=\"").Append(E(f.Id)).Append("\">")
                  .Append(f.Svg).Append("<figcaption><b>Figure ").Append(f.Number).Append(".</b> ").Append(E(f.Title)).Append(". ").Append(E(f.Caption))
                  .Append(" <span class=\"file\">[").Append(E(f.FileName)).Append("]</span></figcaption></figure>");
            sb.Append("</div>");
        }

        sb.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">")
          .Append("<meta http-equiv=\"Content-Security-Policy\" content=\"").Append(Csp).Append("\">")
          .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
          .Append("<title>cartan: ").Append(E(a.Model.Source)).Append("</title><style>").Append(Style).Append("</style><script>").Append(ErrorCapture).Append("</script></head><body>");
        sb.Append("<pre id=\"js-errors\" data-count=\"0\" hidden></pre>");
        sb.Append("<nav><b>cartan</b> <a href=\"#overview\">Overview</a> <a href=\"#depth\">Depth profiles</a> <a href=\"#layers\">Layers</a> <a href=\"#interfaces\">Interfaces</a> <a href=\"#heads\">Attention heads</a> <a href=\"#skipped\">Not analysed</a> <a href=\"#figures\">Figure index</a></nav><main>");

        // ---------------------------------------------------------------- overview
        sb.Append("<section id=\"overview\"><h1>").Append(E(a.Model.Source)).Append("</h1>");
        Verdict(sb, a);
        sb.Append("<div class=\"cols\"><table class=\"kv\"><caption>Model and run</caption>");
        void Kv(string k, string v) => sb.Append("<tr><th>").Append(E(k)).Append("</th><td>").Append(E(v)).Append("</td></tr>");
        Kv("model", a.Model.Source); Kv("format", a.Model.Format); Kv("architecture", a.Model.Architecture);
        Kv("tensors", a.Model.TensorCount.ToString(CultureInfo.InvariantCulture));
        Kv("layers analysed", a.Layers.Count.ToString(CultureInfo.InvariantCulture)); Kv("interfaces", a.Interfaces.Count.ToString(CultureInfo.InvariantCulture));
        Kv("attention head records", a.Heads.Count.ToString(CultureInfo.InvariantCulture)); Kv("chains", a.Chains.Count.ToString(CultureInfo.InvariantCulture));
        Kv("not analysed", a.Skipped.Count.ToString(CultureInfo.InvariantCulture));
        Kv("tool", $"{a.Tool.Name} {a.Tool.Version}"); Kv("LAPACK", a.Tool.Lapack); Kv("schema", a.Schema);
        Kv("run time", a.Seconds is double secs ? $"{secs:0.0} s" : "not recorded");
        sb.Append("</table><table class=\"kv\" id=\"settings\"><caption>Settings (every threshold used)</caption>");
        foreach (var kv in a.Settings) Kv(kv.Key, Value(kv.Value));
        sb.Append("</table></div></section>");

        // ---------------------------------------------------------------- depth
        sb.Append("<section id=\"depth\"><h2>Depth profiles</h2><p>Static-weight exponent profiles (GSA I): each chart's α, τ, r_0.9/d and stable rank against depth, one line per role. Hover a point for the layer and its value.</p>");
        Figs("depth");
        if (a.Chains.Count > 0)
        {
            sb.Append("<table id=\"chain-table\"><caption>Chain budgets</caption><tr><th>chain</th><th>chart</th><th>layers</th><th>net displacement</th><th>slack</th><th>residual variation</th><th>margin</th><th>bound</th><th>holds</th></tr>");
            foreach (var c in a.Chains)
            {
                bool? holds = Get(c, "bound_holds") as bool?;
                sb.Append("<tr><td>").Append(E(Str(c, "name"))).Append("</td><td>").Append(E(Str(c, "chart"))).Append("</td><td class=\"n\">").Append(Items2(Get(c, "layers"))).Append("</td>")
                  .Append(Td("net_displacement", Dbl(c, "net_displacement"))).Append(Td("slack", Dbl(c, "slack"))).Append(Td("residual_variation", Dbl(c, "residual_variation")))
                  .Append(Td("margin", Dbl(c, "margin"))).Append(Td("bound", Dbl(c, "bound")))
                  .Append("<td class=\"").Append(holds == false ? "fail" : "pass").Append("\">").Append(holds is null ? "–" : holds.Value ? "yes" : "NO").Append("</td></tr>");
            }
            sb.Append("</table>");
        }
        sb.Append("</section>");

        // ---------------------------------------------------------------- layers
        sb.Append("<section id=\"layers\"><h2>Layers</h2><p>Click a column header to sort; type to filter (name, role, status). Each name links to the layer's figures.</p>")
          .Append("<input id=\"layer-filter\" type=\"search\" placeholder=\"filter layers…\"> <span id=\"layer-count\"></span>")
          .Append("<div class=\"scroll\"><table id=\"layer-table\" class=\"sortable\"><thead><tr>");
        foreach (var h in LayerColumns) sb.Append("<th title=\"").Append(E(h.Help)).Append("\">").Append(E(h.Head)).Append("</th>");
        sb.Append("</tr></thead><tbody>");
        for (int i = 0; i < a.Layers.Count; i++)
        {
            var l = a.Layers[i];
            sb.Append("<tr class=\"").Append(E(l.Status)).Append("\" data-layer=\"").Append(i).Append("\"><td class=\"n\" data-v=\"").Append(i + 1).Append("\">").Append(i + 1)
              .Append("</td><td><a href=\"#layer-").Append(i + 1).Append("\">").Append(E(l.Name)).Append("</a></td><td>").Append(E(l.Role)).Append("</td>")
              .Append(Td("block", l.Block)).Append("<td>").Append(l.Matrix[0]).Append('×').Append(l.Matrix[1]).Append("</td>")
              .Append(Td("rank", l.Rank)).Append(Td("sigma.0", l.Sigma is { Length: > 0 } sg ? sg[0] : null)).Append(Td("frobenius", l.Frobenius))
              .Append(Td("stable_rank", l.StableRank)).Append(Td("tau", Dbl(l.Extra, "tau")))
              .Append(Td("alpha.top", Dbl(l.Extra, "alpha", "top"))).Append(Td("alpha.mle", Dbl(l.Extra, "alpha", "mle")))
              .Append(Td("alpha.hel", Dbl(l.Extra, "alpha", "hel"))).Append(Td("alpha.ols", Dbl(l.Extra, "alpha", "ols")))
              .Append(Td("effective_rank.0.9", Dbl(l.Extra, "effective_rank", "0.9"))).Append(Td("r09_over_d", Metric(l, "r09-over-d")))
              .Append(Td("ww.alpha", Dbl(l.Extra, "ww", "alpha"))).Append(Td("chart_residual.hellinger", Dbl(l.Extra, "chart_residual", "hellinger")))
              .Append("<td>").Append(E(Str(l.Extra, "regime") ?? "")).Append("</td><td>").Append(E(l.Status)).Append(l.Reason is null ? "" : ": " + E(l.Reason)).Append("</td></tr>");
        }
        sb.Append("</tbody></table></div>");
        for (int i = 0; i < a.Layers.Count; i++)
        {
            var l = a.Layers[i];
            sb.Append("<section class=\"item\" id=\"layer-").Append(i + 1).Append("\"><h3>").Append(i + 1).Append(". ").Append(E(l.Name)).Append(" <small>").Append(E(l.Role))
              .Append(l.Block is int b ? $", block {b}" : "").Append(", ").Append(l.Matrix[0]).Append('×').Append(l.Matrix[1]).Append(", ").Append(E(l.Status)).Append("</small></h3>");
            if (l.Reason is not null) sb.Append("<p class=\"reason\">").Append(E(l.Reason)).Append("</p>");
            sb.Append("<p class=\"facts\">rank ").Append(l.Rank?.ToString(CultureInfo.InvariantCulture) ?? "–").Append(" · τ ").Append(Fmt(Dbl(l.Extra, "tau")))
              .Append(" · α mle ").Append(Fmt(Dbl(l.Extra, "alpha", "mle"))).Append(" · r_0.9 ").Append(Fmt(Dbl(l.Extra, "effective_rank", "0.9")))
              .Append(" · α_WW ").Append(Fmt(Dbl(l.Extra, "ww", "alpha"))).Append(" (xmin ").Append(Fmt(Dbl(l.Extra, "ww", "xmin"))).Append(", KS D ").Append(Fmt(Dbl(l.Extra, "ww", "ks_d")))
              .Append(") · regime ").Append(E(Str(l.Extra, "regime") ?? "–")).Append(" · <a href=\"#layers\">back to table</a></p>");
            Figs("layer:" + i);
            sb.Append("</section>");
        }
        sb.Append("</section>");

        // ---------------------------------------------------------------- interfaces
        sb.Append("<section id=\"interfaces\"><h2>Interfaces</h2>");
        if (a.Interfaces.Count == 0) sb.Append("<p>No interfaces in this analysis.</p>");
        else
        {
            sb.Append("<div class=\"scroll\"><table id=\"iface-table\" class=\"sortable\"><thead><tr><th>#</th><th>from</th><th>to</th><th>dim</th><th>kind</th><th>k_from</th><th>k_to</th><th>‖K−K^(k)‖</th><th>bound</th><th>certified bound</th><th>alignment</th><th>baseline</th><th>β</th><th>κ</th><th>certificate</th><th>status</th></tr></thead><tbody>");
            for (int i = 0; i < a.Interfaces.Count; i++)
            {
                var f = a.Interfaces[i];
                var pass = Get(f.Extra, "certificate", "pass") as bool?;
                sb.Append("<tr class=\"").Append(E(f.Status)).Append("\" data-row=\"").Append(i).Append("\"><td class=\"n\" data-v=\"").Append(i + 1).Append("\"><a href=\"#iface-").Append(i + 1).Append("\">").Append(i + 1).Append("</a></td><td>")
                  .Append(E(f.From)).Append("</td><td>").Append(E(f.To)).Append("</td>").Append(Td("dim", f.Dim)).Append("<td>").Append(E(f.Kind)).Append("</td>")
                  .Append(Td("k_from", Dbl(f.Extra, "k_from"))).Append(Td("k_to", Dbl(f.Extra, "k_to")))
                  .Append(Td("transport.error", Dbl(f.Extra, "transport", "error"))).Append(Td("transport.bound", Dbl(f.Extra, "transport", "bound")))
                  .Append(Td("transport.certified_bound", Dbl(f.Extra, "transport", "certified_bound"))).Append(Td("transport.alignment", Dbl(f.Extra, "transport", "alignment")))
                  .Append(Td("transport.baseline", Dbl(f.Extra, "transport", "baseline"))).Append(Td("imbalance.beta", Dbl(f.Extra, "imbalance", "beta")))
                  .Append(Td("commutator", Dbl(f.Extra, "commutator")))
                  .Append("<td class=\"").Append(pass == false ? "fail" : pass == true ? "pass" : "").Append("\">").Append(pass is null ? "–" : pass.Value ? "PASS" : "FAIL").Append("</td><td>")
                  .Append(E(f.Status)).Append(f.Reason is null ? "" : ": " + E(f.Reason)).Append("</td></tr>");
            }
            sb.Append("</tbody></table></div>");
            CertificateTable(sb, a);
            for (int i = 0; i < a.Interfaces.Count; i++)
            {
                var f = a.Interfaces[i];
                sb.Append("<section class=\"item\" id=\"iface-").Append(i + 1).Append("\"><h3>").Append(i + 1).Append(". ").Append(E(f.From)).Append(" → ").Append(E(f.To))
                  .Append(" <small>").Append(E(f.Kind)).Append(", m = ").Append(f.Dim).Append(", ").Append(E(f.Status)).Append("</small></h3>");
                if (f.Reason is not null) sb.Append("<p class=\"reason\">").Append(E(f.Reason)).Append("</p>");
                Figs("iface:" + i);
                sb.Append("<div class=\"cols\">");
                GridTable(sb, "Intersection dimension dim(U_a ∩ V_b)", "flag-dim", Get(f.Extra, "flag", "grid"), Matrix(Get(f.Extra, "flag", "intersection_dim")), "0");
                GridTable(sb, "Overlap [a][b]", "flag-overlap", Get(f.Extra, "flag", "grid"), Matrix(Get(f.Extra, "flag", "overlap")), "G3");
                if (Get(f.Extra, "certificate") is { } cert)
                {
                    sb.Append("<table class=\"kv\"><caption>Certificate</caption>");
                    foreach (var kv in Pairs(cert).Where(kv => kv.Key != "labels"))
                        sb.Append("<tr><th>").Append(E(kv.Key)).Append("</th><td>").Append(E(Value(kv.Value))).Append("</td></tr>");
                    sb.Append("</table>");
                    var labels = Pairs(Get(cert, "labels")).ToList();
                    if (labels.Count > 0)
                    {
                        sb.Append("<table class=\"icm\"><caption>ICM labels</caption><tr><th>group</th><th>label</th></tr>");
                        foreach (var kv in labels) sb.Append("<tr><td>").Append(E(kv.Key)).Append("</td><td class=\"lbl-").Append(E(Value(kv.Value))).Append("\">").Append(E(Value(kv.Value))).Append("</td></tr>");
                        sb.Append("</table>");
                    }
                }
                if (Get(f.Extra, "pam") is { } pam)
                {
                    sb.Append("<table class=\"kv\"><caption>PAM summary</caption>");
                    foreach (var kv in Pairs(pam).Where(kv => kv.Key is not ("matrix" or "mask" or "block_energy")))
                        sb.Append("<tr><th>").Append(E(kv.Key)).Append("</th><td>").Append(E(Value(kv.Value is System.Collections.IEnumerable && Pairs(kv.Value).Any() ? Pairs(kv.Value).Select(p => p.Key + ": " + Value(p.Value)).ToList() : kv.Value))).Append("</td></tr>");
                    sb.Append("</table>");
                }
                sb.Append("</div></section>");
            }
        }
        sb.Append("</section>");

        // ---------------------------------------------------------------- heads
        sb.Append("<section id=\"heads\"><h2>Attention heads</h2>");
        var blocks = HeadBlocks(a);
        if (blocks.Count == 0) sb.Append("<p>No attention blocks with a known head layout in this model.</p>");
        else
        {
            Figs("heads");
            foreach (var b in blocks)
            {
                sb.Append("<section class=\"item\" id=\"heads-").Append(E(Slug(b.Key))).Append("\"><h3>Block ").Append(E(b.Key)).Append("</h3>");
                var failed = b.Records.Where(r => Str(r, "status") == "failed").ToList();
                foreach (var r in failed) sb.Append("<p class=\"reason\">").Append(E($"{Str(r, "kind")}: {Str(r, "reason")}")).Append("</p>");
                Figs("heads:" + b.Key);
                sb.Append("</section>");
            }
        }
        sb.Append("</section>");

        // ---------------------------------------------------------------- skipped and index
        sb.Append("<section id=\"skipped\"><h2>Not analysed</h2>");
        if (a.Skipped.Count == 0) sb.Append("<p>Every tensor was analysed.</p>");
        else
        {
            sb.Append("<details><summary>").Append(a.Skipped.Count).Append(" tensors, by reason: ")
              .Append(E(string.Join("; ", a.Skipped.GroupBy(s => s.Reason).OrderByDescending(g => g.Count()).Select(g => $"{g.Key} ({g.Count()})"))))
              .Append("</summary><table><tr><th>name</th><th>shape</th><th>dtype</th><th>role</th><th>reason</th></tr>");
            foreach (var s in a.Skipped)
                sb.Append("<tr><td>").Append(E(s.Name)).Append("</td><td>").Append(string.Join("×", s.Shape)).Append("</td><td>").Append(E(s.DType)).Append("</td><td>").Append(E(s.Role)).Append("</td><td>").Append(E(s.Reason)).Append("</td></tr>");
            sb.Append("</table></details>");
        }
        sb.Append("</section><section id=\"figures\"><h2>Figure index</h2><ol class=\"index\">");
        foreach (var f in figures) sb.Append("<li value=\"").Append(f.Number).Append("\"><a href=\"#fig-").Append(f.Number).Append("\">").Append(E(f.Title)).Append("</a> <span class=\"file\">").Append(E(f.FileName)).Append("</span></li>");
        sb.Append("</ol></section></main><footer>cartan ").Append(E(a.Tool.Version)).Append(" · ").Append(E(a.Schema)).Append("</footer><script>").Append(Interactive).Append("</script></body></html>\n");
        return sb.ToString();
    }

    private static string Items2(object? o) => o is System.Collections.IEnumerable e and not string ? e.Cast<object?>().Count().ToString(CultureInfo.InvariantCulture) : "–";

    internal static readonly (string Head, string Help)[] LayerColumns =
    [
        ("#", "order in the analysis"), ("name", "tensor name"), ("role", "role"), ("block", "block index"), ("matrix", "rows × cols of the analysed matrix"),
        ("rank", "numerical rank d"), ("σ₁", "largest singular value"), ("‖W‖_F", "Frobenius norm"), ("stable rank", "‖W‖_F²/σ₁²"),
        ("τ", "top-radial coordinate log(d·σ₁²/‖W‖_F²)"), ("α top", "top-radial chart"), ("α mle", "Gibbs MLE chart"), ("α hel", "Hellinger chart"),
        ("α ols", "log-log OLS chart"), ("r_0.9", "effective rank at q = 0.9"), ("r_0.9/d", "effective rank over numerical rank"),
        ("α_WW", "WeightWatcher ESD tail exponent"), ("Hellinger residual", "full-Cartan residual of the mle chart"), ("regime", "rank-window regime"), ("status", "status and reason"),
    ];

    private static void Verdict(StringBuilder sb, AnalysisResult a)
    {
        int ok = a.Layers.Count(l => l.Status == "ok"), unrel = a.Layers.Count(l => l.Status == "unreliable"),
            skipped = a.Layers.Count(l => l.Status == "skipped"), failed = a.Layers.Count(l => l.Status == "failed");
        int atBound = a.Layers.Count(l => Pairs(Get(l.Extra, "charts")).Any(c => Get(c.Value, "at_lower_bound") is true || Get(c.Value, "at_upper_bound") is true));
        int wwFailed = a.Layers.Count(l => l.Spectrum is not null && Str(l.Extra, "ww", "status") == "failed");
        var certs = a.Interfaces.Select(i => Get(i.Extra, "certificate", "pass") as bool?).Where(p => p is not null).ToList();
        int holds = a.Interfaces.Count(i => Get(i.Extra, "transport", "bound_holds") is true);
        int chainsHold = a.Chains.Count(c => Get(c, "bound_holds") is true);
        sb.Append("<div id=\"verdict\" class=\"verdict\">");
        void Chip(string cls, string text, string? title = null) =>
            sb.Append("<span class=\"chip ").Append(cls).Append('"').Append(title is null ? "" : $" title=\"{E(title)}\"").Append('>').Append(E(text)).Append("</span>");
        Chip(failed > 0 ? "bad" : "good", $"{a.Layers.Count} layers: {ok} ok, {unrel} unreliable, {skipped} skipped, {failed} failed",
            string.Join("; ", a.Layers.Where(l => l.Reason is not null).GroupBy(l => l.Reason).Select(g => $"{g.Key} ({g.Count()})")));
        Chip(a.Skipped.Count > 0 ? "info" : "good", $"{a.Skipped.Count} tensors not analysed",
            string.Join("; ", a.Skipped.GroupBy(s => s.Reason).OrderByDescending(g => g.Count()).Take(8).Select(g => $"{g.Key} ({g.Count()})")));
        Chip(holds == a.Interfaces.Count ? "good" : "bad", $"{a.Interfaces.Count} interfaces: transport bound holds on {holds}");
        Chip(certs.Count == 0 ? "info" : certs.All(c => c == true) ? "good" : "bad",
            certs.Count == 0 ? "no PAM certificates in this analysis" : $"certified: {certs.Count(c => c == true)} of {certs.Count} interfaces");
        Chip(unrel + atBound + wwFailed > 0 ? "warn" : "good", $"fits judged unreliable: {unrel} low-rank, {atBound} chart at a bound, {wwFailed} ESD tail fits failed");
        if (a.Chains.Count > 0) Chip(chainsHold == a.Chains.Count ? "good" : "bad", $"chain budgets hold: {chainsHold} of {a.Chains.Count}");
        sb.Append("</div>");
    }

    private static void CertificateTable(StringBuilder sb, AnalysisResult a)
    {
        var rows = a.Interfaces.Select((f, i) => (f, i)).Where(t => Get(t.f.Extra, "certificate") is not null).ToList();
        if (rows.Count == 0) return;
        sb.Append("<table id=\"cert-table\" class=\"sortable\"><caption>Certificates</caption><thead><tr><th>#</th><th>from → to</th><th>ε</th><th>δ</th><th>r*</th><th>active gap</th><th>noise margin</th><th>row groups</th><th>supports equal</th><th>result</th><th>ICM labels</th><th>labels</th></tr></thead><tbody>");
        foreach (var (f, i) in rows)
        {
            var c = Get(f.Extra, "certificate");
            bool? pass = Get(c, "pass") as bool?, lp = Get(c, "labels_pass") as bool?, se = Get(c, "supports_equal") as bool?;
            sb.Append("<tr data-iface=\"").Append(i).Append("\"><td><a href=\"#iface-").Append(i + 1).Append("\">").Append(i + 1).Append("</a></td><td>").Append(E(f.From)).Append(" → ").Append(E(f.To)).Append("</td>")
              .Append(Td("certificate.epsilon", Dbl(c, "epsilon"))).Append(Td("certificate.delta", Dbl(c, "delta"))).Append(Td("certificate.radius", Dbl(c, "radius")))
              .Append(Td("certificate.active_gap", Dbl(c, "active_gap"))).Append(Td("certificate.noise_margin", Dbl(c, "noise_margin"))).Append(Td("certificate.row_groups", Dbl(c, "row_groups")))
              .Append("<td>").Append(se is null ? "–" : se.Value ? "yes" : "no").Append("</td><td class=\"").Append(pass == true ? "pass" : "fail").Append("\" data-k=\"certificate.pass\">").Append(pass == true ? "PASS" : "FAIL")
              .Append("</td><td>").Append(E(string.Join(" ", Pairs(Get(c, "labels")).Select(kv => kv.Key + ":" + Value(kv.Value))))).Append("</td><td>")
              .Append(lp is null ? "–" : lp.Value ? "PASS" : "FAIL").Append("</td></tr>");
        }
        sb.Append("</tbody></table>");
    }

    private static void GridTable(StringBuilder sb, string caption, string cls, object? grid, double[][]? m, string format)
    {
        if (m is null) return;
        var g = Numbers(grid);
        sb.Append("<table class=\"grid ").Append(cls).Append("\"><caption>").Append(E(caption)).Append("</caption><tr><th>a \\ b</th>");
        for (int j = 0; j < m[0].Length; j++) sb.Append("<th>").Append(j < g.Length ? g[j].ToString("0", CultureInfo.InvariantCulture) : "").Append("</th>");
        sb.Append("</tr>");
        for (int i = 0; i < m.Length; i++)
        {
            sb.Append("<tr><th>").Append(i < g.Length ? g[i].ToString("0", CultureInfo.InvariantCulture) : "").Append("</th>");
            foreach (var x in m[i]) sb.Append("<td>").Append(double.IsFinite(x) ? x.ToString(format, CultureInfo.InvariantCulture) : "–").Append("</td>");
            sb.Append("</tr>");
        }
        sb.Append("</table>");
    }

    internal const string Style = """
        body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#222;background:#fafafa}
        nav{position:sticky;top:0;background:#263238;color:#fff;padding:6px 16px;z-index:5}nav a{color:#cfe;margin-left:12px;text-decoration:none}
        main{padding:0 18px 40px}h1{font-size:20px;margin:14px 0 6px;word-break:break-all}h2{border-bottom:2px solid #263238;margin-top:28px}h3{margin:18px 0 4px}
        small{color:#666;font-weight:normal}
        table{border-collapse:collapse;font-size:12px;margin:6px 12px 10px 0;background:#fff}td,th{border:1px solid #d4d4d4;padding:2px 5px;text-align:left}
        td.n{text-align:right;font-variant-numeric:tabular-nums}caption{text-align:left;font-weight:bold;padding:4px 0}
        table.kv th{background:#f0f3f5;font-weight:normal}.scroll{overflow-x:auto;max-height:70vh;overflow-y:auto}
        .sortable th{cursor:pointer;background:#eef;position:sticky;top:0}.sortable th:hover{background:#dde}
        tr.failed td,tr.skipped td{color:#a00}tr.unreliable td{color:#a60}.pass{color:#070;font-weight:bold}.fail{color:#c00;font-weight:bold}
        .cols{display:flex;flex-wrap:wrap;align-items:flex-start}.figs{display:flex;flex-wrap:wrap;gap:8px}
        figure{margin:4px;background:#fff;border:1px solid #ddd;padding:4px;max-width:600px}figcaption{font-size:11px;color:#444;max-width:580px}
        .file{color:#999}.verdict{margin:8px 0}.chip{display:inline-block;border-radius:12px;padding:3px 10px;margin:2px 4px 2px 0;font-size:13px;border:1px solid}
        .chip.good{background:#e8f5e9;border-color:#66bb6a}.chip.bad{background:#ffebee;border-color:#e53935}.chip.warn{background:#fff8e1;border-color:#ffb300}.chip.info{background:#e3f2fd;border-color:#64b5f6}
        section.item{border-top:1px solid #ddd}.reason{color:#a00}.facts{font-size:12px;color:#444}
        #js-errors{background:#fee;color:#900;padding:8px}input[type=search]{padding:4px;width:280px}.lbl-SC{color:#070}.lbl-SA{color:#a60}.lbl-ST{color:#c00}
        footer{color:#888;font-size:11px;padding:12px 18px}
        """;

    /// <summary>Runs first: records script errors, console errors, failed loads and CSP violations into #js-errors.</summary>
    internal const string ErrorCapture = """
        (function(){var errs=[];window.__cartanErrors=errs;
        function show(){var e=document.getElementById('js-errors');if(!e)return;e.textContent=errs.join('\n');e.setAttribute('data-count',String(errs.length));if(errs.length)e.hidden=false;}
        function rec(m){errs.push(String(m));show();}
        window.addEventListener('error',function(e){rec('error: '+(e.message||(e.target&&e.target.tagName?('failed to load '+e.target.tagName):'unknown')));},true);
        window.addEventListener('unhandledrejection',function(e){rec('unhandled rejection: '+e.reason);});
        document.addEventListener('securitypolicyviolation',function(e){rec('blocked by CSP: '+e.blockedURI+' ('+e.violatedDirective+')');});
        var ce=console.error;console.error=function(){rec('console.error: '+Array.prototype.join.call(arguments,' '));return ce.apply(console,arguments);};
        document.addEventListener('DOMContentLoaded',show);})();
        """;

    /// <summary>Sortable tables, the layer filter, and the ready flag the tests look for.</summary>
    private const string Interactive = """
        (function(){
        function key(td){var v=td.getAttribute('data-v');if(v!==null&&v!=='')return parseFloat(v);var t=td.textContent.trim();return t==='–'?null:t.toLowerCase();}
        function sortBy(table,col,dir){var tb=table.tBodies[0];var rows=Array.prototype.slice.call(tb.rows);
          rows.sort(function(a,b){var x=key(a.cells[col]),y=key(b.cells[col]);if(x===null&&y===null)return 0;if(x===null)return 1;if(y===null)return -1;
            if(typeof x==='number'&&typeof y==='number')return dir*(x-y);return dir*String(x).localeCompare(String(y));});
          rows.forEach(function(r){tb.appendChild(r);});}
        Array.prototype.forEach.call(document.querySelectorAll('table.sortable'),function(t){
          var hs=t.tHead?t.tHead.rows[0].cells:[];Array.prototype.forEach.call(hs,function(h,i){h.addEventListener('click',function(){
            var d=h.getAttribute('data-dir')==='1'?-1:1;Array.prototype.forEach.call(hs,function(o){o.removeAttribute('data-dir');});h.setAttribute('data-dir',String(d));sortBy(t,i,d);});});});
        var f=document.getElementById('layer-filter'),t=document.getElementById('layer-table'),c=document.getElementById('layer-count');
        function filter(){var q=(f.value||'').toLowerCase(),n=0,rows=t.tBodies[0].rows;for(var i=0;i<rows.length;i++){var on=rows[i].textContent.toLowerCase().indexOf(q)>=0;rows[i].style.display=on?'':'none';if(on)n++;}
          c.textContent=n+' of '+rows.length+' layers';}
        if(f&&t){f.addEventListener('input',filter);filter();}
        document.body.setAttribute('data-ready','1');
        })();
        """;
}

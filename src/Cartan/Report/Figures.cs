using System.Collections;
using System.Globalization;
using System.Text.RegularExpressions;
using Cartan.Linalg;
using Cartan.Report.Svg;
using Cartan.Spectra;

namespace Cartan.Report;

/// <summary>One numbered figure of the report. <see cref="Section"/> says where the page places it.</summary>
public sealed record Figure(int Number, string Id, string Section, string Title, string Caption, string Svg)
{
    /// <summary>Stable file name: <c>fig-NNN-id.svg</c>.</summary>
    public string FileName => $"fig-{Number:000}-{Id}.svg";
}

/// <summary>
/// Builds every figure of the report from an <see cref="AnalysisResult"/> (depth profiles, per-layer spectra,
/// per-interface heatmaps, head overlaps) and exports them as SVG files. Numbering follows the order of the
/// analysis, which is deterministic, so the same analysis always gives the same numbers and file names.
/// </summary>
public static partial class Figures
{
    /// <summary>Most points drawn per curve (longer curves are subsampled on a log-spaced or even grid).</summary>
    public const int MaxPoints = 360;

    public static IReadOnlyList<Figure> Build(AnalysisResult a)
    {
        var list = new List<Figure>();
        void Add(string id, string section, string title, string caption, string svg) =>
            list.Add(new Figure(list.Count + 1, Slug(id), section, title, caption, svg));

        // Depth profiles.
        foreach (var (key, label) in DepthMetrics)
        {
            var series = DepthSeries(a, key);
            if (series.All(s => s.Y.All(y => !double.IsFinite(y)))) continue;
            Add("depth-" + key, "depth", $"{label} against depth", $"{label} of every analysed matrix against its depth (block index, or position within its role), one line per role; hover a point for the layer and value.",
                Plot.LinePlot(new LinePlotSpec { Title = $"{label} vs depth", XLabel = "depth (block)", YLabel = label, Series = series, YIncludeZero = key.StartsWith("r09", StringComparison.Ordinal) }));
        }
        if (a.Chains.Count > 0)
        {
            var names = a.Chains.Select(c => Str(c, "name") ?? "?").ToList();
            var idx = names.Select((_, i) => (double)(i + 1)).ToList();
            var disp = a.Chains.Select(c => Dbl(c, "net_displacement") ?? double.NaN).ToList();
            var bound = a.Chains.Select(c => Dbl(c, "bound") ?? double.NaN).ToList();
            var slack = a.Chains.Select(c => Dbl(c, "slack") ?? double.NaN).ToList();
            Add("depth-chain-budget", "depth", "Chain budget", "Per chain (one per role): the net displacement of the fitted coordinate against the chain-budget bound, and the non-backtracking slack; the bound holds when the displacement is below it.",
                Plot.LinePlot(new LinePlotSpec
                {
                    Title = "chain budget per chain", XLabel = "chain: " + string.Join(", ", names.Select((n, i) => $"{i + 1}={n}")), YLabel = "value", YIncludeZero = true,
                    Series =
                    [
                        new("net displacement", idx, disp) { Line = false, Markers = true, Tips = names.Select((n, i) => $"{n}: net displacement {Plot.Num(disp[i])}").ToList() },
                        new("bound", idx, bound) { Line = false, Markers = true, Tips = names.Select((n, i) => $"{n}: bound {Plot.Num(bound[i])}").ToList() },
                        new("slack", idx, slack) { Line = false, Markers = true, Tips = names.Select((n, i) => $"{n}: slack {Plot.Num(slack[i])}").ToList() },
                    ],
                }));
        }

        // Per layer.
        for (int i = 0; i < a.Layers.Count; i++)
        {
            var l = a.Layers[i];
            if (l.Spectrum is not { Length: >= 2 } sigma || sigma[1] <= 0) continue;
            string sec = "layer:" + i, id = $"layer-{i + 1:000}-";
            Add(id + "esd", sec, $"ESD of {l.Name}", "Rank-ordered energies p_i = σ_i²/Σσ² on log-log axes with the fitted power-law charts p_i(α) = i^(−α)/H_d(α) and the WeightWatcher tail fit (λ ≥ xmin, density exponent α_WW, i.e. rank exponent 1/(α_WW − 1)).", EsdPlot(l, sigma));
            if (AlphaByXmin(Lambdas(l, sigma)) is { X.Length: >= 2 } ax)
                Add(id + "alpha-xmin", sec, $"α(xmin) of {l.Name}", "Continuous power-law MLE α = 1 + n/Σ ln(λ_i/xmin) of the ESD tail for every candidate xmin (fit robustness); the dashed line marks the xmin chosen by the KS criterion.",
                    Plot.LinePlot(new LinePlotSpec
                    {
                        Title = "α_WW(xmin)", XLabel = "xmin (eigenvalue λ)", YLabel = "α", XLog = true,
                        Series = [new("α(xmin)", ax.X, ax.Alpha)],
                        VLines = Dbl(l.Extra, "ww", "xmin") is double xm ? [new RefLine(xm, $"xmin, α = {Plot.Num(Dbl(l.Extra, "ww", "alpha"))}", "#d62728")] : [],
                    }));
            var (k, cum) = RankEnergy(sigma);
            var marks = new List<RefLine>();
            foreach (var kv in Pairs(Get(l.Extra, "effective_rank")))
                if (Num(kv.Value) is double r) marks.Add(new RefLine(r, $"r_{kv.Key} = {r:0}", "#d62728"));
            Add(id + "rank-energy", sec, $"Rank energy of {l.Name}", "Cumulative spectral energy Σ_{i≤k} p_i against k, with the effective ranks r_q (smallest k holding a fraction q of the energy) marked.",
                Plot.LinePlot(new LinePlotSpec { Title = "rank energy", XLabel = "k", YLabel = "Σ_{i≤k} p_i", Series = [new("cumulative energy", k, cum)], VLines = marks, YIncludeZero = true }));
        }

        // Per interface.
        for (int i = 0; i < a.Interfaces.Count; i++)
        {
            var f = a.Interfaces[i];
            string sec = "iface:" + i, id = $"iface-{i + 1:000}-";
            if (f.TransportMagnitude is { Length: > 0 } K)
            {
                int kt = (int)(Dbl(f.Extra, "k_to") ?? 0), kf = (int)(Dbl(f.Extra, "k_from") ?? 0);
                double hi = K.SelectMany(r => r).Where(double.IsFinite).DefaultIfEmpty(1).Max();
                Add(id + "transport", sec, $"Transport |K|: {f.From} → {f.To}", "|K| = |diag(s̃′) V′ᵀU diag(s̃)| on the leading singular directions (rows: right singular vectors of the reading layer, columns: left singular vectors of the writing layer), log colour scale; the box is the dominant window k_to × k_from.",
                    Plot.Heatmap(new HeatmapSpec
                    {
                        Title = "transport |K|", Values = K, LogColor = true, Hi = hi > 0 ? hi : 1, Lo = hi > 0 ? hi * 1e-4 : 1e-4,
                        XLabel = $"from: {f.From} (singular index)", YLabel = $"to: {f.To}", ValueLabel = "|K|",
                        Boxes = kt > 0 && kf > 0 ? [(0, 0, Math.Min(kt, K.Length), Math.Min(kf, K[0].Length), "#ff2d2d", $"dominant window {kt} × {kf}")] : [],
                    }));
            }
            if (Matrix(Get(f.Extra, "flag", "overlap")) is { Length: > 0 } ov)
            {
                var grid = Numbers(Get(f.Extra, "flag", "grid")).Select(g => g.ToString("0", CultureInfo.InvariantCulture)).ToList();
                Add(id + "flag-overlap", sec, $"Flag overlap: {f.From} → {f.To}", "Subspace overlap of the top-a output directions of the writing layer with the top-b input directions of the reading layer, over the flag grid (rows a, columns b).",
                    Plot.Heatmap(new HeatmapSpec { Title = "flag overlap [a][b]", Values = ov, Lo = 0, Hi = Math.Max(1e-12, ov.SelectMany(r => r).Where(double.IsFinite).DefaultIfEmpty(1).Max()), RowLabels = grid, ColLabels = grid, XLabel = "b (reading layer)", YLabel = "a (writing layer)", ValueLabel = "overlap", ShowValues = ov.Length <= 10, Size = 260 }));
            }
            var pam = Get(f.Extra, "pam");
            if ((Matrix(Get(pam, "matrix")) ?? f.PamMatrix) is { Length: > 0 } pm)
            {
                var mask = MaskOf(Get(pam, "mask") ?? f.PamMask, pm.Length, pm[0].Length);
                Add(id + "pam", sec, $"PAM: {f.From} → {f.To}", "Physical Alignment Matrix with the masks overlaid: core cells as they are, overlap cells tinted orange, noise cells dimmed.",
                    Plot.Heatmap(new HeatmapSpec { Title = "PAM with masks", Values = pm, Mask = mask, XLabel = "columns", YLabel = "row groups", ValueLabel = "PAM" }));
            }
            if (Matrix(Get(pam, "block_energy")) is { Length: > 0 } be)
                Add(id + "block-energy", sec, $"Block energy: {f.From} → {f.To}", "Energy of each (row group, column group) block of the PAM.",
                    Plot.Heatmap(new HeatmapSpec { Title = "block energy", Values = be, XLabel = "column group", YLabel = "row group", ValueLabel = "energy", ShowValues = be.Length <= 10, Lo = 0 }));
            if (Get(pam, "edges") is { } edgesObj && Items(edgesObj) is { } edgeItems)
            {
                var edges = edgeItems.Select(e => Numbers(e)).Where(e => e.Length >= 2).Select(e => ((int)e[0], (int)e[1])).ToList();
                // Nodes are row groups; hubs are columns (shared by many groups' supports), so they are counted, not drawn as nodes.
                int hubCount = Numbers(Get(pam, "hubs")).Length;
                int groups = Math.Max(edges.Select(e => Math.Max(e.Item1, e.Item2) + 1).DefaultIfEmpty(0).Max(),
                    Math.Max(Pairs(Get(pam, "srs")).Count(), Pairs(Get(f.Extra, "certificate", "labels")).Count()));
                if (groups > 0)
                    Add(id + "incidence", sec, $"Incidence graph: {f.From} → {f.To}",
                        $"Row groups as nodes, an edge where two groups' active supports share a column; {hubCount} hub column{(hubCount == 1 ? "" : "s")} (columns in the supports of many groups).",
                        Plot.Graph("incidence graph", Enumerable.Range(0, groups).Select(g => "g" + g).ToList(), edges, new HashSet<int>()));
            }
        }

        // Attention heads.
        foreach (var blk in HeadBlocks(a))
        {
            foreach (var h in blk.Records)
            {
                if (Matrix(Get(h, "overlap")) is not { Length: > 0 } m) continue;
                string kind = Str(h, "kind") ?? "?";
                var labels = Enumerable.Range(0, m.Length).Select(x => "h" + x).ToList();
                Add($"heads-b{blk.Key}-{kind}", "heads:" + blk.Key, $"Head overlap {kind}, block {blk.Key}",
                    $"Head × head subspace overlap of {kind} in block {blk.Key} ({Str(h, "layer")}); mean off-diagonal {Plot.Num(Dbl(h, "mean_overlap"))} against the random baseline {Plot.Num(Dbl(h, "baseline"))} (z = {Plot.Num(Dbl(h, "zscore"))}).",
                    Plot.Heatmap(new HeatmapSpec { Title = $"{kind} (block {blk.Key}, z = {Plot.Num(Dbl(h, "zscore"))})", Values = m, Lo = 0, Hi = 1, RowLabels = labels, ColLabels = labels, ShowValues = m.Length <= 8, ValueLabel = "overlap", Size = 220 }));
            }
        }
        var blocks = HeadBlocks(a);
        if (blocks.Count > 0)
        {
            var kinds = new[] { "Q", "K", "V", "O", "QK", "OV" }.Where(k => blocks.Any(b => b.Records.Any(r => Str(r, "kind") == k))).ToList();
            var map = blocks.Select(b => kinds.Select(k => b.Records.FirstOrDefault(r => Str(r, "kind") == k) is { } r ? Dbl(r, "mean_overlap") ?? double.NaN : double.NaN).ToArray()).ToArray();
            Add("heads-composition", "heads", "Cross-layer head-overlap map", "Mean off-diagonal head overlap per block (rows) and kind (columns): where heads share subspaces through depth.",
                Plot.Heatmap(new HeatmapSpec { Title = "mean head overlap by block and kind", Values = map, Lo = 0, RowLabels = blocks.Select(b => "block " + b.Key).ToList(), ColLabels = kinds, ShowValues = true, XLabel = "kind", YLabel = "block", ValueLabel = "mean overlap", Size = 260 }));
        }
        return list;
    }

    /// <summary>Writes every figure as <c>dir/fig-NNN-id.svg</c> (standalone SVG); returns the paths.</summary>
    public static IReadOnlyList<string> Export(IReadOnlyList<Figure> figures, string dir)
    {
        Directory.CreateDirectory(dir);
        // Figures of an earlier run into the same folder would be read as part of this report: remove our own earlier
        // outputs (fig-NNN-*.svg/.png, nothing else) first.
        var keep = new HashSet<string>(figures.Select(f => Path.GetFileNameWithoutExtension(f.FileName)), StringComparer.Ordinal);
        foreach (var old in Directory.EnumerateFiles(dir, "fig-*.*"))
        {
            var name = Path.GetFileName(old);
            // Every earlier PNG goes (the PNG step, when on, renders this run's again); SVGs this run rewrites are replaced.
            if (System.Text.RegularExpressions.Regex.IsMatch(name, @"^fig-[0-9]{3,}-[^/]*\.(svg|png)$")
                && (name.EndsWith(".png", StringComparison.Ordinal) || !keep.Contains(Path.GetFileNameWithoutExtension(name))))
                File.Delete(old);
        }
        var paths = new List<string>();
        foreach (var f in figures)
        {
            var p = Path.Combine(dir, f.FileName);
            AtomicFile.WriteText(p, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + Standalone(f.Svg) + "\n");
            paths.Add(p);
        }
        return paths;
    }

    public static IReadOnlyList<string> Export(AnalysisResult a, string dir) => Export(Build(a), dir);

    /// <summary>The inline SVG with the namespace declarations a standalone file needs.</summary>
    public static string Standalone(string svg) =>
        svg.StartsWith("<svg ", StringComparison.Ordinal) ? "<svg xmlns=\"http://www.w3.org/2000/svg\" " + svg[5..] : svg;

    // ------------------------------------------------------------------ computations (tested)

    /// <summary>
    /// |K_ij| = s̃′_i·|(V′ᵀU)_ij|·s̃_j over the singular directions both truncated SVDs hold (at most <paramref name="max"/>
    /// per side): s̃ = σ/‖σ‖ of W_ℓ (U its left vectors), s̃′ of W_{ℓ+1} (V′ its right vectors).
    /// </summary>
    public static double[][] TransportMagnitude(SvdResult from, SvdResult to, double[] sigmaFrom, double[] sigmaTo, int max = 256)
    {
        int m = from.Rows;
        if (to.Cols != m) throw new ArgumentException("the two sides do not share the interface dimension");
        int kf = Math.Min(Math.Min(from.Rank, max), sigmaFrom.Length), kt = Math.Min(Math.Min(to.Rank, max), sigmaTo.Length);
        double nf = Math.Sqrt(sigmaFrom.Sum(s => s * s)), nt = Math.Sqrt(sigmaTo.Sum(s => s * s));
        var k = new double[kt][];
        if (kt == 0 || kf == 0 || m == 0)
        {
            for (int i = 0; i < kt; i++) k[i] = new double[kf];
            return k;
        }
        // K = V_toᵀ·U_from (kt×kf) over the m interface coordinates, one dgemm on the leading columns.
        var v = Leading(to.V, m, to.Rank, kt);
        var u = Leading(from.U, m, from.Rank, kf);
        var prod = Linalg.Lapack.MatMul(v, kt, m, u, kf, transA: true);
        for (int i = 0; i < kt; i++)
        {
            k[i] = new double[kf];
            for (int j = 0; j < kf; j++)
                k[i][j] = nf > 0 && nt > 0 ? Math.Abs(prod[i * kf + j]) * sigmaTo[i] / nt * sigmaFrom[j] / nf : 0;
        }
        return k;
    }

    /// <summary>The first <paramref name="count"/> columns of a rows×cols row-major matrix, contiguous.</summary>
    private static double[] Leading(double[] a, int rows, int cols, int count)
    {
        if (count == cols) return a;
        var r = new double[rows * count];
        for (int i = 0; i < rows; i++) a.AsSpan(i * cols, count).CopyTo(r.AsSpan(i * count, count));
        return r;
    }

    /// <summary>
    /// α(xmin) = 1 + n/Σ_{λ_i ≥ xmin} ln(λ_i/xmin) for every distinct positive λ as xmin (tails of at least max(2, min(10, N/2)) values),
    /// subsampled to <see cref="MaxPoints"/>; x ascending.
    /// </summary>
    public static (double[] X, double[] Alpha) AlphaByXmin(double[] lambdas)
    {
        var l = lambdas.Where(x => double.IsFinite(x) && x > 0).OrderBy(x => x).ToArray();
        int n = l.Length;
        if (n < 3) return ([], []);
        var suffix = new double[n + 1];
        for (int i = n - 1; i >= 0; i--) suffix[i] = suffix[i + 1] + Math.Log(l[i]);
        var xs = new List<double>(); var al = new List<double>();
        int minTail = Math.Max(2, Math.Min(10, n / 2)); // the last few points of tiny tails only add noise
        for (int i = 0; i + minTail <= n; i++)
        {
            if (i > 0 && l[i] == l[i - 1]) continue;
            int cnt = n - i;
            double s = suffix[i] - cnt * Math.Log(l[i]);
            if (!(s > 0)) continue;
            xs.Add(l[i]); al.Add(1 + cnt / s);
        }
        var pick = Subsample(xs.Count, log: false);
        return ([.. pick.Select(i => xs[i])], [.. pick.Select(i => al[i])]);
    }

    /// <summary>k = 1..n against the cumulative energy Σ_{i≤k} σ_i²/Σσ² (subsampled, always keeping the ends).</summary>
    public static (double[] K, double[] Cumulative) RankEnergy(double[] sigma)
    {
        double total = sigma.Sum(s => s * s);
        var cum = new double[sigma.Length];
        double acc = 0;
        for (int i = 0; i < sigma.Length; i++) { acc += sigma[i] * sigma[i]; cum[i] = total > 0 ? acc / total : 0; }
        var pick = Subsample(sigma.Length, log: false);
        return ([.. pick.Select(i => (double)(i + 1))], [.. pick.Select(i => cum[i])]);
    }

    /// <summary>At most <see cref="MaxPoints"/> distinct indices of 0..n−1, including both ends, evenly or log-spaced.</summary>
    public static int[] Subsample(int n, bool log)
    {
        if (n <= MaxPoints) return [.. Enumerable.Range(0, n)];
        var set = new SortedSet<int> { 0, n - 1 };
        for (int j = 0; j < MaxPoints; j++)
        {
            double t = j / (MaxPoints - 1.0);
            set.Add(log ? (int)Math.Round(Math.Exp(t * Math.Log(n)) - 1) : (int)Math.Round(t * (n - 1)));
        }
        return [.. set.Where(i => i >= 0 && i < n)];
    }

    private static double[] Lambdas(LayerRecord l, double[] sigma)
    {
        double f = l.View == "tap" ? 0.5 : 1; // WeightWatcher's conv convention (see the Analyzer)
        return [.. sigma.Select(s => f * s * s)];
    }

    private static string EsdPlot(LayerRecord l, double[] sigma)
    {
        int d = Math.Max(2, Math.Min(l.Rank ?? sigma.Length, sigma.Length));
        double total = 0;
        for (int i = 0; i < d; i++) total += sigma[i] * sigma[i];
        var idx = Subsample(d, log: true);
        var xs = idx.Select(i => (double)(i + 1)).ToList();
        var series = new List<Series> { new("observed p_i", xs, idx.Select(i => sigma[i] * sigma[i] / total).ToList()) { Color = "#222", Width = 2 } };
        var orbit = new PowerLawOrbit(d);
        int c = 0;
        foreach (var chart in new[] { "mle", "hel", "top", "ols" })
        {
            c++;
            if (Dbl(l.Extra, "alpha", chart) is not double al) continue;
            series.Add(new($"{chart} α = {al:0.###}", xs, idx.Select(i => Math.Exp(orbit.LogProbability(i + 1, al))).ToList()) { Color = ColorMap.Lines[c], Dashed = chart != "mle" });
        }
        if (Dbl(l.Extra, "ww", "alpha") is double aw && aw > 1 && Dbl(l.Extra, "ww", "xmin") is double xmin && Dbl(l.Extra, "ww", "n_tail") is double nt && nt >= 2)
        {
            double lamTotal = Lambdas(l, sigma).Take(d).Sum(), b = 1 / (aw - 1);
            var ti = Subsample((int)nt, log: true).Select(i => (double)(i + 1)).ToList();
            series.Add(new($"WW tail α_WW = {aw:0.##}", ti, ti.Select(i => xmin / lamTotal * Math.Pow(i / nt, -b)).ToList()) { Color = "#d62728", Width = 2.5 });
        }
        return Plot.LinePlot(new LinePlotSpec { Title = "ESD (rank-ordered)", XLabel = "rank i", YLabel = "p_i = σ_i²/Σσ²", XLog = true, YLog = true, Series = series });
    }

    // ------------------------------------------------------------------ depth

    internal static readonly (string Key, string Label)[] DepthMetrics =
    [
        ("alpha-mle", "α (mle chart)"), ("alpha-top", "α (top chart)"), ("alpha-hel", "α (hel chart)"), ("alpha-ols", "α (ols chart)"),
        ("tau", "τ"), ("r09-over-d", "r_0.9 / d"), ("stable-rank", "stable rank"), ("alpha-ww", "α_WW (ESD tail)"),
    ];

    internal static double? Metric(LayerRecord l, string key) => key switch
    {
        "alpha-mle" => Dbl(l.Extra, "alpha", "mle"),
        "alpha-top" => Dbl(l.Extra, "alpha", "top"),
        "alpha-hel" => Dbl(l.Extra, "alpha", "hel"),
        "alpha-ols" => Dbl(l.Extra, "alpha", "ols"),
        "tau" => Dbl(l.Extra, "tau"),
        "r09-over-d" => Dbl(l.Extra, "effective_rank", "0.9") is double r && l.Rank is int d && d > 0 ? r / d : null,
        "stable-rank" => l.StableRank,
        "alpha-ww" => Dbl(l.Extra, "ww", "alpha"),
        _ => null,
    };

    internal static List<Series> DepthSeries(AnalysisResult a, string key)
    {
        var result = new List<Series>();
        var byRole = a.Layers.Select((l, i) => (l, i)).GroupBy(t => t.l.Role);
        foreach (var g in byRole)
        {
            var items = g.ToList();
            bool blocks = items.All(t => t.l.Block is not null);
            var ordered = blocks ? items.OrderBy(t => t.l.Block).ThenBy(t => t.i).ToList() : items;
            var xs = ordered.Select((t, j) => blocks ? (double)t.l.Block!.Value : j + 1).ToList();
            var ys = ordered.Select(t => Metric(t.l, key) ?? double.NaN).ToList();
            var tips = ordered.Select(t => $"{t.l.Name} ({t.l.Role}{(t.l.Block is int b ? $", block {b}" : "")}): {Plot.Num(Metric(t.l, key))}").ToList();
            result.Add(new Series(g.Key, xs, ys) { Markers = true, Tips = tips });
        }
        return result;
    }

    internal sealed record HeadBlock(string Key, List<IReadOnlyDictionary<string, object?>> Records);

    internal static List<HeadBlock> HeadBlocks(AnalysisResult a) =>
        a.Heads.GroupBy(h => Dbl(h, "block") is double b ? b.ToString("0", CultureInfo.InvariantCulture) : Str(h, "layer") ?? "?")
            .Select(g => new HeadBlock(g.Key, [.. g])).ToList();

    // ------------------------------------------------------------------ reading nested values

    /// <summary>Walks nested dictionaries (or key/value lists) by key.</summary>
    public static object? Get(object? root, params string[] path)
    {
        object? cur = root;
        foreach (var key in path)
        {
            if (cur is null) return null;
            object? next = null;
            bool found = false;
            foreach (var kv in Pairs(cur))
                if (kv.Key == key) { next = kv.Value; found = true; break; }
            if (!found) return null;
            cur = next;
        }
        return cur;
    }

    public static IEnumerable<KeyValuePair<string, object?>> Pairs(object? o) => o switch
    {
        IEnumerable<KeyValuePair<string, object?>> d => d,
        IEnumerable<KeyValuePair<string, string>> d => d.Select(kv => new KeyValuePair<string, object?>(kv.Key, kv.Value)),
        IEnumerable<KeyValuePair<string, double>> d => d.Select(kv => new KeyValuePair<string, object?>(kv.Key, kv.Value)),
        IEnumerable<KeyValuePair<string, int>> d => d.Select(kv => new KeyValuePair<string, object?>(kv.Key, kv.Value)),
        IEnumerable e and not string => e.Cast<object?>().Where(x => x is not null && x.GetType().IsGenericType && x.GetType().GetGenericTypeDefinition() == typeof(KeyValuePair<,>))
            .Select(x => new KeyValuePair<string, object?>(x!.GetType().GetProperty("Key")!.GetValue(x)?.ToString() ?? "", x.GetType().GetProperty("Value")!.GetValue(x))),
        _ => [],
    };

    public static double? Num(object? v) => v switch
    {
        double d => double.IsFinite(d) ? d : null,
        float f => float.IsFinite(f) ? f : null,
        int i => i,
        long l => l,
        short s => s,
        byte b => b,
        _ => null,
    };

    public static double? Dbl(object? root, params string[] path) => Num(Get(root, path));
    public static string? Str(object? root, params string[] path) => Get(root, path) switch { null => null, string s => s, bool b => b ? "true" : "false", var x => Num(x) is double d ? d.ToString("R", CultureInfo.InvariantCulture) : x.ToString() };

    private static IEnumerable<object?>? Items(object? o) => o is IEnumerable e and not string && Pairs(o).FirstOrDefault().Key is null ? e.Cast<object?>() : null;

    public static double[] Numbers(object? o) => Items(o)?.Select(x => Num(x) ?? double.NaN).ToArray() ?? [];

    /// <summary>A rectangular matrix from nested sequences (double[,], double[][], int[][], lists); null when not one.</summary>
    public static double[][]? Matrix(object? o)
    {
        if (o is double[,] m2)
            return [.. Enumerable.Range(0, m2.GetLength(0)).Select(i => Enumerable.Range(0, m2.GetLength(1)).Select(j => m2[i, j]).ToArray())];
        if (Items(o) is not { } rows) return null;
        var list = rows.Select(r => Items(r)?.Select(x => Num(x) ?? double.NaN).ToArray()).ToList();
        if (list.Count == 0 || list.Any(r => r is null || r.Length == 0)) return null;
        return [.. list!];
    }

    private static byte[][]? MaskOf(object? o, int rows, int cols)
    {
        if (Items(o) is not { } rs) return null;
        var m = rs.Select(r => (Items(r) ?? []).Select(x => x switch
        {
            string s => s switch { "overlap" => (byte)1, "noise" => (byte)2, _ => (byte)0 },
            _ => Num(x) switch { 1 => (byte)1, 2 => (byte)2, _ => (byte)0 },
        }).ToArray()).ToArray();
        return m.Length == rows && m.All(r => r.Length == cols) ? m : null;
    }

    internal static string Slug(string s) => SlugRe().Replace(s.ToLowerInvariant(), "-").Trim('-');

    [GeneratedRegex("[^a-z0-9]+")]
    private static partial Regex SlugRe();
}

// Ridge dynamics of layer alignment (methods.md §3, E1): deep linear and ReLU MLPs trained by full-batch gradient descent
// with coupled weight decay λ; the interface imbalance D = W_{ℓ+1}ᵀW_{ℓ+1} − W_ℓW_ℓᵀ should shrink by (1 − ηλ)² per step
// (linear nets), only its diagonal should for ReLU nets, and the commutator κ should vanish for linear nets only.
//
//   Dynamics train --out DIR --act identity|relu --lambda L [--eta 0.1] [--steps 5000] [--every 250] [--log-every 25] [--seed 1]
//   Dynamics report RUNS_DIR OUT_DIR
using System.Globalization;
using System.Text;
using System.Text.Json;
using Cartan.Report;
using Cartan.Report.Svg;
using Cartan.Torch;
using TorchSharp;
using static TorchSharp.torch;

var ci = CultureInfo.InvariantCulture;
if (args.Length == 0) { Console.Error.WriteLine("usage: Dynamics train ... | Dynamics report RUNS OUT"); return 2; }
return args[0] switch
{
    "train" => Trainer.Run(Opts.Parse(args[1..])),
    "report" => Reporter.Run(args[1], args[2]),
    _ => 2,
};

sealed class Opts
{
    public string Out = "run";
    public string Act = "identity";
    public double Lambda, Eta = 0.1;
    public int Steps = 5000, Every = 250, LogEvery = 25, Seed = 1;
    public int[] Sizes = [32, 48, 48, 48, 16];

    public static Opts Parse(string[] a)
    {
        var o = new Opts();
        for (int i = 0; i + 1 < a.Length; i += 2)
        {
            string v = a[i + 1];
            switch (a[i])
            {
                case "--out": o.Out = v; break;
                case "--act": o.Act = v; break;
                case "--lambda": o.Lambda = double.Parse(v, CultureInfo.InvariantCulture); break;
                case "--eta": o.Eta = double.Parse(v, CultureInfo.InvariantCulture); break;
                case "--steps": o.Steps = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--every": o.Every = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--log-every": o.LogEvery = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--seed": o.Seed = int.Parse(v, CultureInfo.InvariantCulture); break;
                default: throw new ArgumentException($"unknown option {a[i]}");
            }
        }
        return o;
    }
}

static class Trainer
{
    /// <summary>Initial scale of each layer (× 1/√fan_in): deliberately unbalanced, so that β starts large.</summary>
    static readonly double[] Scales = [1.6, 0.6, 1.3, 0.8, 1.0, 1.0];

    public static int Run(Opts o)
    {
        var ci = CultureInfo.InvariantCulture;
        torch.set_num_threads(1);
        Directory.CreateDirectory(o.Out);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        int din = o.Sizes[0], dout = o.Sizes[^1], n = 512, hidden = 64;
        // Data and teacher depend on the seed only (not on λ or the activation): a random two-layer ReLU teacher.
        using var gdata = new Generator((ulong)(1000 + o.Seed));
        var X = randn([n, din], ScalarType.Float64, generator: gdata);
        var T1 = randn([hidden, din], ScalarType.Float64, generator: gdata) / Math.Sqrt(din);
        var T2 = randn([dout, hidden], ScalarType.Float64, generator: gdata) / Math.Sqrt(hidden);
        var Y = nn.functional.relu(X.mm(T1.t())).mm(T2.t());

        var cfg = HfConfig.Parse($"{{\"model_type\": \"mlp\", \"layer_sizes\": [{string.Join(", ", o.Sizes)}], \"hidden_act\": \"{o.Act}\"," +
            $" \"cartan_experiment\": \"alignment-dynamics\", \"weight_decay\": {o.Lambda.ToString("R", ci)}, \"learning_rate\": {o.Eta.ToString("R", ci)}, \"seed\": {o.Seed}}}");
        using var model = new MlpModel(cfg, ScalarType.Float64);
        var W = model.Weights.Where(w => w.Name.EndsWith(".weight", StringComparison.Ordinal)).Select(w => w.Param).ToList();
        using (no_grad())
        {
            using var ginit = new Generator((ulong)o.Seed);
            foreach (var (name, p) in model.Weights) p.zero_();
            for (int i = 0; i < W.Count; i++) W[i].normal_(0, Scales[i] / Math.Sqrt(W[i].shape[1]), ginit);
        }
        // Biases stay zero and are never updated: the conservation law is about the weight matrices alone.
        int L = W.Count;
        var log = new StringBuilder("step,loss");
        for (int l = 0; l + 1 < L; l++) log.Append($",D{l},beta{l},betadiag{l},Ddiag{l},kappa{l}");
        log.AppendLine();
        for (int step = 0; ; step++)
        {
            using var scope = NewDisposeScope();
            if (step % o.Every == 0) HfModels.Save(model, Path.Combine(o.Out, $"step-{step:000000}"));
            Tensor loss = 0.5 * (model.forward(X) - Y).pow(2).sum(1).mean();
            if (step % o.LogEvery == 0 || step == o.Steps)
            {
                using var _ = no_grad();
                log.Append(step.ToString(ci)).Append(',').Append(loss.item<double>().ToString("R", ci));
                for (int l = 0; l + 1 < L; l++)
                {
                    var A = W[l].mm(W[l].t());
                    var B = W[l + 1].t().mm(W[l + 1]);
                    var D = B - A;
                    double na = A.norm().item<double>(), nb = B.norm().item<double>(), nd = D.norm().item<double>();
                    var da = A.diagonal(); var db = B.diagonal();
                    double nda = da.norm().item<double>(), ndb = db.norm().item<double>(), ndd = (db - da).norm().item<double>();
                    double kappa = (A.mm(B) - B.mm(A)).norm().item<double>() / (Math.Sqrt(2) * na * nb);
                    log.Append(',').Append(nd.ToString("R", ci)).Append(',').Append((nd / (na + nb)).ToString("R", ci))
                       .Append(',').Append((ndd / (nda + ndb)).ToString("R", ci)).Append(',').Append(ndd.ToString("R", ci)).Append(',').Append(kappa.ToString("R", ci));
                }
                log.AppendLine();
            }
            if (step == o.Steps) break;
            loss.backward();
            using (no_grad())
            {
                foreach (var w in W)
                {
                    w.sub_((w.grad! + o.Lambda * w) * o.Eta);
                    w.grad!.zero_();
                }
                foreach (var (name, p) in model.Weights) p.grad?.zero_();
            }
        }
        File.WriteAllText(Path.Combine(o.Out, "log.csv"), log.ToString());
        File.WriteAllText(Path.Combine(o.Out, "meta.json"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["act"] = o.Act, ["lambda"] = o.Lambda, ["eta"] = o.Eta, ["steps"] = o.Steps, ["every"] = o.Every, ["seed"] = o.Seed,
            ["sizes"] = o.Sizes, ["samples"] = n, ["seconds"] = sw.Elapsed.TotalSeconds,
        }) + "\n");
        Console.WriteLine($"{o.Out}: {o.Act} λ={o.Lambda} seed {o.Seed}: {o.Steps} steps in {sw.Elapsed.TotalSeconds:F1} s");
        return 0;
    }
}

static class Reporter
{
    sealed record RunData(string Dir, string Act, double Lambda, double Eta, int Steps, int Seed, double Seconds,
        List<double> Step, Dictionary<string, List<double>> Cols, JsonElement? Track);

    static RunData Read(string dir)
    {
        using var meta = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "meta.json")));
        var m = meta.RootElement;
        var lines = File.ReadAllLines(Path.Combine(dir, "log.csv"));
        var head = lines[0].Split(',');
        var cols = head.ToDictionary(h => h, _ => new List<double>());
        foreach (var line in lines.Skip(1))
        {
            var f = line.Split(',');
            for (int i = 0; i < head.Length; i++) cols[head[i]].Add(double.Parse(f[i], CultureInfo.InvariantCulture));
        }
        JsonElement? track = null;
        var tj = Path.Combine(dir, "track", "track.json");
        if (File.Exists(tj)) track = JsonDocument.Parse(File.ReadAllText(tj)).RootElement.Clone();
        return new RunData(dir, m.GetProperty("act").GetString()!, m.GetProperty("lambda").GetDouble(), m.GetProperty("eta").GetDouble(),
            m.GetProperty("steps").GetInt32(), m.GetProperty("seed").GetInt32(), m.GetProperty("seconds").GetDouble(), cols["step"], cols, track);
    }

    /// <summary>OLS slope and R² of ln y on x over the points with x ≥ x0 and y above a floor (1e-12 of the largest y).</summary>
    static (double Slope, double R2, int N) Fit(IReadOnlyList<double> x, IReadOnlyList<double> y, double x0, double x1 = double.PositiveInfinity)
    {
        double floor = y.Max() * 1e-12;
        var pts = Enumerable.Range(0, x.Count).Where(i => x[i] >= x0 && x[i] <= x1 && y[i] > floor && double.IsFinite(y[i])).Select(i => (x[i], Math.Log(y[i]))).ToList();
        if (pts.Count < 3) return (double.NaN, double.NaN, pts.Count);
        double mx = pts.Average(p => p.Item1), my = pts.Average(p => p.Item2), sxx = 0, sxy = 0, syy = 0;
        foreach (var (a, b) in pts) { sxx += (a - mx) * (a - mx); sxy += (a - mx) * (b - my); syy += (b - my) * (b - my); }
        double slope = sxy / sxx;
        return (slope, syy > 0 ? sxy * sxy / (sxx * syy) : 1, pts.Count);
    }

    static string G(double v, string f = "G3") => double.IsFinite(v) ? v.ToString(f, CultureInfo.InvariantCulture) : "–";

    static (double Mean, double Sd) MeanSd(IEnumerable<double> xs)
    {
        var l = xs.Where(double.IsFinite).ToList();
        if (l.Count == 0) return (double.NaN, double.NaN);
        double m = l.Average();
        return (m, l.Count > 1 ? Math.Sqrt(l.Sum(x => (x - m) * (x - m)) / (l.Count - 1)) : 0);
    }

    static string Pm((double Mean, double Sd) v, string f = "G3") => double.IsFinite(v.Mean) ? $"{G(v.Mean, f)} ± {G(v.Sd, "G2")}" : "–";

    /// <summary>Series of one interface from a run's track.json: (steps, values) of interfaces[k].path.</summary>
    static (List<double> X, List<double> Y) TrackSeries(JsonElement track, int k, params string[] path)
    {
        var xs = track.GetProperty("checkpoints").EnumerateArray().Select(c => c.GetProperty("step").GetDouble()).ToList();
        var e = track.GetProperty("interfaces")[k];
        foreach (var p in path) e = e.GetProperty(p);
        var ys = e.EnumerateArray().Select(v => v.ValueKind == JsonValueKind.Number ? v.GetDouble() : double.NaN).ToList();
        return (xs, ys);
    }

    public static int Run(string runsDir, string outDir)
    {
        var ci = CultureInfo.InvariantCulture;
        Directory.CreateDirectory(Path.Combine(outDir, "figures"));
        var runs = Directory.GetDirectories(runsDir).Where(d => File.Exists(Path.Combine(d, "log.csv"))).OrderBy(d => d, StringComparer.Ordinal).Select(Read).ToList();
        int L = runs[0].Cols.Keys.Count(k => k.StartsWith("kappa", StringComparison.Ordinal));
        var md = new StringBuilder();
        var lambdas = runs.Select(r => r.Lambda).Distinct().Order().ToList();
        var acts = runs.Select(r => r.Act).Distinct().ToList();
        var seeds = runs.Select(r => r.Seed).Distinct().Order().ToList();
        double eta = runs[0].Eta; int steps = runs[0].Steps;
        md.AppendLine($"Runs: {runs.Count} ({string.Join(", ", acts)} × λ ∈ {{{string.Join(", ", lambdas.Select(l => G(l)))}}} × seeds {{{string.Join(", ", seeds)}}}); η = {G(eta)}, {steps} full-batch GD steps, layer sizes {string.Join("-", JsonDocument.Parse(File.ReadAllText(Path.Combine(runs[0].Dir, "meta.json"))).RootElement.GetProperty("sizes").EnumerateArray().Select(x => x.GetInt32()))}, {L} interfaces. Training time per run: {G(runs.Average(r => r.Seconds), "F1")} s on average (machine shared with other jobs).");
        md.AppendLine();
        md.AppendLine($"Fits: least-squares slope of ln y against the step over steps ≥ {steps / 10} (after warm-up), per interface; the rate is −slope. Predicted per-step rate r_pred = −2 ln(1 − ηλ) ≈ 2ηλ. Mean ± standard deviation over interfaces × seeds.");
        md.AppendLine();
        md.AppendLine($"| net | λ | r_pred = 2ηλ | rate of ‖D‖_F | rate / r_pred | R² | rate of ‖diag D‖ | rate / r_pred | (rate − rate at λ=0) / r_pred, ‖D‖ | same, ‖diag D‖ | ‖diag D‖ rate / r_pred, steps {steps / 10}–{2 * steps / 5} | rate of β (track.json) | β first → last (track) | κ first → last (track) | final loss |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        // The λ = 0 control of the same net, seed and interface: the drift that the discrete steps alone cause.
        var control = new Dictionary<(string, int, int), (double D, double Diag)>();
        foreach (var r in runs.Where(r => r.Lambda == 0))
            for (int l = 0; l < L; l++)
                control[(r.Act, r.Seed, l)] = (-Fit(r.Step, r.Cols[$"D{l}"], steps / 10.0).Slope, -Fit(r.Step, r.Cols[$"Ddiag{l}"], steps / 10.0).Slope);
        var summary = new List<(string Act, double Lambda, double RD, double RDiag, double RBeta, double KLast)>();
        foreach (var act in acts)
            foreach (var lam in lambdas)
            {
                var rs = runs.Where(r => r.Act == act && r.Lambda == lam).ToList();
                double rpred = -2 * Math.Log(1 - eta * lam);
                var rateD = new List<double>(); var r2 = new List<double>(); var rateDiag = new List<double>(); var rateBeta = new List<double>();
                var excessD = new List<double>(); var excessDiag = new List<double>(); var earlyDiag = new List<double>();
                var bFirst = new List<double>(); var bLast = new List<double>(); var kFirst = new List<double>(); var kLast = new List<double>();
                foreach (var r in rs)
                    for (int l = 0; l < L; l++)
                    {
                        var fd = Fit(r.Step, r.Cols[$"D{l}"], steps / 10.0);
                        rateD.Add(-fd.Slope); r2.Add(fd.R2);
                        rateDiag.Add(-Fit(r.Step, r.Cols[$"Ddiag{l}"], steps / 10.0).Slope);
                        earlyDiag.Add(-Fit(r.Step, r.Cols[$"Ddiag{l}"], steps / 10.0, 2 * steps / 5.0).Slope);
                        if (control.TryGetValue((r.Act, r.Seed, l), out var c0)) { excessD.Add(rateD[^1] - c0.D); excessDiag.Add(rateDiag[^1] - c0.Diag); }
                        if (r.Track is JsonElement t)
                        {
                            var (bx, by) = TrackSeries(t, l, "imbalance", "beta");
                            rateBeta.Add(-Fit(bx, by, steps / 10.0).Slope);
                            bFirst.Add(by[0]); bLast.Add(by[^1]);
                            var (_, ky) = TrackSeries(t, l, "commutator");
                            kFirst.Add(ky[0]); kLast.Add(ky[^1]);
                        }
                    }
                double loss = rs.Average(r => r.Cols["loss"][^1]);
                string ratio(List<double> x) => lam > 0 ? Pm(MeanSd(x.Select(v => v / rpred))) : "–";
                md.AppendLine($"| {act} | {G(lam)} | {G(rpred)} | {Pm(MeanSd(rateD))} | {ratio(rateD)} | {Pm(MeanSd(r2), "F3")} | {Pm(MeanSd(rateDiag))} | {ratio(rateDiag)} | {ratio(excessD)} | {ratio(excessDiag)} | {ratio(earlyDiag)} | {Pm(MeanSd(rateBeta))} | {G(MeanSd(bFirst).Mean)} → {G(MeanSd(bLast).Mean)} | {G(MeanSd(kFirst).Mean)} → {G(MeanSd(kLast).Mean)} | {G(loss)} |");
                summary.Add((act, lam, MeanSd(rateD).Mean, MeanSd(rateDiag).Mean, MeanSd(rateBeta).Mean, MeanSd(kLast).Mean));
            }
        md.AppendLine();

        // Figures: β, β_diag and κ against the step (seed = first seed, interface 1), one line per λ, one panel per net.
        var figs = new List<(string File, string Title)>();
        foreach (var (col, label) in new[] { ("beta", "imbalance β"), ("betadiag", "diagonal imbalance β_diag"), ("kappa", "commutator κ"), ("D", "‖D‖_F") })
            foreach (var act in acts)
            {
                var series = new List<Series>();
                foreach (var lam in lambdas)
                {
                    var r = runs.First(x => x.Act == act && x.Lambda == lam && x.Seed == seeds[0]);
                    var y = r.Cols[$"{col}1"];
                    var keep = Enumerable.Range(0, y.Count).Where(i => y[i] > 0).ToList();
                    series.Add(new Series($"λ = {G(lam)}", keep.Select(i => r.Step[i]).ToList(), keep.Select(i => y[i]).ToList()));
                    if (col == "D" && lam > 0)
                    {
                        // The prediction: ‖D‖ at the end of warm-up, then e^{−r_pred·t}.
                        int i0 = r.Step.FindIndex(s => s >= steps / 10.0);
                        double rpred = -2 * Math.Log(1 - eta * lam);
                        var xs = r.Step.Where(s => s >= r.Step[i0]).ToList();
                        series.Add(new Series("", xs, xs.Select(s => y[i0] * Math.Exp(-rpred * (s - r.Step[i0]))).ToList()) { Dashed = true, Color = "#555", Width = 1 });
                    }
                }
                string file = $"{col}-{act}.svg";
                string title = $"{label}, {(act == "identity" ? "deep linear" : act)} MLP (interface 1, seed {seeds[0]})";
                var svg = Plot.LinePlot(new LinePlotSpec { Title = title, XLabel = "step", YLabel = label, YLog = true, Series = series, Width = 460, Height = 300 });
                File.WriteAllText(Path.Combine(outDir, "figures", file), "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + Figures.Standalone(svg) + "\n");
                figs.Add((file, title + (col == "D" ? "; dashed: predicted decay e^{−2ηλt}" : "")));
            }
        {
            // κ → 0 for the linear net only: every interface, λ = 0 (dashed) and the largest λ, both nets.
            var series = new List<Series>();
            double lmax = lambdas.Max();
            foreach (var act in acts)
                foreach (var lam in new[] { 0.0, lmax })
                    for (int l = 0; l < L; l++)
                    {
                        var r = runs.First(x => x.Act == act && x.Lambda == lam && x.Seed == seeds[0]);
                        var y = r.Cols[$"kappa{l}"];
                        var keep = Enumerable.Range(0, y.Count).Where(i => y[i] > 0).ToList();
                        series.Add(new Series(l == 0 ? $"{(act == "identity" ? "linear" : act)}, λ = {G(lam)}" : "", keep.Select(i => r.Step[i]).ToList(), keep.Select(i => y[i]).ToList())
                        { Color = act == "identity" ? "#1f77b4" : "#d62728", Dashed = lam == 0 });
                    }
            string title = $"commutator κ, every interface: linear (blue) vs ReLU (red), λ = 0 (dashed) and λ = {G(lmax)} (seed {seeds[0]})";
            var svg = Plot.LinePlot(new LinePlotSpec { Title = "κ: linear vs ReLU", XLabel = "step", YLabel = "commutator κ", YLog = true, Series = series, Width = 460, Height = 300 });
            File.WriteAllText(Path.Combine(outDir, "figures", "kappa-linear-vs-relu.svg"), "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + Figures.Standalone(svg) + "\n");
            figs.Insert(0, ("kappa-linear-vs-relu.svg", title));
        }
        foreach (var (file, title) in figs) md.AppendLine($"![{title}](figures/{file})");
        md.AppendLine();
        File.WriteAllText(Path.Combine(outDir, "results.md"), md.ToString());
        Console.Write(md.ToString());
        return 0;
    }
}

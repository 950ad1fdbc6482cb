using System.Text.Json;
using System.Text.RegularExpressions;
using Cartan.Cli;
using Cartan.Engine;
using Cartan.Formats;
using Cartan.Report;
using Cartan.Tensors;

namespace Cartan.Tests.Tracking;

/// <summary>
/// <c>cartan track DIR</c>: ordering, agreement with single analyses, the imbalance of a constructed series against its
/// closed form, the sign of the β trend on checkpoints of the ridge-dynamics experiment, bad input, and the page.
/// </summary>
public sealed class TrackTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Cartan.Cli.Cli.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    // ------------------------------------------------------------------ a constructed series with known imbalance

    private const int M = 12;
    private const double D0 = 0.6, Rho = 0.5;

    /// <summary>Householder reflection I − 2vvᵀ/vᵀv (orthogonal), row-major.</summary>
    private static double[] Householder(int seed)
    {
        var rng = new Random(seed);
        var v = Enumerable.Range(0, M).Select(_ => rng.NextDouble() - 0.5).ToArray();
        double vv = v.Sum(x => x * x);
        var h = new double[M * M];
        for (int i = 0; i < M; i++)
            for (int j = 0; j < M; j++) h[i * M + j] = (i == j ? 1 : 0) - 2 * v[i] * v[j] / vv;
        return h;
    }

    /// <summary>P·diag(d)·Qᵀ for square M×M P, Q.</summary>
    private static double[] PDQt(double[] p, double[] d, double[] q)
    {
        var r = new double[M * M];
        for (int i = 0; i < M; i++)
            for (int j = 0; j < M; j++)
            {
                double s = 0;
                for (int k = 0; k < M; k++) s += p[i * M + k] * d[k] * q[j * M + k];
                r[i * M + j] = s;
            }
        return r;
    }

    private static readonly double[] S = [.. Enumerable.Range(0, M).Select(i => Math.Pow(2, -i / 2.0))];

    /// <summary>
    /// Checkpoint t: W0 = U diag(√(s(1+dρᵗ))) V0ᵀ, W1 = U1 diag(√(s(1−dρᵗ))) Uᵀ, W2 = U2 diag(√s) U1ᵀ. Interface W0→W1 has
    /// A = U diag(s(1+dρᵗ)) Uᵀ, B = U diag(s(1−dρᵗ)) Uᵀ, so β₀ = ‖2dρᵗs‖/((1+dρᵗ)‖s‖+(1−dρᵗ)‖s‖) = dρᵗ; interface W1→W2
    /// has A = U1 diag(s(1−dρᵗ)) U1ᵀ, B = U1 diag(s) U1ᵀ, so β₁ = dρᵗ/(2 − dρᵗ). Both pairs share eigenbases: κ = 0.
    /// </summary>
    private static List<(string, long[], double[])> Checkpoint(int t)
    {
        double e = D0 * Math.Pow(Rho, t);
        var (u, v0, u1, u2) = (Householder(1), Householder(2), Householder(3), Householder(4));
        var w0 = PDQt(u, [.. S.Select(s => Math.Sqrt(s * (1 + e)))], v0);
        var w1 = PDQt(u1, [.. S.Select(s => Math.Sqrt(s * (1 - e)))], u);
        var w2 = PDQt(u2, [.. S.Select(Math.Sqrt)], u1);
        return [("layers.0.weight", [M, M], w0), ("layers.1.weight", [M, M], w1), ("layers.2.weight", [M, M], w2)];
    }

    private static double Beta0(int t) => D0 * Math.Pow(Rho, t);
    private static double Beta1(int t) => D0 * Math.Pow(Rho, t) / (2 - D0 * Math.Pow(Rho, t));

    private static void WriteFile(string path, int t) => SafetensorsWriter.Write(path, Checkpoint(t), DType.F64, new Dictionary<string, string>());

    private static void WriteFolder(string dir, int t)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), "{\"model_type\": \"mlp\", \"layer_sizes\": [12, 12, 12, 12], \"hidden_act\": \"identity\"}\n");
        WriteFile(Path.Combine(dir, "model.safetensors"), t);
    }

    /// <summary>ckpt-9 (file, t=0), ckpt-10 (folder, t=1), ckpt-100 (file, t=2), ckpt-1000 (folder, t=3), final/ (folder, t=4, no step), notes.txt.</summary>
    private static string Series()
    {
        var dir = TestPaths.NewTempDir();
        WriteFile(Path.Combine(dir, "ckpt-9.safetensors"), 0);
        WriteFolder(Path.Combine(dir, "ckpt-10"), 1);
        WriteFile(Path.Combine(dir, "ckpt-100.safetensors"), 2);
        WriteFolder(Path.Combine(dir, "ckpt-1000"), 3);
        WriteFolder(Path.Combine(dir, "final"), 4);
        File.WriteAllText(Path.Combine(dir, "notes.txt"), "not a checkpoint\n");
        return dir;
    }

    private static double[] Numbers(JsonElement e) => [.. e.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Number ? x.GetDouble() : double.NaN)];

    [Fact]
    public void Step_numbers_are_the_last_run_of_digits_of_the_name()
    {
        Assert.Equal(100, Track.StepOf("step-000100"));
        Assert.Equal(100, Track.StepOf("checkpoint-100"));
        Assert.Equal(3, Track.StepOf("epoch_3"));
        Assert.Equal(200, Track.StepOf("epoch_3_step_200"));
        Assert.Equal(12, Track.StepOf("model.12"));
        Assert.Equal(0, Track.StepOf("ckpt-000"));
        Assert.Null(Track.StepOf("final"));
        Assert.Null(Track.StepOf("x" + new string('9', 19)));
    }

    [Fact]
    public void Series_is_ordered_by_step_equals_single_analyses_and_beta_follows_the_construction()
    {
        var dir = Series();
        var outDir = Path.Combine(dir, "out");
        var (code, stdout, stderr) = Run("track", dir, "--out", outDir, "--quiet", "--threads", "1");
        Assert.True(code == ExitCodes.Ok, stderr);
        Assert.Contains("tracked 4 checkpoints", stdout);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "track.json")));
        var root = doc.RootElement;
        Assert.Equal("cartan.track/1", root.GetProperty("schema").GetString());
        Assert.Equal("step", root.GetProperty("order").GetString());
        Assert.Equal("step", root.GetProperty("axis").GetString());
        var cps = root.GetProperty("checkpoints").EnumerateArray().ToList();
        Assert.Equal(["ckpt-9.safetensors", "ckpt-10", "ckpt-100.safetensors", "ckpt-1000"], cps.Select(c => c.GetProperty("name").GetString()));
        Assert.Equal([9L, 10, 100, 1000], cps.Select(c => c.GetProperty("step").GetInt64()));
        var skipped = root.GetProperty("skipped").EnumerateArray().Select(s => s.GetProperty("name").GetString()).ToList();
        Assert.Contains("final", skipped);
        Assert.Contains("notes.txt", skipped);
        Assert.True(File.Exists(Path.Combine(outDir, "track.html")));
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(outDir, "figures"), "*.svg"));

        // Closed form: β₀ = dρᵗ, β₁ = dρᵗ/(2 − dρᵗ), κ = 0 (shared eigenbases).
        var ifs = root.GetProperty("interfaces").EnumerateArray().ToList();
        Assert.Equal(2, ifs.Count);
        Assert.Equal("layers.0.weight", ifs[0].GetProperty("from").GetString());
        var b0 = Numbers(ifs[0].GetProperty("imbalance").GetProperty("beta"));
        var b1 = Numbers(ifs[1].GetProperty("imbalance").GetProperty("beta"));
        for (int t = 0; t < 4; t++)
        {
            Assert.Equal(Beta0(t), b0[t], 1e-9);
            Assert.Equal(Beta1(t), b1[t], 1e-9);
            foreach (var f in ifs) Assert.True(Numbers(f.GetProperty("commutator"))[t] < 1e-9);
        }
        // The trend: β₀ falls by ρ per checkpoint, so the ratio is ρ³ and the slope of ln β is negative.
        Assert.Equal(Math.Pow(Rho, 3), ifs[0].GetProperty("trend").GetProperty("beta_ratio").GetDouble(), 1e-9);
        foreach (var f in ifs) Assert.True(f.GetProperty("trend").GetProperty("beta_log_slope").GetDouble() < 0);
        // The slope against the step: OLS of ln β₀ = ln d + t ln ρ on x = 9, 10, 100, 1000.
        double[] xs = [9, 10, 100, 1000];
        double[] ys = [.. Enumerable.Range(0, 4).Select(t => Math.Log(Beta0(t)))];
        double mx = xs.Average(), my = ys.Average();
        double slope = xs.Zip(ys).Sum(p => (p.First - mx) * (p.Second - my)) / xs.Sum(x => (x - mx) * (x - mx));
        Assert.Equal(slope, ifs[0].GetProperty("trend").GetProperty("beta_log_slope").GetDouble(), 1e-9);

        // Every number equals a single `cartan analyze` of that checkpoint.
        var layers = root.GetProperty("layers").EnumerateArray().ToList();
        Assert.Equal(3, layers.Count);
        for (int t = 0; t < cps.Count; t++)
        {
            var json = Path.Combine(TestPaths.NewTempDir(), "a.json");
            var (c, _, err) = Run("analyze", cps[t].GetProperty("path").GetString()!, "--json", json, "--quiet", "--threads", "1");
            Assert.True(c == ExitCodes.Ok, err);
            using var single = JsonDocument.Parse(File.ReadAllBytes(json));
            var sl = single.RootElement.GetProperty("layers").EnumerateArray().ToList();
            for (int i = 0; i < layers.Count; i++)
            {
                Assert.Equal(sl[i].GetProperty("name").GetString(), layers[i].GetProperty("name").GetString());
                Assert.Equal(sl[i].GetProperty("tau").GetDouble(), layers[i].GetProperty("tau")[t].GetDouble());
                Assert.Equal(sl[i].GetProperty("alpha").GetProperty("mle").GetDouble(), layers[i].GetProperty("alpha").GetProperty("mle")[t].GetDouble());
                Assert.Equal(sl[i].GetProperty("alpha").GetProperty("top").GetDouble(), layers[i].GetProperty("alpha").GetProperty("top")[t].GetDouble());
                Assert.Equal(sl[i].GetProperty("stable_rank").GetDouble(), layers[i].GetProperty("stable_rank")[t].GetDouble());
                Assert.Equal(sl[i].GetProperty("effective_rank").GetProperty("0.9").GetDouble(), layers[i].GetProperty("effective_rank").GetProperty("0.9")[t].GetDouble());
                Assert.Equal(sl[i].GetProperty("sigma")[0].GetDouble(), layers[i].GetProperty("sigma_max")[t].GetDouble());
            }
            var si = single.RootElement.GetProperty("interfaces").EnumerateArray().ToList();
            Assert.Equal(ifs.Count, si.Count);
            for (int i = 0; i < ifs.Count; i++)
            {
                Assert.Equal(si[i].GetProperty("imbalance").GetProperty("beta").GetDouble(), ifs[i].GetProperty("imbalance").GetProperty("beta")[t].GetDouble());
                Assert.Equal(si[i].GetProperty("imbalance").GetProperty("beta_diag").GetDouble(), ifs[i].GetProperty("imbalance").GetProperty("beta_diag")[t].GetDouble());
                Assert.Equal(si[i].GetProperty("commutator").GetDouble(), ifs[i].GetProperty("commutator")[t].GetDouble());
                Assert.Equal(si[i].GetProperty("certificate").GetProperty("pass").GetBoolean(), ifs[i].GetProperty("certificate").GetProperty("pass")[t].GetBoolean());
                Assert.Equal(si[i].GetProperty("certificate").GetProperty("radius").GetDouble(), ifs[i].GetProperty("certificate").GetProperty("radius")[t].GetDouble());
            }
        }
        // The analysis path never loads TorchSharp.
        Assert.DoesNotContain(AppDomain.CurrentDomain.GetAssemblies(), a => a.GetName().Name!.StartsWith("TorchSharp", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void Order_name_takes_every_entry_in_name_order_on_the_index_axis()
    {
        var dir = Series();
        var json = Path.Combine(TestPaths.NewTempDir(), "t.json");
        var (code, _, stderr) = Run("track", dir, "--order", "name", "--json", json, "--quiet", "--spectra-only");
        Assert.True(code == ExitCodes.Ok, stderr);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(json));
        Assert.Equal(["ckpt-10", "ckpt-100.safetensors", "ckpt-1000", "ckpt-9.safetensors", "final"],
            doc.RootElement.GetProperty("checkpoints").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
        Assert.Equal("index", doc.RootElement.GetProperty("axis").GetString());
        Assert.Empty(doc.RootElement.GetProperty("interfaces").EnumerateArray());
        Assert.Equal(3, doc.RootElement.GetProperty("layers").GetArrayLength());
    }

    [Fact]
    public void Order_mtime_follows_modification_times()
    {
        var dir = TestPaths.NewTempDir();
        WriteFile(Path.Combine(dir, "b.safetensors"), 0);
        WriteFile(Path.Combine(dir, "a.safetensors"), 1);
        File.SetLastWriteTimeUtc(Path.Combine(dir, "b.safetensors"), new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        File.SetLastWriteTimeUtc(Path.Combine(dir, "a.safetensors"), new DateTime(2021, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        var (entries, _) = Track.Discover(dir, TrackOrder.Mtime);
        Assert.Equal(["b.safetensors", "a.safetensors"], entries.Select(e => e.Name));
        Assert.Throws<CartanFormatException>(() => Track.Discover(dir, TrackOrder.Step));
    }

    // ------------------------------------------------------------------ checkpoints of the ridge-dynamics experiment

    [Theory]
    [InlineData("linear-wd1e-2")]
    [InlineData("relu-wd1e-2")]
    public void Beta_falls_over_training_with_weight_decay_on_the_dynamics_checkpoints(string run)
    {
        var dir = TestPaths.Fixture("track", run);
        var json = Path.Combine(TestPaths.NewTempDir(), "t.json");
        var (code, _, stderr) = Run("track", dir, "--json", json, "--quiet", "--no-certificate");
        Assert.True(code == ExitCodes.Ok, stderr);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(json));
        var ifs = doc.RootElement.GetProperty("interfaces").EnumerateArray().ToList();
        Assert.Equal(3, ifs.Count);
        foreach (var f in ifs)
        {
            Assert.True(f.GetProperty("trend").GetProperty("beta_log_slope").GetDouble() < 0, $"β does not fall on {f.GetProperty("from")}");
            Assert.True(f.GetProperty("trend").GetProperty("beta_diag_log_slope").GetDouble() < 0);
            // A deep linear net balances at every step (D shrinks by (1 − ηλ)² per step): β falls monotonically. A ReLU net
            // only balances per neuron (the diagonal of D), so its β falls overall but need not fall between every pair.
            var beta = Numbers(f.GetProperty("imbalance").GetProperty("beta"));
            if (run.StartsWith("linear", StringComparison.Ordinal))
                for (int t = 1; t < beta.Length; t++) Assert.True(beta[t] < beta[t - 1], $"β rises between checkpoints {t - 1} and {t}");
            Assert.True(beta[^1] < beta[0]);
        }
        // Independent values: numpy on the same files (expected.json, made by expected.py beside the fixtures).
        using var exp = JsonDocument.Parse(File.ReadAllBytes(TestPaths.Fixture("track", "expected.json")));
        var e = exp.RootElement.GetProperty(run);
        for (int i = 0; i < ifs.Count; i++)
            foreach (var (key, path) in new[] { ("beta", new[] { "imbalance", "beta" }), ("beta_diag", new[] { "imbalance", "beta_diag" }), ("kappa", new[] { "commutator" }) })
            {
                var got = ifs[i];
                foreach (var p in path) got = got.GetProperty(p);
                var want = Numbers(e.GetProperty(key)[i]);
                var have = Numbers(got);
                Assert.Equal(want.Length, have.Length);
                for (int t = 0; t < want.Length; t++) Assert.True(Math.Abs(want[t] - have[t]) <= 1e-9 + 1e-7 * Math.Abs(want[t]), $"{run} {key}[{i}][{t}]: {have[t]} vs numpy {want[t]}");
            }
    }

    // ------------------------------------------------------------------ bad input

    private static void AssertOneLine(string stderr, string mention)
    {
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains(mention, lines[0]);
    }

    [Fact]
    public void Bad_input_gives_one_line_and_the_right_exit_code()
    {
        var empty = TestPaths.NewTempDir();
        var (code, _, err) = Run("track", empty, "--quiet");
        Assert.Equal(ExitCodes.BadInput, code);
        AssertOneLine(err, "holds no checkpoints");

        (code, _, err) = Run("track", Path.Combine(empty, "missing"), "--quiet");
        Assert.Equal(ExitCodes.BadInput, code);
        AssertOneLine(err, "no such folder");

        var bad = TestPaths.NewTempDir();
        WriteFile(Path.Combine(bad, "step-1.safetensors"), 0);
        File.WriteAllBytes(Path.Combine(bad, "step-2.safetensors"), [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 2, 3]);
        var outDir = Path.Combine(TestPaths.NewTempDir(), "out");
        (code, _, err) = Run("track", bad, "--out", outDir, "--quiet");
        Assert.Equal(ExitCodes.BadInput, code);
        AssertOneLine(err, "step-2.safetensors");
        Assert.False(Directory.Exists(outDir), "nothing is written when a checkpoint is unreadable");

        var dup = TestPaths.NewTempDir();
        WriteFile(Path.Combine(dup, "a-5.safetensors"), 0);
        WriteFile(Path.Combine(dup, "b-5.safetensors"), 1);
        (code, _, err) = Run("track", dup, "--quiet");
        Assert.Equal(ExitCodes.BadInput, code);
        AssertOneLine(err, "step 5");

        (code, _, err) = Run("track", dup, "--order", "size");
        Assert.Equal(ExitCodes.Usage, code);
        AssertOneLine(err, "--order");
        (code, _, err) = Run("track");
        Assert.Equal(ExitCodes.Usage, code);
        AssertOneLine(err, "DIR");
        (code, _, err) = Run("track", dup, "--compare", "a", "b");
        Assert.Equal(ExitCodes.Usage, code);
        AssertOneLine(err, "--compare");
    }

    // ------------------------------------------------------------------ the page

    [Fact]
    public void Html_page_makes_no_external_requests_and_holds_the_depth_by_time_figures()
    {
        var dir = Series();
        var outDir = Path.Combine(dir, "out");
        var (code, _, stderr) = Run("track", dir, "--out", outDir, "--quiet", "--no-certificate");
        Assert.True(code == ExitCodes.Ok, stderr);
        var html = File.ReadAllText(Path.Combine(outDir, "track.html"));
        Assert.DoesNotContain("http:", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("https:", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<link", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(" src=", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("url(", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("@import", html, StringComparison.OrdinalIgnoreCase);
        foreach (Match m in Regex.Matches(html, "href=\"([^\"]*)\""))
            Assert.True(m.Groups[1].Value.StartsWith('#') || m.Groups[1].Value.StartsWith("data:image/png;base64,", StringComparison.Ordinal),
                $"link outside the page: {m.Groups[1].Value[..Math.Min(60, m.Groups[1].Value.Length)]}");
        Assert.Contains(HtmlReport.Csp, html);
        // Heatmaps of layers × checkpoints and interfaces × checkpoints, and the β curve.
        foreach (var id in new[] { "track-layers-alpha-mle", "track-layers-tau", "track-layers-stable-rank", "track-interfaces-imbalance-beta", "track-interfaces-commutator", "track-curve-imbalance-beta" })
            Assert.Matches($"<figure id=\"fig-\\d+\" data-fig=\"\\d+\" data-id=\"{id}\">", html);
        // One heatmap row per interface, one column per checkpoint: cells carry "row × column: value" titles.
        Assert.Contains("layers.0.weight → layers.1.weight × 1000: ", System.Net.WebUtility.HtmlDecode(html));

        // Opened in headless Chromium (networking off): the script runs to the end and the page records no error.
        var (dom, chromeErr) = Cartan.Tests.Report.Chromium.Run(Path.Combine(outDir, "track.html"), "--dump-dom");
        Assert.Matches("<body[^>]*data-ready=\"1\"", dom);
        var errors = Regex.Match(dom, "<pre id=\"js-errors\" data-count=\"(\\d+)\"");
        Assert.True(errors.Success && errors.Groups[1].Value == "0", "page errors: " + dom[..Math.Min(400, dom.Length)]);
        Assert.Empty(Cartan.Tests.Report.Chromium.ConsoleLines(chromeErr));
    }
}

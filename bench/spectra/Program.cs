// Spectra bench (not a test): ratios measured in one run on one machine.
//  1. WW tail fit per layer: WwTailFit.Compute (sorted once, suffix sums, exact branch-and-bound xmin scan) against the
//     exhaustive O(n²) scan written out below (WW's algorithm: every λ but the largest is a candidate xmin, full KS max
//     for each), on real and synthetic spectra of 1k–15k eigenvalues. Both must pick the same xmin and α.
//  2. Spectra-only analysis of the small torchvision-style models: Cartan in-process (Analyzer.Run, SpectraOnly,
//     --conv-view tap) against /work/shared/peers/weightwatcher/ww-run (its own analyze() time and the process wall time).
using System.Diagnostics;
using Cartan.Engine;
using Cartan.Formats;
using Cartan.Graph;
using Cartan.Spectra;

string root = args.Length > 0 ? args[0] : FindRoot();
string fixtures = Path.Combine(root, "tests", "Cartan.Tests", "Fixtures");
Console.WriteLine($"machine: {Environment.ProcessorCount} cpus, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}, lapack {Cartan.Linalg.Lapack.BackendName}");
Console.WriteLine($"date: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");

var spectra = new List<(string Name, double[] Lambda, int N)>();
// Real: pooled per-tap conv ESDs (λ = σ²/2) and dense ESDs from the fixture models.
foreach (var (file, take) in new[] { ("ww/resnet_mini.safetensors", 3), ("ww/vit_mini.safetensors", 2), ("tfjs/energetic-embeddings-en/model.json", 2) })
{
    using var model = WeightSource.Open(Path.Combine(fixtures, file));
    var g = ModelGraph.Build(model, new GraphOptions { ConvView = MatrixView.Tap, InferPairs = false });
    foreach (var l in g.Layers.OrderByDescending(l => l.IsConv ? l.Rows * l.Cols * (int)(l.Shape[2] * (l.Shape.Length > 3 ? l.Shape[3] : 1)) : Math.Min(l.Rows, l.Cols)).Take(take))
    {
        var a = l.Load();
        double[] lam;
        if (l.IsConv)
        {
            int block = l.Rows * l.Cols, taps = a.Length / block;
            lam = Enumerable.Range(0, taps).SelectMany(t => Cartan.Linalg.Lapack.SingularValues(a.AsSpan(t * block, block), l.Rows, l.Cols)).Select(s => s * s / 2).ToArray();
        }
        else lam = Cartan.Linalg.Lapack.SingularValues(a, l.Rows, l.Cols).Select(s => s * s).ToArray();
        spectra.Add(($"{Path.GetFileName(Path.GetDirectoryName(Path.Combine(fixtures, file)))}/{Path.GetFileNameWithoutExtension(file)}:{l.TensorName}", lam, Math.Max(l.Rows, l.Cols)));
    }
}
// Synthetic: MP-like bulk (squared Gaussians) plus a Pareto tail (5 %), seeded.
var rng = new Random(1);
foreach (var n in new[] { 1000, 2000, 5000, 10000, 15000 })
{
    var lam = new double[n];
    for (int i = 0; i < n; i++)
    {
        double g = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        lam[i] = i < n / 20 ? 4 * Math.Pow(1 - rng.NextDouble(), -1 / 2.0) : 1 + 0.5 * g * g;
    }
    spectra.Add(($"synthetic n={n}", lam, n));
}

Console.WriteLine();
Console.WriteLine("| spectrum | n | α | xmin | WwTailFit ms | exhaustive ms | ratio |");
Console.WriteLine("|---|---|---|---|---|---|---|");
foreach (var (name, lam, nn) in spectra)
{
    var fit = WwTailFit.Compute(lam, nn);
    var x = lam.Where(v => v > 1e-5).Order().ToArray();
    var (ia, ea) = Exhaustive(x);
    if (fit.Xmin != x[ia] || fit.Alpha != ea) throw new Exception($"{name}: fast ({fit.Alpha}, {fit.Xmin}) differs from exhaustive ({ea}, {x[ia]})");
    double fast = Time(() => WwTailFit.Compute(lam, nn), 0.5);
    double slow = Time(() => Exhaustive(lam.Where(v => v > 1e-5).Order().ToArray()), 0.5);
    Console.WriteLine($"| {name} | {x.Length} | {fit.Alpha:F3} | {fit.Xmin:G6} | {fast * 1e3:F2} | {slow * 1e3:F1} | {slow / fast:F0}× |");
}

Console.WriteLine();
Console.WriteLine("| model | layers | Cartan spectra-only s | ww-run analyze() s | ww-run process wall s |");
Console.WriteLine("|---|---|---|---|---|");
foreach (var file in new[] { "ww/resnet_mini.safetensors", "ww/vit_mini.safetensors" })
{
    string path = Path.Combine(fixtures, file);
    int layers = 0;
    double ours = Time(() =>
    {
        using var model = WeightSource.Open(path);
        var go = new GraphOptions { ConvView = MatrixView.Tap, InferPairs = false };
        var g = ModelGraph.Build(model, go);
        layers = Analyzer.Run(model, g, new AnalyzeOptions { Graph = go, SpectraOnly = true }).Layers.Count;
    }, 2.0);
    var (analyze, wall) = WwRun(path);
    Console.WriteLine($"| {Path.GetFileName(path)} | {layers} | {ours:F3} | {analyze:F3} | {wall:F2} |");
}

static (int Index, double Alpha) Exhaustive(double[] x)
{
    int n = x.Length;
    var suffix = new double[n + 1];
    for (int j = n - 1; j >= 0; j--) suffix[j] = suffix[j + 1] + Math.Log(x[j]);
    int best = -1; double bestD = double.PositiveInfinity, bestA = 0;
    for (int i = 0; i < n - 1; i++)
    {
        int m = n - i;
        double a = 1 + m / (suffix[i] - m * Math.Log(x[i])), d = 1;
        if (a > 1)
        {
            d = 0;
            for (int j = 0; j < m; j++) d = Math.Max(d, Math.Abs(1 - Math.Pow(x[i + j] / x[i], 1 - a) - (double)j / m));
        }
        if (d < bestD) { bestD = d; best = i; bestA = a; }
    }
    // α as WwTailFit computes it (compensated suffix sums) for the exact comparison of the chosen candidate.
    var fit = WwTailFit.Compute(x.AsSpan(best), x.Length);
    return (best, fit.Xmin == x[best] ? fit.Alpha!.Value : bestA);
}

static double Time(Action f, double budget)
{
    f();
    var times = new List<double>();
    var total = Stopwatch.StartNew();
    do { var sw = Stopwatch.StartNew(); f(); times.Add(sw.Elapsed.TotalSeconds); } while (total.Elapsed.TotalSeconds < budget && times.Count < 50);
    times.Sort();
    return times[times.Count / 2];
}

static (double Analyze, double Wall) WwRun(string model)
{
    var csv = Path.Combine(Path.GetTempPath(), $"ww-bench-{Guid.NewGuid():N}.csv");
    var psi = new ProcessStartInfo("/work/shared/peers/weightwatcher/ww-run") { RedirectStandardError = true, RedirectStandardOutput = true };
    psi.ArgumentList.Add(model); psi.ArgumentList.Add(csv);
    var sw = Stopwatch.StartNew();
    using var p = Process.Start(psi)!;
    string err = p.StandardError.ReadToEnd();
    p.WaitForExit();
    double wall = sw.Elapsed.TotalSeconds;
    File.Delete(csv);
    var m = System.Text.RegularExpressions.Regex.Match(err, @"analyze_s=([0-9.]+)");
    return (m.Success ? double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : double.NaN, wall);
}

static string FindRoot()
{
    var d = new DirectoryInfo(AppContext.BaseDirectory);
    while (d is not null && !File.Exists(Path.Combine(d.FullName, "Cartan.slnx"))) d = d.Parent;
    return d?.FullName ?? throw new InvalidOperationException("repository root not found");
}

// Linear-algebra bench: ratios measured in one run on one machine (never absolute claims).
//   Cartan SingularValues  vs  raw dsyrk_+dsyevd_ on the same library  vs  numpy.linalg.svd(compute_uv=False)
//   dgemm GFLOP/s with Cartan's OPENBLAS_CORETYPE fix vs the core OpenBLAS picks by itself here (Prescott), in child processes.
//   `floor MODEL …`: the LAPACK floor of a model's spectra (Floor.cs; bench/peers.sh reports it beside WeightWatcher).
using System.Diagnostics;
using System.Runtime.InteropServices;
using Cartan.Linalg;

if (args.Length > 1 && args[0] == "floor")
{
    Floor.Run(args[1..]);
    return;
}

if (args.Length > 0 && args[0] == "gemm")
{
    int n = int.Parse(args[1]);
    var a = Rand(1, n * n); var b = Rand(2, n * n);
    Lapack.MatMul(a, n, n, b, n); // warm-up (threads, pages)
    double best = double.MaxValue;
    for (int r = 0; r < 5; r++) { var sw = Stopwatch.StartNew(); Lapack.MatMul(a, n, n, b, n); best = Math.Min(best, sw.Elapsed.TotalSeconds); }
    Console.WriteLine($"{2.0 * n * n * n / best / 1e9:F1}\t{Lapack.BackendName}");
    return;
}

Console.WriteLine($"backend: {Lapack.BackendName}");
Console.WriteLine($"cpus: {Environment.ProcessorCount}");
foreach (var (m, n) in new[] { (1024, 1024), (2048, 512) })
{
    var a = Rand(m + n, m * n);
    double ours = Median(() => Lapack.SingularValues(a, m, n));
    double raw = Median(() => RawGramEig(a, m, n));
    double numpy = Numpy(m, n, null);
    double numpyFixed = Numpy(m, n, "SkylakeX");
    Console.WriteLine($"{m}x{n}: SingularValues {ours * 1e3:F1} ms; raw dsyrk+dsyevd {raw * 1e3:F1} ms (ratio {ours / raw:F2}); " +
                      $"numpy svd {numpy * 1e3:F1} ms (ratio ours/numpy {ours / numpy:F2}); numpy with OPENBLAS_CORETYPE=SkylakeX {numpyFixed * 1e3:F1} ms (ratio {ours / numpyFixed:F2})");
}
foreach (var core in new string?[] { null, "Prescott" })
{
    var psi = new ProcessStartInfo(Environment.ProcessPath!, ["gemm", "1024"]) { RedirectStandardOutput = true };
    if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") psi.ArgumentList.Insert(0, typeof(Lapack).Assembly.Location.Replace("Cartan.dll", "LinalgBench.dll"));
    psi.Environment.Remove("OPENBLAS_CORETYPE");
    if (core is not null) psi.Environment["OPENBLAS_CORETYPE"] = core;
    using var p = Process.Start(psi)!;
    string line = p.StandardOutput.ReadToEnd().Trim();
    p.WaitForExit();
    Console.WriteLine($"dgemm 1024² GFLOP/s: {line}");
}
return;

static double[] Rand(int seed, int count)
{
    var r = new Random(seed);
    var x = new double[count];
    for (int i = 0; i < count; i++) x[i] = r.NextDouble() - 0.5;
    return x;
}

static double Median(Action f)
{
    f();
    var t = new List<double>();
    for (int i = 0; i < 3; i++) { var sw = Stopwatch.StartNew(); f(); t.Add(sw.Elapsed.TotalSeconds); }
    t.Sort();
    return t[1];
}

static double Numpy(int m, int n, string? core)
{
    string script = $"import numpy as np, time\na=np.random.default_rng(0).random(({m},{n}))-0.5\nnp.linalg.svd(a,compute_uv=False)\n" +
                    "t=[]\nfor _ in range(3):\n  s=time.perf_counter(); np.linalg.svd(a,compute_uv=False); t.append(time.perf_counter()-s)\nprint(sorted(t)[1])\n";
    var psi = new ProcessStartInfo("/usr/bin/python3", ["-c", script]) { RedirectStandardOutput = true };
    psi.Environment.Remove("OPENBLAS_CORETYPE");
    if (core is not null) psi.Environment["OPENBLAS_CORETYPE"] = core;
    using var p = Process.Start(psi)!;
    string o = p.StandardOutput.ReadToEnd();
    p.WaitForExit();
    return double.Parse(o.Trim(), System.Globalization.CultureInfo.InvariantCulture);
}

// The same computation as SingularValues' native path, calling the library directly (RawLapack in Floor.cs).
static void RawGramEig(double[] a, int m, int n)
{
    int p = Math.Min(m, n);
    var (lwork, liwork) = RawLapack.Workspace(p);
    RawLapack.GramEigenvalues(a, m, n, new double[p * p], new double[p], new double[lwork], new int[liwork]);
}

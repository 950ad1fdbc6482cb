// The LAPACK floor of a spectra run: the time of the raw calls every per-layer spectrum of a model is made of — the
// Gram of the short side (dsyrk) and its eigenvalues (dsyevd, no vectors, optimal workspace) — with nothing else:
// matrices decoded to float64 before the clock starts, one work buffer per thread allocated and touched in advance,
// the problems spread over the threads largest first (one BLAS thread each, as `cartan analyze` runs small jobs).
// Any implementation that forms the full spectrum with these calls on this library takes at least this long, so
// (a peer's time) ÷ floor is the largest speed-up such an implementation can show on this machine.
// usage: LinalgBench floor MODEL [--conv-view out|in|tap] [--layers REGEX] [--threads N]
using System.Diagnostics;
using System.Runtime.InteropServices;
using Cartan.Formats;
using Cartan.Graph;
using Cartan.Linalg;

static unsafe class Floor
{
    public static void Run(string[] args)
    {
        string model = args[0];
        var view = MatrixView.Out;
        System.Text.RegularExpressions.Regex? layers = null;
        int threads = Environment.ProcessorCount;
        for (int i = 1; i < args.Length; i++)
            switch (args[i])
            {
                case "--conv-view": view = Enum.Parse<MatrixView>(args[++i], ignoreCase: true); break;
                case "--layers": layers = new(args[++i], System.Text.RegularExpressions.RegexOptions.NonBacktracking); break;
                case "--threads": threads = int.Parse(args[++i]); break;
                default: throw new ArgumentException($"unknown argument {args[i]}");
            }
        using var source = WeightSource.Open(model);
        var graph = ModelGraph.Build(source, new GraphOptions { ConvView = view, Layers = layers });
        var problems = new List<(double[] A, int M, int N)>();
        foreach (var l in graph.Layers)
        {
            var a = l.Load();
            int block = l.Rows * l.Cols;
            if (l.View == MatrixView.Tap && l.IsConv)
                for (int t = 0; t < a.Length / block; t++) problems.Add((a.AsSpan(t * block, block).ToArray(), l.Rows, l.Cols));
            else problems.Add((a, l.Rows, l.Cols));
        }
        problems.Sort((x, y) => Work(y).CompareTo(Work(x)));
        int pMax = problems.Max(q => Math.Min(q.M, q.N));

        Lapack.Threads = 1;
        var (lwork, liwork) = RawLapack.Workspace(pMax);
        var buffers = Enumerable.Range(0, threads).Select(_ =>
        {
            var g = new double[(long)pMax * pMax]; var w = new double[pMax]; var work = new double[lwork]; var iwork = new int[liwork];
            Array.Fill(g, 1.0); Array.Fill(work, 1.0); // touched: no first-use page faults inside the timing
            return (g, w, work, iwork);
        }).ToArray();

        void Solve((double[] A, int M, int N) q, (double[] g, double[] w, double[] work, int[] iwork) b) =>
            RawLapack.GramEigenvalues(q.A, q.M, q.N, b.g, b.w, b.work, b.iwork);

        double Once()
        {
            int next = -1;
            var sw = Stopwatch.StartNew();
            var ts = Enumerable.Range(0, threads).Select(i => new Thread(() =>
            {
                for (int j; (j = Interlocked.Increment(ref next)) < problems.Count;) Solve(problems[j], buffers[i]);
            })).ToList();
            ts.ForEach(x => x.Start());
            ts.ForEach(x => x.Join());
            return sw.Elapsed.TotalSeconds;
        }

        Once(); // warm-up: code, OpenBLAS's own buffers
        double best = Enumerable.Range(0, 3).Min(_ => Once());
        Console.WriteLine($"floor_s={best:F3} problems={problems.Count} layers={graph.Layers.Count} threads={threads} lapack={Lapack.BackendName}");
    }

    private static double Work((double[] A, int M, int N) q) => (double)q.M * q.N * Math.Min(q.M, q.N);
}

/// <summary>
/// dsyrk_ + dsyevd_ (eigenvalues only) called straight on the OpenBLAS instance Cartan loaded (same core type), with our
/// own P/Invoke: the reference both benches time Cartan against and the floor of a model's spectra.
/// </summary>
static unsafe class RawLapack
{
    private static readonly IntPtr Lib = NativeLibrary.Load("libopenblas.so.0");
    private static readonly delegate* unmanaged<byte*, byte*, int*, int*, double*, double*, int*, double*, double*, int*, nuint, nuint, void> Syrk =
        (delegate* unmanaged<byte*, byte*, int*, int*, double*, double*, int*, double*, double*, int*, nuint, nuint, void>)NativeLibrary.GetExport(Lib, "dsyrk_");
    private static readonly delegate* unmanaged<byte*, byte*, int*, double*, int*, double*, double*, int*, int*, int*, int*, nuint, nuint, void> Syevd =
        (delegate* unmanaged<byte*, byte*, int*, double*, int*, double*, double*, int*, int*, int*, int*, nuint, nuint, void>)NativeLibrary.GetExport(Lib, "dsyevd_");

    /// <summary>dsyevd's optimal workspace for order n (the minimum, 2n + 1, makes dsytrd fall back to its unblocked version).</summary>
    public static (int Work, int IWork) Workspace(int n)
    {
        byte jobz = (byte)'N', u = (byte)'L';
        int lw = -1, liw = -1, info = 0, iq = 0;
        double wq = 0, dummy = 0, w0 = 0;
        Syevd(&jobz, &u, &n, &dummy, &n, &w0, &wq, &lw, &iq, &liw, &info, 1, 1);
        return ((int)wq, Math.Max(1, iq));
    }

    /// <summary>
    /// Eigenvalues of the short side's Gram of the row-major m×n matrix a into w (g: p×p scratch; work and iwork at least
    /// <see cref="Workspace"/> of p). Lower triangle: the faster dsytrd here.
    /// </summary>
    public static void GramEigenvalues(double[] a, int m, int n, double[] g, double[] w, double[] work, int[] iwork)
    {
        int p = Math.Min(m, n), k = Math.Max(m, n), lda = n, lw = work.Length, liw = iwork.Length, info = 0;
        byte u = (byte)'L', t = m <= n ? (byte)'T' : (byte)'N', jobz = (byte)'N';
        double one = 1, zero = 0;
        fixed (double* pa = a) fixed (double* pg = g) fixed (double* pw = w) fixed (double* pwork = work) fixed (int* pi = iwork)
        {
            Syrk(&u, &t, &p, &k, &one, pa, &lda, &zero, pg, &p, 1, 1);
            Syevd(&jobz, &u, &p, pg, &p, pw, pwork, &lw, pi, &liw, &info, 1, 1);
        }
        if (info != 0) throw new InvalidOperationException($"dsyevd info {info}");
    }
}

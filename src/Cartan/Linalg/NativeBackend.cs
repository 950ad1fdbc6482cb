using System.Runtime.InteropServices;

namespace Cartan.Linalg;

/// <summary>
/// LAPACK/BLAS from a native library, called through Fortran entry points (<c>dsyevd_</c>, …) with every argument
/// by reference and the hidden CHARACTER-length arguments passed explicitly (gfortran appends them as size_t; passing
/// them is harmless for f2c-style libraries such as Accelerate). Integers are 32-bit (LP64 libraries).
/// Row-major buffers are handed over as their column-major transpose; nothing is copied to transpose an input.
/// </summary>
internal sealed unsafe class NativeBackend : LinalgBackend
{
    private readonly delegate* unmanaged[Cdecl]<byte*, byte*, int*, int*, double*, double*, int*, double*, double*, int*, nuint, nuint, void> _dsyrk;
    private readonly delegate* unmanaged[Cdecl]<byte*, byte*, int*, int*, int*, double*, double*, int*, double*, int*, double*, double*, int*, nuint, nuint, void> _dgemm;
    private readonly delegate* unmanaged[Cdecl]<byte*, byte*, int*, double*, int*, double*, double*, int*, int*, int*, int*, nuint, nuint, void> _dsyevd;
    private readonly delegate* unmanaged[Cdecl]<byte*, byte*, byte*, int*, double*, int*, double*, double*, int*, int*, double*, int*, double*, double*, int*, int*, double*, int*, int*, int*, int*, nuint, nuint, nuint, void> _dsyevr;
    private readonly delegate* unmanaged[Cdecl]<byte*, int*, int*, double*, int*, double*, double*, int*, double*, int*, double*, int*, int*, int*, nuint, void> _dgesdd;

    private NativeBackend(string name, LinalgBackendKind kind, IntPtr syrk, IntPtr gemm, IntPtr syevd, IntPtr syevr, IntPtr gesdd)
    {
        Name = name;
        Kind = kind;
        _dsyrk = (delegate* unmanaged[Cdecl]<byte*, byte*, int*, int*, double*, double*, int*, double*, double*, int*, nuint, nuint, void>)syrk;
        _dgemm = (delegate* unmanaged[Cdecl]<byte*, byte*, int*, int*, int*, double*, double*, int*, double*, int*, double*, double*, int*, nuint, nuint, void>)gemm;
        _dsyevd = (delegate* unmanaged[Cdecl]<byte*, byte*, int*, double*, int*, double*, double*, int*, int*, int*, int*, nuint, nuint, void>)syevd;
        _dsyevr = (delegate* unmanaged[Cdecl]<byte*, byte*, byte*, int*, double*, int*, double*, double*, int*, int*, double*, int*, double*, double*, int*, int*, double*, int*, int*, int*, int*, nuint, nuint, nuint, void>)syevr;
        _dgesdd = (delegate* unmanaged[Cdecl]<byte*, int*, int*, double*, int*, double*, double*, int*, double*, int*, double*, int*, int*, int*, nuint, void>)gesdd;
    }

    public override string Name { get; }

    private delegate* unmanaged[Cdecl]<int, void> _setThreads;
    private delegate* unmanaged[Cdecl]<int> _getThreads;

    /// <summary>Binds OpenBLAS's thread-count control (optional exports).</summary>
    internal void BindThreadControl(IntPtr lib)
    {
        if (NativeLibrary.TryGetExport(lib, "openblas_set_num_threads", out var set)) _setThreads = (delegate* unmanaged[Cdecl]<int, void>)set;
        if (NativeLibrary.TryGetExport(lib, "openblas_get_num_threads", out var get)) _getThreads = (delegate* unmanaged[Cdecl]<int>)get;
    }

    public override int Threads
    {
        get => _getThreads != null ? _getThreads() : 1;
        set { if (_setThreads != null) _setThreads(Math.Max(1, value)); }
    }

    public override LinalgBackendKind Kind { get; }

    // ---------------------------------------------------------------- loading

    /// <summary>Serialises changes to the native environment and the loads that read it.</summary>
    internal static readonly object LoadGate = new();

    private static string Triplet => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.Arm64 => "aarch64-linux-gnu",
        _ => "x86_64-linux-gnu",
    };

    internal static string[] OpenBlasCandidates => OperatingSystem.IsMacOS()
        ? ["libopenblas.0.dylib", "libopenblas.dylib", "/opt/homebrew/opt/openblas/lib/libopenblas.dylib", "/usr/local/opt/openblas/lib/libopenblas.dylib"]
        : ["libopenblas.so.0", $"/usr/lib/{Triplet}/openblas-pthread/libopenblas.so.0", $"/usr/lib/{Triplet}/openblas-openmp/libopenblas.so.0", "libopenblas.so"];

    private static readonly string[] Symbols = ["dsyrk_", "dgemm_", "dsyevd_", "dsyevr_", "dgesdd_"];

    /// <summary>Looks every symbol up in the given libraries (first one that has it wins); null when one is missing.</summary>
    private static IntPtr[]? Resolve(params IntPtr[] libs)
    {
        var ptrs = new IntPtr[Symbols.Length];
        for (int s = 0; s < Symbols.Length; s++)
        {
            foreach (var lib in libs)
                if (lib != IntPtr.Zero && NativeLibrary.TryGetExport(lib, Symbols[s], out ptrs[s])) break;
            if (ptrs[s] == IntPtr.Zero) return null;
        }
        return ptrs;
    }

    private static NativeBackend Make(string name, LinalgBackendKind kind, IntPtr[] p) => new(name, kind, p[0], p[1], p[2], p[3], p[4]);

    /// <summary>"openblas 0.3.21 (core SkylakeX, pthread, set by cartan)" from the library's own report, or null when it is not OpenBLAS.</summary>
    internal static string? DescribeOpenBlas(IntPtr lib, OpenBlasCore.Origin origin, string? coreSetByCartan)
    {
        if (!NativeLibrary.TryGetExport(lib, "openblas_get_config", out var cfgFn)) return null;
        string config = Marshal.PtrToStringUTF8(((delegate* unmanaged[Cdecl]<IntPtr>)cfgFn)()) ?? "";
        var tokens = config.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        string version = tokens.Length > 1 && tokens[0].Equals("OpenBLAS", StringComparison.OrdinalIgnoreCase) ? tokens[1] : "?";
        string core = "?";
        if (NativeLibrary.TryGetExport(lib, "openblas_get_corename", out var coreFn))
            core = Marshal.PtrToStringUTF8(((delegate* unmanaged[Cdecl]<IntPtr>)coreFn)()) ?? "?";
        string threading = "?";
        if (NativeLibrary.TryGetExport(lib, "openblas_get_parallel", out var parFn))
            threading = ((delegate* unmanaged[Cdecl]<int>)parFn)() switch { 0 => "sequential", 1 => "pthread", 2 => "openmp", _ => "?" };
        string who = origin switch
        {
            // If OpenBLAS was already in the process before we set the variable, our choice did not take.
            OpenBlasCore.Origin.SetByCartan when coreSetByCartan is not null && !core.Equals(coreSetByCartan, StringComparison.OrdinalIgnoreCase) => "autodetected",
            OpenBlasCore.Origin.SetByCartan => "set by cartan",
            OpenBlasCore.Origin.SetByUser => "set by user",
            _ => "autodetected",
        };
        return $"openblas {version} (core {core}, {threading}, {who})";
    }

    /// <summary>Loads OpenBLAS from the first candidate that loads and exports every symbol.</summary>
    internal static NativeBackend? TryOpenBlas(OpenBlasCore.Origin origin, string? coreSetByCartan, out string tried)
    {
        var names = OpenBlasCandidates;
        tried = string.Join(", ", names);
        foreach (var name in names)
        {
            if (!NativeLibrary.TryLoad(name, out var lib)) continue;
            var p = Resolve(lib);
            var desc = DescribeOpenBlas(lib, origin, coreSetByCartan);
            if (p is null || desc is null) continue;
            var backend = Make(desc, LinalgBackendKind.OpenBlas, p);
            backend.BindThreadControl(lib);
            return backend;
        }
        return null;
    }

    /// <summary>
    /// Loads an OpenBLAS file with OPENBLAS_CORETYPE set to <paramref name="core"/> (null: unset) for the duration of the
    /// load, then restores the variable. A file already loaded in this process is not re-initialised, so tests use a copy.
    /// </summary>
    internal static NativeBackend? LoadOpenBlasWithCore(string path, string? core)
    {
        lock (LoadGate)
        {
            string? saved = NativeEnv.Get(OpenBlasCore.EnvName);
            NativeEnv.Set(OpenBlasCore.EnvName, core);
            try
            {
                if (!NativeLibrary.TryLoad(path, out var lib)) return null;
                var p = Resolve(lib);
                var desc = DescribeOpenBlas(lib, core is null ? OpenBlasCore.Origin.Autodetected : OpenBlasCore.Origin.SetByUser, null);
                return p is null || desc is null ? null : Make(desc, LinalgBackendKind.OpenBlas, p);
            }
            finally
            {
                NativeEnv.Set(OpenBlasCore.EnvName, saved);
            }
        }
    }

    /// <summary>
    /// Loads liblapack.so.3 + libblas.so.3, preferring Debian's reference paths (loading the reference BLAS by path
    /// first makes the reference LAPACK bind to it, even when the alternatives point libblas.so.3 at OpenBLAS).
    /// </summary>
    internal static NativeBackend? TryReference(out string tried)
    {
        string[] blasNames = OperatingSystem.IsMacOS() ? ["libblas.dylib"] : [$"/usr/lib/{Triplet}/blas/libblas.so.3", "libblas.so.3"];
        string[] lapackNames = OperatingSystem.IsMacOS() ? ["liblapack.dylib"] : [$"/usr/lib/{Triplet}/lapack/liblapack.so.3", "liblapack.so.3"];
        tried = string.Join(", ", blasNames.Concat(lapackNames));
        IntPtr blas = IntPtr.Zero, lapack = IntPtr.Zero;
        foreach (var n in blasNames) if (NativeLibrary.TryLoad(n, out blas)) break;
        foreach (var n in lapackNames) if (NativeLibrary.TryLoad(n, out lapack)) break;
        if (lapack == IntPtr.Zero) return null;
        var p = Resolve(blas, lapack);
        if (p is null) return null;
        string name = "reference lapack";
        string? lapackIsOpenBlas = DescribeOpenBlas(lapack, OpenBlasCore.Origin.Autodetected, null);
        string? blasIsOpenBlas = blas == IntPtr.Zero ? null : DescribeOpenBlas(blas, OpenBlasCore.Origin.Autodetected, null);
        if (lapackIsOpenBlas is not null) name = "liblapack.so.3 = " + lapackIsOpenBlas;
        else if (blasIsOpenBlas is not null) name = "reference lapack + " + blasIsOpenBlas.Replace("openblas", "openblas blas", StringComparison.Ordinal);
        return Make(name, LinalgBackendKind.Reference, p);
    }

    /// <summary>macOS Accelerate (its legacy Fortran-style LAPACK entry points).</summary>
    internal static NativeBackend? TryAccelerate(out string tried)
    {
        const string path = "/System/Library/Frameworks/Accelerate.framework/Accelerate";
        tried = path;
        if (!OperatingSystem.IsMacOS() || !NativeLibrary.TryLoad(path, out var lib)) return null;
        var p = Resolve(lib);
        return p is null ? null : Make("accelerate", LinalgBackendKind.Accelerate, p);
    }

    // ---------------------------------------------------------------- helpers

    private static void Check(int info, string routine)
    {
        if (info < 0) throw new LinalgException($"{routine}: argument {-info} had an illegal value (a bug in Cartan's call).");
        if (info > 0) throw new LinalgException($"{routine} failed to converge (info = {info}).");
    }

    private static int WorkSize(double queried, string routine)
    {
        if (!(queried >= 1) || queried > int.MaxValue)
            throw new LinalgException($"{routine}: workspace of {queried:G} elements does not fit 32-bit LAPACK indices; the matrix is too large.");
        return (int)Math.Ceiling(queried);
    }

    private static int Ld(int x) => Math.Max(1, x);

    // ---------------------------------------------------------------- BLAS

    public override void Gram(ReadOnlySpan<double> a, int m, int n, bool rowsGram, Span<double> c)
    {
        Syrk(a, m, n, rowsGram, c, beta: 0);
        // Column-major upper = row-major lower triangle; mirror it into the upper one.
        LinalgEngine.MirrorLowerToUpper(c, rowsGram ? m : n);
    }

    // As Gram with β = 1 and no mirroring (the lower triangle accumulates).
    public override void GramAdd(ReadOnlySpan<double> a, int m, int n, bool rowsGram, Span<double> c) => Syrk(a, m, n, rowsGram, c, beta: 1);

    private void Syrk(ReadOnlySpan<double> a, int m, int n, bool rowsGram, Span<double> c, double beta)
    {
        // The row-major m×n buffer is the column-major n×m matrix X = Aᵀ (ld n).
        // A·Aᵀ = XᵀX → syrk('T'), order m, inner n.   Aᵀ·A = X·Xᵀ → syrk('N'), order n, inner m.
        // Column-major upper is the row-major lower triangle.
        byte uplo = (byte)'U', trans = rowsGram ? (byte)'T' : (byte)'N';
        int order = rowsGram ? m : n, inner = rowsGram ? n : m, lda = Ld(n), ldc = Ld(order);
        double alpha = 1;
        fixed (double* pa = a)
        fixed (double* pc = c)
            _dsyrk(&uplo, &trans, &order, &inner, &alpha, pa, &lda, &beta, pc, &ldc, 1, 1);
    }

    public override void MatMul(ReadOnlySpan<double> a, ReadOnlySpan<double> b, int m, int k, int n, bool transA, bool transB, Span<double> c)
    {
        // Row-major C (m×n) is column-major Cᵀ (n×m) = op(B)ᵀ·op(A)ᵀ. The buffer of B read column-major is Bᵀ, so
        // op(B)ᵀ needs the same transpose flag as op(B) had; likewise for A.
        byte ta = transB ? (byte)'T' : (byte)'N', tb = transA ? (byte)'T' : (byte)'N';
        int M = n, N = m, K = k;
        int ldb = Ld(transB ? k : n), lda = Ld(transA ? m : k), ldc = Ld(n);
        double alpha = 1, beta = 0;
        fixed (double* pa = a)
        fixed (double* pb = b)
        fixed (double* pc = c)
            _dgemm(&ta, &tb, &M, &N, &K, &alpha, pb, &ldb, pa, &lda, &beta, pc, &ldc, 1, 1);
    }

    // ---------------------------------------------------------------- LAPACK

    private void Syevd(double[] a, int n, double[] w, bool vectors)
    {
        // Reads the column-major lower triangle (callers pass full symmetric matrices): OpenBLAS 0.3.21's dsytrd is faster
        // that way — eigenvalues of a 512² / 768² / 1024² Gram in 12.4 / 28.5 / 65.3 ms against 14.8 / 30.3 / 71.8 ms
        // for 'U' (one thread, SkylakeX kernels; with vectors and in dsyevr 'L' is as fast or faster too).
        byte jobz = vectors ? (byte)'V' : (byte)'N', uplo = (byte)'L';
        if (vectors && 1L + 6L * n + 2L * n * n > int.MaxValue)
            throw new LinalgException($"dsyevd: a {n}×{n} eigenproblem with vectors needs more workspace than 32-bit LAPACK indices allow.");
        int N = n, lda = Ld(n), lwork = -1, liwork = -1, info = 0, iq = 0;
        double wq = 0;
        fixed (double* pa = a)
        fixed (double* pw = w)
        {
            _dsyevd(&jobz, &uplo, &N, pa, &lda, pw, &wq, &lwork, &iq, &liwork, &info, 1, 1);
            Check(info, "dsyevd (workspace query)");
            lwork = WorkSize(wq, "dsyevd");
            liwork = Math.Max(1, iq);
            var work = Scratch.Shared.Rent(lwork);
            var iwork = new int[liwork];
            try
            {
                fixed (double* pwork = work)
                fixed (int* piwork = iwork)
                    _dsyevd(&jobz, &uplo, &N, pa, &lda, pw, pwork, &lwork, piwork, &liwork, &info, 1, 1);
            }
            finally { Scratch.Shared.Return(work); }
            Check(info, "dsyevd");
        }
    }

    public override void EigenValues(double[] a, int n, double[] w) => Syevd(a, n, w, false);

    public override void EigenFull(double[] a, int n, double[] w, double[] vectors)
    {
        Syevd(a, n, w, true);
        // Column-major columns are eigenvectors: a[j*n+i] = v_j[i]; we return column j of a row-major matrix.
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                vectors[i * n + j] = a[j * n + i];
    }

    public override void EigenTop(double[] a, int n, int k, double[] w, double[] z)
    {
        byte jobz = (byte)'V', range = (byte)'I', uplo = (byte)'L'; // see Syevd
        int N = n, lda = Ld(n), il = n - k + 1, iu = n, found = 0, ldz = Ld(n), info = 0, lwork = -1, liwork = -1, iq = 0;
        double vl = 0, vu = 0, abstol = 2.2250738585072014e-308; // safe minimum: most accurate eigenvectors
        double wq = 0;
        var wAll = new double[n];            // dsyevr may write up to n eigenvalues
        var zc = new double[(long)n * k];    // column-major n×k
        var isuppz = new int[2 * Math.Max(1, k)];
        fixed (double* pa = a)
        fixed (double* pw = wAll)
        fixed (double* pz = zc)
        fixed (int* ps = isuppz)
        {
            _dsyevr(&jobz, &range, &uplo, &N, pa, &lda, &vl, &vu, &il, &iu, &abstol, &found, pw, pz, &ldz, ps, &wq, &lwork, &iq, &liwork, &info, 1, 1, 1);
            Check(info, "dsyevr (workspace query)");
            lwork = WorkSize(wq, "dsyevr");
            liwork = Math.Max(1, iq);
            var work = new double[lwork];
            var iwork = new int[liwork];
            fixed (double* pwork = work)
            fixed (int* piwork = iwork)
                _dsyevr(&jobz, &range, &uplo, &N, pa, &lda, &vl, &vu, &il, &iu, &abstol, &found, pw, pz, &ldz, ps, pwork, &lwork, piwork, &liwork, &info, 1, 1, 1);
            Check(info, "dsyevr");
        }
        if (found != k) throw new LinalgException($"dsyevr returned {found} eigenpairs where {k} were asked for.");
        Array.Copy(wAll, w, k);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < k; j++)
                z[i * k + j] = zc[(long)j * n + i];
    }

    public override SvdResult Svd(ReadOnlySpan<double> a, int m, int n)
    {
        // The buffer is X = Aᵀ (n×m column-major). X = Ũ S Ṽᵀ ⇒ A = Ṽ S Ũᵀ: U_A = Ṽ, V_A = Ũ.
        // dgesdd's VT (p×m column-major) laid out in memory is exactly Ṽ as an m×p row-major matrix = U_A;
        // its U (n×p column-major) is V_A transposed.
        int p = Math.Min(m, n);
        if (4L * p * p + 7L * p + Math.Max(m, n) > int.MaxValue)
            throw new LinalgException($"dgesdd: a {m}×{n} SVD needs more workspace than 32-bit LAPACK indices allow.");
        var x = a.ToArray(); // dgesdd destroys its input
        var s = new double[p];
        var uTilde = new double[(long)n * p];
        var u = new double[(long)m * p];
        var iwork = new int[8 * p];
        byte jobz = (byte)'S';
        int M = n, N = m, lda = Ld(n), ldu = Ld(n), ldvt = Ld(p), lwork = -1, info = 0;
        double wq = 0;
        fixed (double* px = x)
        fixed (double* ps = s)
        fixed (double* pu = uTilde)
        fixed (double* pvt = u)
        fixed (int* pi = iwork)
        {
            _dgesdd(&jobz, &M, &N, px, &lda, ps, pu, &ldu, pvt, &ldvt, &wq, &lwork, pi, &info, 1);
            Check(info, "dgesdd (workspace query)");
            lwork = WorkSize(wq, "dgesdd");
            var work = new double[lwork];
            fixed (double* pwork = work)
                _dgesdd(&jobz, &M, &N, px, &lda, ps, pu, &ldu, pvt, &ldvt, pwork, &lwork, pi, &info, 1);
            Check(info, "dgesdd");
        }
        var v = new double[(long)n * p];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < p; j++)
                v[i * p + j] = uTilde[(long)j * n + i];
        return new SvdResult(u, s, v, m, n);
    }
}

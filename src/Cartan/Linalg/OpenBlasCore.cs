using System.Runtime.InteropServices;

namespace Cartan.Linalg;

/// <summary>CPU features that decide which OpenBLAS kernel family is safe and fast on this machine.</summary>
internal readonly record struct CpuFeatures(bool IsX64, bool Avx512F, bool Avx512BW, bool Avx2, bool Fma)
{
    /// <summary>The features of the machine this process runs on, as the .NET JIT sees them (OS support included).</summary>
    public static CpuFeatures Current => new(
        RuntimeInformation.ProcessArchitecture == Architecture.X64,
        System.Runtime.Intrinsics.X86.Avx512F.IsSupported, System.Runtime.Intrinsics.X86.Avx512BW.IsSupported,
        System.Runtime.Intrinsics.X86.Avx2.IsSupported, System.Runtime.Intrinsics.X86.Fma.IsSupported);
}

/// <summary>
/// Some OpenBLAS builds (Debian 12's 0.3.21 among them) do not recognise recent or virtualised CPUs and fall back to
/// the SSE3 "Prescott" kernels, 3–5× slower. Before OpenBLAS is loaded, when the user has not set
/// <c>OPENBLAS_CORETYPE</c>, we choose a kernel family from the features the runtime reports and set the variable
/// in the native environment (OpenBLAS reads it with getenv in its load-time constructor).
/// </summary>
internal static class OpenBlasCore
{
    public const string EnvName = "OPENBLAS_CORETYPE";

    /// <summary>
    /// The OPENBLAS_CORETYPE to set for the given features, or null to leave OpenBLAS's own detection alone.
    /// SkylakeX kernels need AVX-512 (F and BW); Haswell kernels need AVX2 and FMA3; anything else, or a
    /// non-x86-64 process, is left to OpenBLAS.
    /// </summary>
    public static string? Decide(CpuFeatures f)
    {
        if (!f.IsX64) return null;
        if (f.Avx512F && f.Avx512BW && f.Avx2 && f.Fma) return "SkylakeX";
        if (f.Avx2 && f.Fma) return "Haswell";
        return null;
    }

    /// <summary>Who chose the core type the OpenBLAS instance runs with.</summary>
    public enum Origin { Autodetected, SetByCartan, SetByUser }

    /// <summary>
    /// Applies the decision to the native environment unless the user already set the variable.
    /// Must run before OpenBLAS is loaded. Returns who chose the core type.
    /// </summary>
    public static Origin Apply(CpuFeatures features)
    {
        if (!string.IsNullOrEmpty(NativeEnv.Get(EnvName))) return Origin.SetByUser;
        var core = Decide(features);
        if (core is null) return Origin.Autodetected;
        return NativeEnv.Set(EnvName, core) ? Origin.SetByCartan : Origin.Autodetected;
    }
}

/// <summary>
/// How long an idle OpenBLAS worker thread spins (calling sched_yield) before it sleeps: 2^<c>OPENBLAS_THREAD_TIMEOUT</c>
/// cycles, 2²⁸ by default (about 0.1 s), spent after the library loads and after every multi-threaded call. Cartan runs
/// most jobs with one BLAS thread each, two or more at a time, so that spin took a core from them: `perf` on a
/// resnet18 spectra run put 8 % of all CPU in sched_yield, and the process used 13 % less CPU with the spin cut. 2²⁰
/// cycles (under a millisecond) keeps the workers awake between the back-to-back calls inside one LAPACK routine
/// (singular values of 2048² and 3072² matrices on two threads: 394 / 1529 ms against 388 / 1531 ms with the default,
/// while 2⁴ cost 14 % on the first). Set before OpenBLAS loads, unless the user set the variable.
/// </summary>
internal static class OpenBlasThreads
{
    public const string EnvName = "OPENBLAS_THREAD_TIMEOUT";
    public const string Timeout = "20";

    /// <summary>Sets <see cref="EnvName"/> in the native environment unless it is set; true when this call set it.</summary>
    public static bool Apply() => string.IsNullOrEmpty(NativeEnv.Get(EnvName)) && NativeEnv.Set(EnvName, Timeout);
}

/// <summary>
/// The native (libc) environment. .NET keeps its own copy of the environment on Unix, so
/// <see cref="Environment.SetEnvironmentVariable(string, string?)"/> is not seen by a native library's getenv;
/// these call libc's getenv/setenv/unsetenv directly.
/// </summary>
internal static unsafe class NativeEnv
{
    private static readonly object Gate = new();
    private static bool _resolved;
    private static delegate* unmanaged[Cdecl]<byte*, byte*> _getenv;
    private static delegate* unmanaged[Cdecl]<byte*, byte*, int, int> _setenv;
    private static delegate* unmanaged[Cdecl]<byte*, int> _unsetenv;

    private static bool Resolve()
    {
        lock (Gate)
        {
            if (_resolved) return _getenv != null;
            _resolved = true;
            if (OperatingSystem.IsWindows()) return false;
            string[] names = OperatingSystem.IsMacOS() ? ["/usr/lib/libSystem.B.dylib", "libc.dylib"] : ["libc.so.6", "libc.so"];
            foreach (var name in names)
            {
                if (!NativeLibrary.TryLoad(name, out var lib)) continue;
                if (NativeLibrary.TryGetExport(lib, "getenv", out var g) && NativeLibrary.TryGetExport(lib, "setenv", out var s)
                    && NativeLibrary.TryGetExport(lib, "unsetenv", out var u))
                {
                    _getenv = (delegate* unmanaged[Cdecl]<byte*, byte*>)g;
                    _setenv = (delegate* unmanaged[Cdecl]<byte*, byte*, int, int>)s;
                    _unsetenv = (delegate* unmanaged[Cdecl]<byte*, int>)u;
                    return true;
                }
            }
            return false;
        }
    }

    /// <summary>The native value of an environment variable, or null when unset (falls back to .NET's copy where libc is unavailable).</summary>
    public static string? Get(string name)
    {
        if (!Resolve()) return Environment.GetEnvironmentVariable(name);
        var n = System.Text.Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* pn = n)
        {
            byte* v = _getenv(pn);
            return v == null ? null : Marshal.PtrToStringUTF8((IntPtr)v);
        }
    }

    /// <summary>Sets (value non-null) or removes (value null) a native environment variable; false when libc is unavailable.</summary>
    public static bool Set(string name, string? value)
    {
        if (!Resolve()) return false;
        var n = System.Text.Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* pn = n)
        {
            if (value is null) return _unsetenv(pn) == 0;
            var v = System.Text.Encoding.UTF8.GetBytes(value + "\0");
            fixed (byte* pv = v) return _setenv(pn, pv, 1) == 0;
        }
    }
}

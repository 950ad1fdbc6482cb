using Cartan.Linalg;
using static Cartan.Tests.Linalg.LinalgTestKit;

namespace Cartan.Tests.Linalg;

/// <summary>The OPENBLAS_CORETYPE decision, its application, probing, and that results do not depend on the core.</summary>
public class OpenBlasCoreTests
{
    [Theory]
    [InlineData(true, true, true, true, true, "SkylakeX")]
    [InlineData(true, true, false, true, true, "Haswell")]   // AVX-512F without BW (Knights Landing): no SkylakeX kernels
    [InlineData(true, false, false, true, true, "Haswell")]
    [InlineData(true, false, false, true, false, null)]      // AVX2 without FMA: leave OpenBLAS alone
    [InlineData(true, false, false, false, false, null)]
    [InlineData(false, true, true, true, true, null)]        // not x86-64
    public void CoreDecision(bool x64, bool avx512f, bool avx512bw, bool avx2, bool fma, string? expected) =>
        Assert.Equal(expected, OpenBlasCore.Decide(new CpuFeatures(x64, avx512f, avx512bw, avx2, fma)));

    [Fact]
    public void ApplyRespectsTheUserAndSetsTheNativeEnvironment()
    {
        _ = LinalgEngine.Default; // OpenBLAS is loaded before we touch the variable
        var avx2 = new CpuFeatures(true, false, false, true, true);
        lock (NativeBackend.LoadGate)
        {
            string? saved = NativeEnv.Get(OpenBlasCore.EnvName);
            try
            {
                NativeEnv.Set(OpenBlasCore.EnvName, "Sandybridge");
                Assert.Equal(OpenBlasCore.Origin.SetByUser, OpenBlasCore.Apply(avx2));
                Assert.Equal("Sandybridge", NativeEnv.Get(OpenBlasCore.EnvName));

                NativeEnv.Set(OpenBlasCore.EnvName, null);
                Assert.Equal(OpenBlasCore.Origin.Autodetected, OpenBlasCore.Apply(new CpuFeatures(true, false, false, false, false)));
                Assert.Null(NativeEnv.Get(OpenBlasCore.EnvName));

                Assert.Equal(OpenBlasCore.Origin.SetByCartan, OpenBlasCore.Apply(avx2));
                Assert.Equal("Haswell", NativeEnv.Get(OpenBlasCore.EnvName));
            }
            finally
            {
                NativeEnv.Set(OpenBlasCore.EnvName, saved);
            }
        }
    }

    [Fact]
    public void The_worker_spin_timeout_is_set_before_loading_unless_the_user_set_one()
    {
        _ = LinalgEngine.Default;
        string? user = Environment.GetEnvironmentVariable(OpenBlasThreads.EnvName);
        // The probe that loaded OpenBLAS in this process left the user's value or ours in the native environment.
        Assert.Equal(string.IsNullOrEmpty(user) ? OpenBlasThreads.Timeout : user, NativeEnv.Get(OpenBlasThreads.EnvName));
        lock (NativeBackend.LoadGate)
        {
            string? saved = NativeEnv.Get(OpenBlasThreads.EnvName);
            try
            {
                NativeEnv.Set(OpenBlasThreads.EnvName, "25");
                Assert.False(OpenBlasThreads.Apply());
                Assert.Equal("25", NativeEnv.Get(OpenBlasThreads.EnvName));
                NativeEnv.Set(OpenBlasThreads.EnvName, null);
                Assert.True(OpenBlasThreads.Apply());
                Assert.Equal(OpenBlasThreads.Timeout, NativeEnv.Get(OpenBlasThreads.EnvName));
            }
            finally { NativeEnv.Set(OpenBlasThreads.EnvName, saved); }
        }
    }

    [Fact]
    public void DefaultBackendOnThisMachineRunsTheFixedCore()
    {
        if (!File.Exists(OpenBlasFile) || Environment.GetEnvironmentVariable(LinalgEngine.ForceVariable) is { Length: > 0 }) return;
        string name = Lapack.BackendName;
        Assert.Equal(LinalgBackendKind.OpenBlas, Lapack.BackendKind);
        Assert.StartsWith("openblas 0.", name);
        string? user = Environment.GetEnvironmentVariable(OpenBlasCore.EnvName);
        string? ours = OpenBlasCore.Decide(CpuFeatures.Current);
        if (string.IsNullOrEmpty(user) && ours is not null)
            Assert.Contains($"core {ours}, ", name, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(string.IsNullOrEmpty(user) ? (ours is null ? "autodetected" : "set by cartan") : "set by user", name);
    }

    [Fact]
    public void ResultsDoNotDependOnTheOpenBlasCore()
    {
        if (!File.Exists(OpenBlasFile)) return;
        _ = LinalgEngine.Default;
        // A copy of the library is a second, independent OpenBLAS instance that reads OPENBLAS_CORETYPE afresh.
        string real = new FileInfo(OpenBlasFile).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? OpenBlasFile;
        string copy = Path.Combine(Path.GetTempPath(), $"cartan-openblas-{Environment.ProcessId}-{Guid.NewGuid():N}.so");
        File.Copy(real, copy);
        NativeBackend? prescott;
        try { prescott = NativeBackend.LoadOpenBlasWithCore(copy, "Prescott"); }
        finally { File.Delete(copy); } // the mapping stays valid
        Assert.NotNull(prescott);
        Assert.Contains("core Prescott", prescott!.Name);
        var slow = new LinalgEngine(prescott);

        foreach (var (m, n) in new[] { (120, 50), (50, 120) })
        {
            var a = Gaussian(new Random(m), m * n);
            var sm = Managed.SingularValues(a, m, n);
            Close(sm, slow.SingularValues(a, m, n), 1e-10, sm[0], "σ Prescott vs managed");
            Close(sm, OpenBlas.SingularValues(a, m, n), 1e-10, sm[0], "σ fixed core vs managed");
            var gm = Managed.Gram(a, m, n, false);
            Close(gm, slow.Gram(a, m, n, false), 1e-10, MaxAbs(gm), "Gram Prescott vs managed");
            var svd = slow.Svd(a, m, n);
            Close(Managed.Svd(a, m, n).S, svd.S, 1e-10, sm[0], "Svd Prescott vs managed");
            var c = Managed.MatMul(a, m, n, a, m, transB: true);
            Close(c, slow.MatMul(a, m, n, a, m, transB: true), 1e-10, MaxAbs(c), "MatMul Prescott vs managed");
        }
    }

    [Fact]
    public void ProbeHonoursTheForceVariable()
    {
        _ = LinalgEngine.Default;
        string? saved = Environment.GetEnvironmentVariable(LinalgEngine.ForceVariable);
        try
        {
            Environment.SetEnvironmentVariable(LinalgEngine.ForceVariable, "managed");
            Assert.Same(ManagedBackend.Instance, LinalgEngine.Probe());
            Environment.SetEnvironmentVariable(LinalgEngine.ForceVariable, "cuda");
            Assert.Throws<LinalgException>(() => LinalgEngine.Probe());
            if (File.Exists(ReferenceLapackFile))
            {
                Environment.SetEnvironmentVariable(LinalgEngine.ForceVariable, "Reference");
                Assert.Equal(LinalgBackendKind.Reference, LinalgEngine.Probe().Kind);
            }
            if (File.Exists(OpenBlasFile))
            {
                Environment.SetEnvironmentVariable(LinalgEngine.ForceVariable, "openblas");
                Assert.Equal(LinalgBackendKind.OpenBlas, LinalgEngine.Probe().Kind);
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable(LinalgEngine.ForceVariable, saved);
        }
    }
}

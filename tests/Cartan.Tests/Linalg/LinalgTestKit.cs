using Cartan.Linalg;

namespace Cartan.Tests.Linalg;

/// <summary>Independent helpers for the linear-algebra tests: naive products, random orthogonal factors, engines per backend.</summary>
internal static class LinalgTestKit
{
    public const string OpenBlasFile = "/usr/lib/x86_64-linux-gnu/libopenblas.so.0";
    public const string ReferenceLapackFile = "/usr/lib/x86_64-linux-gnu/lapack/liblapack.so.3";

    public static readonly LinalgEngine Managed = new(ManagedBackend.Instance);

    private static readonly Lazy<LinalgEngine> LazyOpenBlas = new(() =>
    {
        var d = LinalgEngine.Default; // the process-wide probe runs first, so the core fix is in place
        if (d.Backend.Kind == LinalgBackendKind.OpenBlas) return d;
        lock (NativeBackend.LoadGate)
            return new LinalgEngine((LinalgBackend?)NativeBackend.TryOpenBlas(OpenBlasCore.Origin.Autodetected, null, out _) ?? ManagedBackend.Instance);
    });

    private static readonly Lazy<LinalgEngine> LazyReference = new(() =>
    {
        _ = LinalgEngine.Default;
        lock (NativeBackend.LoadGate)
            return new LinalgEngine((LinalgBackend?)NativeBackend.TryReference(out _) ?? ManagedBackend.Instance);
    });

    /// <summary>OpenBLAS when installed (else managed: the comparisons then hold trivially; NativeLoads* tests catch that).</summary>
    public static LinalgEngine OpenBlas => LazyOpenBlas.Value;

    public static LinalgEngine Reference => LazyReference.Value;

    public static LinalgEngine Get(string name) => name switch
    {
        "managed" => Managed,
        "openblas" => OpenBlas,
        "reference" => Reference,
        _ => throw new ArgumentException(name),
    };

    public static TheoryData<string> AllBackends => new() { "managed", "openblas", "reference" };

    public static TheoryData<string> NativeBackends => new() { "openblas", "reference" };

    public static double[] Gaussian(Random rng, int count)
    {
        var x = new double[count];
        for (int i = 0; i < count; i++)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            x[i] = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
        }
        return x;
    }

    /// <summary>n×k row-major with orthonormal columns: modified Gram–Schmidt (twice) on a Gaussian matrix.</summary>
    public static double[] Orthonormal(Random rng, int n, int k)
    {
        var q = Gaussian(rng, n * k);
        for (int pass = 0; pass < 2; pass++)
            for (int j = 0; j < k; j++)
            {
                for (int p = 0; p < j; p++)
                {
                    double dot = 0;
                    for (int i = 0; i < n; i++) dot += q[i * k + j] * q[i * k + p];
                    for (int i = 0; i < n; i++) q[i * k + j] -= dot * q[i * k + p];
                }
                double norm = 0;
                for (int i = 0; i < n; i++) norm += q[i * k + j] * q[i * k + j];
                norm = Math.Sqrt(norm);
                for (int i = 0; i < n; i++) q[i * k + j] /= norm;
            }
        return q;
    }

    /// <summary>Naive C = A·B for row-major A (m×k), B (k×n).</summary>
    public static double[] Mul(double[] a, int m, int k, double[] b, int n)
    {
        var c = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
                c[i * n + j] = s;
            }
        return c;
    }

    public static double[] Transpose(double[] a, int rows, int cols)
    {
        var t = new double[a.Length];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
        return t;
    }

    /// <summary>U·diag(s)·Vᵀ with U m×r, V n×r (r = s.Length).</summary>
    public static double[] Compose(double[] u, double[] s, double[] v, int m, int n)
    {
        int r = s.Length;
        var us = (double[])u.Clone();
        for (int i = 0; i < m; i++)
            for (int j = 0; j < r; j++) us[i * r + j] *= s[j];
        return Mul(us, m, r, Transpose(v, n, r), n);
    }

    /// <summary>A test matrix with known singular values: random orthonormal U (m×r), V (n×r), A = U diag(s) Vᵀ.</summary>
    public static double[] WithSingularValues(int seed, int m, int n, double[] s)
    {
        var rng = new Random(seed);
        return Compose(Orthonormal(rng, m, s.Length), s, Orthonormal(rng, n, s.Length), m, n);
    }

    /// <summary>Geometric spectrum top·ratio^i, well separated.</summary>
    public static double[] Geometric(int count, double top, double ratio)
    {
        var s = new double[count];
        for (int i = 0; i < count; i++) s[i] = top * Math.Pow(ratio, i);
        return s;
    }

    public static double MaxAbs(ReadOnlySpan<double> x)
    {
        double m = 0;
        foreach (var v in x) m = Math.Max(m, Math.Abs(v));
        return m;
    }

    /// <summary>Asserts |expected − actual| ≤ tol·scale elementwise.</summary>
    public static void Close(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, double tol, double scale, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(expected[i] - actual[i]);
            Assert.True(err <= tol * scale, $"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R} (|err| {err:E2} > {tol:E1}·{scale:G4})");
        }
    }

    /// <summary>Columns of the rows×cols row-major q are orthonormal to tol (skipping columns listed as zero).</summary>
    public static void Orthonormal(double[] q, int rows, int cols, double tol, string what, Func<int, bool>? skip = null)
    {
        for (int a = 0; a < cols; a++)
            for (int b = a; b < cols; b++)
            {
                if (skip is not null && (skip(a) || skip(b))) continue;
                double dot = 0;
                for (int i = 0; i < rows; i++) dot += q[i * cols + a] * q[i * cols + b];
                double want = a == b ? 1 : 0;
                Assert.True(Math.Abs(dot - want) <= tol, $"{what}: column {a}·column {b} = {dot:R}, want {want}");
            }
    }

    /// <summary>Column j of x equals ±column j of y (the sign of a singular/eigen vector is arbitrary).</summary>
    public static void SameColumnsUpToSign(double[] x, double[] y, int rows, int cols, double tol, string what)
    {
        Assert.Equal(x.Length, y.Length);
        for (int j = 0; j < cols; j++)
        {
            double dot = 0;
            for (int i = 0; i < rows; i++) dot += x[i * cols + j] * y[i * cols + j];
            double sign = dot >= 0 ? 1 : -1;
            for (int i = 0; i < rows; i++)
            {
                double err = Math.Abs(x[i * cols + j] - sign * y[i * cols + j]);
                Assert.True(err <= tol, $"{what}: column {j} row {i}: {x[i * cols + j]:R} vs {sign * y[i * cols + j]:R}");
            }
        }
    }
}

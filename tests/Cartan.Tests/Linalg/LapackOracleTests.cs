using Cartan.Linalg;
using static Cartan.Tests.Linalg.LinalgTestKit;

namespace Cartan.Tests.Linalg;

/// <summary>Closed-form oracles, run against every backend (managed, OpenBLAS, reference LAPACK).</summary>
public class LapackOracleTests
{
    public static TheoryData<string> Backends => AllBackends;

    public static TheoryData<string, int, int> BackendShapes()
    {
        var d = new TheoryData<string, int, int>();
        foreach (var b in new[] { "managed", "openblas", "reference" })
            foreach (var (m, n) in new[] { (60, 25), (25, 60), (40, 40), (1, 17), (17, 1), (1, 1) })
                d.Add(b, m, n);
        return d;
    }

    [Theory, MemberData(nameof(BackendShapes))]
    public void SingularValuesMatchConstruction(string backend, int m, int n)
    {
        var e = Get(backend);
        int p = Math.Min(m, n);
        var s = Geometric(p, 10, 0.85);
        var a = WithSingularValues(1000 + m * 7 + n, m, n, s);
        var got = e.SingularValues(a, m, n);
        Close(s, got, 1e-12, s[0], $"{backend} σ");
    }

    [Theory, MemberData(nameof(Backends))]
    public void SingularValuesOfDiagonalAreSortedMagnitudes(string backend)
    {
        var e = Get(backend);
        double[] diag = [3, -7, 0.5, 0, 2];
        int m = 5, n = 8;
        var a = new double[m * n];
        for (int i = 0; i < m; i++) a[i * n + i] = diag[i];
        Close(new double[] { 7, 3, 2, 0.5, 0 }, e.SingularValues(a, m, n), 1e-14, 7, backend);
        Close(new double[] { 7, 3, 2, 0.5, 0 }, e.SingularValues(Transpose(a, m, n), n, m), 1e-14, 7, backend);
    }

    [Theory, MemberData(nameof(Backends))]
    public void RankDeficientSingularValues(string backend)
    {
        // Rank 6 of 30: the Gram route resolves σ² to rounding relative to σ₁², so zero σ come out ≤ ~√ε·σ₁.
        var e = Get(backend);
        int m = 45, n = 30;
        var s = Geometric(6, 5, 0.7);
        var a = WithSingularValues(7, m, n, s);
        var got = e.SingularValues(a, m, n);
        Assert.Equal(n, got.Length);
        for (int i = 0; i < n; i++)
        {
            double want = i < 6 ? s[i] : 0;
            Assert.True(Math.Abs(got[i] * got[i] - want * want) <= 1e-12 * s[0] * s[0], $"{backend} σ[{i}] = {got[i]:R}, want {want}");
            Assert.True(got[i] >= 0);
        }
        var svd = e.Svd(a, m, n); // dgesdd / Jacobi resolve the zeros to ε·σ₁
        for (int i = 6; i < n; i++) Assert.True(svd.S[i] <= 1e-13 * s[0], $"{backend} svd σ[{i}] = {svd.S[i]:R}");
        Close(s, svd.S.AsSpan(0, 6), 1e-12, s[0], backend);
    }

    [Theory, MemberData(nameof(Backends))]
    public void OneRowOneColumnZeroAndEmpty(string backend)
    {
        var e = Get(backend);
        double[] row = [3, 4, 0, 12];
        Close(new double[] { 13 }, e.SingularValues(row, 1, 4), 1e-15, 13, "1×n");
        Close(new double[] { 13 }, e.SingularValues(row, 4, 1), 1e-15, 13, "n×1");
        Close(new double[5], e.SingularValues(new double[7 * 5], 7, 5), 0, 1, "zero");
        Assert.Empty(e.SingularValues([], 0, 5));
        Assert.Empty(e.SingularValues([], 5, 0));

        var one = e.Svd(row, 1, 4);
        Close(new double[] { 13 }, one.S, 1e-15, 13, "svd 1×n");
        Assert.Equal(1, Math.Abs(one.U[0]), 14);
        Close(row.Select(x => x / 13 * Math.Sign(one.U[0])).ToArray(), one.V, 1e-15, 1, "svd 1×n V");

        var top = e.TopSvd(row, 1, 4, 1);
        Assert.Equal(13, top.S[0], 13);
        Close(row.Select(x => x / 13 * Math.Sign(top.U[0])).ToArray(), top.V, 1e-15, 1, "top 1×n V");
        var topT = e.TopSvd(row, 4, 1, 1);
        Assert.Equal(13, topT.S[0], 13);
        Close(row.Select(x => x / 13 * Math.Sign(topT.V[0])).ToArray(), topT.U, 1e-15, 1, "top n×1 U");

        var zero = e.Svd(new double[6 * 4], 6, 4);
        Close(new double[4], zero.S, 0, 1, "svd zero S");
        Orthonormal(zero.U, 6, 4, 1e-14, "svd zero U");
        Orthonormal(zero.V, 4, 4, 1e-14, "svd zero V");

        var empty = e.Svd([], 0, 3);
        Assert.Equal(0, empty.Rank);
        Assert.Equal(3, empty.Cols);
    }

    [Theory, MemberData(nameof(BackendShapes))]
    public void SvdReconstructsWithOrthonormalFactors(string backend, int m, int n)
    {
        var e = Get(backend);
        int p = Math.Min(m, n);
        var s = Geometric(p, 4, 0.8);
        var a = WithSingularValues(2000 + m * 3 + n, m, n, s);
        var r = e.Svd(a, m, n);
        Assert.Equal((m, n, p), (r.Rows, r.Cols, r.Rank));
        Close(s, r.S, 1e-13, s[0], "S");
        Orthonormal(r.U, m, p, 1e-12, $"{backend} U");
        Orthonormal(r.V, n, p, 1e-12, $"{backend} V");
        Close(a, Compose(r.U, r.S, r.V, m, n), 1e-13, s[0], $"{backend} U S Vᵀ");
    }

    [Theory, MemberData(nameof(Backends))]
    public void SvdOfRankDeficientStillOrthonormal(string backend)
    {
        var e = Get(backend);
        int m = 20, n = 35;
        var a = WithSingularValues(3, m, n, [9, 4, 1]);
        var r = e.Svd(a, m, n);
        Orthonormal(r.U, m, m, 1e-12, $"{backend} U");
        Orthonormal(r.V, n, m, 1e-12, $"{backend} V");
        Close(a, Compose(r.U, r.S, r.V, m, n), 1e-13, 9, $"{backend} U S Vᵀ");
    }

    [Theory, MemberData(nameof(Backends))]
    public void TopSvdIsTheLeadingPartOfTheFullSvd(string backend)
    {
        var e = Get(backend);
        // k = 5: the index-range eigensolver; (100, 70, 30) and (70, 100, 70): a third of the spectrum or more with
        // p ≥ 64, where TopSvd takes all eigenvectors by divide and conquer and keeps the leading ones.
        foreach (var (m, n, k) in new[] { (50, 30, 5), (30, 50, 5), (100, 70, 30), (70, 100, 70) })
        {
            int p = Math.Min(m, n);
            // The long side is accurate to about ε·σ₁/σ_k: keep σ_k/σ₁ ≥ 0.1 so the 1e-12 checks below apply.
            var s = Geometric(p, 6, k == 5 ? 0.75 : 0.97);
            var a = WithSingularValues(40 + m, m, n, s);
            var top = e.TopSvd(a, m, n, k);
            var full = e.Svd(a, m, n);
            Assert.Equal(k, top.Rank);
            Close(e.SingularValues(a, m, n).AsSpan(0, k), top.S, 1e-12, s[0], "top S vs SingularValues");
            Close(s.AsSpan(0, k), top.S, 1e-12, s[0], "top S vs oracle");
            Orthonormal(top.U, m, k, 1e-12, $"{backend} top U");
            Orthonormal(top.V, n, k, 1e-12, $"{backend} top V");
            SameColumnsUpToSign(Leading(full.U, m, p, k), top.U, m, k, 1e-10, "U");
            SameColumnsUpToSign(Leading(full.V, n, p, k), top.V, n, k, 1e-10, "V");
            // A·v_j = σ_j·u_j with the returned pairing (signs consistent between the sides).
            var av = Mul(a, m, n, top.V, k);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < k; j++)
                    Assert.True(Math.Abs(av[i * k + j] - top.S[j] * top.U[i * k + j]) <= 1e-12 * s[0]);
        }
    }

    [Theory, MemberData(nameof(Backends))]
    public void TopSvdOfZeroMatrixGivesZeroLongSide(string backend)
    {
        var e = Get(backend);
        var r = e.TopSvd(new double[10 * 4], 10, 4, 2);
        Close(new double[2], r.S, 0, 1, "S");
        Orthonormal(r.V, 4, 2, 1e-14, "short side V");
        Close(new double[20], r.U, 0, 1, "long side U is zero");
        Assert.Equal(0, e.TopSvd(new double[12], 3, 4, 0).Rank);
        Assert.Throws<ArgumentOutOfRangeException>(() => e.TopSvd(new double[12], 3, 4, 4));
    }

    internal static double[] Leading(double[] x, int rows, int cols, int k)
    {
        var y = new double[rows * k];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < k; j++) y[i * k + j] = x[i * cols + j];
        return y;
    }

    [Theory, MemberData(nameof(Backends))]
    public void GramMatchesNaiveProducts(string backend)
    {
        var e = Get(backend);
        foreach (var (m, n) in new[] { (13, 29), (29, 13), (1, 5), (5, 1) })
        {
            var a = Gaussian(new Random(m * 31 + n), m * n);
            var at = Transpose(a, m, n);
            double scale = MaxAbs(a) * MaxAbs(a) * Math.Max(m, n);
            Close(Mul(a, m, n, at, m), e.Gram(a, m, n, rowsGram: true), 1e-14, scale, $"{backend} AAᵀ");
            Close(Mul(at, n, m, a, n), e.Gram(a, m, n, rowsGram: false), 1e-14, scale, $"{backend} AᵀA");
        }
        Close(new double[9], e.Gram([], 3, 0, rowsGram: true), 0, 1, "3×0 rows Gram is zero");
    }

    [Theory, MemberData(nameof(Backends))]
    public void MatMulMatchesNaiveForEveryTransposeCombination(string backend)
    {
        var e = Get(backend);
        int m = 11, k = 7, n = 9;
        var rng = new Random(5);
        var a = Gaussian(rng, m * k); // op(A), m×k
        var b = Gaussian(rng, k * n); // op(B), k×n
        var want = Mul(a, m, k, b, n);
        var at = Transpose(a, m, k);  // stored k×m
        var bt = Transpose(b, k, n);  // stored n×k
        Close(want, e.MatMul(a, m, k, b, n, false, false), 1e-14, 10, "NN");
        Close(want, e.MatMul(at, m, k, b, n, true, false), 1e-14, 10, "TN");
        Close(want, e.MatMul(a, m, k, bt, n, false, true), 1e-14, 10, "NT");
        Close(want, e.MatMul(at, m, k, bt, n, true, true), 1e-14, 10, "TT");
        Close(new double[m * n], e.MatMul([], m, 0, [], n), 0, 1, "k = 0");
        Close(Mul(a, 1, 1, b, 1), e.MatMul(a.AsSpan(0, 1), 1, 1, b.AsSpan(0, 1), 1), 1e-15, 10, "1×1");
    }

    [Theory, MemberData(nameof(Backends))]
    public void SymmetricEigenMatchesConstruction(string backend)
    {
        var e = Get(backend);
        foreach (int n in new[] { 1, 2, 3, 37, 120 })
        {
            var rng = new Random(n);
            var q = Orthonormal(rng, n, n);
            var lam = Enumerable.Range(0, n).Select(i => -3 + 7.0 * i / Math.Max(n - 1, 1) + 0.01 * rng.NextDouble()).ToArray();
            var a = Compose(q, lam, q, n, n);
            for (int i = 0; i < n; i++)
                for (int j = i + 1; j < n; j++) a[i * n + j] = 1e6; // upper triangle must not be read
            var (values, vectors) = e.SymmetricEigen(a, n, vectors: true);
            Close(lam, values, 1e-13, 4, $"{backend} λ n={n}");
            Assert.NotNull(vectors);
            Orthonormal(vectors!, n, n, 1e-12, $"{backend} eigenvectors n={n}");
            SameColumnsUpToSign(q, vectors!, n, n, 1e-10, $"{backend} eigenvectors n={n}");
            var (valuesOnly, none) = e.SymmetricEigen(a, n, vectors: false);
            Assert.Null(none);
            Close(lam, valuesOnly, 1e-13, 4, $"{backend} λ (values only) n={n}");
        }
        var empty = e.SymmetricEigen([], 0, true);
        Assert.Empty(empty.Values);
    }

    [Theory, MemberData(nameof(Backends))]
    public void RepeatedEigenvaluesGiveAnOrthonormalBasis(string backend)
    {
        var e = Get(backend);
        int n = 30;
        var q = Orthonormal(new Random(77), n, n);
        var lam = Enumerable.Range(0, n).Select(i => i < 10 ? 2.0 : i < 25 ? 5.0 : 0.0).OrderBy(x => x).ToArray();
        var a = Compose(q, lam, q, n, n);
        var (values, vectors) = e.SymmetricEigen(a, n, true);
        Close(lam, values, 1e-13, 5, "λ");
        Orthonormal(vectors!, n, n, 1e-12, "V");
        Close(a, Compose(vectors!, values, vectors!, n, n), 1e-13, 5, "V Λ Vᵀ");
    }
}

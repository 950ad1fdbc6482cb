using Cartan.Linalg;
using static Cartan.Tests.Linalg.LinalgTestKit;

namespace Cartan.Tests.Linalg;

/// <summary>Managed and native backends give the same answers (1e-10 relative) for every function.</summary>
public class BackendAgreementTests
{
    public static TheoryData<string> Natives => NativeBackends;

    private static double[] Random(int seed, int count) => Gaussian(new Random(seed), count);

    [Fact]
    public void NativeLibrariesLoadWhenInstalled()
    {
        // These files come with `apt-get install libopenblas0-pthread liblapack3` (scripts/install-native.sh).
        if (File.Exists(OpenBlasFile)) Assert.Equal(LinalgBackendKind.OpenBlas, OpenBlas.Backend.Kind);
        if (File.Exists(ReferenceLapackFile))
        {
            Assert.Equal(LinalgBackendKind.Reference, Reference.Backend.Kind);
            Assert.StartsWith("reference lapack", Reference.Backend.Name);
        }
    }

    [Theory, MemberData(nameof(Natives))]
    public void SingularValuesAgree(string native)
    {
        var n = Get(native);
        foreach (var (rows, cols) in new[] { (300, 120), (120, 300), (64, 64) })
        {
            var a = Random(rows + cols, rows * cols);
            var sm = Managed.SingularValues(a, rows, cols);
            var sn = n.SingularValues(a, rows, cols);
            Close(sm, sn, 1e-10, sm[0], $"{native} σ {rows}×{cols}");
        }
        // rank-deficient: compare σ² relative to σ₁² (σ below √ε·σ₁ is rounding noise in both)
        var r = WithSingularValues(9, 80, 50, Geometric(10, 3, 0.8));
        var s1 = Managed.SingularValues(r, 80, 50).Select(x => x * x).ToArray();
        var s2 = n.SingularValues(r, 80, 50).Select(x => x * x).ToArray();
        Close(s1, s2, 1e-10, s1[0], $"{native} σ² rank-deficient");
    }

    [Theory, MemberData(nameof(Natives))]
    public void SvdAgrees(string native)
    {
        var n = Get(native);
        foreach (var (rows, cols) in new[] { (90, 40), (40, 90) })
        {
            int p = Math.Min(rows, cols);
            var a = WithSingularValues(rows * 5 + cols, rows, cols, Geometric(p, 8, 0.9));
            var m = Managed.Svd(a, rows, cols);
            var x = n.Svd(a, rows, cols);
            Close(m.S, x.S, 1e-10, m.S[0], $"{native} S");
            SameColumnsUpToSign(m.U, x.U, rows, p, 1e-10, $"{native} U");
            SameColumnsUpToSign(m.V, x.V, cols, p, 1e-10, $"{native} V");
        }
    }

    [Theory, MemberData(nameof(Natives))]
    public void TopSvdAgrees(string native)
    {
        var n = Get(native);
        foreach (var (rows, cols) in new[] { (200, 70), (70, 200) })
        {
            int k = 8;
            var a = WithSingularValues(rows + 3 * cols, rows, cols, Geometric(Math.Min(rows, cols), 5, 0.8));
            var m = Managed.TopSvd(a, rows, cols, k);
            var x = n.TopSvd(a, rows, cols, k);
            Close(m.S, x.S, 1e-10, m.S[0], $"{native} top S");
            SameColumnsUpToSign(m.U, x.U, rows, k, 1e-10, $"{native} top U");
            SameColumnsUpToSign(m.V, x.V, cols, k, 1e-10, $"{native} top V");
        }
    }

    [Theory, MemberData(nameof(Natives))]
    public void GramAndMatMulAgree(string native)
    {
        var n = Get(native);
        int rows = 70, cols = 45;
        var a = Random(1, rows * cols);
        var b = Random(2, cols * 33);
        foreach (bool rowsGram in new[] { true, false })
        {
            var gm = Managed.Gram(a, rows, cols, rowsGram);
            Close(gm, n.Gram(a, rows, cols, rowsGram), 1e-10, MaxAbs(gm), $"{native} Gram {rowsGram}");
        }
        var cm = Managed.MatMul(a, rows, cols, b, 33);
        Close(cm, n.MatMul(a, rows, cols, b, 33), 1e-10, MaxAbs(cm), $"{native} MatMul");
        var ctm = Managed.MatMul(a, cols, rows, a, cols, transA: true);
        Close(ctm, n.MatMul(a, cols, rows, a, cols, transA: true), 1e-10, MaxAbs(ctm), $"{native} MatMul Aᵀ·A");
    }

    [Theory, MemberData(nameof(Natives))]
    public void SymmetricEigenAgrees(string native)
    {
        var n = Get(native);
        int size = 150;
        var g = Random(11, size * size);
        var sym = new double[size * size];
        for (int i = 0; i < size; i++)
            for (int j = 0; j < size; j++) sym[i * size + j] = g[i * size + j] + g[j * size + i];
        var (vm, em) = Managed.SymmetricEigen(sym, size, true);
        var (vn, en) = n.SymmetricEigen(sym, size, true);
        double scale = Math.Max(Math.Abs(vm[0]), Math.Abs(vm[^1]));
        Close(vm, vn, 1e-10, scale, $"{native} λ");
        // Vectors of a random matrix: gaps ~ scale/size; compare where neighbours are not too close.
        SameColumnsUpToSign(em!, en!, size, size, 1e-8, $"{native} eigenvectors");
        Close(vm, n.SymmetricEigen(sym, size, false).Values, 1e-10, scale, $"{native} λ only");
    }
}

using Cartan.Noise;

namespace Cartan.Tests.Noise;

public class DirichletGridTests
{
    public static TheoryData<int, int, GChBoundary> Grids => new()
    {
        { 7, 7, GChBoundary.Ring },
        { 6, 5, GChBoundary.Ring },
        { 4, 3, GChBoundary.Ghost },
        { 5, 6, GChBoundary.Ghost },
        { 3, 4, GChBoundary.Ring },
    };

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(12)]
    [InlineData(31)]
    public void DstMatrixIsOrthonormalAndSymmetric(int n)
    {
        var s = DirichletGrid.DstMatrix(n);
        for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++)
            {
                Assert.Equal(s[a * n + b], s[b * n + a]);
                double dot = 0;
                for (int i = 0; i < n; i++) dot += s[a * n + i] * s[b * n + i];
                Assert.True(Math.Abs(dot - (a == b ? 1 : 0)) < 1e-13, $"n={n}: (S Sᵀ)[{a},{b}] = {dot}");
            }
    }

    [Theory]
    [MemberData(nameof(Grids))]
    public void EigenbasisDiagonalisesTheStencilLaplacian(int h, int w, GChBoundary boundary)
    {
        // Sᵀ-basis: (e_kl)ᵀ L_U e_k'l' = λ_kl δ, with L_U built from the stencil and e_kl(i,j) = S1[k,i]S2[l,j].
        var grid = new DirichletGrid(h, w, boundary);
        int n1 = grid.N1, n2 = grid.N2, n = grid.InteriorCount;
        var lap = grid.LaplacianDense();
        var e = new double[n * n]; // row = mode (k,l), column = site (i,j)
        for (int k = 0; k < n1; k++)
            for (int l = 0; l < n2; l++)
                for (int i = 0; i < n1; i++)
                    for (int j = 0; j < n2; j++)
                        e[(k * n2 + l) * n + i * n2 + j] = grid.S1[k * n1 + i] * grid.S2[l * n2 + j];
        for (int p = 0; p < n; p++)
        {
            var le = new double[n];
            for (int u = 0; u < n; u++)
                for (int v = 0; v < n; v++) le[u] += lap[u * n + v] * e[p * n + v];
            for (int q = 0; q < n; q++)
            {
                double m = 0;
                for (int u = 0; u < n; u++) m += e[q * n + u] * le[u];
                double want = p == q ? grid.Eigenvalues[p] : 0;
                Assert.True(Math.Abs(m - want) < 1e-12, $"{h}×{w} {boundary}: (EᵀLE)[{p},{q}] = {m}, want {want}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Grids))]
    public void LaplacianTimesGreenIsIdentity(int h, int w, GChBoundary boundary)
    {
        var grid = new DirichletGrid(h, w, boundary);
        int n = grid.InteriorCount;
        var lap = grid.LaplacianDense();
        var green = grid.GreenDense();
        for (int u = 0; u < n; u++)
            for (int v = 0; v < n; v++)
            {
                double s = 0;
                for (int t = 0; t < n; t++) s += lap[u * n + t] * green[t * n + v];
                Assert.True(Math.Abs(s - (u == v ? 1 : 0)) < 1e-12, $"{h}×{w} {boundary}: (L G)[{u},{v}] = {s}");
            }
    }

    [Fact]
    public void EigenvaluesGreenAndVarianceMapMatchNumpy()
    {
        int cases = 0;
        foreach (var c in NoiseReference.Grids)
        {
            int h = c.GetProperty("height").GetInt32(), w = c.GetProperty("width").GetInt32();
            double s = c.GetProperty("strength").GetDouble();
            var grid = new DirichletGrid(h, w, c.Boundary());
            string name = $"{h}×{w} {grid.Boundary}";
            Assert.Equal(c.GetProperty("n1").GetInt32(), grid.N1);
            Assert.Equal(c.GetProperty("n2").GetInt32(), grid.N2);

            var want = c.Doubles("eigenvalues");
            var got = grid.Eigenvalues.ToArray();
            Array.Sort(got);
            Assert.Equal(want.Length, got.Length);
            for (int i = 0; i < want.Length; i++) Assert.True(Math.Abs(got[i] - want[i]) < 1e-12, $"{name}: λ[{i}] = {got[i]}, numpy {want[i]}");

            var green = c.Doubles("green");
            var mine = grid.GreenDense();
            Assert.Equal(green.Length, mine.Length);
            for (int i = 0; i < green.Length; i++) Assert.True(Math.Abs(mine[i] - green[i]) < 1e-12, $"{name}: G[{i}] = {mine[i]}, numpy {green[i]}");
            // single entries and the diagonal agree with the dense kernel
            int n = grid.InteriorCount;
            for (int u = 0; u < n; u++)
            {
                Assert.True(Math.Abs(grid.GreenDiagonal[u] - green[u * n + u]) < 1e-12, $"{name}: diag[{u}]");
                int v = (u * 7 + 3) % n;
                Assert.True(Math.Abs(grid.Green(u / grid.N2, u % grid.N2, v / grid.N2, v % grid.N2) - green[u * n + v]) < 1e-12, $"{name}: G({u},{v})");
            }

            var vm = c.Doubles("variance_map");
            var myVm = grid.VarianceMap(s);
            Assert.Equal(vm.Length, myVm.Length);
            for (int i = 0; i < vm.Length; i++) Assert.True(Math.Abs(myVm[i] - vm[i]) < 1e-12, $"{name}: v[{i}] = {myVm[i]}, numpy {vm[i]}");
            cases++;
        }
        Assert.Equal(5, cases);
    }

    [Fact]
    public void GreenAtGridIsZeroOnTheRing()
    {
        var grid = new DirichletGrid(6, 5, GChBoundary.Ring);
        Assert.Equal(0, grid.GreenAtGrid(0, 2, 2, 2));
        Assert.Equal(0, grid.GreenAtGrid(5, 4, 5, 4));
        Assert.Equal(grid.Green(0, 0, 1, 2), grid.GreenAtGrid(1, 1, 2, 3));
        Assert.True(grid.IsInterior(1, 1) && !grid.IsInterior(0, 1) && !grid.IsInterior(4, 4) && grid.IsInterior(4, 3));
    }

    [Fact]
    public void DirichletEnergyIsHalfTheQuadraticForm()
    {
        var grid = new DirichletGrid(6, 5, GChBoundary.Ring);
        int n = grid.InteriorCount;
        var lap = grid.LaplacianDense();
        var rng = new Random(3);
        var g = Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        double q = 0;
        for (int u = 0; u < n; u++)
            for (int v = 0; v < n; v++) q += g[u] * lap[u * n + v] * g[v];
        Assert.Equal(0.5 * q, grid.DirichletEnergy(g), 12);
    }

    [Theory]
    [InlineData(2, 7, GChBoundary.Ring)]
    [InlineData(7, 1, GChBoundary.Ring)]
    [InlineData(1, 1, GChBoundary.Ring)]
    public void DegenerateGridHasNoInteriorAndAWarning(int h, int w, GChBoundary boundary)
    {
        var grid = new DirichletGrid(h, w, boundary);
        Assert.True(grid.IsDegenerate);
        Assert.Equal(0, grid.InteriorCount);
        Assert.NotNull(grid.Warning);
        Assert.True(grid.Eigenvalues.IsEmpty);
        Assert.All(grid.VarianceMap(1.0), v => Assert.Equal(0, v));
        Assert.Equal(0, GChTheory.RoughnessBudget(grid, 1.0));
    }

    [Fact]
    public void TinyGhostGridIsNotDegenerate()
    {
        var grid = new DirichletGrid(1, 1, GChBoundary.Ghost);
        Assert.False(grid.IsDegenerate);
        Assert.Null(grid.Warning);
        Assert.Equal(4.0, grid.Eigenvalues[0], 14); // 4sin²(π/4)·2 = 4
        Assert.Equal(0.25, grid.GreenDiagonal[0], 14);
    }

    [Fact]
    public void BadSizesAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new DirichletGrid(0, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DirichletGrid(5, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DirichletGrid(1 << 13, 1 << 13));
        var grid = new DirichletGrid(7, 7);
        Assert.Throws<ArgumentOutOfRangeException>(() => grid.Green(5, 0, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => grid.GreenAtGrid(7, 0, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => grid.VarianceMap(double.NaN));
        Assert.Throws<InvalidOperationException>(() => new DirichletGrid(70, 70, GChBoundary.Ghost).GreenDense());
    }
}

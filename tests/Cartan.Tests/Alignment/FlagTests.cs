using Cartan.Alignment;
using Cartan.Linalg;
using static Cartan.Tests.Alignment.AlignmentTestUtil;

namespace Cartan.Tests.Alignment;

public class FlagTests
{
    [Fact]
    public void Oracle7_factored_and_dense_commutators_agree_to_1e_10()
    {
        var rng = new Random(7);
        foreach (var (m, n, p) in new[] { (5, 7, 3), (40, 30, 50), (120, 200, 90), (200, 64, 200), (17, 200, 13) })
        {
            var wl = Gaussian(m, n, rng);
            var wn = Gaussian(p, m, rng);
            double dense = Flag.CommutatorDense(wl, m, n, wn, p);
            double fact = Flag.CommutatorFactored(wl, m, n, wn, p);
            Assert.InRange(dense, 0, 1);
            Assert.Equal(dense, fact, 10);
        }
    }

    [Fact]
    public void Oracle7_commuting_grams_give_zero_commutator()
    {
        var rng = new Random(8);
        int m = 30, n = 20, p = 25;
        var U = Orthogonal(m, rng);
        var P = Orthogonal(n, rng);
        var Q = Orthogonal(p, rng);
        // W_ℓ = U[:, :20] diag(a) Pᵀ, W_{ℓ+1} = Q[:, :20] diag(b) U[:, :20]ᵀ: A and B are both diagonal in U.
        int r = 20;
        var a = Enumerable.Range(0, r).Select(i => 1.0 + i).ToArray();
        var b = Enumerable.Range(0, r).Select(i => 5.0 / (1 + i)).ToArray();
        var wl = Compose(U, m, a, P, n);
        var wn = Compose(Q, p, b, U, m);
        Assert.True(Flag.CommutatorDense(wl, m, n, wn, p) < 1e-12);
        Assert.True(Flag.CommutatorFactored(wl, m, n, wn, p) < 1e-7); // difference of large traces: √ε-level
    }

    [Fact]
    public void Commutator_of_generic_pairs_is_positive()
    {
        var rng = new Random(9);
        var wl = Gaussian(20, 20, rng);
        var wn = Gaussian(20, 20, rng);
        Assert.True(Flag.CommutatorDense(wl, 20, 20, wn, 20) > 1e-3);
    }

    [Fact]
    public void Intersection_dimensions_are_exact_on_constructed_flags()
    {
        // Output flag of W_ℓ: U's columns e1..e8 in a random basis R; input flag of W_{ℓ+1} shares the top 2 directions
        // exactly, then continues in directions orthogonal to the first 8 of U.
        var rng = new Random(10);
        int m = 40, n = 30, p = 35;
        var R = Orthogonal(m, rng);
        double[] Col(int j) => Enumerable.Range(0, m).Select(i => R[i * m + j]).ToArray();
        // U columns: R0..R7; V' columns: R0, R1, R20..R25
        int[] uIdx = [0, 1, 2, 3, 4, 5, 6, 7];
        int[] vIdx = [0, 1, 20, 21, 22, 23, 24, 25];
        var U = new double[m * 8];
        var V = new double[m * 8];
        for (int j = 0; j < 8; j++)
        {
            var cu = Col(uIdx[j]); var cv = Col(vIdx[j]);
            for (int i = 0; i < m; i++) { U[i * 8 + j] = cu[i]; V[i * 8 + j] = cv[i]; }
        }
        var s = Enumerable.Range(0, 8).Select(i => Math.Pow(2, -i)).ToArray(); // distinct: gaps everywhere
        var P = HeadOverlap.RandomOrthonormal(n, 8, rng);
        var Q = HeadOverlap.RandomOrthonormal(p, 8, rng);
        var wl = Compose(U, m, s, P, n);
        var wn = Compose(Q, p, s, V, m);
        var f = Flag.Pair(wl, m, n, wn, p, new FlagOptions { MaxGrid = 8 });
        Assert.Equal([1, 2, 4, 8], f.Grid);
        // dim(F_a ∩ G_b) = #shared directions among the first a of U and first b of V' = min(a, b, 2)
        for (int ia = 0; ia < 4; ia++)
            for (int ib = 0; ib < 4; ib++)
                Assert.Equal(Math.Min(2, Math.Min(f.Grid[ia], f.Grid[ib])), f.IntersectionDim[ia][ib]);
        // Soft overlap at (8,8): two unit cosines, the rest zero ⇒ 2/8.
        Assert.Equal(0.25, f.Overlap[3][3], 10);
        Assert.Equal(1.0, f.Cosines[0], 10);
        Assert.Equal(1.0, f.Cosines[1], 10);
        Assert.True(f.Cosines[2] < 1e-10);
    }

    [Fact]
    public void Grid_skips_points_without_a_spectral_gap()
    {
        double[] s1 = [4, 3, 2, 2, 1, 0.5, 0.25, 0.1];  // s_4 = s_3: no gap at k = 4? (s[3]/s[4] = 2/1: gap) ; at k=2: 3/2 gap
        double[] s2 = [4, 4, 4, 4, 1, 1, 1, 1];          // k=1,2: no gap (4/4); k=4: gap (4/1); k=8: end
        Assert.Equal([4, 8], Flag.GridAtGaps(s1, s2, 8, 1e-3));
    }

    [Fact]
    public void Imbalance_matches_dense_definition_and_is_zero_when_balanced()
    {
        var rng = new Random(11);
        int m = 12, n = 9, p = 10;
        var wl = Gaussian(m, n, rng);
        var wn = Gaussian(p, m, rng);
        var (beta, betaDiag) = Flag.Imbalance(wl, m, n, wn, p);
        var A = Lapack.Gram(wl, m, n, rowsGram: true);
        var B = Lapack.Gram(wn, p, m, rowsGram: false);
        double d2 = 0, a2 = 0, b2 = 0, dd = 0, da = 0, db = 0;
        for (int i = 0; i < m * m; i++) { d2 += (B[i] - A[i]) * (B[i] - A[i]); a2 += A[i] * A[i]; b2 += B[i] * B[i]; }
        for (int i = 0; i < m; i++) { double x = B[i * m + i] - A[i * m + i]; dd += x * x; da += A[i * m + i] * A[i * m + i]; db += B[i * m + i] * B[i * m + i]; }
        Assert.Equal(Math.Sqrt(d2) / (Math.Sqrt(a2) + Math.Sqrt(b2)), beta, 12);
        Assert.Equal(Math.Sqrt(dd) / (Math.Sqrt(da) + Math.Sqrt(db)), betaDiag, 12);

        // Balanced pair: W_{ℓ+1} = W_ℓᵀ (square) gives A = B.
        var w = Gaussian(8, 8, rng);
        var wt = new double[64];
        for (int i = 0; i < 8; i++) for (int j = 0; j < 8; j++) wt[j * 8 + i] = w[i * 8 + j];
        var (b0, bd0) = Flag.Imbalance(w, 8, 8, wt, 8);
        Assert.True(b0 < 1e-7);
        Assert.True(bd0 < 1e-12);
    }
}

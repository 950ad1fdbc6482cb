using Cartan.Pruning;

namespace Cartan.Tests.Pruning;

/// <summary>Oracle 9 (methods.md §6) and the exact-count properties of the masks.</summary>
public class PruningOracleTests
{
    private static double[] Randn(Random r, int n, double scale = 1)
    {
        var a = new double[n];
        for (int i = 0; i < n; i++) a[i] = scale * Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
        return a;
    }

    [Fact]
    public void Wanda_equals_CVR_with_the_L2_norm_as_activation_factor_and_alpha_zero()
    {
        var r = new Random(1);
        foreach (var (rows, cols) in new[] { (5, 8), (17, 33), (64, 40) })
        {
            var w = Randn(r, rows * cols);
            var x = Randn(r, 50 * cols, 3);
            var st = new CalibrationStats(cols);
            st.Add(x, 50);
            var norms = st.L2Norms();
            var wanda = Scores.Wanda(w, rows, cols, norms);
            var cvr = Scores.Cvr(w, rows, cols, norms, new CvrOptions { Alpha = 0, Epsilon = 1e-8 });
            Assert.Equal(wanda, cvr);
            Assert.Equal(Masks.UnstructuredPerRow(wanda, rows, cols, 0.5), Masks.UnstructuredPerRow(cvr, rows, cols, 0.5));
            // And the real CVR (α > 0, var^{1/4}) differs from Wanda somewhere: the check can fail.
            var real = Scores.Cvr(w, rows, cols, Scores.CvrActivationFactor(st), new CvrOptions { Alpha = 1 });
            Assert.NotEqual(wanda, real);
        }
    }

    [Theory]
    [InlineData(2, 4, 24)]
    [InlineData(4, 8, 40)]
    [InlineData(1, 4, 30)]
    [InlineData(3, 5, 24)]
    public void NM_masks_keep_exactly_N_per_group_and_leave_the_remainder_dense(int n, int m, int cols)
    {
        var r = new Random(n * 100 + m);
        int rows = 7;
        var w = Randn(r, rows * cols);
        var mask = Masks.NM(Scores.Magnitude(w), rows, cols, n, m, out int rem);
        Assert.Equal(cols % m, rem);
        for (int i = 0; i < rows; i++)
        {
            for (int g = 0; g + m <= cols; g += m)
                Assert.Equal(n, Enumerable.Range(g, m).Count(j => mask[i * cols + j]));
            for (int j = cols - rem; j < cols; j++) Assert.True(mask[i * cols + j]);
        }
        // SparseGPT's N:M selection inside blocks obeys the same count, and its output is 0 off the mask.
        var x = Randn(r, 80 * cols);
        var st = new CalibrationStats(cols, withHessian: true);
        st.Add(x, 80);
        var sg = SparseGpt.Prune(w, rows, cols, st.Hessian!, SparsityPattern.NM(n, m), new SparseGptOptions { BlockSize = m * 2 });
        Assert.Equal(cols % m, sg.RemainderDense);
        for (int i = 0; i < rows; i++)
            for (int g = 0; g + m <= cols; g += m)
            {
                Assert.Equal(n, Enumerable.Range(g, m).Count(j => sg.Mask[i * cols + j]));
                Assert.All(Enumerable.Range(g, m).Where(j => !sg.Mask[i * cols + j]), j => Assert.Equal(0.0, sg.Weights[i * cols + j]));
            }
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.3)]
    [InlineData(0.77)]
    [InlineData(0.01)]
    public void Unstructured_per_row_prunes_exactly_floor_s_times_in_in_every_row(double s)
    {
        var r = new Random((int)(s * 1000));
        int rows = 9, cols = 37;
        var mask = Masks.UnstructuredPerRow(Scores.Magnitude(Randn(r, rows * cols)), rows, cols, s);
        int k = (int)Math.Floor(cols * s);
        for (int i = 0; i < rows; i++) Assert.Equal(k, Enumerable.Range(0, cols).Count(j => !mask[i * cols + j]));
        var layer = Masks.UnstructuredPerLayer(Scores.Magnitude(Randn(r, rows * cols)), s);
        Assert.Equal((int)Math.Floor(rows * cols * s), layer.Count(b => !b));
    }

    [Fact]
    public void Ties_keep_the_lower_index()
    {
        var scores = new double[] { 1, 1, 1, 1, 2, 2, 0, 0 };
        var mask = Masks.UnstructuredPerRow(scores, 1, 8, 0.5);
        // prune 4: the two zeros, then the two highest-index ones among the 1s (indices 3 and 2)
        Assert.Equal(new[] { true, true, false, false, true, true, false, false }, mask);
        var nm = Masks.NM(new double[] { 5, 5, 5, 5 }, 1, 4, 2, 4, out _);
        Assert.Equal(new[] { true, true, false, false }, nm);
    }

    [Theory]
    [InlineData(EcMode.Col, false, false)]
    [InlineData(EcMode.ColRow, false, false)]
    [InlineData(EcMode.ColRow, true, false)]
    [InlineData(EcMode.ColRow, false, true)]
    public void EC_leaves_masked_entries_at_zero_and_ratios_within_the_clamp(EcMode mode, bool uncentred, bool act)
    {
        var r = new Random(7);
        int rows = 16, cols = 20;
        var w = Randn(r, rows * cols);
        for (int i = 0; i < rows * cols; i++) w[i] += 0.3; // non-zero means matter for the centred form
        var st = new CalibrationStats(cols);
        st.Add(Randn(r, 40 * cols), 40);
        var mask = Masks.NM(Scores.Cvr(w, rows, cols, Scores.CvrActivationFactor(st)), rows, cols, 2, 4, out _);
        // one column fully pruned: its E' is 0 (centred about a non-zero mean it is not — so use the uncentred skip check below)
        var o = new EcOptions { Mode = mode, Uncentred = uncentred, ActivationWeightedRows = act };
        var ec = EnergyCompensation.Apply(w, Masks.Apply(w, mask), mask, rows, cols, o, act ? st.Variances() : default);
        for (int i = 0; i < w.Length; i++) if (!mask[i]) Assert.Equal(0.0, ec.Weights[i]);
        Assert.All(ec.ColumnRatios.Where(x => !double.IsNaN(x)), x => Assert.InRange(x, o.RLo, o.RHi));
        Assert.All(ec.RowRatios.Where(x => !double.IsNaN(x)), x => Assert.InRange(x, o.RLo, o.RHi));
        Assert.Contains(ec.ColumnRatios, x => x > 1); // pruning lowers energy, so EC does something
    }

    [Fact]
    public void EC_skips_a_fully_pruned_uncentred_column()
    {
        int rows = 3, cols = 2;
        var w = new double[] { 1, 2, 3, 4, 5, 6 };
        var mask = new[] { false, true, false, true, false, true };
        var ec = EnergyCompensation.Apply(w, Masks.Apply(w, mask), mask, rows, cols, new EcOptions { Mode = EcMode.ColRow, Uncentred = true });
        Assert.True(double.IsNaN(ec.ColumnRatios[0]));
        Assert.Equal(1, ec.ColumnsSkipped);
        Assert.Equal(1.0, ec.ColumnRatios[1]); // E = E' → r = 1
        Assert.Equal(new double[] { 0, 2, 0, 4, 0, 6 }.Select((v, i) => i % 2 == 0 ? 0 : v * ec.RowRatios[i / 2]), ec.Weights);
    }

    [Fact]
    public void Calibration_statistics_merge_exactly_and_widen_float_batches()
    {
        var r = new Random(3);
        int f = 6;
        var x = Randn(r, 30 * f);
        var all = new CalibrationStats(f, withHessian: true);
        all.Add(x, 30);
        var a = new CalibrationStats(f, true);
        a.Add(x.AsSpan(0, 12 * f), 12);
        var b = new CalibrationStats(f, true);
        b.Add(x.AsSpan(12 * f), 18);
        a.Merge(b);
        Assert.Equal(30, a.Count);
        for (int j = 0; j < f; j++)
        {
            Assert.Equal(all.Sum[j], a.Sum[j], 1e-12);
            Assert.Equal(all.SumSq[j], a.SumSq[j], 1e-12);
            double mean = Enumerable.Range(0, 30).Average(t => x[t * f + j]);
            double pv = Enumerable.Range(0, 30).Average(t => (x[t * f + j] - mean) * (x[t * f + j] - mean));
            Assert.Equal(pv, a.Variances()[j], 1e-12);
        }
        for (int i = 0; i < f * f; i++) Assert.Equal(all.Hessian![i], a.Hessian![i], 1e-12);
        var fl = new CalibrationStats(f);
        fl.Add(x.Select(v => (float)v).ToArray(), 30);
        Assert.Equal(x.Where((_, i) => i % f == 0).Sum(v => (double)(float)v), fl.Sum[0], 1e-12);

        var dir = TestPaths.NewTempDir();
        var path = Path.Combine(dir, "stats.npz");
        CalibrationStatsFile.Write(path, new Dictionary<string, CalibrationStats> { ["m.layer"] = all });
        var back = CalibrationStatsFile.Read(path);
        var s = CalibrationStatsFile.Find(back, "m.layer.weight")!;
        Assert.Equal(30, s.Count);
        Assert.Equal(all.SumSq.ToArray(), s.SumSq.ToArray());
        Assert.Equal(all.Hessian, s.Hessian);
    }

    [Fact]
    public void Upper_Cholesky_of_the_inverse_satisfies_UtU_H_equals_I()
    {
        var r = new Random(5);
        int n = 9;
        var a = Randn(r, 20 * n);
        var h = Cartan.Linalg.Lapack.Gram(a, 20, n, rowsGram: false);
        var u = SparseGpt.UpperCholeskyOfInverse(h, n);
        for (int i = 0; i < n; i++) for (int j = 0; j < i; j++) Assert.Equal(0.0, u[i * n + j]);
        var utu = Cartan.Linalg.Lapack.MatMul(u, n, n, u, n, transA: true);
        var prod = Cartan.Linalg.Lapack.MatMul(utu, n, n, h, n);
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) Assert.Equal(i == j ? 1.0 : 0.0, prod[i * n + j], 1e-9);
    }
}

using Cartan.Graph;
using Cartan.Tensors;

namespace Cartan.Tests.Graph;

public class CanonicalTests
{
    private static double[] Seq(int n) => Enumerable.Range(0, n).Select(i => (double)(i * 7 % 31) - 15).ToArray();

    [Fact]
    public void InOut_2d_is_transposed_and_OutIn_is_kept()
    {
        var d = Seq(12); // stored 3×4
        var outIn = Canonical.Matrix(d, [3, 4], TensorLayout.OutIn, MatrixView.Out);
        Assert.Equal(d, outIn);
        var inOut = Canonical.Matrix(d, [3, 4], TensorLayout.InOut, MatrixView.Out); // canonical 4×3
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++)
                Assert.Equal(d[i * 4 + j], inOut[j * 3 + i]);
        Assert.Equal((4L, 3L), Canonical.MatrixShape([3, 4], TensorLayout.InOut, MatrixView.Out));
    }

    [Fact]
    public void Conv_views_index_the_OIHW_kernel_as_methods_0_2_says()
    {
        int O = 3, I = 2, kh = 2, kw = 3, T = kh * kw;
        var w = Seq(O * I * T);
        double W(int o, int i, int t) => w[(o * I + i) * T + t];
        var outv = Canonical.Matrix(w, [O, I, kh, kw], TensorLayout.OIHW, MatrixView.Out);
        var inv = Canonical.Matrix(w, [O, I, kh, kw], TensorLayout.OIHW, MatrixView.In);
        var tap = Canonical.Matrix(w, [O, I, kh, kw], TensorLayout.OIHW, MatrixView.Tap);
        for (int o = 0; o < O; o++)
            for (int i = 0; i < I; i++)
                for (int t = 0; t < T; t++)
                {
                    Assert.Equal(W(o, i, t), outv[o * (I * T) + i * T + t]);      // O × (I·kh·kw)
                    Assert.Equal(W(o, i, t), inv[(o * T + t) * I + i]);          // (O·kh·kw) × I
                    Assert.Equal(W(o, i, t), tap[(t * O + o) * I + i]);          // taps of O × I
                }
        Assert.Equal((3L, 12L), Canonical.MatrixShape([O, I, kh, kw], TensorLayout.OIHW, MatrixView.Out));
        Assert.Equal((18L, 2L), Canonical.MatrixShape([O, I, kh, kw], TensorLayout.OIHW, MatrixView.In));
    }

    [Fact]
    public void Views_scattered_from_out_view_row_bands_index_the_kernel_as_methods_0_2_says()
    {
        int O = 5, I = 3, kh = 2, kw = 2, T = kh * kw;
        var w = Seq(O * I * T);
        double W(int o, int i, int t) => w[(o * I + i) * T + t];
        var reads = new List<(int Row0, int Rows)>();
        MatrixBlockReader outRows = (row0, rowCount, col0, colCount, dst) =>
        {
            Assert.Equal((0, I * T), (col0, colCount));
            reads.Add((row0, rowCount));
            w.AsSpan(row0 * I * T, rowCount * I * T).CopyTo(dst);
        };
        foreach (long band in new long[] { 1, 2 * I * T, 2 * I * T + 5, 1 << 18 })
        {
            reads.Clear();
            var inv = Canonical.MatrixFromOutRows(outRows, O, I, T, MatrixView.In, band);
            var tap = Canonical.MatrixFromOutRows(outRows, O, I, T, MatrixView.Tap, band);
            for (int o = 0; o < O; o++)
                for (int i = 0; i < I; i++)
                    for (int t = 0; t < T; t++)
                    {
                        Assert.Equal(W(o, i, t), inv[(o * T + t) * I + i]);
                        Assert.Equal(W(o, i, t), tap[(t * O + o) * I + i]);
                    }
            // Every row read exactly once per view, in bands of the asked size (at least one row).
            int rows = (int)Math.Clamp(band / (I * T), 1, O);
            Assert.Equal(2 * O, reads.Sum(r => r.Rows));
            Assert.All(reads, r => Assert.True(r.Rows == rows || r.Row0 + r.Rows == O));
        }
        Assert.Throws<ArgumentException>(() => Canonical.MatrixFromOutRows(outRows, O, I, T, MatrixView.Out));
    }

    [Fact]
    public void HWIO_kernels_equal_their_OIHW_transpose()
    {
        int O = 4, I = 3, kh = 2, kw = 2;
        var oihw = Seq(O * I * kh * kw);
        // Build the HWIO storage of the same kernel by hand.
        var hwio = new double[oihw.Length];
        for (int o = 0; o < O; o++)
            for (int i = 0; i < I; i++)
                for (int y = 0; y < kh; y++)
                    for (int x = 0; x < kw; x++)
                        hwio[((y * kw + x) * I + i) * O + o] = oihw[((o * I + i) * kh + y) * kw + x];
        foreach (var view in new[] { MatrixView.Out, MatrixView.In, MatrixView.Tap })
            Assert.Equal(Canonical.Matrix(oihw, [O, I, kh, kw], TensorLayout.OIHW, view),
                         Canonical.Matrix(hwio, [kh, kw, I, O], TensorLayout.HWIO, view));
    }

    [Fact]
    public void ConvTranspose_IOHW_swaps_in_and_out()
    {
        int I = 2, O = 3, T = 4;
        var iohw = Seq(I * O * T);
        var m = Canonical.Matrix(iohw, [I, O, 2, 2], TensorLayout.IOHW, MatrixView.Out);
        for (int o = 0; o < O; o++)
            for (int i = 0; i < I; i++)
                for (int t = 0; t < T; t++)
                    Assert.Equal(iohw[(i * O + o) * T + t], m[(o * I + i) * T + t]);
    }

    [Fact]
    public void Energy_is_the_same_in_every_view()
    {
        var w = Seq(5 * 4 * 3 * 3);
        double E(double[] a) => a.Sum(x => x * x);
        var e = E(w);
        foreach (var view in new[] { MatrixView.Out, MatrixView.In, MatrixView.Tap })
            Assert.Equal(e, E(Canonical.Matrix(w, [5, 4, 3, 3], TensorLayout.OIHW, view)));
    }

    [Fact]
    public void Row_and_column_blocks()
    {
        var m = Seq(4 * 6); // 4×6
        var rb = Cartan.Linalg.MatrixOps.RowBlock(m, 6, 1, 2);
        Assert.Equal(m[6..18], rb);
        var cb = Cartan.Linalg.MatrixOps.ColumnBlock(m, 4, 6, 2, 3);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 3; j++)
                Assert.Equal(m[i * 6 + 2 + j], cb[i * 3 + j]);
    }
}

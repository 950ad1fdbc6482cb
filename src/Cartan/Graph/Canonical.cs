using Cartan.Linalg;
using Cartan.Tensors;

namespace Cartan.Graph;

/// <summary>Which reshape of a weight is analysed (methods.md §0.2).</summary>
public enum MatrixView
{
    /// <summary>Out-view: O × (I·kh·kw), the default for spectra (a plain 2-D weight is its own out-view).</summary>
    Out,
    /// <summary>In-view: (O·kh·kw) × I, the input-channel subspace of a conv (interfaces).</summary>
    In,
    /// <summary>Per-tap view: kh·kw matrices O × I (WeightWatcher style), stacked as taps.</summary>
    Tap,
}

/// <summary>
/// Turns stored tensors into canonical out×in matrices (methods.md §0.1–0.3): transposes [in,out] layouts,
/// reshapes convolutions into out-, in- or per-tap views, and slices fused QKV blocks. Row-major float64 throughout.
/// </summary>
public static class Canonical
{
    /// <summary>Spatial kernel size (kh·kw, or k for conv1d) and channel counts of a weight given its layout; null for 2-D.</summary>
    public static (long O, long I, long Taps)? ConvDims(long[] shape, TensorLayout layout)
    {
        if (shape.Length < 3) return null;
        long taps = 1;
        switch (layout)
        {
            case TensorLayout.HWIO:
                for (int i = 0; i < shape.Length - 2; i++) taps *= shape[i];
                return (shape[^1], shape[^2], taps);
            case TensorLayout.IOHW:
                for (int i = 2; i < shape.Length; i++) taps *= shape[i];
                return (shape[1], shape[0], taps);
            default:
                for (int i = 2; i < shape.Length; i++) taps *= shape[i];
                return (shape[0], shape[1], taps);
        }
    }

    /// <summary>The (rows, cols) of the canonical matrix of a tensor in a view.</summary>
    public static (long Rows, long Cols) MatrixShape(long[] shape, TensorLayout layout, MatrixView view)
    {
        if (shape.Length == 2)
            return layout == TensorLayout.InOut ? (shape[1], shape[0]) : (shape[0], shape[1]);
        var c = ConvDims(shape, layout) ?? throw new ArgumentException("tensor is not 2-D or a convolution");
        return view switch
        {
            MatrixView.Out => (c.O, c.I * c.Taps),
            MatrixView.In => (c.O * c.Taps, c.I),
            _ => (c.O, c.I),
        };
    }

    /// <summary>
    /// Canonical row-major matrix of <paramref name="data"/> (the tensor's row-major contents).
    /// For <see cref="MatrixView.Tap"/> the result stacks the kh·kw tap matrices (each O×I) one after another.
    /// </summary>
    public static double[] Matrix(double[] data, long[] shape, TensorLayout layout, MatrixView view)
    {
        if (shape.Length == 2)
        {
            int r = checked((int)shape[0]), c = checked((int)shape[1]);
            return layout == TensorLayout.InOut ? MatrixOps.Transpose(data, r, c) : data;
        }
        var dims = ConvDims(shape, layout) ?? throw new ArgumentException("tensor is not 2-D or a convolution");
        int O = checked((int)dims.O), I = checked((int)dims.I), T = checked((int)dims.Taps);
        // Bring to O×I×T (row-major) first.
        double[] oit = layout switch
        {
            TensorLayout.HWIO => PermuteTIOtoOIT(data, T, I, O),
            TensorLayout.IOHW => SwapFirstTwo(data, I, O, T),
            _ => data,
        };
        switch (view)
        {
            case MatrixView.Out:
                return oit; // O × (I·T)
            default:
            {
                // In: (O·T) × I, row (o, t), column i. Tap: T stacked O×I matrices.
                var m = new double[oit.Length];
                ScatterOutRows(oit, 0, O, I, T, view, m);
                return m;
            }
        }
    }

    /// <summary>
    /// The In or Tap matrix of an OIHW convolution (O×I×T row-major, T = kh·kw), read band by band through a reader of
    /// its out-view rows (O × I·T) and scattered straight into place: no float64 copy of the whole kernel in storage
    /// order is made first (the same values as <see cref="Matrix"/> on the decoded tensor).
    /// </summary>
    public static double[] MatrixFromOutRows(MatrixBlockReader outRows, int O, int I, int T, MatrixView view, long bandElements = 1 << 18)
    {
        if (view is not (MatrixView.In or MatrixView.Tap)) throw new ArgumentException("only the In and Tap views are reordered", nameof(view));
        long rowLen = (long)I * T, plane = (long)O * I;
        var m = GC.AllocateUninitializedArray<double>(checked((int)(plane * T))); // every element is written below
        int bandRows = (int)Math.Clamp(bandElements / Math.Max(1, rowLen), 1, O);
        var band = Linalg.Scratch.Shared.Rent(bandRows * rowLen);
        try
        {
            for (int o0 = 0; o0 < O; o0 += bandRows)
            {
                int rc = Math.Min(bandRows, O - o0);
                var rows = band.AsSpan(0, checked((int)(rc * rowLen)));
                outRows(o0, rc, 0, checked((int)rowLen), rows);
                ScatterOutRows(rows, o0, rc, I, T, view, m);
            }
        }
        finally { Linalg.Scratch.Shared.Return(band); }
        return m;
    }

    /// <summary>
    /// Scatters out-view rows o0 … o0+rc−1 (rc × I·T, row-major) into the In ((O·T) × I) or Tap (T stacked O×I) matrix m.
    /// The source is read in order (T write streams, each sequential): reading it with stride T instead was 10× slower
    /// on a 512×512×3×3 kernel.
    /// </summary>
    private static void ScatterOutRows(ReadOnlySpan<double> rows, int o0, int rc, int I, int T, MatrixView view, double[] m)
    {
        long rowLen = (long)I * T, plane = (long)(m.Length / T);
        for (int r = 0; r < rc; r++)
        {
            int o = o0 + r;
            for (int i = 0; i < I; i++)
            {
                int src = (int)(r * rowLen + (long)i * T);
                if (view == MatrixView.In)
                {
                    long dst = (long)o * T * I + i;
                    for (int t = 0; t < T; t++) m[dst + (long)t * I] = rows[src + t];
                }
                else
                {
                    long dst = (long)o * I + i;
                    for (int t = 0; t < T; t++) m[dst + t * plane] = rows[src + t];
                }
            }
        }
    }

    private static double[] PermuteTIOtoOIT(double[] d, int T, int I, int O)
    {
        var r = new double[d.Length];
        for (int t = 0; t < T; t++)
            for (int i = 0; i < I; i++)
                for (int o = 0; o < O; o++)
                    r[((long)o * I + i) * T + t] = d[((long)t * I + i) * O + o];
        return r;
    }

    private static double[] SwapFirstTwo(double[] d, int A, int B, int T)
    {
        var r = new double[d.Length];
        for (int a = 0; a < A; a++)
            for (int b = 0; b < B; b++)
                Array.Copy(d, ((long)a * B + b) * T, r, ((long)b * A + a) * T, T);
        return r;
    }
}

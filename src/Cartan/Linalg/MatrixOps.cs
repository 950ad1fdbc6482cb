namespace Cartan.Linalg;

/// <summary>Row-major block copies and transposes shared by the analyses (no arithmetic beyond copying).</summary>
public static class MatrixOps
{
    /// <summary>Rows [start, start+count) of a row-major matrix with <paramref name="cols"/> columns.</summary>
    public static double[] RowBlock(double[] m, int cols, int start, int count) =>
        m.AsSpan(start * cols, count * cols).ToArray();

    /// <summary>Columns [start, start+count) of a row-major rows×cols matrix.</summary>
    public static double[] ColumnBlock(double[] m, int rows, int cols, int start, int count)
    {
        if (start == 0 && count == cols) return m;
        var r = new double[rows * count];
        for (int i = 0; i < rows; i++) m.AsSpan(i * cols + start, count).CopyTo(r.AsSpan(i * count, count));
        return r;
    }

    /// <summary>The transpose of a row-major rows×cols matrix (cache-blocked).</summary>
    public static double[] Transpose(double[] a, int rows, int cols)
    {
        var t = new double[a.Length];
        const int B = 32;
        for (int i0 = 0; i0 < rows; i0 += B)
            for (int j0 = 0; j0 < cols; j0 += B)
            {
                int i1 = Math.Min(rows, i0 + B), j1 = Math.Min(cols, j0 + B);
                for (int i = i0; i < i1; i++)
                    for (int j = j0; j < j1; j++)
                        t[(long)j * rows + i] = a[(long)i * cols + j];
            }
        return t;
    }
}

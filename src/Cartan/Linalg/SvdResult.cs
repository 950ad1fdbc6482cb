namespace Cartan.Linalg;

/// <summary>
/// A (thin or truncated) singular value decomposition A ≈ U·diag(S)·Vᵀ of a row-major <see cref="Rows"/>×<see cref="Cols"/> matrix.
/// <see cref="U"/> is <see cref="Rows"/>×<see cref="Rank"/> row-major (column j is the j-th left singular vector),
/// <see cref="V"/> is <see cref="Cols"/>×<see cref="Rank"/> row-major (column j is the j-th right singular vector),
/// <see cref="S"/> holds the singular values in descending order, all ≥ 0.
/// </summary>
public sealed class SvdResult
{
    public SvdResult(double[] u, double[] s, double[] v, int rows, int cols)
    {
        ArgumentNullException.ThrowIfNull(u);
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(v);
        if ((long)rows * s.Length != u.Length || (long)cols * s.Length != v.Length)
            throw new ArgumentException("SvdResult: U must be rows×k and V cols×k for k = S.Length.");
        U = u; S = s; V = v; Rows = rows; Cols = cols;
    }

    /// <summary>Left singular vectors, <see cref="Rows"/>×<see cref="Rank"/> row-major: element (i,j) at i*Rank+j.</summary>
    public double[] U { get; }

    /// <summary>Singular values, descending, non-negative.</summary>
    public double[] S { get; }

    /// <summary>Right singular vectors, <see cref="Cols"/>×<see cref="Rank"/> row-major: element (i,j) at i*Rank+j.</summary>
    public double[] V { get; }

    /// <summary>Number of rows m of the decomposed matrix.</summary>
    public int Rows { get; }

    /// <summary>Number of columns n of the decomposed matrix.</summary>
    public int Cols { get; }

    /// <summary>Number of singular triplets held (k).</summary>
    public int Rank => S.Length;

    /// <summary>The first <paramref name="k"/> triplets (this instance when k equals <see cref="Rank"/>).</summary>
    public SvdResult Truncate(int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(k, Rank);
        if (k == Rank) return this;
        return new SvdResult(MatrixOps.ColumnBlock(U, Rows, Rank, 0, k), S[..k], MatrixOps.ColumnBlock(V, Cols, Rank, 0, k), Rows, Cols);
    }
}

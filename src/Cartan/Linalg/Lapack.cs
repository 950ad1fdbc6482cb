namespace Cartan.Linalg;

/// <summary>Delivers one band of a matrix (see <see cref="Lapack.SingularValuesBanded"/>).</summary>
public delegate void BandReader(int start, int count, Span<double> band);

/// <summary>
/// Dense linear algebra for Cartan's analyses. Every matrix is a row-major <c>double</c> buffer: an m×n matrix holds
/// element (i,j) at <c>i*n+j</c>. The work is done by the system's LAPACK/BLAS when one loads (OpenBLAS, then
/// liblapack.so.3 + libblas.so.3, then macOS Accelerate; <c>CARTAN_LAPACK=openblas|reference|accelerate|managed</c>
/// forces one) and otherwise by managed code that gives the same answers to rounding. The choice is made once,
/// lazily and thread-safely, on first use; <see cref="BackendName"/> says which one runs.
/// </summary>
/// <remarks>
/// Errors: wrong buffer lengths or negative sizes → <see cref="ArgumentException"/>; NaN/∞ input to a decomposition,
/// LAPACK <c>info ≠ 0</c>, non-convergence, or sizes beyond 32-bit indices → <see cref="LinalgException"/>.
/// </remarks>
public static class Lapack
{
    /// <summary>
    /// Which implementation runs, e.g. "openblas 0.3.21 (core SkylakeX, pthread, set by cartan)",
    /// "reference lapack", "accelerate", "managed". Probes on first access.
    /// </summary>
    public static string BackendName => LinalgEngine.Default.Backend.Name;

    /// <summary>The kind of <see cref="BackendName"/>.</summary>
    public static LinalgBackendKind BackendKind => LinalgEngine.Default.Backend.Kind;

    /// <summary>
    /// Threads one LAPACK/BLAS call may use (process-wide; OpenBLAS only). Many small calls run best with 1 thread
    /// each and jobs in parallel; one large call best with all cores. A different count may change the last bits of a
    /// result, so analyses that must agree bit for bit should not run while another changes it.
    /// </summary>
    public static int Threads
    {
        get => LinalgEngine.Default.Backend.Threads;
        set => LinalgEngine.Default.Backend.Threads = value;
    }

    /// <summary>
    /// All min(m,n) singular values of the m×n matrix a, descending, non-negative: eigenvalues of the float64 Gram
    /// matrix of the short side (dsyrk + dsyevd), clamped at 0, square-rooted. Values below about √ε·σ₁ are not
    /// resolved by the Gram route (their squares are at rounding level); use <see cref="Svd"/> when they matter.
    /// </summary>
    public static double[] SingularValues(ReadOnlySpan<double> a, int m, int n) => LinalgEngine.Default.SingularValues(a, m, n);

    /// <summary>
    /// <see cref="SingularValues"/> of an m×n matrix that is never held whole: <paramref name="read"/>(start, count, band)
    /// delivers rows [start, start+count) (count×n) when m &gt; n, or columns [start, start+count) as an m×count row-major
    /// block when m ≤ n, and the short side's Gram matrix is summed band by band (bands of at most
    /// <paramref name="maxBandElements"/> values, at least one row or column). Equal to <see cref="SingularValues"/> up to
    /// the rounding of the summation order. Memory: the p×p Gram matrix plus one band.
    /// </summary>
    public static double[] SingularValuesBanded(int m, int n, BandReader read, long maxBandElements = 1 << 20) =>
        LinalgEngine.Default.SingularValuesBanded(m, n, read, maxBandElements);

    /// <summary>
    /// The top-k singular triplets of the m×n matrix a (0 ≤ k ≤ min(m,n)): U m×k, S k (descending), V n×k.
    /// The short side's vectors come from dsyevr (index range) on its Gram matrix and are orthonormal; the long side's
    /// are that side times A, normalised, accurate to about ε·σ₁/σⱼ. Where σⱼ ≤ max(m,n)·ε·σ₁ (numerically zero) the
    /// long-side vector is not determined by the data and is returned as a zero column.
    /// </summary>
    public static SvdResult TopSvd(ReadOnlySpan<double> a, int m, int n, int k) => LinalgEngine.Default.TopSvd(a, m, n, k);

    /// <summary>
    /// Thin SVD of the m×n matrix a (dgesdd): U m×p, S p, V n×p with p = min(m,n), both sides orthonormal and accurate,
    /// including the vectors of zero singular values.
    /// </summary>
    public static SvdResult Svd(ReadOnlySpan<double> a, int m, int n) => LinalgEngine.Default.Svd(a, m, n);

    /// <summary>
    /// The Gram matrix of the m×n matrix a (dsyrk), full symmetric row-major: A·Aᵀ (m×m) when <paramref name="rowsGram"/>,
    /// else Aᵀ·A (n×n).
    /// </summary>
    public static double[] Gram(ReadOnlySpan<double> a, int m, int n, bool rowsGram) => LinalgEngine.Default.Gram(a, m, n, rowsGram);

    /// <summary>
    /// C = op(A)·op(B) (dgemm), m×n row-major, where op(A) is m×k and op(B) is k×n. With <paramref name="transA"/> the
    /// buffer a holds the k×m matrix A and op(A) = Aᵀ; otherwise a holds the m×k matrix. Likewise for b
    /// (n×k when <paramref name="transB"/>, else k×n).
    /// </summary>
    public static double[] MatMul(ReadOnlySpan<double> a, int m, int k, ReadOnlySpan<double> b, int n, bool transA = false, bool transB = false) =>
        LinalgEngine.Default.MatMul(a, m, k, b, n, transA, transB);

    /// <summary>
    /// Eigenvalues (ascending) and, when <paramref name="vectors"/>, eigenvectors of the symmetric n×n matrix a (dsyevd).
    /// Only the lower triangle (i ≥ j) is read. Vectors is n×n row-major with column j the unit eigenvector of values[j];
    /// null when not asked for.
    /// </summary>
    public static (double[] Values, double[]? Vectors) SymmetricEigen(ReadOnlySpan<double> a, int n, bool vectors) =>
        LinalgEngine.Default.SymmetricEigen(a, n, vectors);
}

namespace Cartan.Linalg;

/// <summary>Which implementation carries out the linear algebra.</summary>
public enum LinalgBackendKind
{
    /// <summary>OpenBLAS (its BLAS and its bundled LAPACK).</summary>
    OpenBlas,
    /// <summary>The system's liblapack.so.3 + libblas.so.3 (Netlib reference or whatever the system links there).</summary>
    Reference,
    /// <summary>macOS Accelerate.</summary>
    Accelerate,
    /// <summary>Cartan's own managed code (no native library found, or forced with CARTAN_LAPACK=managed).</summary>
    Managed,
}

/// <summary>
/// The primitive operations a backend provides; <see cref="LinalgEngine"/> composes them into the public functions.
/// All matrices are row-major. Callers have validated shapes and sizes.
/// </summary>
internal abstract class LinalgBackend
{
    public abstract string Name { get; }

    public abstract LinalgBackendKind Kind { get; }

    /// <summary>Threads the library uses inside one call (OpenBLAS only; others report 1 and ignore changes).</summary>
    public virtual int Threads { get => 1; set { } }

    /// <summary>c ← A·Aᵀ (rowsGram, m×m) or Aᵀ·A (n×n), full symmetric. m, n ≥ 1.</summary>
    public abstract void Gram(ReadOnlySpan<double> a, int m, int n, bool rowsGram, Span<double> c);

    /// <summary>
    /// c ← c + A·Aᵀ (rowsGram, m×m) or c + Aᵀ·A (n×n), updating the lower triangle (row-major i ≥ j) only; the upper
    /// triangle is left undefined. m, n ≥ 1. Lets a Gram matrix be accumulated band by band.
    /// </summary>
    public virtual void GramAdd(ReadOnlySpan<double> a, int m, int n, bool rowsGram, Span<double> c)
    {
        int order = rowsGram ? m : n;
        var t = new double[(long)order * order];
        Gram(a, m, n, rowsGram, t);
        for (int i = 0; i < order; i++)
            for (int j = 0; j <= i; j++) c[i * order + j] += t[i * order + j];
    }

    /// <summary>c (m×n) ← op(A)·op(B), op(A) m×k, op(B) k×n. m, n, k ≥ 1.</summary>
    public abstract void MatMul(ReadOnlySpan<double> a, ReadOnlySpan<double> b, int m, int k, int n, bool transA, bool transB, Span<double> c);

    /// <summary>Eigenvalues (ascending, into w) of the full symmetric n×n matrix a (destroyed). n ≥ 1.</summary>
    public abstract void EigenValues(double[] a, int n, double[] w);

    /// <summary>All eigenpairs of the full symmetric n×n a (destroyed): w ascending, vectors n×n row-major with column j ↔ w[j].</summary>
    public abstract void EigenFull(double[] a, int n, double[] w, double[] vectors);

    /// <summary>The k largest eigenpairs of the full symmetric n×n a (destroyed): w (k, ascending), z n×k row-major with column j ↔ w[j]. 1 ≤ k ≤ n.</summary>
    public abstract void EigenTop(double[] a, int n, int k, double[] w, double[] z);

    /// <summary>Thin SVD of the m×n row-major a; m, n ≥ 1; input already checked finite.</summary>
    public abstract SvdResult Svd(ReadOnlySpan<double> a, int m, int n);
}

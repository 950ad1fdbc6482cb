namespace Cartan.Noise;

/// <summary>Which sites of the H×W feature grid carry the Dirichlet boundary (methods.md §4(b), open ambiguity 1).</summary>
public enum GChBoundary
{
    /// <summary>[R] The outer ring of pixels is the boundary B: interior n1×n2 = (H−2)×(W−2), the gate is 1 on the ring.</summary>
    Ring,
    /// <summary>[R] The whole H×W grid is the interior U with zero ghost values outside it: n1 = H, n2 = W.</summary>
    Ghost,
}

/// <summary>
/// The Dirichlet geometry behind Gaussian Chaos Noise (methods.md §4(b)): the interior U of an H×W grid, the 5-point
/// Laplacian L_U with zero boundary values, its explicit eigenbasis (2-D DST-I) and the Green kernel G_U = L_U⁻¹.
/// Everything is float64. Interior sites are indexed row-major, u = i·n2 + j (0-based, i &lt; n1, j &lt; n2); the
/// interior site (i, j) sits at grid position (i + off, j + off) with off = 1 for <see cref="GChBoundary.Ring"/> and 0
/// for <see cref="GChBoundary.Ghost"/>.
/// </summary>
/// <remarks>
/// [P] the Dirichlet gauge, the Laplacian, G_U = L_U⁻¹ and the sine eigenbasis. [R] the ring/ghost conventions, the
/// 5-point stencil (standard), the orthonormal DST-I normalisation and the row-major interior indexing.
/// A grid whose interior is empty (n1 &lt; 1 or n2 &lt; 1, e.g. H ≤ 2 with the ring) is <see cref="IsDegenerate"/>:
/// it has no eigenpairs, the Green kernel is empty, and the gate on it is ≡ 1.
/// </remarks>
public sealed class DirichletGrid
{
    /// <summary>Above this interior size <see cref="GreenDense"/> and <see cref="LaplacianDense"/> refuse (|U|² doubles).</summary>
    public const int MaxDenseInterior = 4096;

    private readonly double[] _s1, _s2, _lambda, _greenDiag;

    /// <summary>Builds the grid. H, W ≥ 1 and H·W ≤ 2²⁴ (larger feature maps are not a use of this gate).</summary>
    public DirichletGrid(int height, int width, GChBoundary boundary = GChBoundary.Ring)
    {
        if (height < 1 || width < 1) throw new ArgumentOutOfRangeException(nameof(height), $"grid {height}×{width}: both sides must be ≥ 1");
        if ((long)height * width > 1 << 24) throw new ArgumentOutOfRangeException(nameof(height), $"grid {height}×{width} is larger than 2^24 sites");
        if (boundary is not (GChBoundary.Ring or GChBoundary.Ghost)) throw new ArgumentOutOfRangeException(nameof(boundary));
        Height = height;
        Width = width;
        Boundary = boundary;
        Offset = boundary == GChBoundary.Ring ? 1 : 0;
        N1 = Math.Max(0, height - 2 * Offset);
        N2 = Math.Max(0, width - 2 * Offset);
        if (N1 < 1 || N2 < 1)
        {
            N1 = N2 = 0;
            _s1 = _s2 = _lambda = _greenDiag = [];
            Warning = $"GCh grid {height}×{width} with the {boundary} boundary has no interior: the gate is ≡ 1 (use the ghost boundary for tiny maps)";
            return;
        }
        _s1 = DstMatrix(N1);
        _s2 = N2 == N1 ? _s1 : DstMatrix(N2);
        _lambda = new double[N1 * N2];
        for (int k = 0; k < N1; k++)
        {
            double a = 2 * Math.Sin(Math.PI * (k + 1) / (2.0 * (N1 + 1)));
            for (int l = 0; l < N2; l++)
            {
                double b = 2 * Math.Sin(Math.PI * (l + 1) / (2.0 * (N2 + 1)));
                _lambda[k * N2 + l] = a * a + b * b;
            }
        }
        // G(x,x) = Σ_{k,l} S1[k,i]²·S2[l,j]²/λ[k,l]  =  (S1∘S1)ᵀ · (1/λ) · (S2∘S2), two small products.
        var t = new double[N1 * N2]; // t[i,l] = Σ_k S1[k,i]²/λ[k,l]
        for (int k = 0; k < N1; k++)
            for (int i = 0; i < N1; i++)
            {
                double a = _s1[k * N1 + i] * _s1[k * N1 + i];
                for (int l = 0; l < N2; l++) t[i * N2 + l] += a / _lambda[k * N2 + l];
            }
        _greenDiag = new double[N1 * N2];
        for (int i = 0; i < N1; i++)
            for (int l = 0; l < N2; l++)
            {
                double a = t[i * N2 + l];
                for (int j = 0; j < N2; j++) _greenDiag[i * N2 + j] += a * _s2[l * N2 + j] * _s2[l * N2 + j];
            }
    }

    /// <summary>Grid height H (rows of the feature map).</summary>
    public int Height { get; }

    /// <summary>Grid width W (columns of the feature map).</summary>
    public int Width { get; }

    /// <summary>The boundary convention.</summary>
    public GChBoundary Boundary { get; }

    /// <summary>Grid row/column of interior site (0, 0): 1 for the ring, 0 for ghost.</summary>
    public int Offset { get; }

    /// <summary>Interior rows n1 (0 when degenerate).</summary>
    public int N1 { get; }

    /// <summary>Interior columns n2 (0 when degenerate).</summary>
    public int N2 { get; }

    /// <summary>|U| = n1·n2.</summary>
    public int InteriorCount => N1 * N2;

    /// <summary>True when the interior is empty: the gate is ≡ 1. <see cref="Warning"/> says why.</summary>
    public bool IsDegenerate => N1 == 0;

    /// <summary>A one-sentence warning for degenerate grids, otherwise null.</summary>
    public string? Warning { get; }

    /// <summary>
    /// The orthonormal DST-I matrix of order n (row-major n×n): S[k,i] = √(2/(n+1))·sin(π(k+1)(i+1)/(n+1)) for 0-based
    /// k, i. It is symmetric and its own inverse.
    /// </summary>
    public static double[] DstMatrix(int n)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n));
        var s = new double[n * n];
        double c = Math.Sqrt(2.0 / (n + 1));
        for (int k = 0; k < n; k++)
            for (int i = k; i < n; i++)
            {
                // sin(π·p/(n+1)) with p = (k+1)(i+1) reduced mod 2(n+1) keeps the argument small and the matrix exactly symmetric.
                long p = (long)(k + 1) * (i + 1) % (2L * (n + 1));
                s[k * n + i] = s[i * n + k] = c * Math.Sin(Math.PI * p / (n + 1));
            }
        return s;
    }

    /// <summary>S1, the n1×n1 DST-I matrix (row-major; a view, do not modify).</summary>
    public ReadOnlySpan<double> S1 => _s1;

    /// <summary>S2, the n2×n2 DST-I matrix (row-major; a view, do not modify).</summary>
    public ReadOnlySpan<double> S2 => _s2;

    /// <summary>λ[k,l] = 4sin²(π(k+1)/(2(n1+1))) + 4sin²(π(l+1)/(2(n2+1))), row-major n1×n2 (eigenvalue of e_{k,l}).</summary>
    public ReadOnlySpan<double> Eigenvalues => _lambda;

    /// <summary>G_U(x,x) for every interior site, row-major n1×n2 (= Var ψ(x) at β = 1).</summary>
    public ReadOnlySpan<double> GreenDiagonal => _greenDiag;

    /// <summary>
    /// One entry G_U(u, v) of the Green kernel between interior sites u = (i1, j1) and v = (i2, j2), from the eigenbasis:
    /// Σ_{k,l} S1[k,i1]S1[k,i2]S2[l,j1]S2[l,j2]/λ[k,l]. O(n1·n2).
    /// </summary>
    public double Green(int i1, int j1, int i2, int j2)
    {
        CheckInterior(i1, j1);
        CheckInterior(i2, j2);
        double sum = 0;
        for (int k = 0; k < N1; k++)
        {
            double a = _s1[k * N1 + i1] * _s1[k * N1 + i2], row = 0;
            for (int l = 0; l < N2; l++) row += _s2[l * N2 + j1] * _s2[l * N2 + j2] / _lambda[k * N2 + l];
            sum += a * row;
        }
        return sum;
    }

    /// <summary>
    /// G_U between two sites given in full-grid coordinates (row, col); 0 when either lies on the ring (ψ ≡ 0 there).
    /// </summary>
    public double GreenAtGrid(int r1, int c1, int r2, int c2)
    {
        CheckGrid(r1, c1);
        CheckGrid(r2, c2);
        if (!IsInterior(r1, c1) || !IsInterior(r2, c2)) return 0;
        return Green(r1 - Offset, c1 - Offset, r2 - Offset, c2 - Offset);
    }

    /// <summary>True when grid site (row, col) is in the interior U.</summary>
    public bool IsInterior(int row, int col) =>
        !IsDegenerate && row >= Offset && row < Offset + N1 && col >= Offset && col < Offset + N2;

    /// <summary>
    /// The dense Green kernel G_U = Σ_{k,l} e_{k,l}e_{k,l}ᵀ/λ[k,l] (|U|×|U| row-major, interior indexing), from the
    /// eigenbasis. Only for |U| ≤ <see cref="MaxDenseInterior"/>.
    /// </summary>
    public double[] GreenDense()
    {
        int n = CheckDense();
        var g = new double[n * n];
        var e = new double[n];
        for (int k = 0; k < N1; k++)
            for (int l = 0; l < N2; l++)
            {
                for (int i = 0; i < N1; i++)
                    for (int j = 0; j < N2; j++) e[i * N2 + j] = _s1[k * N1 + i] * _s2[l * N2 + j];
                double w = 1 / _lambda[k * N2 + l];
                for (int u = 0; u < n; u++)
                {
                    double a = w * e[u];
                    for (int v = 0; v < n; v++) g[u * n + v] += a * e[v];
                }
            }
        return g;
    }

    /// <summary>
    /// The dense 5-point Dirichlet Laplacian L_U built directly from the stencil (L_Uψ)(x) = 4ψ(x) − Σ_{y∼x, y∈U} ψ(y)
    /// (|U|×|U| row-major, interior indexing), independent of the eigenbasis; for tests and small grids.
    /// </summary>
    public double[] LaplacianDense()
    {
        int n = CheckDense();
        var a = new double[n * n];
        for (int i = 0; i < N1; i++)
            for (int j = 0; j < N2; j++)
            {
                int u = i * N2 + j;
                a[u * n + u] = 4;
                if (i > 0) a[u * n + u - N2] = -1;
                if (i < N1 - 1) a[u * n + u + N2] = -1;
                if (j > 0) a[u * n + u - 1] = -1;
                if (j < N2 - 1) a[u * n + u + 1] = -1;
            }
        return a;
    }

    /// <summary>
    /// The quadratic form ½·gᵀL_U·g of an interior field g (row-major n1×n2), by the stencil (no dense matrix).
    /// With g = γψ its expectation is the roughness budget s²|U|/2.
    /// </summary>
    public double DirichletEnergy(ReadOnlySpan<double> g)
    {
        if (g.Length != InteriorCount) throw new ArgumentException($"field has {g.Length} values, the interior {InteriorCount}", nameof(g));
        double sum = 0;
        for (int i = 0; i < N1; i++)
            for (int j = 0; j < N2; j++)
            {
                int u = i * N2 + j;
                double lg = 4 * g[u];
                if (i > 0) lg -= g[u - N2];
                if (i < N1 - 1) lg -= g[u + N2];
                if (j > 0) lg -= g[u - 1];
                if (j < N2 - 1) lg -= g[u + 1];
                sum += g[u] * lg;
            }
        return 0.5 * sum;
    }

    /// <summary>
    /// The variance map over the full H×W grid (row-major): s²·G_U(x,x) = γ²·Var ψ(x) in the interior and 0 on the ring.
    /// </summary>
    public double[] VarianceMap(double strength)
    {
        GChOptions.CheckStrength(strength);
        var v = new double[Height * Width];
        for (int i = 0; i < N1; i++)
            for (int j = 0; j < N2; j++)
                v[(i + Offset) * Width + j + Offset] = strength * strength * _greenDiag[i * N2 + j];
        return v;
    }

    private int CheckDense()
    {
        if (InteriorCount > MaxDenseInterior)
            throw new InvalidOperationException($"interior {N1}×{N2} is larger than {MaxDenseInterior} sites for a dense kernel; use Green(i1, j1, i2, j2)");
        return InteriorCount;
    }

    private void CheckInterior(int i, int j)
    {
        if ((uint)i >= (uint)N1 || (uint)j >= (uint)N2)
            throw new ArgumentOutOfRangeException(nameof(i), $"interior site ({i}, {j}) is outside the {N1}×{N2} interior");
    }

    private void CheckGrid(int r, int c)
    {
        if ((uint)r >= (uint)Height || (uint)c >= (uint)Width)
            throw new ArgumentOutOfRangeException(nameof(r), $"grid site ({r}, {c}) is outside the {Height}×{Width} grid");
    }
}

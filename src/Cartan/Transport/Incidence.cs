using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Cartan.Linalg;

namespace Cartan.Transport;

/// <summary>Which incidence matrix feeds the Physical Alignment Matrix (methods.md §2(b)). [R]: our operational definition.</summary>
public enum IncidenceKind
{
    /// <summary>Fully physical incidence M = Ŵ_{ℓ+1}Ŵ_ℓ (p×n): physical inputs of ℓ to physical outputs of ℓ+1. The default.</summary>
    Physical,

    /// <summary>Source-mode incidence M = Ŵ_{ℓ+1}·U·diag(s̃) (p×r): physical outputs of ℓ+1 against the r source modes of ℓ.</summary>
    SourceMode,
}

/// <summary>
/// The aggregated incidence of one interface: the nonnegative amplitude matrices P_full and P_trunc (<see cref="Rows"/>×<see cref="Cols"/>,
/// row-major), δ = ‖P_full − P_trunc‖_F, and the pre-aggregation distance ‖M_full − M_trunc‖_F (δ ≤ it, the aggregation being 1-Lipschitz).
/// [R]: our operational definition of methods.md §2(b) "Incidence matrices".
/// </summary>
public sealed record IncidenceResult(
    IncidenceKind Kind, int Rows, int Cols, int KFrom, int KTo, int TapsFrom, int TapsTo,
    ImmutableArray<double> Full, ImmutableArray<double> Truncated, double Delta, double IncidenceDelta);

/// <summary>
/// Incidence matrices of an interface W_ℓ (m×n, out-view) → W_{ℓ+1} (p×m, in-view) and their channel aggregation into the PAM
/// (methods.md §2(b), step 6 of §2(c)). [R]: these are this project's own operational definitions (GSA II full text unavailable).
/// </summary>
/// <remarks>
/// Convolution channel aggregation: rows of the in-view of ℓ+1 are (o, tap) at index o·T'+t (T' = taps of ℓ+1) and columns of the
/// out-view of ℓ are (i, tap) at index i·T+t (T = taps of ℓ); P[o,i] = sqrt(Σ_{t',t} M[o·T'+t', i·T+t]²). A 2-D layer has T = 1.
/// For the source-mode incidence the columns are modes and are never aggregated. Aggregation is a blockwise Euclidean norm, hence
/// 1-Lipschitz in the Frobenius norm (reverse triangle inequality per block): ‖P_full − P_trunc‖_F ≤ ‖M_full − M_trunc‖_F.
/// </remarks>
public static class Incidence
{
    /// <summary>
    /// Fully physical incidence: M_full = Ŵ_{ℓ+1}Ŵ_ℓ (p×n), M_trunc = Ŵ^{(k')}_{ℓ+1}Ŵ^{(k)}_ℓ with the rank-k, rank-k' truncations U S̃ Vᵀ,
    /// aggregated over taps into P (p/T' × n/T).
    /// </summary>
    /// <param name="wl">W_ℓ, m×n row-major (out-view: columns (i, tap) at i·T+t)</param>
    /// <param name="wn">W_{ℓ+1}, p×m row-major (in-view: rows (o, tap) at o·T'+t)</param>
    /// <param name="k">window of ℓ (clamped to 1..min(m,n))</param>
    /// <param name="kTo">window k' of ℓ+1 (clamped to 1..min(p,m))</param>
    /// <param name="tapsFrom">T: taps per input channel of ℓ (1 for a dense layer); must divide n</param>
    /// <param name="tapsTo">T': taps per output channel of ℓ+1 (1 for a dense layer); must divide p</param>
    /// <param name="normL">‖W_ℓ‖_F (computed when null)</param>
    /// <param name="svdL">a top-k (or larger) SVD of W_ℓ (computed with <see cref="Lapack.TopSvd"/> when null or too small)</param>
    public static IncidenceResult Physical(double[] wl, int m, int n, double[] wn, int p, int k, int kTo,
        int tapsFrom = 1, int tapsTo = 1, double? normL = null, double? normN = null, SvdResult? svdL = null, SvdResult? svdN = null,
        double[]? product = null, bool productIsScratch = false)
    {
        Check(wl, m, n, wn, p, tapsFrom, tapsTo);
        k = Math.Clamp(k, 1, Math.Min(m, n));
        kTo = Math.Clamp(kTo, 1, Math.Min(p, m));
        double nl = normL ?? Frobenius(wl), nn = normN ?? Frobenius(wn);
        if (!(nl > 0) || !(nn > 0)) throw new ArgumentException("Incidence: both weight matrices must be nonzero and finite.");
        if (svdL is null || svdL.Rank < k || svdL.Rows != m || svdL.Cols != n) svdL = Lapack.TopSvd(wl, m, n, k);
        if (svdN is null || svdN.Rank < kTo || svdN.Rows != p || svdN.Cols != m) svdN = Lapack.TopSvd(wn, p, m, kTo);

        // M_trunc = [U'_{k'} diag(s̃')] · [V'_{k'}ᵀ U_k diag(s̃)] · V_kᵀ.
        var a = LeftFactor(svdN, kTo, nn);                       // p×k'
        var t = Cross(svdN, kTo, svdL, k, nl, m);                // k'×k (already times diag(s̃))
        var vk = Columns(svdL.V, n, svdL.Rank, k);               // n×k
        var tb = Lapack.MatMul(t, kTo, k, vk, n, transB: true);  // k'×n
        double scale = 1.0 / (nl * nn);
        // product: W_{ℓ+1}W_ℓ when the caller already has it (p×n, unnormalised; copied, never modified, unless the
        // caller hands it over as scratch: then it is scaled in place, saving a p×n copy).
        bool have = product is { } pr && pr.Length == (long)p * n;
        if (tapsFrom == 1 && tapsTo == 1)
        {
            var mFull = have ? (productIsScratch ? product! : (double[])product!.Clone()) : Lapack.MatMul(wn, p, m, wl, n);
            for (int i = 0; i < mFull.Length; i++) mFull[i] *= scale;
            var mTrunc = Lapack.MatMul(a, p, kTo, tb, n);            // p×n
            double mDelta = FrobeniusDistance(mFull, mTrunc);
            // Without taps P = |M|: take the absolute values in place (two p×n buffers at the peak, not four).
            for (int i = 0; i < mFull.Length; i++) { mFull[i] = Math.Abs(mFull[i]); mTrunc[i] = Math.Abs(mTrunc[i]); }
            return new IncidenceResult(IncidenceKind.Physical, p, n, k, kTo, 1, 1,
                ImmutableCollectionsMarshal.AsImmutableArray(mFull), ImmutableCollectionsMarshal.AsImmutableArray(mTrunc),
                FrobeniusDistance(mFull, mTrunc), mDelta);
        }
        // With taps, M is formed a band of output channels at a time and aggregated at once: the p×n matrices never
        // exist whole (for a 3×3 convolution they are 81 times the size of P).
        int rows = p / tapsTo, cols = n / tapsFrom;
        var pf = new double[(long)rows * cols];
        var pt = new double[(long)rows * cols];
        int band = (int)Math.Clamp((4L << 20) / Math.Max(1L, (long)tapsTo * n), 1, rows); // ≈ 32 MiB per M band
        double md2 = 0;
        for (int r0 = 0; r0 < rows; r0 += band)
        {
            int rc = Math.Min(band, rows - r0), mr = rc * tapsTo, first = r0 * tapsTo;
            var mf = have ? product!.AsSpan(first * n, mr * n).ToArray()
                : Lapack.MatMul(wn.AsSpan(first * m, mr * m), mr, m, wl, n);
            for (int i = 0; i < mf.Length; i++) mf[i] *= scale;
            var mt = Lapack.MatMul(a.AsSpan(first * kTo, mr * kTo), mr, kTo, tb, n);
            for (int i = 0; i < mf.Length; i++) { double d = mf[i] - mt[i]; md2 += d * d; }
            Aggregate(mf, mr, n, tapsTo, tapsFrom).CopyTo(pf, (long)r0 * cols);
            Aggregate(mt, mr, n, tapsTo, tapsFrom).CopyTo(pt, (long)r0 * cols);
        }
        return new IncidenceResult(IncidenceKind.Physical, rows, cols, k, kTo, tapsFrom, tapsTo,
            ImmutableCollectionsMarshal.AsImmutableArray(pf), ImmutableCollectionsMarshal.AsImmutableArray(pt),
            FrobeniusDistance(pf, pt), Math.Sqrt(md2));
    }

    /// <summary>
    /// Source-mode incidence: M_full = Ŵ_{ℓ+1}·U_r·diag(s̃_{1:r}) (p×r, r = numerical rank of W_ℓ per methods.md §0.4),
    /// M_trunc = Ŵ^{(k')}_{ℓ+1}·U_k·diag(s̃_{1:k}) zero-padded to p×r; rows aggregated over the T' taps of ℓ+1, columns (modes) not.
    /// </summary>
    /// <param name="sigmaL">all singular values of W_ℓ, descending (computed when null); they fix r and ‖W_ℓ‖_F</param>
    public static IncidenceResult SourceMode(double[] wl, int m, int n, double[] wn, int p, int k, int kTo,
        int tapsTo = 1, double[]? sigmaL = null, double? normN = null, SvdResult? svdL = null, SvdResult? svdN = null)
    {
        Check(wl, m, n, wn, p, 1, tapsTo);
        sigmaL ??= Lapack.SingularValues(wl, m, n);
        double nl = Math.Sqrt(sigmaL.Sum(s => s * s)), nn = normN ?? Frobenius(wn);
        if (!(nl > 0) || !(nn > 0)) throw new ArgumentException("Incidence: both weight matrices must be nonzero and finite.");
        double tol = Math.Max(m, n) * 2.2e-16 * sigmaL[0];
        int r = Math.Max(1, sigmaL.Count(s => s > tol));
        k = Math.Clamp(k, 1, r);
        kTo = Math.Clamp(kTo, 1, Math.Min(p, m));
        if (svdL is null || svdL.Rank < r || svdL.Rows != m || svdL.Cols != n) svdL = Lapack.TopSvd(wl, m, n, r);
        if (svdN is null || svdN.Rank < kTo || svdN.Rows != p || svdN.Cols != m) svdN = Lapack.TopSvd(wn, p, m, kTo);

        // U_r diag(s̃) (m×r); M_full = Ŵ_{ℓ+1} · that.
        var us = Columns(svdL.U, m, svdL.Rank, r);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < r; j++) us[i * r + j] *= svdL.S[j] / nl;
        var mFull = Lapack.MatMul(wn, p, m, us, r);
        for (int i = 0; i < mFull.Length; i++) mFull[i] /= nn;

        var a = LeftFactor(svdN, kTo, nn);              // p×k'
        var t = Cross(svdN, kTo, svdL, k, nl, m);       // k'×k
        var mk = Lapack.MatMul(a, p, kTo, t, k);        // p×k
        var mTrunc = new double[p * r];
        for (int i = 0; i < p; i++) Array.Copy(mk, i * k, mTrunc, i * r, k);
        return Finish(IncidenceKind.SourceMode, mFull, mTrunc, p, r, k, kTo, 1, tapsTo);
    }

    /// <summary>
    /// Channel aggregation P[o,i] = sqrt(Σ_{t'&lt;T'} Σ_{t&lt;T} M[o·T'+t', i·T+t]²) of a (rows·T')×(cols·T) matrix into rows×cols.
    /// </summary>
    public static double[] Aggregate(ReadOnlySpan<double> mat, int mRows, int mCols, int rowTaps, int colTaps)
    {
        if (rowTaps < 1 || colTaps < 1 || mRows % rowTaps != 0 || mCols % colTaps != 0 || (long)mRows * mCols != mat.Length)
            throw new ArgumentException("Incidence.Aggregate: taps must divide the matrix sides and the buffer must be rows×cols.");
        int rows = mRows / rowTaps, cols = mCols / colTaps;
        if (rowTaps == 1 && colTaps == 1)
        {
            var abs = new double[mat.Length];
            for (int i = 0; i < abs.Length; i++) abs[i] = Math.Abs(mat[i]);
            return abs;
        }
        var acc = new double[rows * cols];
        for (int r = 0; r < mRows; r++)
        {
            var row = mat.Slice(r * mCols, mCols);
            var dst = acc.AsSpan((r / rowTaps) * cols, cols);
            for (int c = 0; c < mCols; c++) dst[c / colTaps] += row[c] * row[c];
        }
        for (int i = 0; i < acc.Length; i++) acc[i] = Math.Sqrt(acc[i]);
        return acc;
    }

    /// <summary>‖A − B‖_F of two equal-length buffers.</summary>
    public static double FrobeniusDistance(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.Length != b.Length) throw new ArgumentException("FrobeniusDistance: lengths differ.");
        double s = 0;
        for (int i = 0; i < a.Length; i++) { double d = a[i] - b[i]; s += d * d; }
        return Math.Sqrt(s);
    }

    private static IncidenceResult Finish(IncidenceKind kind, double[] mFull, double[] mTrunc, int mRows, int mCols, int k, int kTo, int tapsFrom, int tapsTo)
    {
        double mDelta = FrobeniusDistance(mFull, mTrunc);
        var pf = Aggregate(mFull, mRows, mCols, tapsTo, tapsFrom);
        var pt = Aggregate(mTrunc, mRows, mCols, tapsTo, tapsFrom);
        return new IncidenceResult(kind, mRows / tapsTo, mCols / tapsFrom, k, kTo, tapsFrom, tapsTo,
            ImmutableCollectionsMarshal.AsImmutableArray(pf), ImmutableCollectionsMarshal.AsImmutableArray(pt),
            FrobeniusDistance(pf, pt), mDelta);
    }

    private static void Check(double[] wl, int m, int n, double[] wn, int p, int tapsFrom, int tapsTo)
    {
        ArgumentNullException.ThrowIfNull(wl);
        ArgumentNullException.ThrowIfNull(wn);
        if (m < 1 || n < 1 || p < 1) throw new ArgumentException("Incidence: matrix sides must be positive.");
        if ((long)m * n != wl.Length) throw new ArgumentException($"Incidence: W_ℓ buffer is {wl.Length}, expected {m}×{n}.");
        if ((long)p * m != wn.Length) throw new ArgumentException($"Incidence: W_ℓ+1 buffer is {wn.Length}, expected {p}×{m} (interface dims must agree).");
        if (tapsFrom < 1 || n % tapsFrom != 0) throw new ArgumentException($"Incidence: taps of ℓ ({tapsFrom}) must divide n = {n}.");
        if (tapsTo < 1 || p % tapsTo != 0) throw new ArgumentException($"Incidence: taps of ℓ+1 ({tapsTo}) must divide p = {p}.");
    }

    internal static double Frobenius(ReadOnlySpan<double> a)
    {
        double s = 0;
        foreach (var x in a) s += x * x;
        return Math.Sqrt(s);
    }

    /// <summary>The first k columns of a rows×ld row-major matrix, as rows×k.</summary>
    private static double[] Columns(double[] a, int rows, int ld, int k)
    {
        var c = new double[rows * k];
        for (int i = 0; i < rows; i++) Array.Copy(a, i * ld, c, i * k, k);
        return c;
    }

    /// <summary>U'_{k'}·diag(s̃'_{1:k'}), p×k'.</summary>
    private static double[] LeftFactor(SvdResult svdN, int kTo, double normN)
    {
        int p = svdN.Rows;
        var a = Columns(svdN.U, p, svdN.Rank, kTo);
        for (int i = 0; i < p; i++)
            for (int j = 0; j < kTo; j++) a[i * kTo + j] *= svdN.S[j] / normN;
        return a;
    }

    /// <summary>V'_{k'}ᵀ U_k diag(s̃_{1:k}), k'×k, accumulated over the m interface coordinates.</summary>
    private static double[] Cross(SvdResult svdN, int kTo, SvdResult svdL, int k, double normL, int m)
    {
        var t = InterfaceTransport.WindowCross(svdN, kTo, svdL, k, m);
        for (int i = 0; i < kTo; i++)
            for (int j = 0; j < k; j++) t[i * k + j] *= svdL.S[j] / normL;
        return t;
    }
}

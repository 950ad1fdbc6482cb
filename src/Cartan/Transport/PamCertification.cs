using System.Collections.Immutable;
using System.Globalization;

namespace Cartan.Transport;

/// <summary>
/// Everything steps 6–11 of methods.md §2(c) produce for one interface: the incidence and its PAMs, the static certificate, the
/// ICM label test and the block-energy matrix, with accessors for the output contract's <c>interfaces[].certificate</c> and
/// <c>interfaces[].pam</c> objects and the margin table. [R]: our operational definitions (GSA II full text unavailable).
/// </summary>
public sealed record PairCertification(
    IncidenceResult Incidence, CertificateResult Certificate, IcmCertification Icm,
    ImmutableArray<ImmutableArray<int>> ColumnGroups, ImmutableArray<double> BlockEnergy, PamOptions Options)
{
    /// <summary>The P_full structures.</summary>
    public PamStructure Full => Certificate.Full;

    /// <summary>[rows, cols] of P (contract <c>pam.shape</c>).</summary>
    public int[] Shape => [Incidence.Rows, Incidence.Cols];

    /// <summary>Contract <c>certificate.radius</c>: r*.</summary>
    public double Radius => Certificate.Radius;

    /// <summary>Contract <c>certificate.delta</c>: δ = ‖P_full − P_trunc‖_F.</summary>
    public double Delta => Certificate.Delta;

    /// <summary>Contract <c>certificate.epsilon</c>: ε used = max(δ, analytic ε).</summary>
    public double Epsilon => Certificate.EpsilonUsed;

    /// <summary>Contract <c>certificate.pass</c>.</summary>
    public bool Pass => Certificate.Pass;

    /// <summary>Contract <c>certificate.supports_equal</c>.</summary>
    public bool SupportsEqual => Certificate.SupportsEqual;

    /// <summary>Contract <c>certificate.row_groups</c>: R.</summary>
    public int RowGroupCount => Full.GroupCount;

    /// <summary>Contract <c>certificate.active_gap</c>: γ_act.</summary>
    public double ActiveGap => Certificate.ActiveGap;

    /// <summary>Contract <c>certificate.noise_margin</c>: γ_noise.</summary>
    public double NoiseMargin => Certificate.NoiseMargin;

    /// <summary>Contract <c>certificate.labels</c>: group index (as a string) → "SC" | "SA" | "ST".</summary>
    public IReadOnlyDictionary<string, string> Labels =>
        Icm.Full.Labels.Select((l, g) => (g, l)).ToDictionary(t => t.g.ToString(CultureInfo.InvariantCulture), t => t.l.ToString());

    /// <summary>Contract <c>certificate.labels_pass</c>.</summary>
    public bool LabelsPass => Icm.Pass;

    /// <summary>Contract <c>pam.energy</c>: ‖P_full∘C‖², ‖P_full∘O‖², ‖P_full∘N‖² (absolute; <see cref="PamEnergy.CoreFraction"/> etc. give the fractions of ‖P_full‖_F², which sum to 1).</summary>
    public PamEnergy Energy => Full.Energy;

    /// <summary>Contract <c>pam.hubs</c>: hub columns of P_full.</summary>
    public ImmutableArray<int> Hubs => Full.Hubs;

    /// <summary>Contract <c>pam.srs</c>: group index (as a string) → SRS columns.</summary>
    public IReadOnlyDictionary<string, ImmutableArray<int>> Srs =>
        Full.Srs.Select((s, g) => (g, s)).ToDictionary(t => t.g.ToString(CultureInfo.InvariantCulture), t => t.s);

    /// <summary>Contract <c>pam.edges</c>: [g, h] pairs, g &lt; h.</summary>
    public int[][] Edges => [.. Full.Edges.Select(e => new[] { e.G, e.H })];

    /// <summary>|S_g| per group (margin table).</summary>
    public int[] SupportSizes => [.. Full.Supports.Select(s => s.Length)];

    /// <summary>|SRS_g| per group (margin table).</summary>
    public int[] SrsSizes => [.. Full.Srs.Select(s => s.Length)];

    /// <summary>|Hub| (margin table).</summary>
    public int HubCount => Full.Hubs.Length;
}

/// <summary>
/// The numerical margin protocol of GSA II for one interface (methods.md §2(c), steps 6–11). [R]: this project's operational
/// reconstruction; every constant is in <see cref="PamOptions"/>.
/// </summary>
public static class PamProtocol
{
    /// <summary>
    /// Runs steps 6–11 for W_ℓ (m×n, out-view) → W_{ℓ+1} (p×m, in-view).
    /// </summary>
    /// <param name="k">window k = r_q(W_ℓ) (from <see cref="InterfaceTransport"/>)</param>
    /// <param name="kTo">window k' = r_q(W_{ℓ+1})</param>
    /// <param name="epsilon">analytic bound (the transport bound or the fitted-tail certificate); null: δ alone. The transport bound
    /// √T'_{k'}·s̃_1 + s̃'_1·√T_k bounds ‖M_full − M_trunc‖_F for both incidences (for the source mode split
    /// (Ŵ' − Ŵ'^{(k')})U S̃ + Ŵ'^{(k')}U_{&gt;k}S̃_{&gt;k}), hence δ by 1-Lipschitz aggregation.</param>
    /// <param name="rowGroups">builds the row groups of P from the incidence (e.g. <c>_ =&gt; RowGroups.Heads(rows, dh)</c>, or k-means on
    /// P_full rows)</param>
    /// <param name="columnGroups">column groups for the block-energy matrix; null: min(cols, R) equal blocks</param>
    /// <param name="tapsFrom">T, taps of ℓ (columns of its out-view are (i, tap) at i·T+t); 1 for a dense layer</param>
    /// <param name="tapsTo">T', taps of ℓ+1 (rows of its in-view are (o, tap) at o·T'+t); 1 for a dense layer</param>
    public static PairCertification CertifyPair(double[] wl, int m, int n, double[] wn, int p, int k, int kTo, double? epsilon,
        Func<IncidenceResult, int[][]> rowGroups, PamOptions? options = null, int tapsFrom = 1, int tapsTo = 1,
        Func<IncidenceResult, int[][]>? columnGroups = null,
        Linalg.SvdResult? svdL = null, Linalg.SvdResult? svdN = null, double[]? sigmaL = null, double[]? product = null,
        bool productIsScratch = false)
    {
        var o = options ?? new();
        o.Validate();
        ArgumentNullException.ThrowIfNull(rowGroups);
        if (o.Incidence == IncidenceKind.SourceMode && tapsFrom != 1)
        {
            // Source-mode columns are modes of ℓ: nothing to aggregate on that side.
            tapsFrom = 1;
        }
        var inc = o.Incidence == IncidenceKind.Physical
            ? Incidence.Physical(wl, m, n, wn, p, k, kTo, tapsFrom, tapsTo, sigmaL is null ? null : Math.Sqrt(sigmaL.Sum(s => s * s)), null, svdL, svdN, product, productIsScratch)
            : Incidence.SourceMode(wl, m, n, wn, p, k, kTo, tapsTo, sigmaL, null, svdL, svdN);
        var groups = rowGroups(inc);
        return FromIncidence(inc, groups, epsilon, o, columnGroups?.Invoke(inc));
    }

    /// <summary>Overload with fixed row groups over the rows of P.</summary>
    public static PairCertification CertifyPair(double[] wl, int m, int n, double[] wn, int p, int k, int kTo, double? epsilon,
        int[][] rowGroups, PamOptions? options = null, int tapsFrom = 1, int tapsTo = 1, int[][]? columnGroups = null,
        Linalg.SvdResult? svdL = null, Linalg.SvdResult? svdN = null, double[]? sigmaL = null) =>
        CertifyPair(wl, m, n, wn, p, k, kTo, epsilon, _ => rowGroups, options, tapsFrom, tapsTo,
            columnGroups is null ? null : _ => columnGroups, svdL, svdN, sigmaL);

    /// <summary>Steps 7–11 on an already aggregated incidence.</summary>
    public static PairCertification FromIncidence(IncidenceResult inc, int[][] groups, double? epsilon, PamOptions? options = null,
        int[][]? columnGroups = null)
    {
        var o = options ?? new();
        var pf = inc.Full.AsSpan();
        var pt = inc.Truncated.AsSpan();
        var cert = Certificate.Compute(pf, pt, inc.Rows, inc.Cols, groups, epsilon, o);
        var icm = Icm.Test(pf, pt, inc.Rows, inc.Cols, groups, cert.EpsilonUsed, o, cert.Full);
        columnGroups ??= RowGroups.EqualBlocks(inc.Cols, Math.Min(inc.Cols, groups.Length));
        var be = BlockEnergy.Compute(pf, inc.Rows, inc.Cols, groups, columnGroups);
        return new PairCertification(inc, cert, icm, Pam.Nest(columnGroups), Pam.Imm(be), o);
    }
}

using Cartan.Linalg;

namespace Cartan.Alignment;

/// <summary>Settings of the neural-collapse reading. [R]: our mapping of "Level 2/3" (methods.md §3(b)).</summary>
public sealed record CollapseOptions
{
    /// <summary>Eigenvalues of Σ_B below this fraction of the largest are treated as zero in the pseudo-inverse.</summary>
    public double PinvTolerance { get; init; } = 1e-10;
    /// <summary>A principal cosine counts toward the subspace intersection when c ≥ 1 − ε.</summary>
    public double Tolerance { get; init; } = 1e-2;
}

/// <summary>
/// Neural-collapse metrics (Papyan, Han and Donoho 2020; methods.md §3(b)) of penultimate features H (N×d) with labels,
/// and of a classifier W_c (C×d) when given, plus the Level-2 (subspace: span W_cᵀ vs span M̃) and Level-3 (basis:
/// self-duality NC3) reading.
/// </summary>
public sealed record CollapseResult(
    int Samples, int Dimension, int Classes,
    double NC1, double NC2, double? NC3, double? NC4,
    double[] ClassCounts,
    double WithinTrace, double BetweenTrace,
    double[]? SubspaceCosines, int? SubspaceIntersection, double? SubspaceOverlap,
    string? Reading);

public static class NeuralCollapse
{
    /// <param name="h">features, N×d row-major</param>
    /// <param name="labels">class of each sample, 0..C−1 (classes with no sample are an error)</param>
    /// <param name="wc">classifier C×d row-major (out×in), or null</param>
    public static CollapseResult Compute(double[] h, int n, int d, int[] labels, double[]? wc = null, CollapseOptions? options = null)
    {
        var o = options ?? new();
        if (labels.Length != n) throw new ArgumentException($"{labels.Length} labels for {n} samples");
        if (labels.Any(l => l < 0)) throw new ArgumentException("labels must be 0..C-1");
        int C = labels.Max() + 1;
        if (C < 2) throw new ArgumentException("neural collapse needs at least 2 classes");
        var counts = new double[C];
        foreach (var l in labels) counts[l]++;
        if (counts.Any(c => c == 0)) throw new ArgumentException($"class {Array.IndexOf(counts, 0.0)} has no sample (labels must be 0..C-1 with every class present)");

        // Class means μ_c, global mean μ_G (mean of all samples).
        var mu = new double[C * d];
        var muG = new double[d];
        for (int i = 0; i < n; i++)
        {
            var row = h.AsSpan(i * d, d);
            var m = mu.AsSpan(labels[i] * d, d);
            for (int j = 0; j < d; j++) { m[j] += row[j]; muG[j] += row[j]; }
        }
        for (int c = 0; c < C; c++) for (int j = 0; j < d; j++) mu[c * d + j] /= counts[c];
        for (int j = 0; j < d; j++) muG[j] /= n;

        // M̃ᵀ as C×d: rows μ_c − μ_G.
        var mt = new double[C * d];
        for (int c = 0; c < C; c++) for (int j = 0; j < d; j++) mt[c * d + j] = mu[c * d + j] - muG[j];

        // Σ_W = (1/N) Σ_i (h_i − μ_{y_i})(h_i − μ_{y_i})ᵀ ; Σ_B = (1/C) M̃ M̃ᵀ.
        var centred = new double[n * d];
        for (int i = 0; i < n; i++) for (int j = 0; j < d; j++) centred[i * d + j] = h[i * d + j] - mu[labels[i] * d + j];
        var sw = Lapack.Gram(centred, n, d, rowsGram: false);
        for (int i = 0; i < sw.Length; i++) sw[i] /= n;
        var sb = Lapack.Gram(mt, C, d, rowsGram: false);
        for (int i = 0; i < sb.Length; i++) sb[i] /= C;

        // NC1 = tr(Σ_W Σ_B^†)/C through the eigendecomposition of Σ_B (rank ≤ C−1).
        var (w, vecs) = Lapack.SymmetricEigen(sb, d, vectors: true);
        double wmax = w.Length > 0 ? w[^1] : 0;
        double nc1 = 0;
        for (int k = 0; k < d; k++)
        {
            if (w[k] <= o.PinvTolerance * wmax || w[k] <= 0) continue;
            // v_kᵀ Σ_W v_k / λ_k
            double q = 0;
            for (int a = 0; a < d; a++)
            {
                double va = vecs![a * d + k];
                if (va == 0) continue;
                double s = 0;
                for (int b = 0; b < d; b++) s += sw[a * d + b] * vecs[b * d + k];
                q += va * s;
            }
            nc1 += q / w[k];
        }
        nc1 /= C;

        // NC2 = ‖M̃ᵀM̃/‖M̃ᵀM̃‖_F − (I − 11ᵀ/C)/√(C−1)‖_F.
        var g = Lapack.Gram(mt, C, d, rowsGram: true); // C×C = M̃ᵀM̃
        double gn = Math.Sqrt(g.Sum(x => x * x));
        double nc2 = 0;
        for (int a = 0; a < C; a++)
            for (int b = 0; b < C; b++)
            {
                double etf = ((a == b ? 1.0 : 0.0) - 1.0 / C) / Math.Sqrt(C - 1);
                double x = (gn > 0 ? g[a * C + b] / gn : 0) - etf;
                nc2 += x * x;
            }
        nc2 = Math.Sqrt(nc2);

        double? nc3 = null, nc4 = null, overlap = null;
        double[]? cosines = null;
        int? inter = null;
        string? reading = null;
        if (wc is not null)
        {
            if (wc.Length != C * d) throw new ArgumentException($"classifier has {wc.Length} entries, expected {C}×{d}");
            double wn = Math.Sqrt(wc.Sum(x => x * x)), mn = Math.Sqrt(mt.Sum(x => x * x));
            double s3 = 0;
            for (int i = 0; i < wc.Length; i++)
            {
                double x = (wn > 0 ? wc[i] / wn : 0) - (mn > 0 ? mt[i] / mn : 0);
                s3 += x * x;
            }
            nc3 = s3;

            // NC4: the classifier's argmax versus the nearest class mean.
            var logits = Lapack.MatMul(h, n, d, wc, C, transB: true); // N×C
            int mismatch = 0;
            for (int i = 0; i < n; i++)
            {
                int arg = 0;
                for (int c = 1; c < C; c++) if (logits[i * C + c] > logits[i * C + arg]) arg = c;
                int near = 0; double best = double.PositiveInfinity;
                for (int c = 0; c < C; c++)
                {
                    double dist = 0;
                    for (int j = 0; j < d; j++) { double x = h[i * d + j] - mu[c * d + j]; dist += x * x; }
                    if (dist < best) { best = dist; near = c; }
                }
                if (arg != near) mismatch++;
            }
            nc4 = (double)mismatch / n;

            // Level 2: principal cosines between span(W_cᵀ) and span(M̃) (both in R^d).
            var a1 = Lapack.Svd(wc, C, d);   // right vectors: row space of W_c = span(W_cᵀ)
            var a2 = Lapack.Svd(mt, C, d);   // span(M̃)
            int r1 = a1.S.Count(x => x > Math.Max(C, d) * 2.2e-16 * a1.S[0]);
            int r2 = a2.S.Count(x => x > Math.Max(C, d) * 2.2e-16 * (a2.S.Length > 0 ? a2.S[0] : 0));
            if (r1 > 0 && r2 > 0)
            {
                cosines = Flag.PrincipalCosines(a1.V, a1.Rank, r1, a2.V, a2.Rank, r2, d);
                inter = cosines.Count(c => c >= 1 - o.Tolerance);
                overlap = cosines.Sum(c => c * c) / Math.Min(r1, r2);
                bool level2 = inter == Math.Min(r1, r2);
                bool level3 = nc3 < 1e-2;
                reading = level3 ? "level 3: basis aligned (self-dual classifier)" :
                    level2 ? "level 2: subspace aligned, basis not (commutator obstruction)" : "below level 2: classifier and class means span different subspaces";
            }
        }
        double trW = 0, trB = 0;
        for (int k = 0; k < d; k++) { trW += sw[k * d + k]; trB += sb[k * d + k]; }
        return new CollapseResult(n, d, C, nc1, nc2, nc3, nc4, counts, trW, trB, cosines, inter, overlap, reading);
    }
}

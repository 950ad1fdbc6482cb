namespace Cartan.Pruning;

/// <summary>Which EC steps run (methods.md §5(b)).</summary>
public enum EcMode
{
    None,
    /// <summary>Column step only.</summary>
    Col,
    /// <summary>Column step, then row step.</summary>
    ColRow,
}

/// <summary>Settings of energy compensation; every default is [R] (methods.md §5(b)).</summary>
public sealed record EcOptions
{
    public EcMode Mode { get; init; } = EcMode.None;
    /// <summary>Lower clamp of the ratios r. Default 1.</summary>
    public double RLo { get; init; } = 1.0;
    /// <summary>Upper clamp of the ratios r. Default 2.</summary>
    public double RHi { get; init; } = 2.0;
    /// <summary>μ = 0 (plain norm ratios) instead of the dense means. Default false.</summary>
    public bool Uncentred { get; init; }
    /// <summary>Row energies weighted by Var[x_j]: E_i = Σ_j (W_ij − μ_i)²·Var[x_j] (needs the input variances). Default false.</summary>
    public bool ActivationWeightedRows { get; init; }

    public static EcMode ParseMode(string s) => s switch
    {
        "none" => EcMode.None,
        "col" => EcMode.Col,
        "col+row" or "colrow" => EcMode.ColRow,
        _ => throw new ArgumentException($"EC mode must be none, col or col+row, got '{s}'"),
    };

    public static string ModeName(EcMode m) => m switch { EcMode.Col => "col", EcMode.ColRow => "col+row", _ => "none" };
}

/// <summary>
/// Ratios applied by one EC run: r_j per column and r_i per row (after clamping). A column or row skipped because its
/// pruned energy E' is 0 has ratio NaN here (nothing was scaled) and is counted in the Skipped numbers.
/// </summary>
public sealed record EcResult(double[] Weights, double[] ColumnRatios, double[] RowRatios, int ColumnsSkipped, int RowsSkipped);

/// <summary>
/// Energy compensation (methods.md §5(b), formula [R]): with the dense W, the mask and W' = W∘Mask,
/// the column step sets r_j = clamp(√(E_j/E'_j), r_lo, r_hi) where E_j = Σ_i (W_ij − μ_j)², E'_j = Σ_i (W'_ij − μ_j)²
/// (pruned zeros included), μ_j the ORIGINAL dense column mean, and rescales W''_ij = μ_j + r_j·(W'_ij − μ_j); the mask is
/// re-applied. The row step does the same on W'' row-wise with μ_i the original dense row mean and E_i from the dense row;
/// the mask is re-applied again. A column/row with E' = 0 is skipped.
/// </summary>
public static class EnergyCompensation
{
    /// <param name="dense">The dense W (out × in).</param>
    /// <param name="pruned">W' = W∘Mask (or a reconstruction's output) — EC rescales these values.</param>
    /// <param name="mask">true = kept.</param>
    /// <param name="inputVariances">Var[x_j], needed only for <see cref="EcOptions.ActivationWeightedRows"/>.</param>
    public static EcResult Apply(ReadOnlySpan<double> dense, ReadOnlySpan<double> pruned, ReadOnlySpan<bool> mask, int rows, int cols,
        EcOptions options, ReadOnlySpan<double> inputVariances = default)
    {
        if (rows <= 0 || cols <= 0 || (long)rows * cols != dense.Length || pruned.Length != dense.Length || mask.Length != dense.Length)
            throw new ArgumentException($"EC needs W, W' and mask of {rows}×{cols}");
        if (!(options.RLo > 0) || !(options.RHi >= options.RLo) || !double.IsFinite(options.RHi))
            throw new ArgumentException($"EC clamp needs 0 < r_lo ≤ r_hi < ∞, got [{options.RLo}, {options.RHi}]");
        if (options.ActivationWeightedRows && inputVariances.Length != cols)
            throw new ArgumentException("activation-weighted EC needs the input variances of every feature");
        var w = new double[dense.Length];
        for (int i = 0; i < w.Length; i++) w[i] = mask[i] ? pruned[i] : 0.0;
        var colR = new double[options.Mode == EcMode.None ? 0 : cols];
        var rowR = new double[options.Mode == EcMode.ColRow ? rows : 0];
        int colSkip = 0, rowSkip = 0;
        if (options.Mode == EcMode.None) return new EcResult(w, colR, rowR, 0, 0);

        // Column step.
        for (int j = 0; j < cols; j++)
        {
            double mu = 0;
            if (!options.Uncentred) { for (int i = 0; i < rows; i++) mu += dense[i * cols + j]; mu /= rows; }
            double e = 0, ep = 0;
            for (int i = 0; i < rows; i++)
            {
                double d = dense[i * cols + j] - mu, dp = w[i * cols + j] - mu;
                e += d * d; ep += dp * dp;
            }
            if (ep == 0) { colR[j] = double.NaN; colSkip++; continue; }
            double r = Math.Clamp(Math.Sqrt(e / ep), options.RLo, options.RHi);
            colR[j] = r;
            for (int i = 0; i < rows; i++)
            {
                int k = i * cols + j;
                w[k] = mask[k] ? mu + r * (w[k] - mu) : 0.0;
            }
        }

        if (options.Mode == EcMode.ColRow)
        {
            for (int i = 0; i < rows; i++)
            {
                double mu = 0;
                if (!options.Uncentred) { for (int j = 0; j < cols; j++) mu += dense[i * cols + j]; mu /= cols; }
                double e = 0, ep = 0;
                for (int j = 0; j < cols; j++)
                {
                    double a = options.ActivationWeightedRows ? inputVariances[j] : 1.0;
                    double d = dense[i * cols + j] - mu, dp = w[i * cols + j] - mu;
                    e += d * d * a; ep += dp * dp * a;
                }
                if (ep == 0) { rowR[i] = double.NaN; rowSkip++; continue; }
                double r = Math.Clamp(Math.Sqrt(e / ep), options.RLo, options.RHi);
                rowR[i] = r;
                for (int j = 0; j < cols; j++)
                {
                    int k = i * cols + j;
                    w[k] = mask[k] ? mu + r * (w[k] - mu) : 0.0;
                }
            }
        }
        return new EcResult(w, colR, rowR, colSkip, rowSkip);
    }

    /// <summary>Histogram of finite ratios over [lo, hi] in <paramref name="bins"/> equal bins (the clamp range).</summary>
    public static int[] Histogram(ReadOnlySpan<double> ratios, double lo, double hi, int bins = 10)
    {
        var h = new int[bins];
        double width = hi > lo ? (hi - lo) / bins : 1;
        foreach (var r in ratios)
        {
            if (double.IsNaN(r)) continue;
            int b = hi > lo ? (int)Math.Floor((r - lo) / width) : 0;
            h[Math.Clamp(b, 0, bins - 1)]++;
        }
        return h;
    }
}

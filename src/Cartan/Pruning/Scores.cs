namespace Cartan.Pruning;

/// <summary>Settings of the CVR score (methods.md §5(b)); α and ε are [R] defaults, not the paper's values (unknown).</summary>
public sealed record CvrOptions
{
    /// <summary>Exponent of the column-spread damping (Var_i W_ij + ε)^{−α/2}. Default 1 [R].</summary>
    public double Alpha { get; init; } = 1.0;
    /// <summary>Stabiliser ε of the column variance. Default 1e-8 (methods.md §5(c)).</summary>
    public double Epsilon { get; init; } = 1e-8;
}

/// <summary>
/// Importance scores S (out × in, row-major, larger = more important) of a weight W ∈ R^{out×in} (methods.md §5(b)).
/// All are pure functions of W and per-input-feature factors.
/// </summary>
public static class Scores
{
    /// <summary>S_ij = |W_ij|.</summary>
    public static double[] Magnitude(ReadOnlySpan<double> w)
    {
        var s = new double[w.Length];
        for (int i = 0; i < s.Length; i++) s[i] = Math.Abs(w[i]);
        return s;
    }

    /// <summary>Wanda: S_ij = |W_ij|·‖X_{:,j}‖₂, with <paramref name="inputNorms"/> the per-feature L2 norms (<see cref="CalibrationStats.L2Norms"/>).</summary>
    public static double[] Wanda(ReadOnlySpan<double> w, int rows, int cols, ReadOnlySpan<double> inputNorms)
    {
        Check(w, rows, cols, inputNorms, "inputNorms");
        return ColumnScaled(w, rows, cols, inputNorms);
    }

    /// <summary>
    /// CVR: S_ij = |W_ij|·a_j·(Var_i[W_ij] + ε)^{−α/2}, where a_j is the activation factor (normally Var_t[x_tj]^{1/4},
    /// see <see cref="CvrActivationFactor"/>) and Var_i[W_ij] the population variance of column j over the output index.
    /// With a_j = ‖X_j‖₂ and α = 0 this is exactly the Wanda score (oracle 9).
    /// </summary>
    public static double[] Cvr(ReadOnlySpan<double> w, int rows, int cols, ReadOnlySpan<double> activationFactor, CvrOptions? options = null)
    {
        var o = options ?? new CvrOptions();
        Check(w, rows, cols, activationFactor, "activationFactor");
        if (!(o.Alpha >= 0) || !double.IsFinite(o.Alpha)) throw new ArgumentException($"CVR α must be a finite number ≥ 0, got {o.Alpha}");
        if (!(o.Epsilon >= 0) || !double.IsFinite(o.Epsilon)) throw new ArgumentException($"CVR ε must be a finite number ≥ 0, got {o.Epsilon}");
        var colVar = ColumnVariances(w, rows, cols);
        var f = new double[cols];
        for (int j = 0; j < cols; j++)
        {
            double damp = o.Alpha == 0 ? 1.0 : Math.Pow(colVar[j] + o.Epsilon, -o.Alpha / 2);
            if (!double.IsFinite(damp)) throw new ArgumentException($"column {j} has zero variance and ε = 0: (Var + ε)^(−α/2) is infinite");
            f[j] = activationFactor[j] * damp;
        }
        return ColumnScaled(w, rows, cols, f);
    }

    /// <summary>CVR's activation factor Var_t[x_tj]^{1/4} (population variance).</summary>
    public static double[] CvrActivationFactor(CalibrationStats stats)
    {
        var v = stats.Variances();
        for (int j = 0; j < v.Length; j++) v[j] = Math.Sqrt(Math.Sqrt(v[j]));
        return v;
    }

    /// <summary>Population variance of each column of W over the output index i.</summary>
    public static double[] ColumnVariances(ReadOnlySpan<double> w, int rows, int cols)
    {
        var mean = new double[cols];
        var v = new double[cols];
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) mean[j] += w[i * cols + j];
        for (int j = 0; j < cols; j++) mean[j] /= rows;
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) { double d = w[i * cols + j] - mean[j]; v[j] += d * d; }
        for (int j = 0; j < cols; j++) v[j] /= rows;
        return v;
    }

    private static double[] ColumnScaled(ReadOnlySpan<double> w, int rows, int cols, ReadOnlySpan<double> f)
    {
        var s = new double[w.Length];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) s[i * cols + j] = Math.Abs(w[i * cols + j]) * f[j];
        return s;
    }

    private static void Check(ReadOnlySpan<double> w, int rows, int cols, ReadOnlySpan<double> f, string what)
    {
        if (rows <= 0 || cols <= 0 || (long)rows * cols != w.Length) throw new ArgumentException($"W has {w.Length} values, not {rows}×{cols}");
        if (f.Length != cols) throw new ArgumentException($"{what} has {f.Length} values for {cols} input features");
    }
}

using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Cartan.Transport;

/// <summary>How the active supports S_g are chosen (methods.md §2(b)). [R]: our operational definition.</summary>
public enum SupportRule
{
    /// <summary>S_g = {j : e_g(j) ≥ θ_g} with θ_g = θ·E_g^full/n_cols (default).</summary>
    Threshold,

    /// <summary>
    /// The minimal top-energy set of P_full reaching q_s·E_g, turned into a threshold halfway between the smallest included and the
    /// largest excluded column energy of P_full, so that P_trunc is judged by the same threshold rule on the same scale.
    /// </summary>
    EnergyQuantile,
}

/// <summary>Profile similarity used by the ICM labels. [R]</summary>
public enum ProfileCorrelation
{
    /// <summary>Pearson correlation of e_g(·) and e_h(·) across columns (default); a constant profile correlates 0.</summary>
    Pearson,

    /// <summary>Cosine similarity of e_g(·) and e_h(·); a zero profile gives 0.</summary>
    Cosine,
}

/// <summary>
/// Every constant of the GSA II Physical Alignment Matrix, static certificate and Invariant Channel Mapping (methods.md §2(b)–(c)).
/// All of them are [R]: this project's own operational choices, reconstructed because the paper's full text was unavailable;
/// none is "the paper's value".
/// </summary>
public sealed record PamOptions
{
    /// <summary>θ in θ_g = θ·E_g^full/n_cols ("twice the group's mean column energy"). Default 2.</summary>
    public double Theta { get; init; } = 2.0;

    /// <summary>Support rule; default <see cref="SupportRule.Threshold"/>.</summary>
    public SupportRule Support { get; init; } = SupportRule.Threshold;

    /// <summary>q_s for <see cref="SupportRule.EnergyQuantile"/>. Default 0.9.</summary>
    public double SupportQuantile { get; init; } = 0.9;

    /// <summary>h_min for hub columns (n(j) ≥ h_min); null means max(3, ⌈0.25·R⌉).</summary>
    public int? HubMin { get; init; }

    /// <summary>ν_max, the largest admissible per-group noise fraction. Default 0.2.</summary>
    public double NuMax { get; init; } = 0.2;

    /// <summary>θ_ω: when set, an edge g–h also needs ω_gh ≥ θ_ω and the overlap radius r_ov enters r*. Default null (off).</summary>
    public double? EdgeWeightThreshold { get; init; }

    /// <summary>θ_c: SC iff c_g ≥ θ_c. Default 0.6.</summary>
    public double ThetaCore { get; init; } = 0.6;

    /// <summary>θ_o: SA needs o_g ≥ θ_o. Default 0.4.</summary>
    public double ThetaOverlap { get; init; } = 0.4;

    /// <summary>θ_ρ: SA needs max_h ρ_gh ≥ θ_ρ. Default 0.5.</summary>
    public double ThetaRho { get; init; } = 0.5;

    /// <summary>Profile similarity for ρ_gh. Default Pearson.</summary>
    public ProfileCorrelation Correlation { get; init; } = ProfileCorrelation.Pearson;

    /// <summary>K, the number of random perturbations of the label test. Default 32.</summary>
    public int PerturbationCount { get; init; } = 32;

    /// <summary>Seed of every random choice (label perturbations, k-means). Default 20260504.</summary>
    public ulong Seed { get; init; } = 20260504;

    /// <summary>Incidence feeding the PAM. Default physical.</summary>
    public IncidenceKind Incidence { get; init; } = IncidenceKind.Physical;

    /// <summary>h_min for R row groups.</summary>
    public int HubMinFor(int groupCount) => HubMin ?? Math.Max(3, (groupCount + 3) / 4);

    /// <summary>Throws <see cref="ArgumentException"/> on an out-of-range constant.</summary>
    public void Validate()
    {
        if (!(Theta > 0) || double.IsInfinity(Theta)) throw new ArgumentException("PamOptions.Theta must be positive and finite.");
        if (!(SupportQuantile > 0 && SupportQuantile <= 1)) throw new ArgumentException("PamOptions.SupportQuantile must be in (0, 1].");
        if (HubMin is < 1) throw new ArgumentException("PamOptions.HubMin must be at least 1.");
        if (!(NuMax >= 0 && NuMax <= 1)) throw new ArgumentException("PamOptions.NuMax must be in [0, 1].");
        if (EdgeWeightThreshold is double w && !(w >= 0 && w <= 1)) throw new ArgumentException("PamOptions.EdgeWeightThreshold must be in [0, 1].");
        if (!(ThetaCore >= 0 && ThetaCore <= 1) || !(ThetaOverlap >= 0 && ThetaOverlap <= 1) || !(ThetaRho >= -1 && ThetaRho <= 1))
            throw new ArgumentException("PamOptions: θ_c, θ_o must be in [0, 1] and θ_ρ in [−1, 1].");
        if (PerturbationCount < 0) throw new ArgumentException("PamOptions.PerturbationCount must be ≥ 0.");
    }
}

/// <summary>SplitMix64: a small seeded generator, identical on every platform and runtime, for reproducible perturbations.</summary>
internal sealed class SplitMix64(ulong seed)
{
    private ulong _state = seed;
    private double? _spare;

    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, n).</summary>
    public int NextInt(int n) => (int)(NextDouble() * n);

    /// <summary>
    /// Fills <paramref name="destination"/> with 2·U − 1 for the next <c>destination.Length</c> uniforms U of the stream:
    /// exactly the values <c>2 * NextDouble() - 1</c> would give one after another (the i-th output depends only on the
    /// state plus i·γ, so eight are computed at once in 64-bit SIMD lanes; the conversions are exact), and the state
    /// advances as far.
    /// </summary>
    public void FillSignedUniform(Span<double> destination)
    {
        const ulong Gamma = 0x9E3779B97F4A7C15UL;
        int i = 0;
        if (Vector512.IsHardwareAccelerated && destination.Length >= 8)
        {
            var z0 = Vector512.Create(_state) + Vector512.Create(1UL, 2, 3, 4, 5, 6, 7, 8) * Vector512.Create(Gamma);
            var step = Vector512.Create(unchecked(8 * Gamma));
            var c1 = Vector512.Create(0xBF58476D1CE4E5B9UL);
            var c2 = Vector512.Create(0x94D049BB133111EBUL);
            var scale = Vector512.Create(1.0 / (1UL << 53));
            var two = Vector512.Create(2.0);
            ref double d = ref MemoryMarshal.GetReference(destination);
            for (; i + 8 <= destination.Length; i += 8)
            {
                var z = z0;
                z = (z ^ Vector512.ShiftRightLogical(z, 30)) * c1;
                z = (z ^ Vector512.ShiftRightLogical(z, 27)) * c2;
                z ^= Vector512.ShiftRightLogical(z, 31);
                var u = Vector512.ConvertToDouble(Vector512.ShiftRightLogical(z, 11)) * scale;
                (two * u - Vector512<double>.One).StoreUnsafe(ref d, (nuint)i);
                z0 += step;
            }
            _state += unchecked(Gamma * (ulong)i);
        }
        for (; i < destination.Length; i++) destination[i] = 2 * NextDouble() - 1;
    }

    /// <summary>
    /// Fills <paramref name="destination"/> with independent standard normals: Marsaglia's polar method in batches, the
    /// candidate points drawn by <see cref="FillSignedUniform"/> and the rejection test, logarithms, divisions and square
    /// roots done in SIMD over the batch (rejected candidates are computed and dropped). Several times faster than
    /// <see cref="NextGaussian"/> on the millions of draws of one ICM perturbation. Deterministic for a seed; a different
    /// stream from <see cref="NextGaussian"/>.
    /// </summary>
    public void FillGaussian(Span<double> destination)
    {
        const int Batch = 1024;
        Span<double> w = stackalloc double[2 * Batch], u = stackalloc double[Batch], v = stackalloc double[Batch],
            s = stackalloc double[Batch], f = stackalloc double[Batch], o = stackalloc double[2 * Batch];
        int done = 0;
        while (done < destination.Length)
        {
            // Enough candidates for the remaining pairs, allowing for the 1 − π/4 ≈ 21 % rejected.
            int n = Math.Min(Batch, (destination.Length - done + 1) / 2 * 4 / 3 + 8);
            Span<double> su = u[..n], sv = v[..n], ss = s[..n], sf = f[..n];
            FillSignedUniform(w[..(2 * n)]);
            for (int i = 0; i < n; i++) { su[i] = w[2 * i]; sv[i] = w[2 * i + 1]; }
            System.Numerics.Tensors.TensorPrimitives.Multiply(sv, sv, ss);
            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(su, su, ss, ss);
            Reject(ss); // s ≥ 1 or s = 0 → NaN, kept out below
            System.Numerics.Tensors.TensorPrimitives.Log(ss, sf);
            System.Numerics.Tensors.TensorPrimitives.Divide(sf, ss, sf);
            System.Numerics.Tensors.TensorPrimitives.Multiply(sf, -2.0, sf);
            System.Numerics.Tensors.TensorPrimitives.Sqrt(sf, sf);
            // Accepted pairs packed in order without a branch per candidate (a rejection is a coin flip for the predictor).
            int k = 0;
            for (int i = 0; i < n; i++)
            {
                o[k] = su[i] * sf[i];
                o[k + 1] = sv[i] * sf[i];
                k += double.IsNaN(ss[i]) ? 0 : 2;
            }
            int take = Math.Min(k, destination.Length - done);
            o[..take].CopyTo(destination.Slice(done, take));
            done += take;
        }
    }

    private static void Reject(Span<double> s)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var one = Vector512<double>.One;
            var nan = Vector512.Create(double.NaN);
            ref double d = ref MemoryMarshal.GetReference(s);
            for (; i + 8 <= s.Length; i += 8)
            {
                var x = Vector512.LoadUnsafe(ref d, (nuint)i);
                var bad = Vector512.GreaterThanOrEqual(x, one) | Vector512.Equals(x, Vector512<double>.Zero);
                Vector512.ConditionalSelect(bad, nan, x).StoreUnsafe(ref d, (nuint)i);
            }
        }
        for (; i < s.Length; i++) if (s[i] >= 1 || s[i] == 0) s[i] = double.NaN;
    }

    /// <summary>
    /// Standard normal (Marsaglia's polar method: a uniform point in the unit disc, one logarithm and one square root per
    /// pair, no trigonometry — the ICM perturbation test draws millions of these per interface).
    /// </summary>
    public double NextGaussian()
    {
        if (_spare is double sp) { _spare = null; return sp; }
        double u, v, s;
        do
        {
            u = 2 * NextDouble() - 1;
            v = 2 * NextDouble() - 1;
            s = u * u + v * v;
        }
        while (s >= 1 || s == 0);
        double f = Math.Sqrt(-2.0 * Math.Log(s) / s);
        _spare = v * f;
        return u * f;
    }
}

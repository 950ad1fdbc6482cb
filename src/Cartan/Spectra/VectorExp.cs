using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Cartan.Spectra;

/// <summary>
/// y = exp(x) elementwise with our own vector exponential, compiled fully optimised on first use.
/// <see cref="System.Numerics.Tensors.TensorPrimitives.Exp{T}(ReadOnlySpan{T}, Span{T})"/> computes the same values, but
/// its per-vector kernel is a separate generic method that starts in tier-0 code and is promoted only after the
/// runtime's call-counting delay: in a one-second `--spectra-only` run the fits of the power-law orbit spent most of
/// their time in unoptimised exp code (perf on resnet18: 10 % of all CPU in tier-0 ExpDouble / MultiplyAddEstimate).
/// Here the kernel is ours, compiled once, optimised, and never tiered. Every element, tails included, goes through the
/// same lane-wise vector kernel (the last vector overlaps the previous one; short inputs are padded), so a value does
/// not depend on the length or position; values are within 2 ulp of libm's exp and 4 ulp of the library's (tested).
/// </summary>
internal static class VectorExp
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Exp(ReadOnlySpan<double> x, Span<double> y) => ExpAffine(x, 1.0, 0.0, y);

    /// <summary>
    /// y = exp(x·scale + offset), the product and the sum each rounded as by separate Multiply and Add passes (x·1 + 0 is
    /// x exactly): the orbit's exp(−α·log k − c) in one pass of optimised code. y may be x.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ExpAffine(ReadOnlySpan<double> x, double scale, double offset, Span<double> y)
    {
        if (y.Length < x.Length) throw new ArgumentException("destination too short", nameof(y));
        int n = x.Length;
        if (Vector512.IsHardwareAccelerated) Run512(x, y, n, scale, offset);
        else if (Vector256.IsHardwareAccelerated) Run256(x, y, n, scale, offset);
        else for (int i = 0; i < n; i++) y[i] = Math.Exp(x[i] * scale + offset);
    }

    // Our own kernels, compiled once, optimised, never tiered. The runtime's Vector512.Exp calls a separate generic
    // method (VectorMath.ExpDouble) that starts in tier-0 code whatever its caller is; its polynomial uses
    // MultiplyAddEstimate, which by its contract may or may not round as one fused operation, so its last bit is not
    // pinned down either. Ours uses FusedMultiplyAdd throughout.
    // exp(x) = 2ⁿ·e^r with n = round(x/ln 2), r = x − n·ln 2 (|r| ≤ ln 2 / 2, by two fused steps with ln 2 split in a
    // high and a low part), e^r by its Taylor polynomial of degree 13 in Horner form with fused multiply-adds
    // (truncation < 5e-18 relative), and 2ⁿ applied as two exact powers of two so that overflow to ∞ and gradual
    // underflow to 0 happen in the last multiplication. NaN stays NaN.
    private const double InvLn2 = 1.4426950408889634;
    private const double Ln2Hi = 0.6931471803691238;   // fdlibm's ln2_hi: its low bits are zero, n·Ln2Hi is exact
    private const double Ln2Lo = 1.9082149292705877e-10;

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static Vector512<double> Exp512(Vector512<double> x)
    {
        var xc = Vector512.Min(Vector512.Max(x, Vector512.Create(-800.0)), Vector512.Create(800.0));
        var n = Vector512.Round(xc * Vector512.Create(InvLn2));
        var r = Vector512.FusedMultiplyAdd(-n, Vector512.Create(Ln2Hi), xc);
        r = Vector512.FusedMultiplyAdd(-n, Vector512.Create(Ln2Lo), r);
        var p = Vector512.Create(1.0 / 6227020800.0);                                   // 1/13!
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 479001600.0));      // 1/12!
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 39916800.0));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 3628800.0));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 362880.0));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 40320.0));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 5040.0));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 720.0));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 120.0));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 24.0));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 6.0));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(0.5));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<double>.One);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<double>.One);
        var ni = Vector512.ConvertToInt64(n);
        var n1 = Vector512.ShiftRightArithmetic(ni, 1);
        var n2 = ni - n1;
        var bias = Vector512.Create(1023L);
        var s1 = Vector512.ShiftLeft(n1 + bias, 52).AsDouble();
        var s2 = Vector512.ShiftLeft(n2 + bias, 52).AsDouble();
        var y = p * s1 * s2;
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), y, x);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static Vector256<double> Exp256(Vector256<double> x)
    {
        var xc = Vector256.Min(Vector256.Max(x, Vector256.Create(-800.0)), Vector256.Create(800.0));
        var n = Vector256.Round(xc * Vector256.Create(InvLn2));
        var r = Vector256.FusedMultiplyAdd(-n, Vector256.Create(Ln2Hi), xc);
        r = Vector256.FusedMultiplyAdd(-n, Vector256.Create(Ln2Lo), r);
        var p = Vector256.Create(1.0 / 6227020800.0);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.0 / 479001600.0));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.0 / 39916800.0));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.0 / 3628800.0));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.0 / 362880.0));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.0 / 40320.0));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.0 / 5040.0));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.0 / 720.0));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.0 / 120.0));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.0 / 24.0));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.0 / 6.0));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(0.5));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<double>.One);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<double>.One);
        var ni = Vector256.ConvertToInt64(n);
        var n1 = Vector256.ShiftRightArithmetic(ni, 1);
        var n2 = ni - n1;
        var bias = Vector256.Create(1023L);
        var s1 = Vector256.ShiftLeft(n1 + bias, 52).AsDouble();
        var s2 = Vector256.ShiftLeft(n2 + bias, 52).AsDouble();
        var y = p * s1 * s2;
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), y, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run512(ReadOnlySpan<double> x, Span<double> y, int n, double scale, double offset)
    {
        var a = Vector512.Create(scale);
        var b = Vector512.Create(offset);
        const int W = 8;
        if (n < W)
        {
            Span<double> pad = stackalloc double[W];
            x.CopyTo(pad);
            Exp512(Vector512.Create<double>(pad) * a + b).CopyTo(pad);
            pad[..n].CopyTo(y);
            return;
        }
        ref double xs = ref MemoryMarshal.GetReference(x);
        ref double ys = ref MemoryMarshal.GetReference(y);
        // The last vector is read before the loop: with y aliasing x, the loop may already have overwritten it.
        var last = Exp512(Vector512.LoadUnsafe(ref xs, (nuint)(n - W)) * a + b);
        for (int i = 0; i + W <= n; i += W) Exp512(Vector512.LoadUnsafe(ref xs, (nuint)i) * a + b).StoreUnsafe(ref ys, (nuint)i);
        last.StoreUnsafe(ref ys, (nuint)(n - W));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Run256(ReadOnlySpan<double> x, Span<double> y, int n, double scale, double offset)
    {
        var a = Vector256.Create(scale);
        var b = Vector256.Create(offset);
        const int W = 4;
        if (n < W)
        {
            Span<double> pad = stackalloc double[W];
            x.CopyTo(pad);
            Exp256(Vector256.Create<double>(pad) * a + b).CopyTo(pad);
            pad[..n].CopyTo(y);
            return;
        }
        ref double xs = ref MemoryMarshal.GetReference(x);
        ref double ys = ref MemoryMarshal.GetReference(y);
        var last = Exp256(Vector256.LoadUnsafe(ref xs, (nuint)(n - W)) * a + b);
        for (int i = 0; i + W <= n; i += W) Exp256(Vector256.LoadUnsafe(ref xs, (nuint)i) * a + b).StoreUnsafe(ref ys, (nuint)i);
        last.StoreUnsafe(ref ys, (nuint)(n - W));
    }
}

using System.Numerics.Tensors;
using Cartan.Spectra;

namespace Cartan.Tests.Spectra;

public class VectorExpTests
{
    private static long Ulps(double a, double b) => Math.Abs(BitConverter.DoubleToInt64Bits(a) - BitConverter.DoubleToInt64Bits(b));

    [Fact]
    public void Is_accurate_and_a_value_does_not_depend_on_length_position_or_aliasing()
    {
        var rng = new Random(4);
        // Arguments across the range the orbit fits use (−α·log k − shift ≤ 0), plus overflow, underflow and NaN.
        var pool = Enumerable.Range(0, 2000).Select(i => i % 17 == 5 ? 800.0 : i % 19 == 7 ? -800.0 : i % 23 == 3 ? double.NaN
            : (rng.NextDouble() - 0.9) * 60).ToArray();
        var reference = new double[pool.Length];
        VectorExp.Exp(pool, reference);
        foreach (int n in Enumerable.Range(0, 41).Concat([63, 64, 65, 1000, 1023]))
        {
            int offset = rng.Next(pool.Length - n + 1);
            var x = pool.AsSpan(offset, n).ToArray();
            var got = new double[n];
            VectorExp.Exp(x, got);
            var inPlace = (double[])x.Clone();
            VectorExp.Exp(inPlace, inPlace);
            var library = new double[n];
            TensorPrimitives.Exp(x, library);
            for (int i = 0; i < n; i++)
            {
                // The same argument gives the same bits wherever it sits (every element goes through one vector kernel).
                Assert.True(BitConverter.DoubleToInt64Bits(reference[offset + i]) == BitConverter.DoubleToInt64Bits(got[i]), $"n {n} i {i} x {x[i]}: {got[i]} vs {reference[offset + i]}");
                Assert.Equal(BitConverter.DoubleToInt64Bits(got[i]), BitConverter.DoubleToInt64Bits(inPlace[i]));
                double exact = Math.Exp(x[i]);
                if (double.IsNaN(exact) || exact == 0 || double.IsPositiveInfinity(exact)) { Assert.Equal(exact, got[i]); continue; }
                Assert.True(Ulps(exact, got[i]) <= 2, $"exp({x[i]}) = {got[i]}, libm {exact}");
                Assert.True(Ulps(library[i], got[i]) <= 4, $"exp({x[i]}) = {got[i]}, TensorPrimitives {library[i]}");
            }
        }
        // The whole range, the edges of overflow (709.78) and of the subnormals (−708.4 … −745.1), and far outside.
        var special = Enumerable.Range(0, 4000).Select(i => i % 5 == 0 ? (rng.NextDouble() - 0.5) * 1e6 : i % 7 == 0 ? 709.78 - rng.NextDouble() * 0.01
            : i % 11 == 0 ? -708 - rng.NextDouble() * 38 : (rng.NextDouble() - 0.5) * 1420).Concat([0.0, -0.0, 1e-300, -1e-300, double.PositiveInfinity, double.NegativeInfinity, double.NaN]).ToArray();
        var y = new double[special.Length];
        VectorExp.Exp(special, y);
        for (int i = 0; i < y.Length; i++)
        {
            double exact = Math.Exp(special[i]);
            if (double.IsNaN(exact) || exact == 0 || double.IsPositiveInfinity(exact)) Assert.Equal(exact, y[i]);
            // Subnormal results have fewer bits: there, within 2 units of the smallest subnormal.
            else Assert.True(Ulps(exact, y[i]) <= 2, $"exp({special[i]}) = {y[i]}, libm {exact}");
        }
        Assert.Throws<ArgumentException>(() => VectorExp.Exp(new double[3], new double[2]));
    }

    [Fact]
    public void The_affine_form_rounds_the_product_and_the_sum_separately_like_two_passes()
    {
        var rng = new Random(8);
        foreach (int n in new[] { 1, 5, 8, 13, 300 })
        {
            var x = Enumerable.Range(0, n).Select(i => Math.Log(i + 1.0 + rng.NextDouble())).ToArray();
            double scale = -(0.5 + 3 * rng.NextDouble()), offset = -rng.NextDouble() * 4;
            var twoPass = x.Select(v => v * scale).Select(v => v + offset).ToArray();
            var want = new double[n];
            VectorExp.Exp(twoPass, want);
            var got = new double[n];
            VectorExp.ExpAffine(x, scale, offset, got);
            for (int i = 0; i < n; i++) Assert.Equal(BitConverter.DoubleToInt64Bits(want[i]), BitConverter.DoubleToInt64Bits(got[i]));
            var inPlace = (double[])x.Clone();
            VectorExp.ExpAffine(inPlace, scale, offset, inPlace);
            Assert.Equal(got, inPlace);
        }
    }

    [Fact]
    public void The_256_bit_kernel_gives_the_same_bits_as_the_one_this_machine_dispatches_to()
    {
        // AVX2-only machines take Run256; its lanes do the same operations, so its values must be identical.
        if (!System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated) return;
        var rng = new Random(12);
        foreach (int n in new[] { 1, 3, 4, 7, 8, 9, 100, 1001 })
        {
            var x = Enumerable.Range(0, n).Select(i => i % 13 == 4 ? -745.0 - rng.NextDouble() : (rng.NextDouble() - 0.5) * 1400).ToArray();
            var viaDispatch = new double[n];
            VectorExp.ExpAffine(x, 0.75, -1.5, viaDispatch);
            var via256 = new double[n];
            VectorExp.Run256(x, via256, n, 0.75, -1.5);
            for (int i = 0; i < n; i++) Assert.Equal(BitConverter.DoubleToInt64Bits(viaDispatch[i]), BitConverter.DoubleToInt64Bits(via256[i]));
        }
    }
}

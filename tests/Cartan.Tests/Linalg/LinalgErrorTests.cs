using Cartan.Linalg;
using static Cartan.Tests.Linalg.LinalgTestKit;

namespace Cartan.Tests.Linalg;

/// <summary>Bad input gives clear managed errors, never a crash.</summary>
public class LinalgErrorTests
{
    public static TheoryData<string> Backends => AllBackends;

    [Theory, MemberData(nameof(Backends))]
    public void NonFiniteInputIsALinalgException(string backend)
    {
        var e = Get(backend);
        double[] a = [1, 2, double.NaN, 4, 5, 6];
        Assert.Throws<LinalgException>(() => e.SingularValues(a, 2, 3));
        Assert.Throws<LinalgException>(() => e.TopSvd(a, 2, 3, 1));
        Assert.Throws<LinalgException>(() => e.Svd(a, 3, 2));
        Assert.Throws<LinalgException>(() => e.SymmetricEigen([1, 0, double.PositiveInfinity, 1], 2, false));
    }

    [Fact]
    public void WrongLengthsAndNegativeSizesAreArgumentErrors()
    {
        Assert.Throws<ArgumentException>(() => Lapack.SingularValues(new double[5], 2, 3));
        Assert.Throws<ArgumentException>(() => Lapack.MatMul(new double[6], 2, 3, new double[5], 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Lapack.Gram(new double[6], -2, -3, true));
        Assert.Throws<ArgumentException>(() => Lapack.SymmetricEigen(new double[8], 3, true));
    }

    [Fact]
    public void SizesBeyond32BitIndicesAreALinalgException()
    {
        // 65536×65536 = 2^32 elements: the length check would be meaningless, the size guard speaks first.
        var ex = Assert.Throws<LinalgException>(() => Lapack.SingularValues(new double[16], 65536, 65536));
        Assert.Contains("32-bit", ex.Message);
        // A legal 65536×1 input whose long-side Gram would need 2^32 elements.
        Assert.Throws<LinalgException>(() => Lapack.Gram(new double[65536], 65536, 1, rowsGram: true));
        Assert.Throws<LinalgException>(() => Lapack.MatMul(new double[65536], 65536, 1, new double[65536], 65536));
    }

    [Fact]
    public void ConcurrentCallsGiveTheSequentialAnswers()
    {
        var inputs = Enumerable.Range(0, 8).Select(i => Gaussian(new Random(i), 60 * 40)).ToArray();
        var sequential = inputs.Select(a => Lapack.SingularValues(a, 60, 40)).ToArray();
        var parallel = new double[inputs.Length][];
        Parallel.For(0, inputs.Length, i => parallel[i] = Lapack.SingularValues(inputs[i], 60, 40));
        for (int i = 0; i < inputs.Length; i++) Close(sequential[i], parallel[i], 1e-12, sequential[i][0], $"input {i}");
    }

    [Fact]
    public void PublicApiUsesTheProbedBackend()
    {
        Assert.False(string.IsNullOrWhiteSpace(Lapack.BackendName));
        double[] a = [3, 0, 0, 0, 4, 0];
        Close(new double[] { 4, 3 }, Lapack.SingularValues(a, 2, 3), 1e-15, 4, "σ");
        var r = Lapack.TopSvd(a, 2, 3, 1);
        Assert.Equal(4, r.S[0], 14);
        Assert.Equal(1, Math.Abs(r.V[1]), 14);
    }
}

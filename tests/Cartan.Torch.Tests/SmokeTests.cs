using TorchSharp;
using static TorchSharp.torch;

namespace Cartan.Torch.Tests;

public class SmokeTests
{
    [Fact]
    public void MatmulMatchesHandComputedProduct()
    {
        using var a = tensor(new double[] { 1, 2, 3, 4, 5, 6 }, [2, 3]);
        using var b = tensor(new double[] { 7, 8, 9, 10, 11, 12 }, [3, 2]);
        using var c = matmul(a, b);
        Assert.Equal(new double[] { 58, 64, 139, 154 }, c.data<double>().ToArray());
    }

    [Fact]
    public void BackwardGivesAnalyticGradient()
    {
        // f(x) = sum(x^3) + sum(W x): df/dx = 3x^2 + W^T 1
        using var x = tensor(new double[] { 0.5, -1.5, 2.0 }, requires_grad: true);
        using var w = tensor(new double[] { 1, 2, 3, 4, 5, 6 }, [2, 3]);
        using var f = x.pow(3).sum() + matmul(w, x).sum();
        f.backward();
        var g = x.grad!.data<double>().ToArray();
        double[] want = [3 * 0.25 + 5, 3 * 2.25 + 7, 3 * 4.0 + 9];
        for (int i = 0; i < 3; i++) Assert.Equal(want[i], g[i], 12);
    }
}

public class RuntimeTests
{
    [Fact]
    public void TorchRuntimeReportsNoProblemHere() => Assert.Null(TorchRuntime.Problem);
}

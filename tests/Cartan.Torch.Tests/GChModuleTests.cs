using Cartan.Noise;
using Cartan.Torch.Noise;
using static TorchSharp.torch;

namespace Cartan.Torch.Tests;

public class GChModuleTests
{
    [Theory]
    [InlineData(GChMode.SampleWise, GChBoundary.Ring)]
    [InlineData(GChMode.Wick, GChBoundary.Ghost)]
    public void TrainingGatesEqualTheManagedSamplersAndAreSharedOverChannels(GChMode mode, GChBoundary boundary)
    {
        var opt = new GChOptions { Strength = 0.9, Mode = mode, Boundary = boundary };
        int b = 3, c = 4, h = 6, w = 5;
        using var gch = new GChModule(opt, seed: 31);
        gch.train();
        var managed = new GChSampler(h, w, opt, 31);
        for (int step = 0; step < 2; step++)
        {
            using var x = rand(b, c, h, w, dtype: ScalarType.Float32) + 0.5f;
            using var y = gch.forward(x);
            var want = new float[b * h * w];
            managed.Sample(want, b);
            var xs = x.data<float>().ToArray();
            var ys = y.data<float>().ToArray();
            for (int i = 0; i < b; i++)
                for (int ch = 0; ch < c; ch++)
                    for (int t = 0; t < h * w; t++)
                    {
                        int k = (i * c + ch) * h * w + t;
                        Assert.Equal(xs[k] * want[i * h * w + t], ys[k], 5e-6f * Math.Abs(ys[k]));
                    }
        }
    }

    [Fact]
    public void EvalModeIsTheIdentity()
    {
        using var gch = new GChModule(new GChOptions { Strength = 1.5 }, seed: 1);
        gch.eval();
        using var x = randn(2, 3, 7, 7);
        using var y = gch.forward(x);
        Assert.Equal(x.data<float>().ToArray(), y.data<float>().ToArray());
        using var t = randn(2, 17, 8);
        using var u = gch.forward(t);
        Assert.Equal(t.data<float>().ToArray(), u.data<float>().ToArray());
    }

    [Fact]
    public void GradientIsTheGateAndTheGateHasNone()
    {
        var opt = new GChOptions { Strength = 1.0, Mode = GChMode.Wick };
        using var gch = new GChModule(opt, seed: 5);
        gch.train();
        using var x = ones(new long[] { 2, 3, 7, 7 }, dtype: ScalarType.Float64, requires_grad: true);
        using var y = gch.forward(x);
        using var loss = y.sum();
        loss.backward();
        var gates = new GChSampler(7, 7, opt, 5).Sample(2);
        var grad = x.grad!.data<double>().ToArray();
        for (int k = 0; k < grad.Length; k++) Assert.Equal((float)gates[k / (3 * 49) * 49 + k % 49], grad[k], 12);
        // the output is x times a constant: the same y again from the same gates
        Assert.Equal(grad, y.detach().data<double>().ToArray());
    }

    [Fact]
    public void TokenGridDropsClsAndGatesPatchesOnTheSquareGrid()
    {
        var opt = new GChOptions { Strength = 1.2, Boundary = GChBoundary.Ghost };
        int b = 2, side = 4, d = 3, n = 1 + side * side;
        using var gch = new GChModule(opt, seed: 9, clsTokens: 1);
        gch.train();
        using var x = ones(b, n, d);
        using var y = gch.forward(x);
        var ys = y.data<float>().ToArray();
        var want = new float[b * side * side];
        new GChSampler(side, side, opt, 9).Sample(want, b);
        for (int i = 0; i < b; i++)
        {
            for (int e = 0; e < d; e++) Assert.Equal(1f, ys[(i * n) * d + e]); // CLS untouched
            for (int p = 0; p < side * side; p++)
                for (int e = 0; e < d; e++) Assert.Equal(want[i * side * side + p], ys[(i * n + 1 + p) * d + e]);
        }
        using var bad = ones(b, 11, d);
        Assert.Throws<ArgumentException>(() => gch.forward(bad));
        using var flat = ones(b, d);
        Assert.Throws<ArgumentException>(() => gch.forward(flat));
    }

    [Fact]
    public void ReseedRestartsTheGates()
    {
        var opt = new GChOptions { Strength = 1.0 };
        using var gch = new GChModule(opt, seed: 3);
        gch.train();
        using var x = ones(2, 1, 7, 7);
        using var a = gch.forward(x);
        using var b = gch.forward(x);
        Assert.NotEqual(a.data<float>().ToArray(), b.data<float>().ToArray());
        gch.Reseed(3);
        using var c = gch.forward(x);
        Assert.Equal(a.data<float>().ToArray(), c.data<float>().ToArray());
    }
}

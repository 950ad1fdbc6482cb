using static TorchSharp.torch;

namespace Cartan.Torch.Tests;

/// <summary>hidden_act "identity" makes the MLP a deep linear network (the ridge-dynamics experiment trains one).</summary>
public class MlpIdentityTests
{
    [Fact]
    public void IdentityMlpIsTheAffineCompositionOfItsLayers()
    {
        var cfg = HfConfig.Parse("{\"model_type\": \"mlp\", \"layer_sizes\": [3, 4, 2], \"hidden_act\": \"identity\"}");
        using var model = new MlpModel(cfg, ScalarType.Float64);
        model.InitializeRandom(7);
        var rng = new Random(3);
        using (no_grad())
            foreach (var (_, p) in model.Weights) p.copy_(tensor(Enumerable.Range(0, (int)p.numel()).Select(_ => rng.NextDouble() - 0.5).ToArray(), p.shape, ScalarType.Float64));
        var w = model.Weights.ToDictionary(x => x.Name, x => x.Param.detach().data<double>().ToArray());
        double[] x = [0.3, -1.2, 0.7];
        // h = W0 x + b0 (no activation), y = W1 h + b1, by plain loops.
        var h = Enumerable.Range(0, 4).Select(i => Enumerable.Range(0, 3).Sum(j => w["layers.0.weight"][i * 3 + j] * x[j]) + w["layers.0.bias"][i]).ToArray();
        var y = Enumerable.Range(0, 2).Select(i => Enumerable.Range(0, 4).Sum(j => w["layers.1.weight"][i * 4 + j] * h[j]) + w["layers.1.bias"][i]).ToArray();
        using var got = model.forward(tensor(x, [1, 3], ScalarType.Float64));
        var g = got.data<double>().ToArray();
        for (int i = 0; i < 2; i++) Assert.Equal(y[i], g[i], 1e-12);
        // A ReLU net with the same weights differs where a hidden unit is negative.
        Assert.Contains(h, v => v < 0);
        using var relu = new MlpModel(HfConfig.Parse("{\"model_type\": \"mlp\", \"layer_sizes\": [3, 4, 2], \"hidden_act\": \"relu\"}"), ScalarType.Float64);
        using (no_grad())
            foreach (var ((_, p), (_, q)) in relu.Weights.Zip(model.Weights)) p.copy_(q);
        using var r = relu.forward(tensor(x, [1, 3], ScalarType.Float64));
        Assert.NotEqual(g, r.data<double>().ToArray());
    }
}

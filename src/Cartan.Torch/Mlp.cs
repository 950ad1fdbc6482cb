using Cartan.Formats;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cartan.Torch;

/// <summary>
/// A plain multilayer perceptron. config.json: <c>{"model_type": "mlp", "layer_sizes": [in, h1, …, out],
/// "hidden_act": "relu" | "gelu" | "tanh" | "silu" | "identity"}</c>
/// (identity: a deep linear network); weights <c>layers.{i}.weight</c> [out, in] and
/// <c>layers.{i}.bias</c>; no activation after the last layer. forward: [N, in] → [N, out].
/// </summary>
public sealed class MlpModel : HfModule
{
    private readonly (Parameter W, Parameter B)[] _layers;

    public int[] LayerSizes { get; }
    public string Activation { get; }

    public MlpModel(HfConfig c, ScalarType dtype = ScalarType.Float32) : base("mlp", c, dtype)
    {
        LayerSizes = c.IntArray("layer_sizes");
        if (LayerSizes.Length < 2) throw new CartanFormatException(c.Source, "layer_sizes needs at least an input and an output size");
        foreach (var s in LayerSizes) c.Positive("layer_sizes", s, 1 << 20);
        Activation = c.String("hidden_act") ?? "relu";
        if (Activation is not ("relu" or "gelu" or "tanh" or "silu" or "identity"))
            throw new CartanFormatException(c.Source, $"hidden_act '{Activation}' is not supported (relu, gelu, tanh, silu, identity)");
        _layers = new (Parameter, Parameter)[LayerSizes.Length - 1];
        for (int i = 0; i < _layers.Length; i++)
            _layers[i] = (Weight($"layers.{i}.weight", LayerSizes[i + 1], LayerSizes[i]), Weight($"layers.{i}.bias", LayerSizes[i + 1]));
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x;
        for (int i = 0; i < _layers.Length; i++)
        {
            h = Linear(h, _layers[i].W, _layers[i].B);
            if (i < _layers.Length - 1 && Activation != "identity")
                h = Activation switch
                {
                    "relu" => nn.functional.relu(h),
                    "gelu" => GeluErf(h),
                    "tanh" => h.tanh(),
                    _ => nn.functional.silu(h),
                };
        }
        return h.MoveToOuterDisposeScope();
    }
}

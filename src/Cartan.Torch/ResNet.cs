using System.Text.Json;
using TorchSharp;
using Cartan.Formats;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cartan.Torch;

/// <summary>
/// A Hugging Face <c>ResNetForImageClassification</c> (model_type "resnet"), inference-mode BatchNorm (running
/// statistics). config.json: <c>num_channels</c>, <c>embedding_size</c>, <c>hidden_sizes</c>, <c>depths</c>,
/// <c>layer_type</c> "basic" | "bottleneck", <c>hidden_act</c> "relu", <c>downsample_in_first_stage</c>,
/// <c>downsample_in_bottleneck</c> (default false), <c>num_labels</c> (or the size of <c>id2label</c>; 0 = no
/// classifier, forward returns the pooled features).
/// Embedder: 7×7 conv stride 2 + BN + ReLU + 3×3 max-pool stride 2. Stage s (stride 2, stage 0 stride 1 unless
/// downsample_in_first_stage) holds depths[s] residual layers; the first layer of a stage has the stride and a
/// 1×1 conv + BN shortcut when the channels or the stride change. Basic layer: 3×3 conv-BN-ReLU, 3×3 conv-BN;
/// bottleneck: 1×1 → out/4, 3×3, 1×1 → out (stride on the 3×3 unless downsample_in_bottleneck); ReLU after the sum.
/// Then global average pool, flatten, linear <c>classifier.1</c>. forward: [N, C, H, W] → [N, num_labels].
/// Weights use the HF names; BatchNorm running_mean / running_var are listed in <see cref="HfModule.Weights"/>
/// (so they load and save) but do not require gradients; num_batches_tracked is ignored when loading and not saved.
/// </summary>
public sealed class ResNetModel : HfModule
{
    private const double BatchNormEps = 1e-5;

    /// <summary>A convolution (no bias) followed by BatchNorm: HF's ResNetConvLayer / ResNetShortCut.</summary>
    private sealed record ConvBn(Parameter Conv, Parameter Gamma, Parameter Beta, Parameter Mean, Parameter Var, long Stride, bool Relu)
    {
        public Tensor Apply(Tensor x)
        {
            long pad = Conv.shape[^1] / 2;
            using var c = nn.functional.conv2d(x, Conv, null, strides: [Stride, Stride], padding: [pad, pad]);
            var n = nn.functional.batch_norm(c, Mean, Var, Gamma, Beta, training: false, momentum: 0.1, eps: BatchNormEps);
            if (!Relu) return n;
            using (n) return nn.functional.relu(n);
        }
    }

    private sealed record Block(ConvBn? Shortcut, ConvBn[] Layers);

    private readonly ConvBn _embedder;
    private readonly Block[][] _stages;
    private readonly (Parameter W, Parameter B)? _classifier;

    public int Channels { get; }
    public int EmbeddingSize { get; }
    public int[] HiddenSizes { get; }
    public int[] Depths { get; }
    public string LayerType { get; }
    public bool DownsampleInFirstStage { get; }
    public bool DownsampleInBottleneck { get; }
    public int NumLabels { get; }

    /// <summary>The number of weight entries (running statistics included) the config describes, counted before allocation.</summary>
    public long DescribedParameters { get; }

    public ResNetModel(HfConfig c, ScalarType dtype = ScalarType.Float32) : base("resnet", c, dtype)
    {
        Channels = c.Positive("num_channels", c.Int("num_channels", 3), 4096);
        EmbeddingSize = c.Positive("embedding_size", c.Int("embedding_size", 64), 1 << 16);
        HiddenSizes = c.IntArray("hidden_sizes");
        Depths = c.IntArray("depths");
        if (HiddenSizes.Length == 0 || HiddenSizes.Length > 64) throw new CartanFormatException(c.Source, "hidden_sizes needs 1..64 stages");
        if (Depths.Length != HiddenSizes.Length)
            throw new CartanFormatException(c.Source, $"depths has {Depths.Length} entries but hidden_sizes has {HiddenSizes.Length}");
        foreach (var h in HiddenSizes) c.Positive("hidden_sizes", h, 1 << 16);
        foreach (var d in Depths) c.Positive("depths", d, 1024);
        LayerType = c.String("layer_type") ?? "bottleneck";
        if (LayerType is not ("basic" or "bottleneck"))
            throw new CartanFormatException(c.Source, $"layer_type '{LayerType}' is not supported (basic, bottleneck)");
        string act = c.String("hidden_act") ?? "relu";
        if (act != "relu") throw new CartanFormatException(c.Source, $"hidden_act '{act}' is not supported (relu)");
        DownsampleInFirstStage = c.Bool("downsample_in_first_stage", false);
        DownsampleInBottleneck = c.Bool("downsample_in_bottleneck", false);
        // HF: id2label decides the number of classes when present (saved configs usually carry only id2label)
        int? fromMap = c.Json.TryGetProperty("id2label", out var map) && map.ValueKind == JsonValueKind.Object ? map.EnumerateObject().Count() : null;
        NumLabels = fromMap is { } m && c.Json.TryGetProperty("num_labels", out var nl) && nl.ValueKind != JsonValueKind.Null && c.Int("num_labels") != m
            ? throw new CartanFormatException(c.Source, $"config.json 'num_labels' = {c.Int("num_labels")} but id2label has {m} entries")
            : fromMap ?? c.Int("num_labels", 2);
        if (NumLabels > 1 << 20) throw new CartanFormatException(c.Source, $"config.json 'num_labels' = {NumLabels} is outside 0..{1 << 20}");
        if (LayerType == "bottleneck")
            foreach (var h in HiddenSizes)
                if (h < 4) throw new CartanFormatException(c.Source, $"hidden_sizes entry {h} is too small for a bottleneck layer (out/4 channels)");

        long count = DescribedParameters = ParameterCount();
        if (count > MaxParameters)
            throw new CartanFormatException(c.Source, $"the config describes {count:N0} parameters, more than the {MaxParameters:N0} this builder allocates");

        _embedder = ConvLayer("resnet.embedder.embedder", Channels, EmbeddingSize, 7, 2, relu: true);
        _stages = new Block[HiddenSizes.Length][];
        int cin = EmbeddingSize;
        for (int s = 0; s < HiddenSizes.Length; s++)
        {
            int cout = HiddenSizes[s];
            long stride = s > 0 || DownsampleInFirstStage ? 2 : 1;
            _stages[s] = new Block[Depths[s]];
            for (int l = 0; l < Depths[s]; l++)
            {
                string p = $"resnet.encoder.stages.{s}.layers.{l}";
                int i = l == 0 ? cin : cout;
                long st = l == 0 ? stride : 1;
                var shortcut = i != cout || st != 1 ? ConvLayer(p + ".shortcut", i, cout, 1, st, relu: false) : null;
                ConvBn[] layers;
                if (LayerType == "basic")
                    layers = [ConvLayer(p + ".layer.0", i, cout, 3, st, true), ConvLayer(p + ".layer.1", cout, cout, 3, 1, false)];
                else
                {
                    int r = cout / 4;
                    layers = [ConvLayer(p + ".layer.0", i, r, 1, DownsampleInBottleneck ? st : 1, true),
                              ConvLayer(p + ".layer.1", r, r, 3, DownsampleInBottleneck ? 1 : st, true),
                              ConvLayer(p + ".layer.2", r, cout, 1, 1, false)];
                }
                _stages[s][l] = new Block(shortcut, layers);
            }
            cin = cout;
        }
        if (NumLabels > 0)
            _classifier = (Weight("classifier.1.weight", NumLabels, HiddenSizes[^1]), Weight("classifier.1.bias", NumLabels));
    }

    /// <summary>The most weights (convolutions, BatchNorm vectors and statistics, classifier) a config may ask for.</summary>
    public const long MaxParameters = 1L << 31;

    /// <summary>Counts the weights the config describes before anything is allocated (saturating at long.MaxValue).</summary>
    private long ParameterCount()
    {
        static long Sat(Func<long> f) { try { return f(); } catch (OverflowException) { return long.MaxValue; } }
        return Sat(() => checked(CountAll()));
        long CountAll()
        {
            static long Unit(long cin, long cout, long k) => checked(cout * cin * k * k + 4 * cout);
            long n = Unit(Channels, EmbeddingSize, 7);
            long cin = EmbeddingSize;
            for (int s = 0; s < HiddenSizes.Length; s++)
            {
                long cout = HiddenSizes[s];
                for (int l = 0; l < Depths[s]; l++)
                {
                    long i = l == 0 ? cin : cout;
                    bool strided = l == 0 && (s > 0 || DownsampleInFirstStage);
                    if (i != cout || strided) n = checked(n + Unit(i, cout, 1));
                    n = LayerType == "basic"
                        ? checked(n + Unit(i, cout, 3) + Unit(cout, cout, 3))
                        : checked(n + Unit(i, cout / 4, 1) + Unit(cout / 4, cout / 4, 3) + Unit(cout / 4, cout, 1));
                    if (n > MaxParameters) return n;
                }
                cin = cout;
            }
            return checked(n + (long)NumLabels * (HiddenSizes[^1] + 1));
        }
    }

    private ConvBn ConvLayer(string prefix, int cin, int cout, int kernel, long stride, bool relu)
    {
        var conv = Weight(prefix + ".convolution.weight", cout, cin, kernel, kernel);
        var gamma = Weight(prefix + ".normalization.weight", cout);
        var beta = Weight(prefix + ".normalization.bias", cout);
        var mean = Weight(prefix + ".normalization.running_mean", cout);
        var var_ = Weight(prefix + ".normalization.running_var", cout);
        mean.requires_grad = false;
        var_.requires_grad = false;
        using (no_grad())
        using (var one = 1.0.ToScalar()) var_.fill_(one); // an explicit Scalar, kept alive for the call
        return new ConvBn(conv, gamma, beta, mean, var_, stride, relu);
    }

    /// <summary>The pooled features [N, hidden_sizes[-1]] (HF's <c>pooler_output</c>, flattened).</summary>
    public Tensor Features(Tensor pixels)
    {
        if (pixels.dim() != 4 || pixels.shape[1] != Channels)
            throw new ArgumentException($"pixel values must be [N, {Channels}, H, W], not [{string.Join(",", pixels.shape)}]", nameof(pixels));
        using var scope = NewDisposeScope();
        var h = _embedder.Apply(pixels);
        h = nn.functional.max_pool2d(h, [3, 3], [2, 2], [1, 1]);
        foreach (var stage in _stages)
            foreach (var block in stage)
            {
                var y = h;
                foreach (var layer in block.Layers) y = layer.Apply(y);
                var skip = block.Shortcut is null ? h : block.Shortcut.Apply(h);
                h = nn.functional.relu(y.add(skip));
            }
        return h.mean([2L, 3L]).MoveToOuterDisposeScope();
    }

    public override Tensor forward(Tensor pixels)
    {
        if (_classifier is not { } cls) return Features(pixels);
        using var f = Features(pixels);
        return Linear(f, cls.W, cls.B);
    }
}

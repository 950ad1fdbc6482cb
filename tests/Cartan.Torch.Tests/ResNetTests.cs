using Cartan.Formats;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Cartan.Torch.Tests;

/// <summary>The ResNet builder (model_type "resnet") against Fixtures/reference/resnet/make_resnet.py, a plain
/// torch.nn rebuild of HF ResNetForImageClassification in eval mode with random weights and running statistics:
/// logits and loss to 1e-4 relative and gradients to 1e-3 in float32, 1e-9 / 1e-8 in float64.</summary>
public class ResNetTests(ITestOutputHelper log)
{
    public static TheoryData<string, ScalarType> Cases() => new()
    {
        { "basic", ScalarType.Float32 }, { "basic", ScalarType.Float64 },
        { "bottleneck", ScalarType.Float32 }, { "bottleneck", ScalarType.Float64 },
    };

    private static bool IsRunningStat(string name) =>
        name.EndsWith(".running_mean", StringComparison.Ordinal) || name.EndsWith(".running_var", StringComparison.Ordinal);

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardAndGradientsMatchPyTorch(string variant, ScalarType dtype)
    {
        var (fwdTol, gradTol) = dtype == ScalarType.Float32 ? (1e-4, 1e-3) : (1e-9, 1e-8);
        using var reference = new Reference(Path.Combine("resnet", variant));
        using var scope = NewDisposeScope();
        using var model = (ResNetModel)HfModels.Load(reference.Folder, dtype);
        var output = model.forward(reference.Double("pixel_values", dtype));
        Reference.Close(reference.Doubles("output"), output, fwdTol, $"resnet {variant} logits");
        log.WriteLine($"{variant} {dtype}: max |logit diff| / max |logit| = {RelativeError(reference.Doubles("output"), output):E2}");

        var loss = nn.functional.cross_entropy(output, reference.Long("targets"));
        Reference.Close(reference.Doubles("loss"), loss.reshape(1), fwdTol, $"resnet {variant} loss");
        loss.backward();
        int checkedGrads = 0;
        foreach (var (name, p) in model.Weights)
        {
            if (IsRunningStat(name))
            {
                Assert.False(p.requires_grad, $"{name} must not be trained");
                continue;
            }
            Reference.Close(reference.Doubles("grad." + name), p.grad!, gradTol, $"resnet {variant} gradient of {name}");
            checkedGrads++;
        }
        Assert.Equal(variant == "basic" ? 3 + 3 * 7 + 2 : 3 + 3 * 11 + 2, checkedGrads);
    }

    private static double RelativeError(double[] want, Tensor got)
    {
        using var g = got.detach().to(ScalarType.Float64).contiguous();
        var a = g.data<double>().ToArray();
        return a.Zip(want, (x, y) => Math.Abs(x - y)).Max() / want.Max(Math.Abs);
    }

    [Fact]
    public void WeightNamesAreTheCheckpointsStateDictLessNumBatchesTracked()
    {
        foreach (var variant in new[] { "basic", "bottleneck" })
        {
            using var reference = new Reference(Path.Combine("resnet", variant));
            using var file = WeightSource.Open(reference.Folder);
            var want = file.Tensors.Select(t => t.Name).Where(n => !n.EndsWith(".num_batches_tracked", StringComparison.Ordinal)).ToHashSet();
            using var model = HfModels.Load(reference.Folder);
            Assert.Equal(((ResNetModel)model).DescribedParameters, model.Weights.Sum(w => w.Param.numel()));
            Assert.Equal(want.OrderBy(n => n, StringComparer.Ordinal), model.Weights.Select(w => w.Name).OrderBy(n => n, StringComparer.Ordinal));
        }
        // the shortcut exists exactly where channels or stride change
        using var basicRef = new Reference(Path.Combine("resnet", "basic"));
        using var basic = HfModels.Load(basicRef.Folder);
        var names = basic.Weights.Select(w => w.Name).ToHashSet();
        Assert.DoesNotContain("resnet.encoder.stages.0.layers.0.shortcut.convolution.weight", names); // 8→8, stride 1
        Assert.Contains("resnet.encoder.stages.1.layers.0.shortcut.convolution.weight", names);       // 8→16, stride 2
        Assert.DoesNotContain("resnet.encoder.stages.1.layers.1.shortcut.convolution.weight", names); // 16→16
    }

    [Fact]
    public void SaveThenLoadGivesIdenticalOutputs()
    {
        using var reference = new Reference(Path.Combine("resnet", "bottleneck"));
        string dir = Path.Combine(Path.GetTempPath(), "cartan-resnet-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var scope = NewDisposeScope();
            using var a = HfModels.Load(reference.Folder);
            HfModels.Save(a, Path.Combine(dir, "saved"));
            using var b = (ResNetModel)HfModels.Load(Path.Combine(dir, "saved"));
            Assert.Equal(new[] { 16, 32 }, b.HiddenSizes);
            Assert.Equal("bottleneck", b.LayerType);
            Assert.True(b.DownsampleInFirstStage);
            var x = reference.Double("pixel_values", ScalarType.Float32);
            using var _ = no_grad();
            Assert.True(a.forward(x).equal(b.forward(x)).all().item<bool>(), "reloaded model gives different logits");

            // the saved folder is an ordinary HF folder for the analysis side: every conv and the classifier analysed
            string json = Path.Combine(dir, "analysis.json");
            var (o, e) = (new StringWriter(), new StringWriter());
            int code = Cartan.Cli.Cli.Run(["analyze", Path.Combine(dir, "saved"), "--spectra-only", "--json", json, "--quiet"], o, e);
            Assert.True(code == 0, $"analyze exit {code}: {e}");
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json));
            var layers = doc.RootElement.GetProperty("layers").EnumerateArray().Select(l => l.GetProperty("name").GetString()!).ToList();
            Assert.Contains("resnet.embedder.embedder.convolution.weight", layers);
            Assert.Contains("resnet.encoder.stages.0.layers.0.layer.1.convolution.weight", layers);
            Assert.Contains("classifier.1.weight", layers);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void RandomInitialisationGivesAFiniteNetwork()
    {
        var cfg = HfConfig.Parse("""{"model_type":"resnet","embedding_size":8,"hidden_sizes":[8,16],"depths":[1,1],"layer_type":"basic","id2label":{"0":"a","1":"b","2":"c"}}""");
        using var scope = NewDisposeScope();
        using var model = (ResNetModel)HfModels.Build(cfg);
        Assert.Equal(3, model.NumLabels);
        model.InitializeRandom(7);
        var mean = model.Weights.Single(w => w.Name == "resnet.embedder.embedder.normalization.running_mean").Param;
        var var_ = model.Weights.Single(w => w.Name == "resnet.embedder.embedder.normalization.running_var").Param;
        Assert.Equal(0.0, mean.abs().max().item<float>());
        Assert.Equal(1.0, var_.min().item<float>());
        using var x = randn(2, 3, 20, 24);
        using var y = model.forward(x);
        Assert.Equal(new long[] { 2, 3 }, y.shape);
        Assert.True(y.isfinite().all().item<bool>());
    }

    [Fact]
    public void NoLabelsMeansForwardGivesThePooledFeatures()
    {
        var cfg = HfConfig.Parse("""{"model_type":"resnet","embedding_size":4,"hidden_sizes":[8,12],"depths":[2,1],"layer_type":"bottleneck","num_labels":0}""");
        using var scope = NewDisposeScope();
        using var model = (ResNetModel)HfModels.Build(cfg, ScalarType.Float64);
        Assert.DoesNotContain(model.Weights, w => w.Name.StartsWith("classifier", StringComparison.Ordinal));
        model.InitializeRandom(3);
        using var x = randn(1, 3, 16, 16, dtype: ScalarType.Float64);
        var y = model.forward(x);
        Assert.Equal(new long[] { 1, 12 }, y.shape);
        Assert.True(y.ge(0).all().item<bool>(), "features are averages of ReLU outputs");
        Assert.True(y.equal(model.Features(x)).all().item<bool>());
    }

    [Theory]
    [InlineData("""{"model_type":"resnet","hidden_sizes":[8,16],"depths":[1],"layer_type":"basic"}""", "depths")]
    [InlineData("""{"model_type":"resnet","hidden_sizes":[8],"depths":[1],"layer_type":"dense"}""", "layer_type")]
    [InlineData("""{"model_type":"resnet","hidden_sizes":[8],"depths":[1],"hidden_act":"gelu"}""", "hidden_act")]
    [InlineData("""{"model_type":"resnet","hidden_sizes":[2],"depths":[1],"layer_type":"bottleneck"}""", "bottleneck")]
    [InlineData("""{"model_type":"resnet","hidden_sizes":[8],"depths":[1],"num_labels":-1}""", "num_labels")]
    [InlineData("""{"model_type":"resnet","hidden_sizes":[8],"depths":[1],"num_labels":3,"id2label":{"0":"a"}}""", "id2label")]
    [InlineData("""{"model_type":"resnet","embedding_size":65536,"hidden_sizes":[65536,65536],"depths":[1024,1024],"layer_type":"basic"}""", "parameters")]
    public void BadConfigsAreFormatErrors(string json, string mentions)
    {
        var e = Assert.Throws<CartanFormatException>(() => HfModels.Build(HfConfig.Parse(json)).Dispose());
        Assert.Contains(mentions, e.Message);
    }

    [Fact]
    public void MissingRunningStatisticIsAFormatError()
    {
        using var reference = new Reference(Path.Combine("resnet", "basic"));
        using var file = WeightSource.Open(reference.Folder);
        using var model = HfModels.Load(reference.Folder);
        const string gone = "resnet.encoder.stages.1.layers.0.shortcut.normalization.running_var";
        var e = Assert.Throws<CartanFormatException>(() =>
            model.LoadWeights(n => n == gone ? null : file.Find(n), "test"));
        Assert.Contains(gone, e.Message);
    }
}

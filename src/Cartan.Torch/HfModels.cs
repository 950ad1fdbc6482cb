using System.Text.Json;
using Cartan.Formats;
using Cartan.Tensors;
using static TorchSharp.torch;

namespace Cartan.Torch;

/// <summary>Builds networks from Hugging Face configs, loads them from any weight file or folder Cartan reads,
/// and saves them as HF folders (config.json + model.safetensors with HF tensor names).</summary>
public static class HfModels
{
    /// <summary>The model types <see cref="Build"/> knows.</summary>
    public static IReadOnlyList<string> SupportedTypes { get; } = ["llama", "mistral", "qwen2", "gpt2", "bert", "mlp", "resnet"];

    /// <summary>An untrained network for <paramref name="config"/> (weights zero until loaded or initialised).</summary>
    public static HfModule Build(HfConfig config, ScalarType dtype = ScalarType.Float32) => config.ModelType switch
    {
        "llama" or "mistral" or "qwen2" => new LlamaModel(config, dtype),
        "gpt2" => new Gpt2Model(config, dtype),
        "bert" => new BertModel(config, dtype),
        "mlp" => new MlpModel(config, dtype),
        "resnet" => new ResNetModel(config, dtype),
        var t => throw new CartanFormatException(config.Source, $"model_type '{t}' is not supported (supported: {string.Join(", ", SupportedTypes)})"),
    };

    /// <summary>Opens <paramref name="path"/> (an HF folder, or any file with a config supplied), builds the network
    /// its config.json describes and loads its weights. Throws <see cref="CartanFormatException"/> for bad input.</summary>
    public static HfModule Load(string path, ScalarType dtype = ScalarType.Float32, HfConfig? config = null)
    {
        using var weights = WeightSource.Open(path);
        config ??= weights.Config is { } json
            ? new HfConfig(json, Path.Combine(path, "config.json"))
            : throw new CartanFormatException(path, "no config.json beside the weights; cannot tell which network to build");
        var model = Build(config, dtype);
        try
        {
            model.LoadWeights(weights);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return model;
    }

    /// <summary>Writes <paramref name="model"/> to <paramref name="folder"/> as config.json + model.safetensors
    /// (float32 unless <paramref name="dtype"/> says otherwise, HF tensor names, metadata format=pt).</summary>
    public static void Save(HfModule model, string folder, DType dtype = DType.F32)
    {
        Directory.CreateDirectory(folder);
        var options = new JsonSerializerOptions { WriteIndented = true };
        string cfgPath = Path.Combine(folder, "config.json");
        string tmp = cfgPath + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(model.Config.Json, options) + "\n");
        File.Move(tmp, cfgPath, overwrite: true);
        SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), model.ExportWeights(), dtype,
            new Dictionary<string, string> { ["format"] = "pt" });
    }
}

using Cartan.Formats;

namespace Cartan.Cli;

/// <summary>
/// The embedded default model: all-MiniLM-L6-v2 (Apache-2.0), carried inside this assembly as a resource
/// and read in place from the mapped assembly image (nothing is extracted to disk).
/// </summary>
public static class DefaultModel
{
    public const string ResourceName = "Cartan.DefaultModel.all-MiniLM-L6-v2.onnx";
    public const string DisplayName = "all-MiniLM-L6-v2 (embedded default)";

    /// <summary>The model's known configuration (sentence-transformers/all-MiniLM-L6-v2 config.json).</summary>
    public const string ConfigJson = """
        {"model_type": "bert", "hidden_size": 384, "num_attention_heads": 12, "num_hidden_layers": 6, "intermediate_size": 1536}
        """;

    public static unsafe WeightModel Open()
    {
        var stream = typeof(DefaultModel).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new CartanFormatException(DisplayName, "the embedded model is missing from this build");
        if (stream is not UnmanagedMemoryStream ums)
        {
            stream.Dispose();
            throw new CartanFormatException(DisplayName, "the embedded model is not memory-mapped");
        }
        var mapped = MappedFile.FromMemory(DisplayName, ums.PositionPointer, ums.Length, ums);
        var model = OnnxReader.Open(mapped, DisplayName);
        using var doc = System.Text.Json.JsonDocument.Parse(ConfigJson);
        model.Config = doc.RootElement.Clone();
        return model;
    }
}

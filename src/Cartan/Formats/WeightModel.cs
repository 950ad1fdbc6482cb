using System.Text.Json;
using Cartan.Tensors;

namespace Cartan.Formats;

/// <summary>A tensor a reader saw but cannot offer as numbers (string tensors, unsupported types), with the reason.</summary>
public sealed record SkippedTensor(string Name, long[] Shape, string StoredType, string Reason);

/// <summary>
/// An opened model: its tensors (lazy, mapped), the op graph where the format has one, and
/// <c>config.json</c> where a folder supplied one. Owns the file mappings; dispose it when done.
/// </summary>
public sealed class WeightModel : IDisposable
{
    private readonly List<IDisposable> _owned;

    public WeightModel(string source, string format, IReadOnlyList<WeightTensor> tensors,
        OpGraph? graph = null, IReadOnlyList<SkippedTensor>? skipped = null, IEnumerable<IDisposable>? owned = null)
    {
        Source = source;
        Format = format;
        Tensors = tensors;
        Graph = graph;
        Skipped = skipped ?? [];
        _owned = owned?.ToList() ?? [];
    }

    /// <summary>The path the user gave.</summary>
    public string Source { get; }
    /// <summary>safetensors | onnx | tfjs | npy | gguf | pytorch</summary>
    public string Format { get; }
    public IReadOnlyList<WeightTensor> Tensors { get; }
    /// <summary>The op graph (ONNX nodes, tfjs graph-model nodes, Keras layer list), or null.</summary>
    public OpGraph? Graph { get; }
    /// <summary>Tensors present in the file that carry no analysable numbers.</summary>
    public IReadOnlyList<SkippedTensor> Skipped { get; }
    /// <summary>Parsed <c>config.json</c> of a Hugging Face style folder (or a format's own metadata), or null.</summary>
    public JsonElement? Config { get; set; }

    public WeightTensor? Find(string name) => Tensors.FirstOrDefault(t => t.Name == name);

    public void Own(IDisposable d) => _owned.Add(d);

    public void Dispose()
    {
        foreach (var d in _owned) d.Dispose();
        _owned.Clear();
    }
}

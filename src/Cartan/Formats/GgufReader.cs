using System.Text.Json;
using Cartan.Formats.Gguf;
using Cartan.Tensors;

namespace Cartan.Formats;

/// <summary>
/// Reads GGUF v2/v3 files (llama.cpp). The header is validated completely before any tensor is exposed;
/// tensor bytes are memory-mapped and dequantised on demand (F32, F16, BF16, F64, integer types, Q4_0, Q4_1,
/// Q5_0, Q5_1, Q8_0, Q2_K … Q6_K, Q8_K). I-quants are listed as skipped.
/// </summary>
/// <remarks>
/// Shapes are reported row-major, i.e. ggml's <c>ne</c> reversed: a weight with ne = [in, out] becomes [out, in]
/// (the PyTorch convention). Tensor names stay as in the file (<c>blk.0.attn_q.weight</c> …).
/// llama.cpp's converter permutes the rows of the LLaMA Q and K projections (interleaving the two halves of each
/// head for its RoPE kernel); this reader does not undo that. Singular values and row-space geometry are unaffected;
/// per-head slicing of Q/K rows sees the permuted order within each head.
/// </remarks>
public static class GgufReader
{
    public static WeightModel Open(string path)
    {
        var file = MappedFile.Open(path);
        try
        {
            var header = GgufHeader.Parse(file);
            var tensors = new List<WeightTensor>();
            var skipped = new List<SkippedTensor>();
            foreach (var info in header.Tensors)
            {
                var shape = info.Shape;
                if (!info.Type.Decodable)
                {
                    skipped.Add(new SkippedTensor(info.Name, shape, info.Type.Name, $"no decoder for ggml type {info.Type.Name}"));
                    continue;
                }
                long start = header.DataStart + info.Offset;
                var ti = info;
                var layout = shape.Length == 2 ? TensorLayout.OutIn : TensorLayout.Unknown;
                tensors.Add(new WeightTensor(info.Name, shape, info.Type.DType, info.Type.Name,
                    () => Load(file, ti, start), layout, path)
                {
                    RangeReader = (first, dst) => LoadRange(file, ti, start, first, dst),
                    ReleasePages = () => file.DropPages(start, ti.ByteLength),
                });
            }
            var model = new WeightModel(path, "gguf", tensors, skipped: skipped, owned: [file]);
            model.Config = BuildConfig(header.Metadata);
            return model;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Parses only the header (metadata and tensor table) of a GGUF file.</summary>
    public static GgufHeader ReadHeader(string path)
    {
        using var file = MappedFile.Open(path);
        return GgufHeader.Parse(file);
    }

    /// <summary>
    /// Elements [first, first + dst.Length) of a tensor: the quantisation blocks covering them are dequantised (straight
    /// into dst when the range is block-aligned, else through a small buffer), so the values equal the whole-tensor decode.
    /// </summary>
    private static void LoadRange(MappedFile file, GgufTensorInfo info, long start, long first, Span<double> dst)
    {
        var type = info.Type;
        long be = type.BlockElements, bb = type.BlockBytes;
        long b0 = first / be, b1 = (first + dst.Length + be - 1) / be;
        if (b1 * bb > info.ByteLength) throw new CartanFormatException(file.Path, $"tensor '{info.Name}' range [{first}, {first + dst.Length}) beyond its data");
        var src = file.Span(start + b0 * bb, (b1 - b0) * bb);
        if (first % be == 0 && dst.Length % be == 0) { GgmlDequant.Decode(type, src, dst); return; }
        var tmp = new double[(b1 - b0) * be];
        GgmlDequant.Decode(type, src, tmp);
        tmp.AsSpan((int)(first - b0 * be), dst.Length).CopyTo(dst);
    }

    private static double[] Load(MappedFile file, GgufTensorInfo info, long start)
    {
        long n = info.ElementCount;
        if (n > Array.MaxLength) throw new CartanFormatException(file.Path, $"tensor '{info.Name}' has {n} elements, too many to load at once");
        var dst = new double[n];
        var src = file.Span(start, info.ByteLength);
        GgmlDequant.Decode(info.Type, src, dst);
        file.DropPages(start, info.ByteLength);
        return dst;
    }

    /// <summary>
    /// Hugging Face style config from GGUF metadata: model_type from general.architecture, and
    /// num_attention_heads, num_key_value_heads, hidden_size, num_hidden_layers, intermediate_size,
    /// max_position_embeddings from the <c>{arch}.*</c> keys where present. The raw metadata scalars are kept
    /// under "gguf" (arrays are summarised by their length).
    /// </summary>
    internal static JsonElement BuildConfig(IReadOnlyDictionary<string, object> meta)
    {
        var cfg = new Dictionary<string, object?>();
        string? arch = meta.TryGetValue("general.architecture", out var a) ? a as string : null;
        if (arch is not null)
        {
            cfg["model_type"] = arch;
            void Map(string key, string hf)
            {
                if (meta.TryGetValue($"{arch}.{key}", out var v) && AsLong(v) is long l) cfg[hf] = l;
            }
            Map("attention.head_count", "num_attention_heads");
            Map("attention.head_count_kv", "num_key_value_heads");
            Map("embedding_length", "hidden_size");
            Map("block_count", "num_hidden_layers");
            Map("feed_forward_length", "intermediate_size");
            Map("context_length", "max_position_embeddings");
        }
        if (meta.TryGetValue("tokenizer.ggml.tokens", out var toks) && toks is object[] ta) cfg["vocab_size"] = (long)ta.Length;
        var raw = new SortedDictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (k, v) in meta)
            raw[k] = v is object[] arr ? $"array[{arr.Length}]" : v is float f ? (double)f : v;
        cfg["gguf"] = raw;
        var bytes = JsonSerializer.SerializeToUtf8Bytes(cfg, new JsonSerializerOptions { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals });
        using var doc = JsonDocument.Parse(bytes);
        return doc.RootElement.Clone();
    }

    /// <summary>An integer metadata value (a scalar, or an array whose entries are all equal, as some files store per-layer counts).</summary>
    private static long? AsLong(object v) => v switch
    {
        byte b => b, sbyte sb => sb, ushort us => us, short s => s, uint u => u, int i => i, long l => l,
        ulong ul when ul <= long.MaxValue => (long)ul,
        object[] arr when arr.Length > 0 && arr.Select(AsLong).Distinct().Count() == 1 => AsLong(arr[0]),
        _ => null,
    };
}

using System.Buffers.Binary;
using System.Text.Json;
using Cartan.Formats;
using Cartan.Tensors;

namespace Cartan.Pruning;

/// <summary>
/// Writes a pruned copy of a safetensors Hugging Face folder: every shard rewritten with the same name, tensor order,
/// dtypes and <c>__metadata__</c> (replaced tensors encoded from float64 into their stored dtype, round to nearest even;
/// every other tensor's bytes copied unchanged, undecodable ones included), the shard index and the other top-level
/// files (config.json, tokenizer and generation files) copied; weight files of other formats (*.bin, *.pt, *.onnx, …)
/// and sub-folders are not copied (they would be stale dense copies). Everything is written into a temporary sibling
/// folder that is moved to the output at the end; the input is only read.
/// </summary>
public static class PrunedModelWriter
{
    private static readonly string[] StaleWeights = [".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".onnx", ".gguf", ".npz", ".npy", ".ot", ".safetensors"];

    /// <summary>
    /// Writes the folder. <paramref name="replaced"/> maps tensor names to new data in the STORED layout and element
    /// order. <paramref name="extraFiles"/> (name → UTF-8 text) are written beside, e.g. prune.json.
    /// Throws <see cref="ArgumentException"/> when the output would touch the input or already holds files, or a
    /// replacement does not fit its tensor; <see cref="CartanFormatException"/> for an unreadable input.
    /// </summary>
    public static void Write(WeightModel model, IReadOnlyDictionary<string, double[]> replaced, string outDir,
        IReadOnlyDictionary<string, string>? extraFiles = null)
    {
        if (model.Format != "safetensors") throw new ArgumentException($"pruned models are written for safetensors inputs only, not {model.Format}");
        var (inputDir, shards, index) = InputFiles(model);
        string outFull = Path.GetFullPath(outDir).TrimEnd(Path.DirectorySeparatorChar);
        CheckOutput(inputDir, outFull);
        var known = new HashSet<string>(model.Tensors.Select(t => t.Name), StringComparer.Ordinal);
        foreach (var (name, data) in replaced)
        {
            var t = model.Find(name) ?? throw new ArgumentException($"no tensor '{name}' to replace");
            if (data.LongLength != t.ElementCount) throw new ArgumentException($"tensor '{name}': {data.Length} values for {t.ElementCount} elements");
            if (!DTypes.IsFloat(t.DType)) throw new ArgumentException($"tensor '{name}' is {t.DType}, not a float tensor");
        }

        string parent = Path.GetDirectoryName(outFull) ?? ".";
        Directory.CreateDirectory(parent);
        string tmp = Path.Combine(parent, $".{Path.GetFileName(outFull)}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(tmp);
        try
        {
            var written = new HashSet<string>(StringComparer.Ordinal);
            foreach (var shard in shards)
            {
                WriteShard(shard, Path.Combine(tmp, Path.GetRelativePath(inputDir, shard)), replaced, written);
            }
            foreach (var name in replaced.Keys)
                if (!written.Contains(name)) throw new ArgumentException($"tensor '{name}' was not found in any shard");
            foreach (var f in Directory.GetFiles(inputDir))
            {
                string n = Path.GetFileName(f);
                if (shards.Contains(f)) continue;
                if (index is not null && f == index) { File.Copy(f, Path.Combine(tmp, n)); continue; }
                if (StaleWeights.Any(e => n.EndsWith(e, StringComparison.OrdinalIgnoreCase))) continue;
                if (extraFiles is not null && extraFiles.ContainsKey(n)) continue;
                File.Copy(f, Path.Combine(tmp, n));
            }
            if (extraFiles is not null)
                foreach (var (n, text) in extraFiles) File.WriteAllText(Path.Combine(tmp, n), text);
            if (Directory.Exists(outFull)) Directory.Delete(outFull); // empty (checked above)
            Directory.Move(tmp, outFull);
        }
        catch
        {
            try { Directory.Delete(tmp, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>The input folder, its shard files and the index file (null for a single file).</summary>
    internal static (string Dir, HashSet<string> Shards, string? Index) InputFiles(WeightModel model)
    {
        string src = Path.GetFullPath(model.Source);
        string dir;
        string? index = null;
        if (Directory.Exists(src)) dir = src;
        else dir = Path.GetDirectoryName(src)!;
        if (src.EndsWith(".index.json", StringComparison.OrdinalIgnoreCase)) index = src;
        else
        {
            var idx = Directory.GetFiles(dir, "*.safetensors.index.json");
            if (idx.Length == 1 && model.Tensors.Select(t => t.File).Distinct().Count() > 1) index = idx[0];
        }
        var shards = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in model.Tensors) if (t.File is not null) shards.Add(Path.GetFullPath(t.File));
        if (index is not null)
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(index));
            if (doc.RootElement.TryGetProperty("weight_map", out var wm) && wm.ValueKind == JsonValueKind.Object)
                foreach (var p in wm.EnumerateObject())
                    if (p.Value.ValueKind == JsonValueKind.String) shards.Add(Path.GetFullPath(Path.Combine(dir, p.Value.GetString()!)));
        }
        foreach (var s in shards)
            if (!s.StartsWith(dir + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                throw new ArgumentException($"shard {s} lies outside the model folder");
        return (dir, shards, index);
    }

    /// <summary>Refuses an output that is, contains or lies inside the input folder, or that already holds files.</summary>
    public static void CheckOutput(string inputDir, string outFull)
    {
        string a = Path.GetFullPath(inputDir).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        string b = outFull.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        if (a == b || b.StartsWith(a, StringComparison.Ordinal) || a.StartsWith(b, StringComparison.Ordinal))
            throw new ArgumentException($"output {outFull} overlaps the input folder {inputDir}");
        if (File.Exists(outFull)) throw new ArgumentException($"output {outFull} is a file");
        if (Directory.Exists(outFull) && Directory.EnumerateFileSystemEntries(outFull).Any())
            throw new ArgumentException($"output folder {outFull} is not empty");
    }

    private static void WriteShard(string src, string dst, IReadOnlyDictionary<string, double[]> replaced, HashSet<string> written)
    {
        using var file = MappedFile.Open(src);
        long headerLen = SafetensorsHeader.ReadHeaderLength(src, file.Length >= 8 ? file.Span(0, 8) : default, file.Length);
        long bufStart = 8 + headerLen;
        var header = SafetensorsHeader.Parse(src, file.Span(8, headerLen), file.Length - bufStart);
        var raw = new List<(SafetensorsHeader.Entry Entry, byte[] Bytes)>();
        foreach (var e in header.Entries.OrderBy(e => e.Begin))
        {
            byte[] bytes;
            if (replaced.TryGetValue(e.Name, out var data))
            {
                bytes = SafetensorsWriter.Encode(data, e.DType ?? throw new ArgumentException($"tensor '{e.Name}' has no float dtype"));
                written.Add(e.Name);
            }
            else bytes = file.Span(bufStart + e.Begin, e.End - e.Begin).ToArray();
            raw.Add((e, bytes));
        }
        // Each tensor in its stored dtype spelling, undecodable ones (F8…) copied byte for byte.
        Directory.CreateDirectory(Path.GetDirectoryName(dst)!);
        SafetensorsWriter.WriteStored(dst, raw.Select(r => (r.Entry.Name, r.Entry.Shape, r.Entry.DTypeName, (ReadOnlyMemory<byte>)r.Bytes)), header.Metadata);
    }

}

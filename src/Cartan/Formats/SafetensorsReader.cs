using System.Text.Json;
using Cartan.Tensors;

namespace Cartan.Formats;

/// <summary>
/// Reads Hugging Face safetensors: a single <c>.safetensors</c> file or a sharded model through its
/// <c>*.safetensors.index.json</c>. Layout: 8-byte little-endian header length N, N bytes of JSON
/// (<c>{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}</c>), then the byte
/// buffer that the offsets index. Everything is validated before any tensor byte is touched; files are
/// memory-mapped and each tensor decodes only its own bytes.
/// Tensor order: a single file lists tensors in the order of its JSON header; a sharded model lists them
/// in the order of the index's <c>weight_map</c>.
/// </summary>
public static class SafetensorsReader
{
    /// <summary>Largest JSON header accepted (the reference implementation uses the same limit).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>Opens a <c>.safetensors</c> file or a <c>*.safetensors.index.json</c>.</summary>
    public static WeightModel Open(string path)
    {
        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return OpenIndex(path);
        var parsed = ParseFile(path);
        return new WeightModel(path, "safetensors", parsed.Tensors, skipped: parsed.Skipped, owned: [parsed.File]);
    }

    /// <summary>
    /// The <c>__metadata__</c> of a <c>.safetensors</c> file (empty when absent), or the <c>metadata</c> object of an
    /// index file (non-string values given as their JSON text).
    /// </summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path)
    {
        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            using var doc = ParseIndexJson(path);
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            try
            {
                if (doc.RootElement.TryGetProperty("metadata", out var md) && md.ValueKind == JsonValueKind.Object)
                    foreach (var p in md.EnumerateObject())
                        result[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
            }
            catch (InvalidOperationException e)
            {
                throw new CartanFormatException(path, $"index holds an invalid string: {FirstLine(e.Message)}");
            }
            return result;
        }
        var parsed = ParseFile(path);
        parsed.File.Dispose();
        return parsed.Metadata;
    }

    private sealed record Parsed(MappedFile File, List<WeightTensor> Tensors, List<SkippedTensor> Skipped,
        Dictionary<string, string> Metadata);

    private static Parsed ParseFile(string path)
    {
        var file = MappedFile.Open(path);
        try
        {
            return Parse(file, path);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static Parsed Parse(MappedFile file, string path)
    {
        long headerLen = SafetensorsHeader.ReadHeaderLength(path, file.Length >= 8 ? file.Span(0, 8) : default, file.Length);
        long bufStart = 8 + headerLen;
        long bufLen = file.Length - bufStart;
        var header = SafetensorsHeader.Parse(path, file.Span(8, headerLen), bufLen);

        var (tensors, skipped) = SafetensorsHeader.Tensors(header, bufStart, path,
            (start, end, dtype, d) => { Decode.ToDouble(dtype, file.Span(start, end - start), d); file.DropPages(start, end - start); },
            decodeRange: (_, _, start, end, dtype, d) => Decode.ToDouble(dtype, file.Span(start, end - start), d),
            release: (start, end) => file.DropPages(start, end - start));
        return new Parsed(file, tensors, skipped, header.Metadata);
    }

    // ---- sharded models ----

    private static JsonDocument ParseIndexJson(string path)
    {
        byte[] bytes;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new CartanFormatException(path, "no such file");
            if (info.Length > MaxHeaderBytes)
                throw new CartanFormatException(path, $"index file of {info.Length} bytes exceeds the {MaxHeaderBytes}-byte limit");
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        { throw new CartanFormatException(path, $"cannot open: {FirstLine(e.Message)}"); }
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
            throw new CartanFormatException(path, "index is not valid UTF-8");
        try
        {
            var doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 16 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                doc.Dispose();
                throw new CartanFormatException(path, "index JSON is not an object");
            }
            return doc;
        }
        catch (JsonException e)
        {
            throw new CartanFormatException(path, $"index is not valid JSON: {FirstLine(e.Message)}");
        }
    }

    private static WeightModel OpenIndex(string indexPath)
    {
        var map = new List<(string Tensor, string Shard)>();
        using (var doc = ParseIndexJson(indexPath))
        try
        {
            map.AddRange(SafetensorsHeader.WeightMap(doc.RootElement, indexPath));
        }
        catch (InvalidOperationException e)
        {
            throw new CartanFormatException(indexPath, $"index holds an invalid string: {FirstLine(e.Message)}");
        }
        if (map.Count == 0) throw new CartanFormatException(indexPath, "weight_map is empty");

        string folder = Path.GetDirectoryName(Path.GetFullPath(indexPath)) ?? "/";
        string realFolder = RealPath(indexPath, folder);
        var shardPaths = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (_, shard) in map)
            if (!shardPaths.ContainsKey(shard))
                shardPaths[shard] = ResolveShard(indexPath, folder, realFolder, shard);

        var opened = new Dictionary<string, Parsed>(StringComparer.Ordinal);
        try
        {
            foreach (var (shard, full) in shardPaths) opened[shard] = ParseFile(full);
            var tensors = new List<WeightTensor>(map.Count);
            var skipped = new List<SkippedTensor>();
            foreach (var (name, shard) in map)
            {
                var p = opened[shard];
                var t = p.Tensors.FirstOrDefault(x => x.Name == name);
                if (t is not null) { tensors.Add(t); continue; }
                var s = p.Skipped.FirstOrDefault(x => x.Name == name);
                if (s is not null) { skipped.Add(s); continue; }
                throw new CartanFormatException(indexPath, $"weight_map puts tensor '{Clip(name)}' in {Clip(shard)}, which does not hold it");
            }
            var mapped = map.Select(m => (m.Tensor, m.Shard)).ToHashSet();
            foreach (var (shard, p) in opened)
                foreach (var name in p.Tensors.Select(t => t.Name).Concat(p.Skipped.Select(s => s.Name)))
                    if (!mapped.Contains((name, shard)))
                        throw new CartanFormatException(indexPath, $"shard {Clip(shard)} holds tensor '{Clip(name)}' that the weight_map does not assign to it");
            return new WeightModel(indexPath, "safetensors", tensors, skipped: skipped, owned: opened.Values.Select(p => p.File));
        }
        catch
        {
            foreach (var p in opened.Values) p.File.Dispose();
            throw;
        }
    }

    private static string ResolveShard(string indexPath, string folder, string realFolder, string shard)
    {
        if (shard.Length == 0 || shard.Contains('\0'))
            throw new CartanFormatException(indexPath, "weight_map names an empty or invalid shard file name");
        if (Path.IsPathRooted(shard) || shard.StartsWith('/') || shard.StartsWith('\\') || (shard.Length > 1 && shard[1] == ':'))
            throw new CartanFormatException(indexPath, $"shard path '{Clip(shard)}' is absolute; shards must lie inside the index's folder");
        var parts = shard.Split('/', '\\');
        if (parts.Any(s => s == ".."))
            throw new CartanFormatException(indexPath, $"shard path '{Clip(shard)}' climbs out of the index's folder");
        string full = Path.GetFullPath(Path.Combine(folder, shard));
        if (!IsInside(full, folder))
            throw new CartanFormatException(indexPath, $"shard path '{Clip(shard)}' lies outside the index's folder");
        if (!File.Exists(full))
            throw new CartanFormatException(indexPath, $"shard file '{Clip(shard)}' does not exist");
        string real = RealPath(indexPath, full);
        if (!IsInside(real, realFolder))
            throw new CartanFormatException(indexPath, $"shard path '{Clip(shard)}' is a link that leads outside the index's folder");
        return full;
    }

    private static bool IsInside(string path, string folder)
    {
        var f = folder.EndsWith(Path.DirectorySeparatorChar) ? folder : folder + Path.DirectorySeparatorChar;
        return path.StartsWith(f, StringComparison.Ordinal);
    }

    /// <summary>The path with every symbolic link along it resolved (like realpath(3)).</summary>
    private static string RealPath(string errorFile, string fullPath)
    {
        try
        {
            string root = Path.GetPathRoot(fullPath) ?? "/";
            var pending = new Stack<string>(fullPath[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries).Reverse());
            string current = root;
            int hops = 0;
            while (pending.Count > 0)
            {
                string seg = pending.Pop();
                if (seg == ".") continue;
                if (seg == "..") { current = Path.GetDirectoryName(current) ?? root; continue; }
                string next = Path.Combine(current, seg);
                FileSystemInfo fi = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
                if (fi.LinkTarget is { } target)
                {
                    if (++hops > 40) throw new CartanFormatException(errorFile, $"too many symbolic links resolving {next}");
                    string t = Path.IsPathRooted(target) ? target : Path.Combine(current, target);
                    t = Path.GetFullPath(t);
                    string troot = Path.GetPathRoot(t) ?? "/";
                    foreach (var s in t[troot.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries).Reverse())
                        pending.Push(s);
                    current = troot;
                    continue;
                }
                current = next;
            }
            return current;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new CartanFormatException(errorFile, $"cannot resolve {fullPath}: {FirstLine(e.Message)}");
        }
    }

    internal static string Clip(string s)
    {
        s = s.Replace('\n', ' ').Replace('\r', ' ');
        return s.Length <= 80 ? s : s[..77] + "...";
    }

    internal static string FirstLine(string s) => s.Split('\n')[0].TrimEnd('\r');
}

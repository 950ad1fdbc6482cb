using System.Text.Json;
using System.Text.RegularExpressions;
using Cartan.Tensors;

namespace Cartan.Formats.Hub;

/// <summary>
/// Opens <c>hf://ORG/NAME[@REVISION]</c> (or <c>hf://NAME[@REVISION]</c>) from a Hugging Face Hub endpoint without
/// downloading whole weight files: the revision is resolved to a commit through the model API, <c>config.json</c> and
/// <c>model.safetensors.index.json</c> are downloaded whole (checked against their ETag), each safetensors header is read
/// with two range requests (8 bytes, then N bytes) and validated exactly like a local file, and each tensor's loader
/// fetches only that tensor's byte range, into the resumable, checksummed <see cref="HubCache"/>.
/// </summary>
public static partial class HubSource
{
    public const string Scheme = "hf://";
    private const long MaxSmallFileBytes = 100_000_000;

    public static bool IsHubPath(string path) => path.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase);

    /// <summary>A parsed <c>hf://</c> reference.</summary>
    public sealed record HubRef(string Org, string Name, string Revision)
    {
        public string Repo => Org.Length == 0 ? Name : $"{Org}/{Name}";
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")]
    private static partial Regex RepoPart();

    /// <summary>Parses <c>hf://ORG/NAME[@REVISION]</c>. Throws <see cref="CartanFormatException"/> for anything else.</summary>
    public static HubRef Parse(string spec)
    {
        if (!IsHubPath(spec)) throw new CartanFormatException(spec, "not an hf:// reference");
        string rest = spec[Scheme.Length..];
        string rev = "main";
        int at = rest.IndexOf('@');
        if (at >= 0)
        {
            rev = rest[(at + 1)..];
            rest = rest[..at];
            if (rev.Length == 0 || rev.Length > 256 || rev.Any(char.IsControl) || rev.Contains("..") || rev.StartsWith('/') || rev.EndsWith('/'))
                throw new CartanFormatException(spec, "revision must be a branch, tag or commit name");
        }
        var parts = rest.Split('/');
        if (parts.Length is < 1 or > 2 || parts.Any(p => !RepoPart().IsMatch(p) || p.Contains("..") || p.EndsWith('.')))
            throw new CartanFormatException(spec, "expected hf://ORG/NAME[@REVISION] with ORG and NAME made of letters, digits, '.', '_' and '-'");
        return parts.Length == 2 ? new HubRef(parts[0], parts[1], rev) : new HubRef("", parts[0], rev);
    }

    /// <summary>
    /// Opens the repository's safetensors weights (a single <c>*.safetensors</c> or a sharded
    /// <c>*.safetensors.index.json</c>) with <c>config.json</c> as <see cref="WeightModel.Config"/>.
    /// </summary>
    public static WeightModel Open(string spec, HubOptions? options = null)
    {
        var r = Parse(spec);
        var o = (options ?? new HubOptions()).Resolve();
        var client = new HubClient(spec, r.Repo, o);
        try
        {
            return Guard(spec, () => OpenWith(spec, r, o, client));
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    private static WeightModel OpenWith(string spec, HubRef r, HubOptions o, HubClient client)
    {
        var info = client.GetRepoInfo(r.Revision);
        var cache = new HubCache(spec, o, r.Org, r.Name, info.Sha);
        var maps = new TensorMaps();
        var top = info.Files.Where(f => !f.Contains('/')).ToList();
        string? Find(Func<string, bool> pred) => top.Where(pred).OrderBy(f => f, StringComparer.Ordinal).FirstOrDefault();

        var pick = Find(f => f.EndsWith(".safetensors.index.json", StringComparison.OrdinalIgnoreCase))
            ?? Find(f => f.Equals("model.safetensors", StringComparison.OrdinalIgnoreCase));
        if (pick is null)
        {
            var singles = top.Where(f => f.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)).ToList();
            if (singles.Count > 1)
                throw new CartanFormatException(spec, "repository holds several .safetensors files but no model.safetensors.index.json");
            pick = singles.FirstOrDefault()
                ?? throw new CartanFormatException(spec, "repository holds no safetensors weights (hub sources read *.safetensors and *.safetensors.index.json)");
        }
        CheckName(spec, pick);
        var source = $"{Scheme}{r.Repo}@{info.Sha}";
        var siblings = info.Files.ToHashSet(StringComparer.Ordinal);

        List<WeightTensor> tensors;
        List<SkippedTensor> skipped;
        if (pick.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            (tensors, skipped) = OpenIndex(spec, source, client, cache, pick, siblings, maps);
        else
        {
            var shard = OpenShard(spec, source, client, cache, pick, maps);
            (tensors, skipped) = (shard.Tensors, shard.Skipped);
        }

        var model = new WeightModel(spec, "safetensors", tensors, skipped: skipped, owned: [client, maps]);
        if (top.Contains("config.json"))
        {
            var bytes = cache.GetWhole(client, "config.json", MaxSmallFileBytes);
            try
            {
                using var doc = JsonDocument.Parse(bytes);
                model.Config = doc.RootElement.Clone();
            }
            catch (JsonException e)
            {
                throw new CartanFormatException($"{source}/config.json", $"invalid JSON: {SafetensorsReader.FirstLine(e.Message)}");
            }
        }
        return model;
    }

    /// <summary>Refuses a repository file name that could leave the cache or the repository: absolute, '..', empty segments, control characters.</summary>
    internal static void CheckName(string spec, string name)
    {
        if (name.Length == 0 || name.Length > 1024 || name.Any(c => char.IsControl(c) || c == '\\') || name.StartsWith('/')
            || name.Split('/').Any(s => s.Length == 0 || s == "." || s == "..") || (name.Length > 1 && name[1] == ':'))
            throw new CartanFormatException(spec, $"repository file name '{SafetensorsReader.Clip(name)}' is not a plain relative path inside the repository");
    }

    private sealed record Shard(List<WeightTensor> Tensors, List<SkippedTensor> Skipped);

    private static Shard OpenShard(string spec, string source, HubClient client, HubCache cache, string file, TensorMaps maps)
    {
        string where = $"{source}/{file}";
        byte[] first8 = ReadRange(client, cache, file, 0, 8, where, out long total);
        long n = SafetensorsHeader.ReadHeaderLength(where, first8, total);
        byte[] headerBytes = n == 0 ? [] : ReadRange(client, cache, file, 8, 8 + n, where, out _);
        long bufStart = 8 + n;
        var header = SafetensorsHeader.Parse(where, headerBytes, total - bufStart);

        var (tensors, skipped) = SafetensorsHeader.Tensors(header, bufStart, where, (start, end, dtype, d) =>
        {
            using var m = cache.OpenRange(client, file, start, end);
            Decode.ToDouble(dtype, m.Span(0, end - start), d);
        }, load => () => Guard(spec, load),
            // Range reads (band-by-band spectra): the tensor is fetched whole into the cache once, mapped while it is
            // read in parts, and closed when the engine is done with it.
            decodeRange: (ts, te, start, end, dtype, d) => maps.Decode(client, cache, spec, file, ts, te, start, end, dtype, d),
            release: (ts, te) => maps.Release(file, ts, te));
        return new Shard(tensors, skipped);
    }

    /// <summary>A small range as bytes; <paramref name="total"/> is the remote file's length.</summary>
    private static byte[] ReadRange(HubClient client, HubCache cache, string file, long start, long end, string where, out long total)
    {
        for (int pass = 0; ; pass++)
        {
            byte[] bytes;
            using (var m = cache.OpenRange(client, file, start, end))
                bytes = m.Span(0, end - start).ToArray();
            if (cache.KnownSize(file) is long t) { total = t; return bytes; }
            // The range was cached but its file's length was not recorded (an interrupted earlier run): fetch again.
            cache.Forget(file, start, end);
            if (pass > 0) throw new CartanFormatException(where, "the server did not report the file's length (Content-Range)");
        }
    }

    private static (List<WeightTensor>, List<SkippedTensor>) OpenIndex(string spec, string source, HubClient client, HubCache cache,
        string indexFile, HashSet<string> siblings, TensorMaps maps)
    {
        string where = $"{source}/{indexFile}";
        var bytes = cache.GetWhole(client, indexFile, MaxSmallFileBytes);
        var map = new List<(string Tensor, string Shard)>();
        try
        {
            using var doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 16 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new CartanFormatException(where, "index JSON is not an object");
            map.AddRange(SafetensorsHeader.WeightMap(doc.RootElement, where));
        }
        catch (JsonException e) { throw new CartanFormatException(where, $"index is not valid JSON: {SafetensorsReader.FirstLine(e.Message)}"); }
        catch (InvalidOperationException e) { throw new CartanFormatException(where, $"index holds an invalid string: {SafetensorsReader.FirstLine(e.Message)}"); }
        if (map.Count == 0) throw new CartanFormatException(where, "weight_map is empty");

        string folder = indexFile.Contains('/') ? indexFile[..(indexFile.LastIndexOf('/') + 1)] : "";
        var shards = new Dictionary<string, Shard>(StringComparer.Ordinal);
        foreach (var (_, s) in map)
        {
            if (shards.ContainsKey(s)) continue;
            CheckName(where, s);
            string full = folder + s;
            if (!siblings.Contains(full))
                throw new CartanFormatException(where, $"shard file '{SafetensorsReader.Clip(s)}' is not in the repository");
            shards[s] = OpenShard(spec, source, client, cache, full, maps);
        }
        var tensors = new List<WeightTensor>(map.Count);
        var skipped = new List<SkippedTensor>();
        foreach (var (name, s) in map)
        {
            var p = shards[s];
            if (p.Tensors.FirstOrDefault(x => x.Name == name) is { } t) { tensors.Add(t); continue; }
            if (p.Skipped.FirstOrDefault(x => x.Name == name) is { } k) { skipped.Add(k); continue; }
            throw new CartanFormatException(where, $"weight_map puts tensor '{SafetensorsReader.Clip(name)}' in {SafetensorsReader.Clip(s)}, which does not hold it");
        }
        var mapped = map.ToHashSet();
        foreach (var (s, p) in shards)
            foreach (var name in p.Tensors.Select(t => t.Name).Concat(p.Skipped.Select(x => x.Name)))
                if (!mapped.Contains((name, s)))
                    throw new CartanFormatException(where, $"shard {SafetensorsReader.Clip(s)} holds tensor '{SafetensorsReader.Clip(name)}' that the weight_map does not assign to it");
        return (tensors, skipped);
    }

    /// <summary>
    /// The cache files of the tensors read in parts. A tensor's file is fetched and verified on first use and stays
    /// mapped while it is being read (each read holds a lease), so the bands of one tensor — from several threads, or
    /// from the q/k/v parts of a fused tensor — share one mapping; once the engine releases the tensor and no read is
    /// under way, the mapping and its file handle are closed (a later read maps it again from the cache).
    /// </summary>
    private sealed class TensorMaps : IDisposable
    {
        private sealed class Entry
        {
            public MappedFile? Map;
            public int Users;
            public bool Released;
        }

        private readonly Dictionary<(string, long, long), Entry> _entries = new();
        private bool _disposed;

        /// <summary>Decodes bytes [start, end) of the tensor at [tensorStart, tensorEnd) of <paramref name="file"/>.</summary>
        public void Decode(HubClient client, HubCache cache, string spec, string file, long tensorStart, long tensorEnd, long start, long end,
            DType dtype, Span<double> destination)
        {
            var key = (file, tensorStart, tensorEnd);
            Entry e;
            lock (_entries)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (!_entries.TryGetValue(key, out e!)) _entries[key] = e = new Entry();
                e.Users++;
                e.Released = false;
            }
            try
            {
                MappedFile map;
                lock (e) map = e.Map ??= Guard(spec, () => cache.OpenRange(client, file, tensorStart, tensorEnd));
                Cartan.Tensors.Decode.ToDouble(dtype, map.Span(start - tensorStart, end - start), destination);
            }
            finally
            {
                lock (_entries) { e.Users--; CloseIfIdle(key, e); }
            }
        }

        /// <summary>The engine is done with the tensor: drop its pages, and close it once no read is under way.</summary>
        public void Release(string file, long start, long end)
        {
            lock (_entries)
            {
                if (!_entries.TryGetValue((file, start, end), out var e)) return;
                e.Map?.DropPages(0, end - start);
                e.Released = true;
                CloseIfIdle((file, start, end), e);
            }
        }

        private void CloseIfIdle((string, long, long) key, Entry e)
        {
            if (e.Users > 0 || !e.Released) return;
            e.Map?.Dispose();
            _entries.Remove(key);
        }

        public void Dispose()
        {
            lock (_entries)
            {
                _disposed = true;
                foreach (var e in _entries.Values) e.Map?.Dispose();
                _entries.Clear();
            }
        }
    }

    /// <summary>Turns cache-side I/O failures into the one exception type readers may throw.</summary>
    private static T Guard<T>(string spec, Func<T> f)
    {
        try { return f(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CartanFormatException(spec, $"hub cache I/O error: {SafetensorsReader.FirstLine(e.Message)}");
        }
    }
}

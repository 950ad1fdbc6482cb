using System.Security.Cryptography;
using System.Text;

namespace Cartan.Formats.Hub;

/// <summary>
/// The on-disk cache of one repository at one commit: <c>ROOT/ORG/NAME/SHA/</c> (<c>ROOT/_/NAME/SHA/</c> for a repository
/// without an organisation), holding
/// <list type="bullet">
/// <item><c>data/KEY</c>: completed entries; KEY is the file name percent-escaped into one path segment for a whole file,
/// or <c>ESCAPED@START-END</c> for the byte range [START, END) of a file;</item>
/// <item><c>partial/KEY</c>: downloads in progress (a resumed download continues after the bytes already there);</item>
/// <item><c>sums/KEY</c>: the SHA-256 of each completed entry, written when it completed and checked on every use;</item>
/// <item><c>sizes/ESCAPED</c>: a remote file's total length, learned from <c>Content-Range</c>.</item>
/// </list>
/// Whole files are verified against the server's ETag before they are kept (SHA-256 for LFS files, the git blob SHA-1
/// otherwise). The hub publishes no hash of a byte range, so a range's sidecar hash only guards our own cache against
/// truncation and corruption after the download. Every path is built from validated or escaped parts and checked
/// to lie inside the cache root; an in-progress entry is locked (exclusive open) so that concurrent processes sharing
/// the cache wait for each other instead of interleaving writes.
/// </summary>
internal sealed class HubCache
{
    private readonly HubOptions _o;
    private readonly string _label;
    private readonly string _sha;

    public string Root { get; }
    public string RepoDir { get; }

    public HubCache(string label, HubOptions resolved, string org, string name, string sha)
    {
        _o = resolved;
        _label = label;
        _sha = sha;
        Root = Path.GetFullPath(resolved.CacheDir!);
        RepoDir = Inside(Path.Combine(Root, org.Length == 0 ? "_" : org, name, sha));
        try
        {
            foreach (var d in new[] { "data", "partial", "sums", "sizes" }) Directory.CreateDirectory(Path.Combine(RepoDir, d));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CartanFormatException(label, $"cannot create the hub cache folder {RepoDir}: {SafetensorsReader.FirstLine(e.Message)}");
        }
    }

    private string Inside(string path)
    {
        var full = Path.GetFullPath(path);
        var root = Root.EndsWith(Path.DirectorySeparatorChar) ? Root : Root + Path.DirectorySeparatorChar;
        if (!full.StartsWith(root, StringComparison.Ordinal))
            throw new CartanFormatException(_label, "a cache path would lie outside the cache folder");
        return full;
    }

    /// <summary>One path segment naming <paramref name="s"/>: [A-Za-z0-9_-] and non-leading dots kept, other bytes as %XX; long names hashed.</summary>
    internal static string Escape(string s)
    {
        var sb = new StringBuilder();
        var bytes = Encoding.UTF8.GetBytes(s);
        for (int i = 0; i < bytes.Length; i++)
        {
            byte b = bytes[i];
            bool keep = b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9' or (byte)'-' or (byte)'_'
                || (b == (byte)'.' && i > 0);
            if (keep) sb.Append((char)b); else sb.Append('%').Append(b.ToString("X2"));
        }
        return sb.Length <= 160 ? sb.ToString() : "h-" + Convert.ToHexStringLower(SHA256.HashData(bytes));
    }

    private static string RangeKey(string file, long start, long end) => $"{Escape(file)}@{start}-{end}";
    private string PathOf(string dir, string key) => Inside(Path.Combine(RepoDir, dir, key));

    // ------------------------------------------------------------------ sizes

    public long? KnownSize(string file)
    {
        var p = PathOf("sizes", Escape(file));
        try { return File.Exists(p) && long.TryParse(File.ReadAllText(p).Trim(), out var n) && n >= 0 ? n : null; }
        catch (IOException) { return null; }
    }

    private void RecordSize(string file, long total)
    {
        if (KnownSize(file) is long known && known != total)
            throw new CartanFormatException(_label, $"'{SafetensorsReader.Clip(file)}' changed length on the server ({known} then {total} bytes) at one commit");
        WriteAtomic(PathOf("sizes", Escape(file)), Encoding.ASCII.GetBytes(total.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    // ------------------------------------------------------------------ whole files

    /// <summary>The verified bytes of a small whole file (config, index), downloaded or from the cache.</summary>
    public byte[] GetWhole(HubClient client, string file, long maxBytes)
    {
        string key = Escape(file), data = PathOf("data", key), sum = PathOf("sums", key);
        while (true)
        {
            if (TryReadVerified(data, sum, maxBytes) is byte[] cached) return cached;
            using var part = OpenLocked(PathOf("partial", key));
            if (part is null) continue; // another process finished it meanwhile
            if (File.Exists(data)) { DeleteQuietly(PathOf("partial", key)); continue; } // finished just before we took the lock
            var remote = client.DownloadWhole(_sha, file, part, maxBytes);
            part.Seek(0, SeekOrigin.Begin);
            var bytes = new byte[part.Length];
            part.ReadExactly(bytes);
            string? problem = remote.Length != bytes.Length
                ? $"'{SafetensorsReader.Clip(file)}' arrived with {bytes.Length} bytes, the server announced {remote.Length}"
                : CheckETag(remote.ETag, bytes) is string p ? $"'{SafetensorsReader.Clip(file)}' failed its checksum ({p}); the download was discarded" : null;
            if (problem is not null)
            {
                DeleteQuietly(PathOf("partial", key));
                throw new CartanFormatException(_label, problem);
            }
            Complete(part, PathOf("partial", key), data, sum, SHA256.HashData(bytes));
            return bytes;
        }
    }

    /// <summary>Null when the content matches the ETag (or the ETag is no hash we know), else what differs.</summary>
    internal static string? CheckETag(string? etag, byte[] content)
    {
        if (etag is null) return null;
        bool hex = etag.All(Uri.IsHexDigit);
        if (hex && etag.Length == 64)
        {
            var got = Convert.ToHexStringLower(SHA256.HashData(content));
            return string.Equals(got, etag, StringComparison.OrdinalIgnoreCase) ? null : $"SHA-256 {got} but the ETag says {etag.ToLowerInvariant()}";
        }
        if (hex && etag.Length == 40)
        {
            var prefix = Encoding.ASCII.GetBytes($"blob {content.Length}\0");
            using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
            h.AppendData(prefix);
            h.AppendData(content);
            var got = Convert.ToHexStringLower(h.GetHashAndReset());
            return string.Equals(got, etag, StringComparison.OrdinalIgnoreCase) ? null : $"git blob SHA-1 {got} but the ETag says {etag.ToLowerInvariant()}";
        }
        return null;
    }

    private static byte[]? TryReadVerified(string data, string sum, long maxBytes)
    {
        try
        {
            if (!File.Exists(data)) return null;
            var info = new FileInfo(data);
            if (info.Length > maxBytes || !File.Exists(sum)) { Discard(data, sum); return null; }
            var bytes = File.ReadAllBytes(data);
            if (!SumMatches(sum, SHA256.HashData(bytes))) { Discard(data, sum); return null; }
            return bytes;
        }
        catch (IOException) { return null; }
    }

    // ------------------------------------------------------------------ byte ranges

    /// <summary>
    /// A verified mapping of bytes [<paramref name="start"/>, <paramref name="end"/>) of <paramref name="file"/>,
    /// fetched with a range request (resuming a partial download) when not cached.
    /// </summary>
    public MappedFile OpenRange(HubClient client, string file, long start, long end)
    {
        long len = end - start;
        string key = RangeKey(file, start, end), data = PathOf("data", key), sum = PathOf("sums", key), partial = PathOf("partial", key);
        while (true)
        {
            if (TryMapVerified(data, sum, len) is MappedFile cached) return cached;
            using (var part = OpenLocked(partial))
            {
                if (part is null) continue;
                if (File.Exists(data)) { DeleteQuietly(partial); continue; }
                long total = client.DownloadRange(_sha, file, start, end, part);
                if (total >= 0) RecordSize(file, total);
                if (part.Length != len)
                    throw new CartanFormatException(_label, $"'{SafetensorsReader.Clip(file)}': the download of bytes {start}-{end - 1} stopped at {part.Length} of {len} bytes");
                part.Seek(0, SeekOrigin.Begin);
                var hash = SHA256.HashData(part);
                Complete(part, partial, data, sum, hash);
            }
            if (TryMapVerified(data, sum, len) is MappedFile fresh) return fresh;
            throw new CartanFormatException(_label, $"the cache entry for bytes {start}-{end - 1} of '{SafetensorsReader.Clip(file)}' could not be read back from {data}");
        }
    }

    /// <summary>Removes a cached range (so that the next use fetches it again).</summary>
    public void Forget(string file, long start, long end)
    {
        string key = RangeKey(file, start, end);
        Discard(PathOf("data", key), PathOf("sums", key));
    }

    /// <summary>The partial-download file of a range (tests inspect it).</summary>
    internal string PartialPath(string file, long start, long end) => PathOf("partial", RangeKey(file, start, end));
    internal string DataPath(string file, long start, long end) => PathOf("data", RangeKey(file, start, end));

    private MappedFile? TryMapVerified(string data, string sum, long len)
    {
        if (!File.Exists(data)) return null;
        MappedFile? m = null;
        try
        {
            if (new FileInfo(data).Length != len || !File.Exists(sum)) { Discard(data, sum); return null; }
            m = MappedFile.Open(data);
            if (!SumMatches(sum, SHA256.HashData(m.Span(0, len)))) { m.Dispose(); m = null; Discard(data, sum); return null; }
            return m;
        }
        catch (Exception e) when (e is IOException or CartanFormatException)
        {
            m?.Dispose();
            return null;
        }
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>
    /// Opens (creating) a partial file exclusively; waits while another process holds it. Returns null when the
    /// entry was completed by someone else while we waited (the caller then reads it from data/).
    /// </summary>
    private FileStream? OpenLocked(string partial)
    {
        var deadline = DateTime.UtcNow + _o.LockWait;
        bool waited = false;
        while (true)
        {
            try
            {
                var fs = new FileStream(partial, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 0);
                if (waited && fs.Length == 0)
                {
                    // The holder may have completed the entry and moved its partial file away.
                    fs.Dispose();
                    DeleteQuietly(partial);
                    return null;
                }
                return fs;
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                waited = true;
                Thread.Sleep(100);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CartanFormatException(_label, $"cannot write the hub cache entry {partial}: {SafetensorsReader.FirstLine(e.Message)}");
            }
        }
    }

    private static void Complete(FileStream part, string partial, string data, string sum, byte[] hash)
    {
        part.Flush(flushToDisk: true);
        WriteAtomic(sum, Encoding.ASCII.GetBytes(Convert.ToHexStringLower(hash) + "\n"));
        File.Move(partial, data, overwrite: true);
    }

    private static bool SumMatches(string sum, byte[] hash)
    {
        try { return string.Equals(File.ReadAllText(sum).Trim(), Convert.ToHexStringLower(hash), StringComparison.OrdinalIgnoreCase); }
        catch (IOException) { return false; }
    }

    private static void WriteAtomic(string path, byte[] bytes)
    {
        var tmp = path + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        File.WriteAllBytes(tmp, bytes);
        File.Move(tmp, path, overwrite: true);
    }

    private static void Discard(string data, string sum)
    {
        DeleteQuietly(data);
        DeleteQuietly(sum);
    }

    private static void DeleteQuietly(string p)
    {
        try { File.Delete(p); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

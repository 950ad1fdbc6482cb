using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Cartan.Tests.Hub;

/// <summary>
/// A tiny HTTP/1.1 server on 127.0.0.1 that answers like the Hugging Face Hub: the model API
/// (<c>/api/models/REPO/revision/REV</c>) and <c>/REPO/resolve/REV/FILE</c> with Range, HEAD, ETag (git blob SHA-1)
/// for plain files and X-Linked-Etag / X-Linked-Size (SHA-256) for *.safetensors. One request per connection.
/// Switches: a required token, forced statuses, a connection dropped mid-body at an absolute file offset, a corrupted
/// body, a server that never answers, and LFS redirects to a second listener on 127.0.0.2 (a different host: the
/// client must not send the token there). Every request is logged.
/// </summary>
internal sealed class LoopbackHub : IDisposable
{
    public sealed record Logged(string Host, string Method, string Repo, string Target, string? File, string? Range, string? Authorization);

    public sealed class Repo
    {
        public required string Sha { get; init; }
        public Dictionary<string, string> Refs { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, byte[]> Files { get; } = new(StringComparer.Ordinal);
    }

    private readonly TcpListener _main, _cdn;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];

    public ConcurrentDictionary<string, Repo> Repos { get; } = new(StringComparer.Ordinal);
    public ConcurrentQueue<Logged> Log { get; } = new();
    public string? RequiredToken { get; set; }
    public bool RedirectLfs { get; set; }
    public bool Hang { get; set; }
    /// <summary>Answer file requests with this X-Repo-Commit instead of the repository's own.</summary>
    public string? WrongCommit { get; set; }
    /// <summary>Return a status code to answer a request with that status instead (null: serve normally).</summary>
    public Func<Logged, int?>? StatusFor { get; set; }
    /// <summary>Cut responses for this file when the body reaches this absolute offset (headers promise the full length).</summary>
    public (string File, long Offset)? DropAt { get; set; }
    public int DropTimes { get; set; } = int.MaxValue;
    public HashSet<string> Corrupt { get; } = new(StringComparer.Ordinal);

    public LoopbackHub()
    {
        _main = new TcpListener(IPAddress.Loopback, 0);
        _main.Start();
        _cdn = new TcpListener(IPAddress.Parse("127.0.0.2"), 0);
        _cdn.Start();
        _loops.Add(AcceptLoop(_main, cdn: false));
        _loops.Add(AcceptLoop(_cdn, cdn: true));
    }

    public int Port => ((IPEndPoint)_main.LocalEndpoint).Port;
    public string Endpoint => $"http://127.0.0.1:{Port}";
    private string CdnBase => $"http://127.0.0.2:{((IPEndPoint)_cdn.LocalEndpoint).Port}";

    public Repo Add(string repo, IDictionary<string, byte[]> files, string branch = "main")
    {
        var r = new Repo { Sha = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(repo + "@" + branch))) };
        r.Refs[branch] = r.Sha;
        foreach (var (k, v) in files) r.Files[k] = v;
        Repos[repo] = r;
        return r;
    }

    /// <summary>Requests for one file (by name), in order.</summary>
    public List<Logged> For(string file) => Log.Where(l => l.File == file).ToList();

    public void Dispose()
    {
        _stop.Cancel();
        _main.Stop();
        _cdn.Stop();
        try { Task.WaitAll([.. _loops], TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
        _stop.Dispose();
    }

    private async Task AcceptLoop(TcpListener l, bool cdn)
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient c;
            try { c = await l.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) { return; }
            _ = Task.Run(async () =>
            {
                using (c)
                {
                    try { await Serve(c, cdn); }
                    catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException) { }
                }
            });
        }
    }

    private async Task Serve(TcpClient c, bool cdn)
    {
        var stream = c.GetStream();
        var head = new List<byte>();
        var one = new byte[1];
        while (true)
        {
            int n = await stream.ReadAsync(one, _stop.Token);
            if (n == 0) return;
            head.Add(one[0]);
            if (head.Count >= 4 && head[^1] == '\n' && head[^2] == '\r' && head[^3] == '\n' && head[^4] == '\r') break;
            if (head.Count > 65536) return;
        }
        var lines = Encoding.ASCII.GetString(head.ToArray()).Split("\r\n");
        var first = lines[0].Split(' ');
        string method = first[0], target = first[1];
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            int colon = line.IndexOf(':');
            if (colon > 0) headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }
        headers.TryGetValue("Range", out var range);
        headers.TryGetValue("Authorization", out var auth);

        // Route.
        string path = target.Split('?')[0];
        string repo = "", rev = "";
        string? file = null;
        bool api = false;
        if (path.StartsWith("/api/models/", StringComparison.Ordinal))
        {
            api = true;
            var rest = path["/api/models/".Length..];
            int i = rest.IndexOf("/revision/", StringComparison.Ordinal);
            if (i > 0) { repo = rest[..i]; rev = Uri.UnescapeDataString(rest[(i + "/revision/".Length)..]); }
        }
        else
        {
            int i = path.IndexOf("/resolve/", StringComparison.Ordinal);
            if (i > 0)
            {
                repo = path[1..i];
                var rest = path[(i + "/resolve/".Length)..].Split('/');
                rev = Uri.UnescapeDataString(rest[0]);
                file = string.Join('/', rest.Skip(1).Select(Uri.UnescapeDataString));
            }
        }
        var logged = new Logged(cdn ? "cdn" : "main", method, repo, target, file, range, auth);
        Log.Enqueue(logged);

        if (Hang)
        {
            try { await Task.Delay(Timeout.Infinite, _stop.Token); } catch (OperationCanceledException) { }
            return;
        }
        if (StatusFor?.Invoke(logged) is int forced) { await Respond(stream, forced, [], "{\"error\":\"forced\"}"u8.ToArray(), method); return; }
        if (!cdn && RequiredToken is not null && auth != $"Bearer {RequiredToken}")
        {
            await Respond(stream, 401, [], "{\"error\":\"Invalid credentials in Authorization header\"}"u8.ToArray(), method);
            return;
        }
        if (!Repos.TryGetValue(repo, out var r) || (!r.Refs.TryGetValue(rev, out var sha) && rev != r.Sha))
        {
            await Respond(stream, 404, [], "{\"error\":\"Repository not found\"}"u8.ToArray(), method);
            return;
        }
        sha = r.Sha;
        if (api)
        {
            var json = JsonSerializer.SerializeToUtf8Bytes(new
            {
                id = repo, sha, siblings = r.Files.Keys.Select(k => new { rfilename = k }).ToArray(),
            });
            await Respond(stream, 200, [("Content-Type", "application/json")], json, method);
            return;
        }
        if (file is null || !r.Files.TryGetValue(file, out var content))
        {
            await Respond(stream, 404, [("X-Error-Code", "EntryNotFound")], "{\"error\":\"Entry not found\"}"u8.ToArray(), method);
            return;
        }
        bool lfs = file.EndsWith(".safetensors", StringComparison.Ordinal);
        var common = new List<(string, string)> { ("X-Repo-Commit", WrongCommit ?? sha), ("Accept-Ranges", "bytes") };
        string etag = lfs ? Convert.ToHexStringLower(SHA256.HashData(content)) : GitBlobSha1(content);
        if (lfs) { common.Add(("X-Linked-Etag", $"\"{etag}\"")); common.Add(("X-Linked-Size", content.Length.ToString())); }
        common.Add(("ETag", $"\"{etag}\""));
        if (lfs && RedirectLfs && !cdn)
        {
            var loc = $"{CdnBase}/{repo}/resolve/{sha}/{string.Join('/', file.Split('/').Select(Uri.EscapeDataString))}";
            await Respond(stream, 302, [.. common, ("Location", loc)], ReadOnlyMemory<byte>.Empty, method);
            return;
        }
        var body = content;
        if (Corrupt.Contains(file)) { body = (byte[])content.Clone(); body[body.Length / 2] ^= 0x5a; }

        long total = body.Length, from = 0, to = total - 1;
        int status = 200;
        if (range is not null)
        {
            var spec = range.StartsWith("bytes=", StringComparison.Ordinal) ? range[6..].Split('-') : [];
            if (spec.Length != 2 || !long.TryParse(spec[0], out from) || from >= total || (spec[1].Length > 0 && (!long.TryParse(spec[1], out to) || to < from)))
            {
                await Respond(stream, 416, [("Content-Range", $"bytes */{total}")], ReadOnlyMemory<byte>.Empty, method);
                return;
            }
            if (spec[1].Length == 0 || to >= total) to = total - 1;
            status = 206;
            common.Add(("Content-Range", $"bytes {from}-{to}/{total}"));
        }
        long cut = to + 1;
        if (DropAt is { } d && d.File == file && d.Offset >= from && d.Offset <= to && DropTimes > 0)
        {
            DropTimes--;
            cut = d.Offset;
        }
        await Respond(stream, status, common, body.AsMemory((int)from, (int)(to + 1 - from)), method, sendOnly: (int)(cut - from));
    }

    private static async Task Respond(NetworkStream s, int status, IEnumerable<(string, string)> headers, ReadOnlyMemory<byte> body, string method, int sendOnly = -1)
    {
        var sb = new StringBuilder();
        sb.Append($"HTTP/1.1 {status} {Reason(status)}\r\n");
        foreach (var (k, v) in headers) sb.Append($"{k}: {v}\r\n");
        sb.Append($"Content-Length: {body.Length}\r\nConnection: close\r\n\r\n");
        await s.WriteAsync(Encoding.ASCII.GetBytes(sb.ToString()));
        if (method != "HEAD")
            await s.WriteAsync(sendOnly >= 0 ? body[..sendOnly] : body);
        await s.FlushAsync();
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK", 206 => "Partial Content", 302 => "Found", 401 => "Unauthorized", 403 => "Forbidden", 404 => "Not Found",
        416 => "Range Not Satisfiable", 500 => "Internal Server Error", 503 => "Service Unavailable", _ => "Status",
    };

    /// <summary>git's object id of a blob: SHA-1 of "blob LEN\0" + content (what the hub sends as ETag of a plain file).</summary>
    public static string GitBlobSha1(byte[] content)
    {
        var prefix = Encoding.ASCII.GetBytes($"blob {content.Length}\0");
        return Convert.ToHexStringLower(SHA1.HashData([.. prefix, .. content]));
    }
}

using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Cartan.Formats.Hub;

/// <summary>The files of one repository at one commit, as the hub's model API lists them.</summary>
internal sealed record RepoInfo(string Sha, IReadOnlyList<string> Files);

/// <summary>What a whole-file download learned about the remote file.</summary>
internal sealed record RemoteFile(string? ETag, long Length);

/// <summary>
/// The HTTP side of a hub source: the model API and <c>resolve</c> downloads with <c>Range</c> requests.
/// Every request has a time limit; transient failures (5xx, 429, connection resets, timeouts) are retried with
/// doubling delays, a bounded number of times. Redirects are followed by hand so that the bearer token is sent only
/// to the endpoint's own scheme, host and port (never to a CDN). Every failure becomes a one-line
/// <see cref="CartanFormatException"/>; messages never contain the token.
/// </summary>
internal sealed partial class HubClient : IDisposable
{
    private const int MaxRedirects = 5;
    private const long MaxApiBytes = 64L << 20;
    private readonly HttpClient _http;
    private readonly HubOptions _o;
    private readonly Uri _endpoint;
    private string? _sha;

    /// <summary>The source as the user named it, used as the file part of error messages.</summary>
    public string Label { get; }
    public string Repo { get; }

    public HubClient(string label, string repo, HubOptions resolved)
    {
        Label = label;
        Repo = repo;
        _o = resolved;
        if (!Uri.TryCreate(resolved.Endpoint!.TrimEnd('/') + "/", UriKind.Absolute, out var ep) || (ep.Scheme != "http" && ep.Scheme != "https"))
            throw new CartanFormatException(label, $"hub endpoint '{SafetensorsReader.Clip(resolved.Endpoint!)}' is not an http(s) URL");
        _endpoint = ep;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            ConnectTimeout = resolved.RequestTimeout,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        };
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("cartan", "1"));
    }

    public void Dispose() => _http.Dispose();

    // ------------------------------------------------------------------ URLs

    private Uri ApiUri(string revision) =>
        new(_endpoint, $"api/models/{Repo}/revision/{Uri.EscapeDataString(revision)}");

    private Uri FileUri(string sha, string file) =>
        new(_endpoint, $"{Repo}/resolve/{sha}/{string.Join('/', file.Split('/').Select(Uri.EscapeDataString))}");

    private bool SameOrigin(Uri u) =>
        u.Scheme == _endpoint.Scheme && string.Equals(u.Host, _endpoint.Host, StringComparison.OrdinalIgnoreCase) && u.Port == _endpoint.Port;

    // ------------------------------------------------------------------ model API

    /// <summary>Resolves <paramref name="revision"/> to a commit and lists the repository's files.</summary>
    public RepoInfo GetRepoInfo(string revision)
    {
        byte[] body = WithRetries("the repository's file list", progress: null, () =>
        {
            using var r = Send(ApiUri(revision), null, isApi: true, out _);
            var ms = new MemoryStream();
            CopyBody(r.Response, r.Cts, ms, MaxApiBytes, "the repository's file list");
            return ms.ToArray();
        });
        try
        {
            using var doc = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 32 });
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw Bad("the model API answered JSON that is not an object");
            if (!root.TryGetProperty("sha", out var shaEl) || shaEl.ValueKind != JsonValueKind.String || !CommitSha().IsMatch(shaEl.GetString()!))
                throw Bad("the model API gave no 40-hex commit sha");
            if (!root.TryGetProperty("siblings", out var sib) || sib.ValueKind != JsonValueKind.Array)
                throw Bad("the model API gave no siblings list");
            var files = new List<string>();
            foreach (var s in sib.EnumerateArray())
                if (s.ValueKind == JsonValueKind.Object && s.TryGetProperty("rfilename", out var f) && f.ValueKind == JsonValueKind.String)
                    files.Add(f.GetString()!);
            _sha = shaEl.GetString()!.ToLowerInvariant();
            return new RepoInfo(_sha, files);
        }
        catch (JsonException e) { throw Bad($"the model API answered invalid JSON: {SafetensorsReader.FirstLine(e.Message)}"); }
        catch (InvalidOperationException e) { throw Bad($"the model API answered an invalid string: {SafetensorsReader.FirstLine(e.Message)}"); }
    }

    [GeneratedRegex("^[0-9a-fA-F]{40}$")]
    internal static partial Regex CommitSha();

    // ------------------------------------------------------------------ downloads

    /// <summary>
    /// Downloads <paramref name="file"/> whole into <paramref name="part"/>, continuing after the bytes it already holds.
    /// Returns the ETag (the <c>X-Linked-Etag</c> of an LFS file where given) and the length.
    /// </summary>
    public RemoteFile DownloadWhole(string sha, string file, FileStream part, long maxBytes)
    {
        string? etag = null;
        long total = -1;
        WithRetries($"'{file}'", () => part.Length, () =>
        {
            long have = part.Length;
            using var r = Send(FileUri(sha, file), have > 0 ? (have, null) : null, isApi: false, out var chain, file);
            var resp = r.Response;
            etag ??= chain.LinkedEtag ?? chain.FirstEtag ?? Unquote(resp.Headers.ETag?.Tag);
            if (resp.StatusCode == HttpStatusCode.PartialContent)
            {
                var cr = resp.Content.Headers.ContentRange;
                if (cr is null || cr.From != have || cr.Length is not long len)
                    throw Bad($"'{file}': the server answered a range it was not asked for");
                total = len;
            }
            else
            {
                part.SetLength(0);
                total = resp.Content.Headers.ContentLength ?? chain.LinkedSize ?? -1;
            }
            if (total > maxBytes) throw Bad($"'{file}' has {total} bytes, more than the {maxBytes}-byte limit for this kind of file");
            part.Seek(0, SeekOrigin.End);
            CopyBody(resp, r.Cts, part, maxBytes - part.Length, $"'{file}'");
            if (total >= 0 && part.Length < total) throw new TransientException($"'{file}': connection closed after {part.Length} of {total} bytes");
            if (total < 0) total = part.Length;
            return 0;
        });
        return new RemoteFile(etag, total);
    }

    /// <summary>
    /// Fetches bytes [<paramref name="start"/>, <paramref name="end"/>) of <paramref name="file"/> into
    /// <paramref name="part"/>, which holds the first <c>part.Length</c> of them already (a resumed download).
    /// Returns the file's total length from <c>Content-Range</c>, or -1 when nothing had to be fetched.
    /// </summary>
    public long DownloadRange(string sha, string file, long start, long end, FileStream part)
    {
        long want = end - start;
        long total = -1;
        WithRetries($"bytes {start}-{end - 1} of '{file}'", () => part.Length, () =>
        {
            long have = part.Length;
            if (have > want) part.SetLength(have = 0);
            if (have == want) return 0;
            long from = start + have;
            using var r = Send(FileUri(sha, file), (from, end - 1), isApi: false, out var chain, file);
            var resp = r.Response;
            if (resp.StatusCode == HttpStatusCode.PartialContent)
            {
                var cr = resp.Content.Headers.ContentRange;
                if (cr is null || cr.From != from || cr.To is not long to || to < from || to > end - 1 || cr.Length is not long len)
                    throw Bad($"'{file}': the server answered a range other than bytes {from}-{end - 1}");
                total = len;
            }
            else if (from == 0)
            {
                // The server ignored Range but the prefix is what we need: read it, then drop the connection.
                total = resp.Content.Headers.ContentLength ?? chain.LinkedSize ?? -1;
                if (total < 0) throw Bad($"'{file}': the server ignored the Range request and gave no length");
            }
            else throw Bad($"'{file}': the server does not support Range requests (answered {(int)resp.StatusCode} to bytes {from}-{end - 1})");
            if (end > total) throw Bad($"'{file}' has {total} bytes, fewer than the {end} its header promises");
            part.Seek(0, SeekOrigin.End);
            CopyBody(resp, r.Cts, part, want - have, $"'{file}'");
            if (part.Length < want) throw new TransientException($"'{file}': connection closed after {part.Length} of {want} bytes");
            return 0;
        });
        return total;
    }

    // ------------------------------------------------------------------ plumbing

    private sealed class TransientException(string message) : Exception(message);

    private sealed record Chain(string? LinkedEtag, long? LinkedSize, string? FirstEtag);

    private sealed class Live(HttpResponseMessage response, CancellationTokenSource cts) : IDisposable
    {
        public HttpResponseMessage Response { get; } = response;
        public CancellationTokenSource Cts { get; } = cts;
        public void Dispose() { Response.Dispose(); Cts.Dispose(); }
    }

    private CartanFormatException Bad(string problem) => new(Label, Redact(problem));

    internal string Redact(string s) =>
        _o.Token is { Length: > 0 } t ? s.Replace(t, "***", StringComparison.Ordinal) : s;

    private static string? Unquote(string? etag)
    {
        if (etag is null) return null;
        var e = etag.Trim();
        if (e.StartsWith("W/", StringComparison.Ordinal)) e = e[2..];
        return e.Trim('"');
    }

    /// <summary>One GET with manual redirects; returns a success response (2xx) or throws.</summary>
    private Live Send(Uri url, (long From, long? To)? range, bool isApi, out Chain chain, string? file = null)
    {
        string? linkedEtag = null, firstEtag = null;
        long? linkedSize = null;
        for (int hop = 0; ; hop++)
        {
            var cts = new CancellationTokenSource(_o.RequestTimeout);
            var req = new HttpRequestMessage(HttpMethod.Get, url);
            if (range is { } rg) req.Headers.Range = new RangeHeaderValue(rg.From, rg.To);
            if (_o.Token is { Length: > 0 } token && SameOrigin(url))
                req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            HttpResponseMessage resp;
            try
            {
                resp = _http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, cts.Token).GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
                cts.Dispose();
                throw new TransientException($"no answer within {_o.RequestTimeout.TotalSeconds:0.###} s");
            }
            catch (Exception e) when (e is HttpRequestException or IOException)
            {
                cts.Dispose();
                throw new TransientException(SafetensorsReader.FirstLine(e.Message));
            }
            finally { req.Dispose(); }

            if (hop == 0) firstEtag = Unquote(resp.Headers.ETag?.Tag);
            if (resp.Headers.TryGetValues("X-Linked-Etag", out var le)) linkedEtag ??= Unquote(le.FirstOrDefault());
            if (resp.Headers.TryGetValues("X-Linked-Size", out var ls) && long.TryParse(ls.FirstOrDefault(), out var lsz)) linkedSize ??= lsz;
            int code = (int)resp.StatusCode;
            if (code is 301 or 302 or 303 or 307 or 308)
            {
                var loc = resp.Headers.Location;
                resp.Dispose(); cts.Dispose();
                if (loc is null) throw Bad($"the hub redirected {What(file, isApi)} without a Location");
                if (hop >= MaxRedirects) throw Bad($"too many redirects fetching {What(file, isApi)}");
                url = loc.IsAbsoluteUri ? loc : new Uri(url, loc);
                if (url.Scheme != "http" && url.Scheme != "https") throw Bad($"the hub redirected {What(file, isApi)} to a non-http URL");
                continue;
            }
            if (code is >= 200 and < 300)
            {
                if (!isApi && hop == 0 && _sha is not null && resp.Headers.TryGetValues("X-Repo-Commit", out var rc) && rc.FirstOrDefault() is string commit
                    && !string.Equals(commit, _sha, StringComparison.OrdinalIgnoreCase))
                {
                    resp.Dispose(); cts.Dispose();
                    throw Bad($"the hub served {What(file, isApi)} from commit {SafetensorsReader.Clip(commit)}, not the resolved {_sha}");
                }
                chain = new Chain(linkedEtag, linkedSize, firstEtag);
                return new Live(resp, cts);
            }
            resp.Dispose(); cts.Dispose();
            if (code is 401 or 403)
                throw Bad(_o.Token is null
                    ? "authentication required: set HF_TOKEN (the hub refused anonymous access; the repository may be private, gated or not exist)"
                    : $"authentication required: set HF_TOKEN (the hub answered {code}: the token given was refused or has no access to this repository)");
            if (code == 404)
                throw Bad(isApi ? "no such repository or revision" : $"no such file '{SafetensorsReader.Clip(file ?? "")}' in the repository at this revision");
            if (code == 416) throw Bad($"the server cannot serve the requested byte range of {What(file, isApi)} (the file is shorter than its header says)");
            if (code is 408 or 429 or >= 500) throw new TransientException($"the hub answered HTTP {code}");
            throw Bad($"the hub answered HTTP {code} for {What(file, isApi)}");
        }
    }

    private static string What(string? file, bool isApi) => isApi ? "the repository's file list" : $"'{SafetensorsReader.Clip(file ?? "")}'";

    /// <summary>Copies at most <paramref name="limit"/> body bytes; each read must make progress within the read timeout.</summary>
    private void CopyBody(HttpResponseMessage resp, CancellationTokenSource cts, Stream dest, long limit, string what)
    {
        var buf = new byte[81920];
        try
        {
            cts.CancelAfter(_o.ReadTimeout);
            using var body = resp.Content.ReadAsStreamAsync(cts.Token).GetAwaiter().GetResult();
            long left = limit;
            while (left > 0)
            {
                cts.CancelAfter(_o.ReadTimeout);
                int n = body.ReadAsync(buf.AsMemory(0, (int)Math.Min(buf.Length, left)), cts.Token).AsTask().GetAwaiter().GetResult();
                if (n == 0) break;
                dest.Write(buf, 0, n);
                left -= n;
            }
            dest.Flush();
            if (left == 0 && limit == MaxApiBytes) throw Bad($"{what} is larger than {MaxApiBytes} bytes");
        }
        catch (OperationCanceledException)
        {
            dest.Flush();
            throw new TransientException($"{what}: no data for {_o.ReadTimeout.TotalSeconds:0.###} s");
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            dest.Flush();
            throw new TransientException($"{what}: {SafetensorsReader.FirstLine(e.Message)}");
        }
    }

    /// <summary>
    /// Runs <paramref name="attempt"/> until it succeeds, retrying transient failures with doubling delays.
    /// An attempt after which <paramref name="progress"/> grew does not count against the limit.
    /// </summary>
    private T WithRetries<T>(string what, Func<long>? progress, Func<T> attempt)
    {
        int failures = 0;
        long before = progress?.Invoke() ?? 0;
        while (true)
        {
            try { return attempt(); }
            catch (TransientException e)
            {
                long now = progress?.Invoke() ?? 0;
                if (now > before) { failures = 0; before = now; }
                if (++failures >= _o.MaxAttempts)
                    throw Bad($"network failure fetching {what}: {e.Message} (gave up after {_o.MaxAttempts} attempt{(_o.MaxAttempts == 1 ? "" : "s")} without progress)");
                double ms = Math.Min(8000, _o.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, failures - 1));
                Thread.Sleep(TimeSpan.FromMilliseconds(ms));
            }
        }
    }
}

using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Cartan.Formats;
using Cartan.Formats.Hub;

namespace Cartan.Tests.Hub;

[CollectionDefinition("hub", DisableParallelization = true)]
public sealed class HubCollection;

/// <summary>The hf:// source against a loopback hub: values equal the local reader's, only needed bytes travel, failures are clear.</summary>
[Collection("hub")]
public sealed class HubSourceTests : IDisposable
{
    private const string Token = "hf_TESTtokenZq8Wv3Lr5Nm1Kp7Xy";
    private static readonly string Small = TestPaths.Fixture("safetensors", "small.safetensors");
    private static readonly string ShardDir = TestPaths.Fixture("safetensors", "sharded");
    private static readonly byte[] Config = """{"model_type":"bert","num_attention_heads":2,"hidden_size":8}"""u8.ToArray();

    private readonly LoopbackHub _hub = new();
    private readonly string _cache = TestPaths.NewTempDir();

    public void Dispose()
    {
        _hub.Dispose();
        try { Directory.Delete(_cache, recursive: true); } catch (IOException) { }
    }

    private HubOptions Opts(string? token = null, int attempts = 3) => new()
    {
        Endpoint = _hub.Endpoint, CacheDir = _cache, Token = token, MaxAttempts = attempts,
        RetryBaseDelay = TimeSpan.FromMilliseconds(10), RequestTimeout = TimeSpan.FromSeconds(5), ReadTimeout = TimeSpan.FromSeconds(5),
    };

    private void AddSmall(string repo = "org/small") =>
        _hub.Add(repo, new Dictionary<string, byte[]>
        {
            ["config.json"] = Config, ["model.safetensors"] = File.ReadAllBytes(Small), ["README.md"] = "# small\n"u8.ToArray(),
        });

    private void AddSharded(string repo = "org/sharded")
    {
        var files = Directory.GetFiles(ShardDir).Where(f => !f.EndsWith("golden.json")).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
        _hub.Add(repo, files);
    }

    /// <summary>Independent reading of a safetensors header: (absolute begin, absolute end) per tensor, and the header end.</summary>
    private static (Dictionary<string, (long Begin, long End)> Ranges, long HeaderEnd) Layout(byte[] file)
    {
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(file);
        using var doc = JsonDocument.Parse(file.AsMemory(8, (int)n));
        var d = new Dictionary<string, (long, long)>();
        foreach (var p in doc.RootElement.EnumerateObject())
            if (p.Name != "__metadata__")
            {
                var o = p.Value.GetProperty("data_offsets");
                d[p.Name] = (8 + n + o[0].GetInt64(), 8 + n + o[1].GetInt64());
            }
        return (d, 8 + n);
    }

    private static void AssertSameModel(WeightModel local, WeightModel remote)
    {
        Assert.Equal(local.Tensors.Select(t => t.Name), remote.Tensors.Select(t => t.Name));
        Assert.Equal(local.Skipped.Select(s => s.Name), remote.Skipped.Select(s => s.Name));
        foreach (var (l, r) in local.Tensors.Zip(remote.Tensors))
        {
            Assert.Equal(l.Shape, r.Shape);
            Assert.Equal(l.StoredType, r.StoredType);
            Assert.Equal(l.Layout, r.Layout);
            Assert.Equal(l.ReadDoubles(), r.ReadDoubles());
        }
    }

    [Fact]
    public void Single_file_matches_the_local_reader_and_fetches_only_the_header_and_the_tensors_read()
    {
        AddSmall();
        var bytes = File.ReadAllBytes(Small);
        var (ranges, headerEnd) = Layout(bytes);
        using var remote = HubSource.Open("hf://org/small", Opts());
        using var local = SafetensorsReader.Open(Small);
        Assert.Equal("safetensors", remote.Format);
        Assert.Equal(2, remote.Config!.Value.GetProperty("num_attention_heads").GetInt32());

        // Opening read the header with two ranges and nothing else of the weights.
        Assert.Equal(["bytes=0-7", $"bytes=8-{headerEnd - 1}"], _hub.For("model.safetensors").Select(l => l.Range));
        Assert.Empty(_hub.For("README.md"));

        // Reading one tensor fetches exactly its byte range.
        var t = remote.Tensors[1];
        Assert.Equal(local.Find(t.Name)!.ReadDoubles(), t.ReadDoubles());
        var (b, e) = ranges[t.Name];
        Assert.Equal($"bytes={b}-{e - 1}", _hub.For("model.safetensors").Last().Range);
        Assert.Equal(3, _hub.For("model.safetensors").Count);

        AssertSameModel(local, remote);
        var fetched = _hub.For("model.safetensors");
        Assert.All(fetched, l => Assert.NotNull(l.Range));
        long sent = fetched.Sum(l => { var p = l.Range![6..].Split('-'); return long.Parse(p[1]) - long.Parse(p[0]) + 1; });
        long needed = headerEnd + ranges.Where(r => remote.Find(r.Key) is not null).Sum(r => r.Value.End - r.Value.Begin);
        Assert.Equal(needed, sent);
    }

    [Fact]
    public void Range_reads_fetch_each_tensor_once_and_equal_the_local_values()
    {
        AddSmall();
        var (ranges, _) = Layout(File.ReadAllBytes(Small));
        using var remote = HubSource.Open("hf://org/small", Opts());
        using var local = SafetensorsReader.Open(Small);
        var rng = new Random(4);
        foreach (var t in remote.Tensors.Where(t => t.ElementCount > 0))
        {
            Assert.True(t.CanReadRange);
            var want = local.Find(t.Name)!.ReadDoubles();
            for (int k = 0; k < 6; k++)
            {
                long s0 = rng.NextInt64(want.LongLength);
                var got = new double[1 + rng.Next((int)Math.Min(want.LongLength - s0, 50))];
                t.ReadRange(s0, got);
                Assert.Equal(want.AsSpan((int)s0, got.Length).ToArray(), got);
            }
            t.ReleasePages!();
            // Released and closed; a later part maps the cached tensor again.
            var again = new double[1];
            t.ReadRange(want.LongLength - 1, again);
            Assert.Equal(want[^1], again[0]);
            // The whole tensor travelled once, as one range; later parts and the whole read come from the cache.
            var (b, e) = ranges[t.Name];
            Assert.Single(_hub.For("model.safetensors"), l => l.Range == $"bytes={b}-{e - 1}");
            Assert.Equal(want, t.ReadDoubles());
            Assert.Single(_hub.For("model.safetensors"), l => l.Range == $"bytes={b}-{e - 1}");
        }
    }

    [Fact]
    public void Parallel_range_reads_with_releases_in_between_stay_correct()
    {
        AddSmall();
        using var remote = HubSource.Open("hf://org/small", Opts());
        using var local = SafetensorsReader.Open(Small);
        var tensors = remote.Tensors.Where(t => t.ElementCount > 0).ToArray();
        var want = tensors.Select(t => local.Find(t.Name)!.ReadDoubles()).ToArray();
        int bad = 0;
        Parallel.For(0, 400, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            var rng = new Random(i);
            int k = rng.Next(tensors.Length);
            long s0 = rng.NextInt64(want[k].LongLength);
            var got = new double[1 + rng.Next((int)Math.Min(want[k].LongLength - s0, 30))];
            tensors[k].ReadRange(s0, got);
            for (int j = 0; j < got.Length; j++) if (got[j] != want[k][s0 + j]) Interlocked.Increment(ref bad);
            if (rng.Next(4) == 0) tensors[k].ReleasePages!();
        });
        Assert.Equal(0, bad);
        // Each tensor's bytes were fetched once however often its mapping was closed and reopened.
        Assert.Equal(_hub.For("model.safetensors").Count, _hub.For("model.safetensors").Select(l => l.Range).Distinct().Count());
    }

    [Fact]
    public void A_second_open_reads_headers_and_tensors_from_the_cache()
    {
        AddSmall();
        using (var m = HubSource.Open("hf://org/small@main", Opts())) foreach (var t in m.Tensors) t.ReadDoubles();
        while (_hub.Log.TryDequeue(out _)) { }
        using var again = HubSource.Open("hf://org/small@main", Opts());
        using var local = SafetensorsReader.Open(Small);
        AssertSameModel(local, again);
        Assert.Equal(["api"], _hub.Log.Select(l => l.File is null ? "api" : l.File));
    }

    [Fact]
    public void Sharded_repository_matches_the_local_index_reader()
    {
        AddSharded();
        using var remote = HubSource.Open("hf://org/sharded", Opts());
        using var local = SafetensorsReader.Open(Path.Combine(ShardDir, "model.safetensors.index.json"));
        Assert.Single(_hub.For("model.safetensors.index.json"));
        Assert.Null(_hub.For("model.safetensors.index.json")[0].Range);
        Assert.Equal(2, _hub.For("model-00001-of-00002.safetensors").Count);
        Assert.Equal(2, _hub.For("model-00002-of-00002.safetensors").Count);
        AssertSameModel(local, remote);
    }

    [Fact]
    public void An_interrupted_download_resumes_on_the_next_open_fetching_only_the_remainder()
    {
        AddSmall();
        var bytes = File.ReadAllBytes(Small);
        var (ranges, _) = Layout(bytes);
        var (name, (b, e)) = ranges.MaxBy(r => r.Value.End - r.Value.Begin);
        long cut = b + (e - b) / 2;
        _hub.DropAt = ("model.safetensors", cut);

        using (var first = HubSource.Open("hf://org/small", Opts(attempts: 2)))
        {
            var ex = Assert.Throws<CartanFormatException>(() => first.Find(name)!.ReadDoubles());
            Assert.Contains("network failure", ex.Message);
            Assert.DoesNotContain('\n', ex.Message);
        }
        var repoSha = _hub.Repos["org/small"].Sha;
        var cache = new HubCache("t", Opts().Resolve(), "org", "small", repoSha);
        Assert.Equal(cut - b, new FileInfo(cache.PartialPath("model.safetensors", b, e)).Length);

        _hub.DropAt = null;
        while (_hub.Log.TryDequeue(out _)) { }
        using var second = HubSource.Open("hf://org/small", Opts());
        using var local = SafetensorsReader.Open(Small);
        Assert.Equal(local.Find(name)!.ReadDoubles(), second.Find(name)!.ReadDoubles());
        Assert.Equal([$"bytes={cut}-{e - 1}"], _hub.For("model.safetensors").Select(l => l.Range));
        Assert.False(File.Exists(cache.PartialPath("model.safetensors", b, e)));
    }

    [Fact]
    public void A_dropped_connection_is_retried_within_the_run_from_the_cut()
    {
        AddSmall();
        var (ranges, _) = Layout(File.ReadAllBytes(Small));
        var (name, (b, e)) = ranges.MaxBy(r => r.Value.End - r.Value.Begin);
        long cut = b + 100;
        _hub.DropAt = ("model.safetensors", cut);
        _hub.DropTimes = 1;
        using var remote = HubSource.Open("hf://org/small", Opts());
        using var local = SafetensorsReader.Open(Small);
        Assert.Equal(local.Find(name)!.ReadDoubles(), remote.Find(name)!.ReadDoubles());
        Assert.Equal([$"bytes={b}-{e - 1}", $"bytes={cut}-{e - 1}"], _hub.For("model.safetensors").Skip(2).Select(l => l.Range));
    }

    [Fact]
    public void Parallel_readers_fetch_each_tensor_once_and_agree_with_the_local_reader()
    {
        AddSmall();
        using var remote = HubSource.Open("hf://org/small", Opts());
        using var local = SafetensorsReader.Open(Small);
        var jobs = remote.Tensors.Concat(remote.Tensors).Concat(remote.Tensors).ToArray();
        var results = new double[jobs.Length][];
        Parallel.For(0, jobs.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => results[i] = jobs[i].ReadDoubles());
        for (int i = 0; i < jobs.Length; i++) Assert.Equal(local.Find(jobs[i].Name)!.ReadDoubles(), results[i]);
        var ranges = _hub.For("model.safetensors").Skip(2).Select(l => l.Range).ToList();
        Assert.Equal(remote.Tensors.Count(t => t.ElementCount > 0), ranges.Count);
        Assert.Equal(ranges.Count, ranges.Distinct().Count());
    }

    [Fact]
    public void A_file_served_from_another_commit_is_refused()
    {
        AddSmall();
        _hub.WrongCommit = new string('e', 40);
        var ex = Assert.Throws<CartanFormatException>(() => HubSource.Open("hf://org/small", Opts()));
        Assert.Contains("from commit eeee", ex.Message);
    }

    [Fact]
    public void A_wrong_body_fails_its_checksum_and_is_not_kept()
    {
        AddSmall();
        _hub.Corrupt.Add("config.json");
        var ex = Assert.Throws<CartanFormatException>(() => HubSource.Open("hf://org/small", Opts()));
        Assert.Contains("config.json", ex.Message);
        Assert.Contains("failed its checksum", ex.Message);
        Assert.Empty(Directory.GetFiles(_cache, "config.json*", SearchOption.AllDirectories));

        _hub.Corrupt.Clear();
        using var ok = HubSource.Open("hf://org/small", Opts());
        Assert.Equal("bert", ok.Config!.Value.GetProperty("model_type").GetString());
        Assert.Single(Directory.GetFiles(_cache, "config.json", SearchOption.AllDirectories), f => f.Contains($"{Path.DirectorySeparatorChar}data{Path.DirectorySeparatorChar}"));
    }

    [Fact]
    public void A_corrupted_cache_entry_is_detected_and_fetched_again()
    {
        AddSmall();
        var (ranges, _) = Layout(File.ReadAllBytes(Small));
        var (name, (b, e)) = ranges.MaxBy(r => r.Value.End - r.Value.Begin);
        using (var m = HubSource.Open("hf://org/small", Opts())) m.Find(name)!.ReadDoubles();
        var cache = new HubCache("t", Opts().Resolve(), "org", "small", _hub.Repos["org/small"].Sha);
        var data = cache.DataPath("model.safetensors", b, e);
        var bytes = File.ReadAllBytes(data);
        bytes[7] ^= 0x40;
        File.WriteAllBytes(data, bytes);

        while (_hub.Log.TryDequeue(out _)) { }
        using var again = HubSource.Open("hf://org/small", Opts());
        using var local = SafetensorsReader.Open(Small);
        Assert.Equal(local.Find(name)!.ReadDoubles(), again.Find(name)!.ReadDoubles());
        Assert.Equal([$"bytes={b}-{e - 1}"], _hub.For("model.safetensors").Select(l => l.Range));
    }

    [Theory]
    [InlineData("hf://org/missing")]
    [InlineData("hf://org/small@no-such-branch")]
    public void Unknown_repository_or_revision_is_a_one_line_404_error(string spec)
    {
        AddSmall();
        var ex = Assert.Throws<CartanFormatException>(() => HubSource.Open(spec, Opts()));
        Assert.Equal("no such repository or revision", ex.Problem);
        Assert.Equal(spec, ex.FilePath);
    }

    [Fact]
    public void A_missing_file_is_a_404_error_naming_it()
    {
        _hub.Add("org/gone", new Dictionary<string, byte[]> { ["model.safetensors"] = File.ReadAllBytes(Small) });
        _hub.StatusFor = l => l.File == "model.safetensors" ? 404 : null;
        var ex = Assert.Throws<CartanFormatException>(() => HubSource.Open("hf://org/gone", Opts()));
        Assert.Contains("no such file 'model.safetensors'", ex.Message);
    }

    [Fact]
    public void A_private_repository_needs_the_token_which_goes_only_to_the_hub_host()
    {
        AddSmall("org/private");
        _hub.RequiredToken = Token;
        _hub.RedirectLfs = true;
        var ex = Assert.Throws<CartanFormatException>(() => HubSource.Open("hf://org/private", Opts()));
        Assert.StartsWith("authentication required: set HF_TOKEN", ex.Problem);
        var ex2 = Assert.Throws<CartanFormatException>(() => HubSource.Open("hf://org/private", Opts(token: "hf_wrong")));
        Assert.StartsWith("authentication required: set HF_TOKEN", ex2.Problem);
        Assert.DoesNotContain("hf_wrong", ex2.Message);

        while (_hub.Log.TryDequeue(out _)) { }
        using var m = HubSource.Open("hf://org/private", Opts(token: Token));
        using var local = SafetensorsReader.Open(Small);
        AssertSameModel(local, m);
        Assert.All(_hub.Log.Where(l => l.Host == "main"), l => Assert.Equal($"Bearer {Token}", l.Authorization));
        var cdn = _hub.Log.Where(l => l.Host == "cdn").ToList();
        Assert.NotEmpty(cdn);
        Assert.All(cdn, l => Assert.Null(l.Authorization));
    }

    [Fact]
    public void The_token_is_never_printed_nor_written()
    {
        AddSmall("org/private");
        _hub.RequiredToken = Token;
        var outDir = TestPaths.NewTempDir();
        string? saved = Environment.GetEnvironmentVariable("HF_TOKEN");
        var all = new StringBuilder();
        try
        {
            Environment.SetEnvironmentVariable("HF_TOKEN", Token);
            var o = new StringWriter();
            var err = new StringWriter();
            int rc = Cartan.Cli.Cli.Run(["analyze", "hf://org/private", "--hub-endpoint", _hub.Endpoint, "--cache-dir", _cache,
                "--json", Path.Combine(outDir, "a.json"), "--quiet", "--spectra-only"], o, err);
            all.Append(o).Append(err);
            Assert.True(rc == 0, err.ToString());
            int rc2 = Cartan.Cli.Cli.Run(["inspect", "hf://org/private", "--hub-endpoint", _hub.Endpoint, "--cache-dir", _cache], o, err);
            Assert.Equal(0, rc2);
            all.Append(o).Append(err);

            Environment.SetEnvironmentVariable("HF_TOKEN", Token + "x");
            var err3 = new StringWriter();
            int rc3 = Cartan.Cli.Cli.Run(["analyze", "hf://org/private@main", "--hub-endpoint", _hub.Endpoint, "--cache-dir", _cache], o, err3);
            Assert.Equal(3, rc3);
            Assert.StartsWith("cartan: hf://org/private@main: authentication required: set HF_TOKEN", err3.ToString());
            Assert.Single(err3.ToString().TrimEnd('\n').Split('\n'));
            all.Append(o).Append(err3);
        }
        finally { Environment.SetEnvironmentVariable("HF_TOKEN", saved); }

        Assert.True(_hub.Log.Count(l => l.Authorization == $"Bearer {Token}") > 3);
        var secret = Encoding.UTF8.GetBytes(Token[3..]);
        Assert.DoesNotContain(Token[3..], all.ToString());
        foreach (var f in Directory.GetFiles(_cache, "*", SearchOption.AllDirectories).Concat(Directory.GetFiles(outDir, "*", SearchOption.AllDirectories)))
        {
            Assert.DoesNotContain(Token[3..], f);
            Assert.Equal(-1, File.ReadAllBytes(f).AsSpan().IndexOf(secret));
        }
        Directory.Delete(outDir, true);
    }

    [Fact]
    public void Server_errors_are_retried_a_bounded_number_of_times()
    {
        AddSmall();
        int failures = 1;
        _hub.StatusFor = l => l.File is null && failures-- > 0 ? 503 : null;
        using (var m = HubSource.Open("hf://org/small", Opts())) Assert.NotEmpty(m.Tensors);
        Assert.Equal(2, _hub.Log.Count(l => l.File is null));

        while (_hub.Log.TryDequeue(out _)) { }
        _hub.StatusFor = l => l.File is null ? 500 : null;
        var ex = Assert.Throws<CartanFormatException>(() => HubSource.Open("hf://org/small", Opts(attempts: 3)));
        Assert.Contains("network failure", ex.Message);
        Assert.Contains("HTTP 500", ex.Message);
        Assert.Equal(3, _hub.Log.Count);
    }

    [Fact]
    public void An_unanswered_request_times_out()
    {
        AddSmall();
        _hub.Hang = true;
        var o = Opts(attempts: 2);
        o.RequestTimeout = TimeSpan.FromMilliseconds(300);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var ex = Assert.Throws<CartanFormatException>(() => HubSource.Open("hf://org/small", o));
        Assert.Contains("no answer within 0.3 s", ex.Message);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), sw.Elapsed.ToString());
        Assert.Equal(2, _hub.Log.Count);
    }

    [Fact]
    public void A_refused_connection_is_a_network_failure()
    {
        var o = Opts(attempts: 2);
        o.Endpoint = "http://127.0.0.1:1";
        var ex = Assert.Throws<CartanFormatException>(() => HubSource.Open("hf://org/small", o));
        Assert.Contains("network failure fetching the repository's file list", ex.Message);
    }

    public static TheoryData<string> BadHeaders => new() { "huge-length", "not-json", "past-buffer", "overlap", "bad-dtype" };

    [Theory]
    [MemberData(nameof(BadHeaders))]
    public void A_bad_header_is_refused_with_the_local_readers_message(string kind)
    {
        var good = File.ReadAllBytes(Small);
        byte[] bad = Mutate(good, kind);
        var tmp = Path.Combine(_cache, "bad.safetensors");
        File.WriteAllBytes(tmp, bad);
        var localEx = Assert.Throws<CartanFormatException>(() => SafetensorsReader.Open(tmp).Dispose());
        _hub.Add("org/bad", new Dictionary<string, byte[]> { ["model.safetensors"] = bad });
        var ex = Assert.Throws<CartanFormatException>(() => HubSource.Open("hf://org/bad", Opts()));
        Assert.Equal(localEx.Problem, ex.Problem);
        Assert.EndsWith("/model.safetensors", ex.FilePath);
        // Nothing beyond the header was fetched.
        Assert.All(_hub.For("model.safetensors"), l => Assert.True(l.Range is "bytes=0-7" || l.Range!.StartsWith("bytes=8-"), l.Range));
    }

    private static byte[] Mutate(byte[] good, string kind)
    {
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(good);
        string header = Encoding.UTF8.GetString(good, 8, (int)n);
        byte[] WithHeader(string h)
        {
            var hb = Encoding.UTF8.GetBytes(h);
            var result = new byte[8 + hb.Length + (good.Length - 8 - n)];
            BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)hb.Length);
            hb.CopyTo(result, 8);
            Array.Copy(good, 8 + n, result, 8 + hb.Length, good.Length - 8 - n);
            return result;
        }
        switch (kind)
        {
            case "huge-length":
                var b = (byte[])good.Clone();
                BinaryPrimitives.WriteUInt64LittleEndian(b, 1UL << 40);
                return b;
            case "not-json": return WithHeader("{\"a\": [1, 2" + new string(' ', 10));
            case "past-buffer":
            {
                using var doc = JsonDocument.Parse(header);
                var first = doc.RootElement.EnumerateObject().First(p => p.Name != "__metadata__");
                var dict = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(header)!;
                var shape = first.Value.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray();
                dict[first.Name] = JsonSerializer.SerializeToElement(new { dtype = first.Value.GetProperty("dtype").GetString(), shape, data_offsets = new[] { 1L << 40, (1L << 40) + 8 } });
                return WithHeader(JsonSerializer.Serialize(dict));
            }
            case "overlap":
            {
                var entries = JsonDocument.Parse(header).RootElement.EnumerateObject().Where(p => p.Name != "__metadata__").ToList();
                var a = entries[0].Value;
                var copy = new Dictionary<string, JsonElement>(JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(header)!)
                {
                    ["zz.duplicate"] = a,
                };
                return WithHeader(JsonSerializer.Serialize(copy));
            }
            case "bad-dtype": return WithHeader("{\"w\": {\"dtype\": \"F7\", \"shape\": [1], \"data_offsets\": [0, 1]}}");
            default: throw new ArgumentException(kind);
        }
    }

    [Theory]
    [InlineData("../evil.safetensors")]
    [InlineData("/etc/evil.safetensors")]
    [InlineData("a/../../evil.safetensors")]
    public void Shard_names_that_escape_the_repository_are_refused(string shard)
    {
        var index = Encoding.UTF8.GetBytes("{\"weight_map\": {\"w\": \"" + shard + "\"}}");
        _hub.Add("org/escape", new Dictionary<string, byte[]>
        {
            ["model.safetensors.index.json"] = index, [shard] = File.ReadAllBytes(Small),
        });
        var ex = Assert.Throws<CartanFormatException>(() => HubSource.Open("hf://org/escape", Opts()));
        Assert.Contains("is not a plain relative path", ex.Message);
        Assert.DoesNotContain(_hub.Log, l => l.File == shard);
        var parent = Path.GetDirectoryName(_cache)!;
        Assert.False(File.Exists(Path.Combine(parent, "evil.safetensors")));
    }

    [Theory]
    [InlineData("hf://")]
    [InlineData("hf://org/na me")]
    [InlineData("hf://../x")]
    [InlineData("hf://org/../x")]
    [InlineData("hf://a/b/c")]
    [InlineData("hf://org/name@")]
    [InlineData("hf://org/name@../../x")]
    public void Malformed_references_are_refused_before_any_request(string spec)
    {
        Assert.Throws<CartanFormatException>(() => HubSource.Open(spec, Opts()));
        Assert.Empty(_hub.Log);
    }

    [Fact]
    public void References_parse_into_repository_and_revision()
    {
        Assert.Equal(new HubSource.HubRef("org", "name", "main"), HubSource.Parse("hf://org/name"));
        Assert.Equal(new HubSource.HubRef("org", "name", "refs/pr/1"), HubSource.Parse("hf://org/name@refs/pr/1"));
        Assert.Equal(new HubSource.HubRef("", "gpt2", "v1.0"), HubSource.Parse("hf://gpt2@v1.0"));
        Assert.Equal("gpt2", HubSource.Parse("hf://gpt2").Repo);
    }

    [Fact]
    public void Revisions_with_slashes_and_bare_names_reach_the_api()
    {
        var r = _hub.Add("gpt2", new Dictionary<string, byte[]> { ["model.safetensors"] = File.ReadAllBytes(Small) }, branch: "refs/pr/1");
        using var m = HubSource.Open("hf://gpt2@refs/pr/1", Opts());
        Assert.Contains("/api/models/gpt2/revision/refs%2Fpr%2F1", _hub.Log.First().Target);
        Assert.All(_hub.For("model.safetensors"), l => Assert.Contains($"/resolve/{r.Sha}/", l.Target));
        using var byCommit = HubSource.Open($"hf://gpt2@{r.Sha}", Opts());
        Assert.Equal(m.Tensors.Count, byCommit.Tensors.Count);
    }

    [Fact]
    public void Options_take_defaults_from_the_environment()
    {
        var env = new Dictionary<string, string?> { ["HF_HOME"] = "/data/hf", ["HF_TOKEN"] = " hf_x ", ["HF_ENDPOINT"] = "http://mirror.local" };
        var o = new HubOptions().Resolve(k => env.GetValueOrDefault(k));
        Assert.Equal("/data/hf/cartan", o.CacheDir);
        Assert.Equal("hf_x", o.Token);
        Assert.Equal("http://mirror.local", o.Endpoint);
        var o2 = new HubOptions().Resolve(k => k == "HOME" ? "/home/u" : null);
        Assert.Equal("/home/u/.cache/huggingface/cartan", o2.CacheDir);
        Assert.Null(o2.Token);
        Assert.Equal("https://huggingface.co", o2.Endpoint);
        var o3 = new HubOptions { CacheDir = "/x/c", Endpoint = "http://e" }.Resolve(k => env.GetValueOrDefault(k));
        Assert.Equal("/x/c", o3.CacheDir);
        Assert.Equal("http://e", o3.Endpoint);
        Assert.DoesNotContain("hf_x", o.ToString());
    }

    [Theory]
    [InlineData("", "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")] // git hash-object /dev/null
    [InlineData("hello\n", "ce013625030ba8dba906f756967f9e9ca394464a")] // echo hello | git hash-object --stdin
    public void Plain_files_are_checked_against_their_git_blob_sha1(string content, string gitId)
    {
        var bytes = Encoding.UTF8.GetBytes(content);
        Assert.Null(HubCache.CheckETag(gitId, bytes));
        Assert.NotNull(HubCache.CheckETag(gitId, [.. bytes, 0]));
        // sha256 ETag (LFS): e3b0c442... is the SHA-256 of the empty string.
        Assert.Null(HubCache.CheckETag("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", []));
        Assert.NotNull(HubCache.CheckETag("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", [1]));
    }

    [Fact]
    public void Cache_keys_are_single_safe_path_segments()
    {
        foreach (var s in new[] { "../x", "a/b", ".hidden", "x@1-2", "%", "ü", new string('a', 400) })
        {
            var k = HubCache.Escape(s);
            Assert.DoesNotContain('/', k);
            Assert.DoesNotContain('@', k);
            Assert.False(k.StartsWith('.'), k);
            Assert.True(k.Length <= 160);
        }
        Assert.NotEqual(HubCache.Escape("a/b"), HubCache.Escape("a%2Fb"));
    }

    [Fact]
    public void Cli_analyses_a_hub_model_like_the_local_file()
    {
        AddSmall();
        var dir = TestPaths.NewTempDir();
        try
        {
            var err = new StringWriter();
            int rc = Cartan.Cli.Cli.Run(["analyze", "hf://org/small", "--hub-endpoint", _hub.Endpoint, "--cache-dir", _cache,
                "--json", Path.Combine(dir, "hub.json"), "--quiet", "--spectra-only", "--pairs", "none"], new StringWriter(), err);
            Assert.True(rc == 0, err.ToString());
            var tmpModel = Path.Combine(dir, "m");
            Directory.CreateDirectory(tmpModel);
            File.Copy(Small, Path.Combine(tmpModel, "model.safetensors"));
            File.WriteAllBytes(Path.Combine(tmpModel, "config.json"), Config);
            rc = Cartan.Cli.Cli.Run(["analyze", tmpModel, "--json", Path.Combine(dir, "local.json"), "--quiet", "--spectra-only", "--pairs", "none"], new StringWriter(), err);
            Assert.True(rc == 0, err.ToString());
            using var a = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "hub.json")));
            using var b = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "local.json")));
            var la = a.RootElement.GetProperty("layers");
            var lb = b.RootElement.GetProperty("layers");
            Assert.Equal(lb.GetArrayLength(), la.GetArrayLength());
            Assert.True(la.GetArrayLength() > 0);
            foreach (var (x, y) in la.EnumerateArray().Zip(lb.EnumerateArray()))
            {
                Assert.Equal(y.GetProperty("name").GetString(), x.GetProperty("name").GetString());
                Assert.Equal(y.GetProperty("sigma").GetRawText(), x.GetProperty("sigma").GetRawText());
            }

            var err404 = new StringWriter();
            Assert.Equal(3, Cartan.Cli.Cli.Run(["inspect", "hf://org/nope", "--hub-endpoint", _hub.Endpoint, "--cache-dir", _cache], new StringWriter(), err404));
            Assert.Equal("cartan: hf://org/nope: no such repository or revision", err404.ToString().Trim());
        }
        finally { Directory.Delete(dir, true); }
    }
}

namespace Cartan.Formats.Hub;

/// <summary>
/// Settings of a Hugging Face Hub source. Unset values come from the environment in
/// <see cref="Resolve"/>: <c>HF_ENDPOINT</c>, <c>HF_TOKEN</c>, <c>HF_HOME</c>, <c>XDG_CACHE_HOME</c>, <c>HOME</c>.
/// A class, not a record, so that the token never shows up in a generated <c>ToString</c>.
/// </summary>
public sealed class HubOptions
{
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>Base URL of the hub (default <c>HF_ENDPOINT</c>, else https://huggingface.co).</summary>
    public string? Endpoint { get; set; }
    /// <summary>Cache folder (default <c>$HF_HOME/cartan</c>, else <c>$XDG_CACHE_HOME/huggingface/cartan</c>, else <c>~/.cache/huggingface/cartan</c>).</summary>
    public string? CacheDir { get; set; }
    /// <summary>Bearer token (default <c>HF_TOKEN</c>). Sent only to the endpoint's own host, never printed nor written.</summary>
    public string? Token { get; set; }
    /// <summary>Limit for connecting and receiving the response headers of one request.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>Limit for one read of a response body making no progress.</summary>
    public TimeSpan ReadTimeout { get; set; } = TimeSpan.FromSeconds(60);
    /// <summary>Attempts per request for transient failures (5xx, 429, resets, timeouts); an attempt that made progress does not count.</summary>
    public int MaxAttempts { get; set; } = 4;
    /// <summary>First retry delay; doubled on each further retry (capped at 8 s).</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(500);
    /// <summary>How long to wait for a cache entry another process is downloading.</summary>
    public TimeSpan LockWait { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>A copy with every unset value filled from <paramref name="env"/> (default: the process environment).</summary>
    public HubOptions Resolve(Func<string, string?>? env = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        static string? NonEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;
        string cache = NonEmpty(CacheDir) ?? DefaultCacheDir(env);
        return new HubOptions
        {
            Endpoint = NonEmpty(Endpoint) ?? NonEmpty(env("HF_ENDPOINT")) ?? DefaultEndpoint,
            CacheDir = Path.GetFullPath(cache),
            Token = NonEmpty(Token) ?? NonEmpty(env("HF_TOKEN"))?.Trim(),
            RequestTimeout = RequestTimeout,
            ReadTimeout = ReadTimeout,
            MaxAttempts = Math.Max(1, MaxAttempts),
            RetryBaseDelay = RetryBaseDelay,
            LockWait = LockWait,
        };
    }

    /// <summary>The cache folder used when none is given.</summary>
    public static string DefaultCacheDir(Func<string, string?>? env = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        if (env("HF_HOME") is { Length: > 0 } hfHome) return Path.Combine(hfHome, "cartan");
        if (env("XDG_CACHE_HOME") is { Length: > 0 } xdg) return Path.Combine(xdg, "huggingface", "cartan");
        string home = env("HOME") is { Length: > 0 } h ? h : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(home, ".cache", "huggingface", "cartan");
    }
}

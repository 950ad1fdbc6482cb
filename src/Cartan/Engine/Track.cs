using System.Globalization;
using Cartan.Formats;
using Cartan.Report;
using static Cartan.Report.Figures;

namespace Cartan.Engine;

/// <summary>How the checkpoints of a folder are put in order.</summary>
public enum TrackOrder
{
    /// <summary>By the step number in the name: the last run of decimal digits of the name without its extension.</summary>
    Step,
    /// <summary>By name (ordinal, case-sensitive).</summary>
    Name,
    /// <summary>By modification time (a folder: its newest file), ties by name.</summary>
    Mtime,
}

/// <summary>One checkpoint of a series: a weight file or a model folder.</summary>
public sealed record CheckpointEntry(string Name, string Path, long? Step, DateTime Modified);

/// <summary>An entry of the series folder that is not a checkpoint, with the reason.</summary>
public sealed record TrackSkip(string Name, string Reason);

/// <summary>A checkpoint after its analysis: what it is, and counts of what the analysis found.</summary>
public sealed record TrackCheckpoint(int Index, CheckpointEntry Entry, string Format, string Architecture, int Layers, int Interfaces,
    int FailedLayers, int CertificatesPassed, int Certificates, double? Seconds);

/// <summary>
/// One matrix through training. Every series is aligned with <see cref="TrackResult.Checkpoints"/>; null where the checkpoint
/// lacks the layer or the number could not be computed. Series keys are the analysis' field paths joined by the first '.'
/// (<c>alpha.mle</c>, <c>effective_rank.0.9</c>).
/// </summary>
public sealed record TrackLayer(string Name, string Role, int? Block, int[] Matrix, string?[] Status, IReadOnlyList<KeyValuePair<string, double?[]>> Series);

/// <summary>One interface (adjacent pair) through training, with the trend of its imbalance.</summary>
public sealed record TrackInterface(string From, string To, int Dim, string Kind, string?[] Status, bool?[] CertificatePass,
    IReadOnlyList<KeyValuePair<string, double?[]>> Series, double? BetaLogSlope, double? BetaRatio, double? BetaDiagLogSlope);

/// <summary>A checkpoint series analysed: schema <c>cartan.track/1</c>.</summary>
public sealed record TrackResult
{
    public const string SchemaName = "cartan.track/1";
    public required ToolInfo Tool { get; init; }
    public required string Source { get; init; }
    public required TrackOrder Order { get; init; }
    /// <summary>"step" when every checkpoint has a step number, else "index": the axis of the fitted slopes and figures.</summary>
    public required string Axis { get; init; }
    public required IReadOnlyList<KeyValuePair<string, object?>> Settings { get; init; }
    public required IReadOnlyList<TrackCheckpoint> Checkpoints { get; init; }
    public required IReadOnlyList<TrackLayer> Layers { get; init; }
    public required IReadOnlyList<TrackInterface> Interfaces { get; init; }
    public required IReadOnlyList<TrackSkip> Skipped { get; init; }
    public double? Seconds { get; init; }

    /// <summary>The x value of checkpoint <paramref name="i"/> on <see cref="Axis"/>.</summary>
    public double X(int i) => Axis == "step" ? Checkpoints[i].Entry.Step!.Value : i;
}

/// <summary>
/// Checkpoint series: finds and orders the checkpoints of a folder, and gathers per-checkpoint analyses
/// (<see cref="Analyzer.Run"/>, unchanged) into series over training.
/// </summary>
public static class Track
{
    /// <summary>File extensions taken as checkpoints (folders are always candidates).</summary>
    public static readonly string[] WeightExtensions = [".safetensors", ".onnx", ".npz", ".npy", ".gguf", ".pt", ".pth", ".bin"];

    /// <summary>The step number of a name: the last run of decimal digits of the name without its extension (null if none, or over 18 digits).</summary>
    public static long? StepOf(string name)
    {
        int end = -1;
        for (int i = name.Length - 1; i >= 0; i--)
            if (char.IsAsciiDigit(name[i])) { end = i; break; }
        if (end < 0) return null;
        int start = end;
        while (start > 0 && char.IsAsciiDigit(name[start - 1])) start--;
        var digits = name[start..(end + 1)].TrimStart('0');
        if (digits.Length == 0) return 0;
        if (digits.Length > 18) return null;
        return long.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The checkpoints of <paramref name="dir"/> in order: its non-hidden sub-folders and weight files (<see cref="WeightExtensions"/>),
    /// not recursing. With <see cref="TrackOrder.Step"/> an entry without a step number is skipped (and listed), and two entries
    /// with the same step are an error. <paramref name="exclude"/> (an output folder inside <paramref name="dir"/>) is never taken.
    /// Throws <see cref="CartanFormatException"/> when the folder is missing, unreadable or holds no checkpoint.
    /// </summary>
    public static (List<CheckpointEntry> Checkpoints, List<TrackSkip> Skipped) Discover(string dir, TrackOrder order, IEnumerable<string>? exclude = null)
    {
        if (File.Exists(dir)) throw new CartanFormatException(dir, "is a file, not a folder of checkpoints");
        if (!Directory.Exists(dir)) throw new CartanFormatException(dir, "no such folder");
        var excluded = new HashSet<string>((exclude ?? []).Select(p => System.IO.Path.GetFullPath(p).TrimEnd(System.IO.Path.DirectorySeparatorChar)), StringComparer.Ordinal);
        var found = new List<CheckpointEntry>();
        var skipped = new List<TrackSkip>();
        FileSystemInfo[] entries;
        try { entries = new DirectoryInfo(dir).GetFileSystemInfos(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new CartanFormatException(dir, $"cannot list the folder: {e.Message}"); }
        foreach (var e in entries.OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            if (e.Name.StartsWith('.')) continue;
            var full = System.IO.Path.GetFullPath(e.FullName).TrimEnd(System.IO.Path.DirectorySeparatorChar);
            if (excluded.Contains(full)) { skipped.Add(new TrackSkip(e.Name, "output folder")); continue; }
            bool isDir = e is DirectoryInfo;
            if (!isDir && !WeightExtensions.Any(x => e.Name.EndsWith(x, StringComparison.OrdinalIgnoreCase)))
            {
                skipped.Add(new TrackSkip(e.Name, "not a weight file"));
                continue;
            }
            var stem = isDir ? e.Name : System.IO.Path.GetFileNameWithoutExtension(e.Name);
            var step = StepOf(stem);
            if (order == TrackOrder.Step && step is null) { skipped.Add(new TrackSkip(e.Name, "no step number in the name (use --order name or mtime)")); continue; }
            found.Add(new CheckpointEntry(e.Name, e.FullName, step, Modified(e)));
        }
        if (found.Count == 0)
            throw new CartanFormatException(dir, skipped.Count == 0 ? "holds no checkpoints (no weight files or model folders)"
                : $"holds no checkpoints: {skipped.Count} entries skipped ({string.Join("; ", skipped.Take(3).Select(s => $"{s.Name}: {s.Reason}"))})");
        switch (order)
        {
            case TrackOrder.Step:
                found = [.. found.OrderBy(c => c.Step).ThenBy(c => c.Name, StringComparer.Ordinal)];
                for (int i = 1; i < found.Count; i++)
                    if (found[i].Step == found[i - 1].Step)
                        throw new CartanFormatException(dir, $"two checkpoints have step {found[i].Step}: {found[i - 1].Name} and {found[i].Name}");
                break;
            case TrackOrder.Mtime:
                found = [.. found.OrderBy(c => c.Modified).ThenBy(c => c.Name, StringComparer.Ordinal)];
                break;
            default:
                found = [.. found.OrderBy(c => c.Name, StringComparer.Ordinal)];
                break;
        }
        return (found, skipped);
    }

    private static DateTime Modified(FileSystemInfo e)
    {
        if (e is not DirectoryInfo d) return e.LastWriteTimeUtc;
        try { return d.GetFiles().Select(f => f.LastWriteTimeUtc).DefaultIfEmpty(d.LastWriteTimeUtc).Max(); }
        catch (Exception x) when (x is IOException or UnauthorizedAccessException) { return d.LastWriteTimeUtc; }
    }

    /// <summary>Series keys of a layer: path into the layer record (after <c>Extra</c>) and the key written to JSON.</summary>
    private static readonly string[] LayerKeys =
    [
        "rank", "frobenius", "sigma_max", "stable_rank", "tau", "alpha.top", "alpha.mle", "alpha.hel", "alpha.ols", "ww.alpha",
    ];

    private static readonly string[] InterfaceKeys =
    [
        "imbalance.beta", "imbalance.beta_diag", "commutator", "certificate.radius", "certificate.delta", "certificate.epsilon",
        "transport.error", "transport.alignment", "k_from", "k_to",
    ];

    /// <summary>Gathers per-checkpoint analyses (in checkpoint order) into series.</summary>
    public static TrackResult Build(string source, TrackOrder order, IReadOnlyList<CheckpointEntry> entries, IReadOnlyList<AnalysisResult> analyses,
        IReadOnlyList<TrackSkip> skipped, double? seconds = null)
    {
        if (entries.Count != analyses.Count) throw new ArgumentException("one analysis per checkpoint");
        int T = entries.Count;
        var checkpoints = new List<TrackCheckpoint>();
        for (int t = 0; t < T; t++)
        {
            var a = analyses[t];
            int certs = a.Interfaces.Count(i => Get(i.Extra, "certificate") is not null);
            int pass = a.Interfaces.Count(i => Get(i.Extra, "certificate", "pass") is true);
            checkpoints.Add(new TrackCheckpoint(t, entries[t], a.Model.Format, a.Model.Architecture, a.Layers.Count, a.Interfaces.Count,
                a.Layers.Count(l => l.Status == "failed"), pass, certs, a.Seconds));
        }

        // Effective-rank quantiles: every q any checkpoint reports, in first-seen order.
        var quantiles = new List<string>();
        foreach (var a in analyses)
            foreach (var l in a.Layers)
                foreach (var kv in Pairs(Get(l.Extra, "effective_rank")))
                    if (!quantiles.Contains(kv.Key)) quantiles.Add(kv.Key);

        var layerOrder = new List<string>();
        var layerFirst = new Dictionary<string, LayerRecord>(StringComparer.Ordinal);
        foreach (var a in analyses)
            foreach (var l in a.Layers)
                if (layerFirst.TryAdd(l.Name, l)) layerOrder.Add(l.Name);
        var layers = new List<TrackLayer>();
        foreach (var name in layerOrder)
        {
            var first = layerFirst[name];
            var status = new string?[T];
            var keys = LayerKeys.Concat(quantiles.Select(q => "effective_rank." + q)).ToList();
            var series = keys.ToDictionary(k => k, _ => new double?[T]);
            for (int t = 0; t < T; t++)
            {
                var l = analyses[t].Layers.FirstOrDefault(x => x.Name == name);
                if (l is null) continue;
                status[t] = l.Status;
                foreach (var k in keys)
                    series[k][t] = k switch
                    {
                        "rank" => l.Rank,
                        "frobenius" => l.Frobenius,
                        "sigma_max" => l.Sigma is { Length: > 0 } s ? s[0] : null,
                        "stable_rank" => l.StableRank,
                        _ => Finite(Dbl(l.Extra, SplitFirst(k))),
                    };
            }
            layers.Add(new TrackLayer(name, first.Role, first.Block, first.Matrix, status, [.. keys.Select(k => new KeyValuePair<string, double?[]>(k, series[k]))]));
        }

        var ifaceOrder = new List<(string, string)>();
        var ifaceFirst = new Dictionary<(string, string), InterfaceRecord>();
        foreach (var a in analyses)
            foreach (var f in a.Interfaces)
                if (ifaceFirst.TryAdd((f.From, f.To), f)) ifaceOrder.Add((f.From, f.To));
        string axis = entries.All(e => e.Step is not null) ? "step" : "index";
        var xs = Enumerable.Range(0, T).Select(t => axis == "step" ? (double)entries[t].Step!.Value : t).ToArray();
        var interfaces = new List<TrackInterface>();
        foreach (var key in ifaceOrder)
        {
            var first = ifaceFirst[key];
            var status = new string?[T];
            var pass = new bool?[T];
            var series = InterfaceKeys.ToDictionary(k => k, _ => new double?[T]);
            for (int t = 0; t < T; t++)
            {
                var f = analyses[t].Interfaces.FirstOrDefault(x => x.From == key.Item1 && x.To == key.Item2);
                if (f is null) continue;
                status[t] = f.Status;
                pass[t] = Get(f.Extra, "certificate", "pass") as bool?;
                foreach (var k in InterfaceKeys) series[k][t] = Finite(Dbl(f.Extra, SplitFirst(k)));
            }
            var beta = series["imbalance.beta"];
            interfaces.Add(new TrackInterface(first.From, first.To, first.Dim, first.Kind, status, pass,
                [.. InterfaceKeys.Select(k => new KeyValuePair<string, double?[]>(k, series[k]))],
                LogSlope(xs, beta), Ratio(beta), LogSlope(xs, series["imbalance.beta_diag"])));
        }

        return new TrackResult
        {
            Tool = analyses.Count > 0 ? analyses[0].Tool : new ToolInfo("cartan", Analyzer.Version, Linalg.Lapack.BackendName),
            Source = source, Order = order, Axis = axis,
            Settings = analyses.Count > 0 ? analyses[0].Settings : [],
            Checkpoints = checkpoints, Layers = layers, Interfaces = interfaces, Skipped = [.. skipped], Seconds = seconds,
        };
    }

    private static string[] SplitFirst(string key)
    {
        int dot = key.IndexOf('.');
        return dot < 0 ? [key] : [key[..dot], key[(dot + 1)..]];
    }

    private static double? Finite(double? v) => v is double d && double.IsFinite(d) ? d : null;

    /// <summary>
    /// Ordinary least-squares slope of ln y against x over the points where y &gt; 0 is known (at least two distinct x);
    /// null otherwise. A negative slope means y falls; −slope is the exponential decay rate per unit of x.
    /// </summary>
    public static double? LogSlope(IReadOnlyList<double> x, IReadOnlyList<double?> y)
    {
        var pts = Enumerable.Range(0, Math.Min(x.Count, y.Count)).Where(i => y[i] is double v && v > 0 && double.IsFinite(v))
            .Select(i => (X: x[i], Y: Math.Log(y[i]!.Value))).ToList();
        if (pts.Count < 2) return null;
        double mx = pts.Average(p => p.X), my = pts.Average(p => p.Y), sxx = 0, sxy = 0;
        foreach (var (px, py) in pts) { sxx += (px - mx) * (px - mx); sxy += (px - mx) * (py - my); }
        return sxx > 0 ? sxy / sxx : null;
    }

    /// <summary>Last known value over first known value (null when fewer than two, or the first is 0).</summary>
    public static double? Ratio(IReadOnlyList<double?> y)
    {
        var known = y.Where(v => v is double d && double.IsFinite(d)).Select(v => v!.Value).ToList();
        return known.Count >= 2 && known[0] != 0 ? known[^1] / known[0] : null;
    }
}

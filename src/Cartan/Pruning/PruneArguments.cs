using System.Globalization;
using Cartan.Engine;

namespace Cartan.Pruning;

/// <summary>A parsed <c>cartan prune</c> command line.</summary>
public sealed record PruneRequest
{
    /// <summary>The input model (file or HF folder).</summary>
    public required string ModelPath { get; init; }
    /// <summary>The output folder.</summary>
    public required string OutDir { get; init; }
    public required PruneSettings Settings { get; init; }
    /// <summary>--calib-stats: per-layer statistics from an .npz (no network run).</summary>
    public string? CalibStatsFile { get; init; }
    /// <summary>--calib: a text file whose tokens calibrate a network run (TorchSharp plugin).</summary>
    public string? CalibText { get; init; }
    /// <summary>--calib-samples: calibration sequences drawn from the text (default 128, as Wanda and SparseGPT).</summary>
    public int CalibSamples { get; init; } = PruneArguments.DefaultCalibSamples;
    /// <summary>--seqlen: tokens per calibration sequence; null = the model's context length (capped by the text).</summary>
    public int? SeqLen { get; init; }
    /// <summary>--seed: seed of the calibration sample draw (default 0).</summary>
    public int Seed { get; init; }
    /// <summary>--dense-inputs: each block's calibration inputs are the dense model's (default: the already-pruned model's, as Wanda).</summary>
    public bool DenseInputs { get; init; }
    /// <summary>--sequential: inside each block, layer groups are pruned in forward order, each seeing inputs computed with the
    /// block's earlier groups already pruned (SparseGPT's true-sequential); default: every layer sees the block's dense inputs (Wanda).
    /// Combines with --dense-inputs, which concerns the next block's inputs.</summary>
    public bool Sequential { get; init; }
}

/// <summary>
/// The one parser of <c>cartan prune</c>'s options, shared by the CLI (weights-only and <c>--calib-stats</c> runs) and
/// the TorchSharp plugin (<c>--calib TEXT</c> runs), so both accept and reject exactly the same command lines.
/// Throws <see cref="UsageException"/> for a bad command line.
/// </summary>
public static class PruneArguments
{
    public const int DefaultCalibSamples = 128;

    /// <summary>Option name → number of values.</summary>
    public static IReadOnlyDictionary<string, int> Arity { get; } = new Dictionary<string, int>
    {
        ["--method"] = 1, ["--sparsity"] = 1, ["--pattern"] = 1, ["--ec"] = 1, ["--ec-lo"] = 1, ["--ec-hi"] = 1, ["--ec-uncentred"] = 0,
        ["--ec-act-weighted"] = 0, ["--profile"] = 1, ["--profile-lambda"] = 1, ["--owl-m"] = 1, ["--spectral-metric"] = 1,
        ["--alpha"] = 1, ["--epsilon"] = 1, ["--per-layer"] = 0, ["--blocksize"] = 1, ["--damp"] = 1, ["--calib-stats"] = 1,
        ["--calib"] = 1, ["--calib-samples"] = 1, ["--seqlen"] = 1, ["--seed"] = 1, ["--dense-inputs"] = 0, ["--sequential"] = 0, ["--out"] = 1, ["--help"] = 0,
    };

    /// <summary>True when <paramref name="argv"/> asks for help (then nothing else is validated).</summary>
    public static bool WantsHelp(IReadOnlyList<string> argv) => Args.Parse(argv, Arity).Has("--help");

    /// <summary>True when the command line calibrates from text (<c>--calib</c>), which needs the TorchSharp plugin.</summary>
    public static bool RunsNetwork(IReadOnlyList<string> argv) => Args.Parse(argv, Arity).Has("--calib");

    /// <summary>Parses and validates a prune command line (argv after the command name).</summary>
    public static PruneRequest Parse(IReadOnlyList<string> argv)
    {
        var a = Args.Parse(argv, Arity);
        if (a.Positionals.Count != 1) throw new UsageException("prune needs one MODEL (a safetensors Hugging Face folder)");
        string outDir = a.Get("--out") ?? throw new UsageException("prune needs --out DIR");
        PruneSettings settings;
        try
        {
            var method = PruneSettings.ParseMethod(a.Get("--method") ?? throw new UsageException("prune needs --method magnitude|wanda|sparsegpt|cvr"));
            if (a.Has("--sparsity") == a.Has("--pattern")) throw new UsageException("prune needs exactly one of --sparsity S and --pattern N:M");
            var pattern = a.Get("--pattern") is string p ? SparsityPattern.ParseNM(p) : SparsityPattern.Unstructured(Num(a, "--sparsity", double.NaN));
            var profileKind = a.Get("--profile") switch
            {
                null or "uniform" => ProfileKind.Uniform,
                "owl" => ProfileKind.Owl,
                "spectral" => ProfileKind.Spectral,
                var v => throw new UsageException($"--profile takes uniform, owl or spectral, got '{v}'"),
            };
            settings = new PruneSettings
            {
                Method = method, Pattern = pattern, PerLayer = a.Has("--per-layer"),
                Cvr = new CvrOptions { Alpha = Num(a, "--alpha", 1.0), Epsilon = Num(a, "--epsilon", 1e-8) },
                Ec = new EcOptions
                {
                    Mode = EcOptions.ParseMode(a.Get("--ec") ?? "none"), RLo = Num(a, "--ec-lo", 1), RHi = Num(a, "--ec-hi", 2),
                    Uncentred = a.Has("--ec-uncentred"), ActivationWeightedRows = a.Has("--ec-act-weighted"),
                },
                SparseGpt = new SparseGptOptions { BlockSize = a.GetInt("--blocksize", 1) ?? 128, PercDamp = Num(a, "--damp", 0.01) },
                Profile = new PruneProfileOptions
                {
                    Kind = profileKind, Lambda = Num(a, "--profile-lambda", 0.08), OwlM = Num(a, "--owl-m", 5),
                    Metric = SparsityProfiles.ParseMetric(a.Get("--spectral-metric") ?? "ww"),
                },
            };
            if (settings.Cvr.Alpha < 0 || settings.Cvr.Epsilon < 0) throw new UsageException("--alpha and --epsilon must be ≥ 0");
            if (!(settings.Ec.RLo > 0 && settings.Ec.RHi >= settings.Ec.RLo)) throw new UsageException("EC clamp needs 0 < --ec-lo ≤ --ec-hi");
            if (settings.Profile.Lambda < 0 || settings.Profile.OwlM <= 0) throw new UsageException("--profile-lambda must be ≥ 0 and --owl-m > 0");
            if (settings.SparseGpt.PercDamp < 0) throw new UsageException("--damp must be ≥ 0");
            if (settings.PerLayer && method != PruneMethod.Magnitude) throw new UsageException("--per-layer applies to --method magnitude only");
            if (pattern.IsNM && profileKind != ProfileKind.Uniform) throw new UsageException("--profile owl|spectral applies to --sparsity only, not to N:M");
            if (pattern.IsNM && method == PruneMethod.SparseGpt && settings.SparseGpt.BlockSize % pattern.M != 0)
                throw new UsageException($"--blocksize {settings.SparseGpt.BlockSize} is not a multiple of M = {pattern.M}");
        }
        catch (ArgumentException e) { throw new UsageException(e.Message); }

        string? calib = a.Get("--calib"), calibStats = a.Get("--calib-stats");
        if (calib is not null && calibStats is not null) throw new UsageException("give --calib TEXT or --calib-stats FILE.npz, not both");
        if (calib is null)
            foreach (var o in new[] { "--calib-samples", "--seqlen", "--seed", "--dense-inputs", "--sequential" })
                if (a.Has(o)) throw new UsageException($"{o} applies to --calib TEXT runs only");
        if (calib is null && calibStats is null && settings.NeedsCalibration)
            throw new UsageException($"{PruneSettings.MethodName(settings.Method)}{(settings.Profile.Kind == ProfileKind.Owl ? " with the OWL profile" : "")} needs calibration: pass --calib TEXT (runs the model with the TorchSharp plugin) or --calib-stats FILE.npz");
        int samples = a.GetInt("--calib-samples", 1) ?? DefaultCalibSamples;
        int? seqLen = a.GetInt("--seqlen", 2);
        int seed = a.GetInt("--seed", 0) ?? 0;
        return new PruneRequest
        {
            ModelPath = a.Positionals[0], OutDir = outDir, Settings = settings, CalibStatsFile = calibStats, CalibText = calib,
            CalibSamples = samples, SeqLen = seqLen, Seed = seed, DenseInputs = a.Has("--dense-inputs"),
            Sequential = a.Has("--sequential"),
        };
    }

    private static double Num(Args a, string name, double def)
    {
        var v = a.Get(name);
        if (v is null) return def;
        if (!double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) || !double.IsFinite(d))
            throw new UsageException($"{name} takes a number, got '{v}'");
        return d;
    }

    /// <summary>The input folder of a model path, after checking that the request's output folder may be written (not the input,
    /// not inside it). Throws <see cref="UsageException"/> for a bad output and <see cref="Formats.CartanFormatException"/> for a missing input.</summary>
    public static string CheckPaths(PruneRequest r)
    {
        if (!Directory.Exists(r.ModelPath) && !File.Exists(r.ModelPath)) throw new Formats.CartanFormatException(r.ModelPath, "no such file or folder");
        string inputDir = Directory.Exists(r.ModelPath) ? Path.GetFullPath(r.ModelPath) : Path.GetDirectoryName(Path.GetFullPath(r.ModelPath))!;
        try { PrunedModelWriter.CheckOutput(inputDir, Path.GetFullPath(r.OutDir).TrimEnd(Path.DirectorySeparatorChar)); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        return inputDir;
    }

    /// <summary>The one-line summary both front ends print after a run; <paramref name="note"/> (e.g. "sequential within
    /// blocks") follows the EC mode when given.</summary>
    public static string Summary(ModelPruneResult run, PruneSettings settings, string outDir, string? note = null)
    {
        long total = run.Targets.Sum(t => (long)t.Rows * t.Cols);
        double kept = run.Layers.Select((l, k) => l.KeptFraction * run.Targets[k].Rows * run.Targets[k].Cols).Sum() / total;
        return $"cartan: pruned {run.Targets.Count} matrices ({total} weights) with {PruneSettings.MethodName(settings.Method)} " +
            $"{settings.Pattern}, EC {EcOptions.ModeName(settings.Ec.Mode)}{(note is null ? "" : ", " + note)}: sparsity {(1 - kept).ToString("F4", CultureInfo.InvariantCulture)}; wrote {outDir}";
    }
}

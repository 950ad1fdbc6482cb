using System.Diagnostics;
using Cartan.Engine;
using Cartan.Formats;
using Cartan.Graph;
using Cartan.Pruning;
using Cartan.Torch.Pruning;

namespace Cartan.Torch.Cli;

/// <summary>
/// <c>cartan prune MODEL … --calib FILE</c>: prunes with statistics from block-sequential calibration of the network
/// (<see cref="CalibratedPruner"/>). The options are parsed by <see cref="PruneArguments"/>, the same parser the CLI
/// uses for weights-only and <c>--calib-stats</c> runs. FILE is a text file (tokenised with the model's tokenizer) or
/// an .npy of token ids.
/// </summary>
public static class PruneCommand
{
    /// <summary>Model types calibration can run block by block.</summary>
    public static readonly IReadOnlyList<string> Decoders = ["llama", "mistral", "qwen2", "gpt2"];

    public static int Run(string[] argv, TextWriter stdout, TextWriter stderr)
    {
        var req = PruneArguments.Parse(argv);
        if (req.CalibText is null) throw new UsageException("the plugin's prune runs --calib FILE; without it use cartan prune directly");
        PruneArguments.CheckPaths(req);
        if (!File.Exists(req.CalibText)) throw new CartanFormatException(req.CalibText, "no such calibration file");

        var sw = Stopwatch.StartNew();
        using var weights = WeightSource.Open(req.ModelPath);
        if (weights.Format != "safetensors") throw new UsageException($"prune writes safetensors Hugging Face folders; {req.ModelPath} is {weights.Format}");
        if (weights.Config is not { } json) throw new UsageException($"{req.ModelPath} has no config.json: calibration cannot tell which network to build");
        var config = new HfConfig(json, Path.Combine(req.ModelPath, "config.json"));
        string type = config.String("model_type") ?? "(none)";
        if (!Decoders.Contains(type))
            throw new UsageException($"calibration runs LLaMA- and GPT-2-style decoders block by block; {req.ModelPath} is model_type '{type}'");
        using var network = HfModels.Build(config);
        network.LoadWeights(weights);
        int vocab = config.Int("vocab_size");
        int context = network switch { LlamaModel l => l.MaxPositions, Gpt2Model g => g.Positions, _ => 2048 };

        var tokens = ReadTokens(req.CalibText, req.ModelPath, vocab);
        int seqLen = req.SeqLen ?? Math.Min(context, 2048);
        if (seqLen > context) throw new UsageException($"--seqlen {seqLen} exceeds the model's context of {context} tokens");
        if (tokens.Length < seqLen)
            throw new UsageException($"{req.CalibText} has {tokens.Length} tokens, fewer than one calibration sequence of {seqLen} (pass a smaller --seqlen)");
        var samples = CalibrationSampler.Draw(tokens, req.CalibSamples, seqLen, req.Seed);

        var graph = ModelGraph.Build(weights, new GraphOptions { InferPairs = false });
        CalibratedPruneResult result;
        try { result = CalibratedPruner.Run(network, weights, graph, req.Settings, samples, new CalibrationOptions { DenseInputs = req.DenseInputs, SequentialWithinBlock = req.Sequential }); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        string calib = $"{req.CalibSamples} × {seqLen} tokens from {Path.GetFileName(req.CalibText)} (seed {req.Seed}), block-sequential with " +
                       (req.DenseInputs ? "dense inputs" : "pruned inputs") + (req.Sequential ? ", sequential within blocks" : "") + $", forward {result.CalibrationSeconds:F2} s";
        string report = PruneReport.ToJson(result.Run, req.Settings, weights.Source, sw.Elapsed.TotalSeconds, calib, sequentialWithinBlock: req.Sequential);
        try { PrunedModelWriter.Write(weights, result.Replaced, req.OutDir, new Dictionary<string, string> { ["prune.json"] = report }); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        stdout.WriteLine(PruneArguments.Summary(result.Run, req.Settings, req.OutDir, req.Sequential ? "sequential within blocks" : null));
        return TorchCommands.Ok;
    }

    /// <summary>Token ids of the calibration file: an .npy/.npz of whole numbers in [0, vocab), or text through the model's tokenizer.</summary>
    public static int[] ReadTokens(string path, string modelDir, int vocab)
    {
        string ext = Path.GetExtension(path).ToLowerInvariant();
        if (ext is ".npy" or ".npz")
        {
            using var m = WeightSource.Open(path);
            var t = m.Tensors.FirstOrDefault(x => x.HasNumericData) ?? throw new CartanFormatException(path, "holds no numeric array of token ids");
            var d = t.ReadDoubles();
            var ids = new int[d.Length];
            for (int i = 0; i < d.Length; i++)
            {
                if (!(d[i] >= 0 && d[i] < vocab && d[i] == Math.Floor(d[i])))
                    throw new CartanFormatException(path, $"token {i} is {d[i]}: token ids must be whole numbers in [0, {vocab})");
                ids[i] = (int)d[i];
            }
            return ids;
        }
        return TextTokens(path, modelDir, vocab);
    }

    /// <summary>Text (UTF-8, or gzip when the name ends in .gz) through the tokenizer in the model folder
    /// (<see cref="Lm.LmTokenizer"/>: vocab.json + merges.txt); ids outside the model's vocabulary are refused.</summary>
    private static int[] TextTokens(string path, string modelDir, int vocab)
    {
        string folder = Directory.Exists(modelDir) ? modelDir : Path.GetDirectoryName(Path.GetFullPath(modelDir))!;
        if (!File.Exists(Path.Combine(folder, Lm.LmTokenizer.VocabFile)))
            throw new UsageException($"{modelDir} has no {Lm.LmTokenizer.VocabFile}/{Lm.LmTokenizer.MergesFile} tokenizer for the text {path}; pass token ids as .npy");
        var ids = Lm.LmTokenizer.Load(folder).Encode(Lm.LmCorpus.ReadText(path));
        foreach (var id in ids)
            if (id < 0 || id >= vocab) throw new CartanFormatException(path, $"the tokenizer gave id {id}, outside the model's vocabulary of {vocab}");
        return ids;
    }
}

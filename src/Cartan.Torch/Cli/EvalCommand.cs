using System.Globalization;
using Cartan.Formats;
using Cartan.Torch.Lm;

namespace Cartan.Torch.Cli;

/// <summary><c>cartan eval MODEL --ppl FILE [--window N] [--max-tokens N]</c>: perplexity of an HF causal-LM folder
/// (config.json + safetensors + vocab.json/merges.txt) over a text file (.txt or .txt.gz), non-overlapping windows.</summary>
internal static class EvalCommand
{
    private static readonly HashSet<string> Known = ["--ppl", "--window", "--max-tokens", "--batch", "--threads"];

    public const string Usage =
        "usage: cartan eval MODEL --ppl FILE [--window N] [--max-tokens N] [--batch 8] [--threads N]\n" +
        "  MODEL: an HF folder with config.json, model.safetensors, vocab.json and merges.txt; FILE: .txt or .txt.gz.\n" +
        "  Prints the perplexity over non-overlapping windows (default: the model's context) and the token count;\n" +
        "  progress goes to stderr.";

    public static int Run(string[] argv, TextWriter stdout, TextWriter stderr)
    {
        if (argv is ["--help"] or ["-h"]) { stdout.WriteLine(Usage); return TorchCommands.Ok; }
        var a = new CliArgs("eval", argv, Known);
        if (a.Positional.Count != 1) throw new TorchUsageException("eval needs exactly one MODEL folder: cartan eval MODEL --ppl FILE [--window N] [--max-tokens N]");
        string file = a.String("--ppl") ?? throw new TorchUsageException("eval needs --ppl FILE (a .txt or .txt.gz)");
        int window = a.Int("--window", 0, 2);
        long maxTokens = a.Long("--max-tokens", long.MaxValue, 2);
        int batch = a.Int("--batch", 8, 1, 1024);
        int threads = a.Int("--threads", 0, 0, 1024);
        if (threads > 0) TorchSharp.torch.set_num_threads(threads);
        string modelDir = a.Positional[0];
        if (!Directory.Exists(modelDir)) throw new CartanFormatException(modelDir, "the model folder does not exist");

        var tok = LmTokenizer.Load(modelDir);
        using var model = HfModels.Load(modelDir);
        int context = model.Config.Int("max_position_embeddings");
        if (window == 0) window = context;
        if (window > context) throw new TorchUsageException($"eval: --window {window} exceeds the model's context {context}");
        var ids = tok.Encode(LmCorpus.ReadText(file));
        if (ids.Length > maxTokens) ids = ids[..(int)maxTokens];
        if (ids.Length < 2) throw new CartanFormatException(file, "the text has fewer than 2 tokens");
        if (ids.Max() >= model.Config.Int("vocab_size")) throw new CartanFormatException(modelDir, "the tokeniser yields ids beyond the model's vocab_size");

        var bar = new TextBar(stderr, "eval");
        var (ppl, n) = Perplexity.Evaluate(model, ids, window, bar, batch);
        bar.Finish();
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"perplexity: {ppl:F4}"));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"tokens: {n} predicted ({ids.Length} in the text, windows of {window})"));
        return TorchCommands.Ok;
    }
}

/// <summary>A text progress bar on stderr: redrawn in place on a terminal, one line per 10% otherwise.</summary>
internal sealed class TextBar(TextWriter err, string label) : IProgress<(long Done, long Total)>
{
    private readonly bool _tty = ReferenceEquals(err, Console.Error) && !Console.IsErrorRedirected;
    private int _lastDecile = -1;
    private bool _drawn;

    public void Report((long Done, long Total) p)
    {
        if (p.Total <= 0) return;
        if (_tty)
        {
            const int width = 30;
            int filled = (int)(p.Done * width / p.Total);
            err.Write($"\r{label} [{new string('#', filled)}{new string('.', width - filled)}] {p.Done}/{p.Total} windows");
            _drawn = true;
        }
        else
        {
            int decile = (int)(p.Done * 10 / p.Total);
            if (decile != _lastDecile)
            {
                _lastDecile = decile;
                err.WriteLine($"{label}: {p.Done}/{p.Total} windows ({decile * 10}%)");
            }
        }
    }

    public void Finish()
    {
        if (_drawn) { err.Write("\r" + new string(' ', 70) + "\r"); _drawn = false; }
    }
}

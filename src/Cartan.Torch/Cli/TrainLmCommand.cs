using System.Diagnostics;
using System.Globalization;
using Cartan.Formats;
using Cartan.Torch.Lm;

namespace Cartan.Torch.Cli;

/// <summary>
/// <c>cartan train-lm --corpus DIR --out DIR [--seed 0] [--steps N] [--batch B] [--seqlen T] [--lr X] …</c>:
/// trains the byte-level BPE tokeniser on DIR/train.txt(.gz), then the LLaMA-style tiny LM, and writes an HF folder
/// (config.json, model.safetensors, vocab.json, merges.txt) and train.log (command, settings, per-step loss and
/// tokens/s, wall time, calib/test perplexity of the stored weights and the unigram baseline).
/// </summary>
internal static class TrainLmCommand
{
    private static readonly HashSet<string> Known =
    [
        "--corpus", "--out", "--seed", "--steps", "--batch", "--seqlen", "--lr", "--warmup", "--min-lr-fraction",
        "--weight-decay", "--clip", "--vocab", "--layers", "--hidden", "--heads", "--kv-heads", "--intermediate",
        "--prefix-tokens", "--threads",
    ];

    /// <summary>Tokens of the test split in the fixed-prefix perplexity line of train.log.</summary>
    public const int DefaultPrefixTokens = 20000;

    public const string Usage =
        "usage: cartan train-lm --corpus DIR --out DIR [--seed 0] [--steps 3000] [--batch 16] [--seqlen 256] [--lr 1e-3]\n" +
        "         [--warmup 100] [--min-lr-fraction 0.1] [--weight-decay 0.1] [--clip 1] [--vocab 4096] [--layers 4]\n" +
        "         [--hidden 256] [--heads 8] [--kv-heads 2] [--intermediate 768] [--threads N] [--prefix-tokens 20000]\n" +
        "  DIR holds train, calib and test as .txt or .txt.gz; writes config.json, model.safetensors, vocab.json,\n" +
        "  merges.txt and train.log into --out. The committed models/tiny-brown-lm used the command in its train.log.";

    public static int Run(string[] argv, TextWriter stdout, TextWriter stderr)
    {
        if (argv is ["--help"] or ["-h"]) { stdout.WriteLine(Usage); return TorchCommands.Ok; }
        var a = new CliArgs("train-lm", argv, Known);
        if (a.Positional.Count > 0) throw new TorchUsageException($"train-lm: unexpected argument '{a.Positional[0]}'");
        string corpus = a.String("--corpus") ?? throw new TorchUsageException("train-lm needs --corpus DIR (with train, calib, test .txt or .txt.gz)");
        string outDir = a.String("--out") ?? throw new TorchUsageException("train-lm needs --out DIR");
        int vocab = a.Int("--vocab", 4096, 257, 1 << 16);
        int hidden = a.Int("--hidden", 256, 2, 1 << 14);
        int heads = a.Int("--heads", 8, 1, 1024);
        int kvHeads = a.Int("--kv-heads", 2, 1, 1024);
        int layers = a.Int("--layers", 4, 1, 256);
        int inter = a.Int("--intermediate", 768, 1, 1 << 16);
        int seqLen = a.Int("--seqlen", 256, 2, 1 << 16);
        int prefix = a.Int("--prefix-tokens", DefaultPrefixTokens, 2);
        int threads = a.Int("--threads", 0, 0, 1024);
        var o = new LmTrainOptions
        {
            Seed = a.Long("--seed", 0, 0),
            Steps = a.Int("--steps", 3000),
            Batch = a.Int("--batch", 16, 1, 4096),
            SeqLen = seqLen,
            Lr = a.Double("--lr", 1e-3, 1e-7, 1),
            Warmup = a.Int("--warmup", 100, 0),
            MinLrFraction = a.Double("--min-lr-fraction", 0.1, 0, 1),
            WeightDecay = a.Double("--weight-decay", 0.1, 0, 10),
            Clip = a.Double("--clip", 1.0, 1e-6, 1e6),
        };
        if (hidden % heads != 0 || heads % kvHeads != 0 || (hidden / heads) % 2 != 0)
            throw new TorchUsageException("train-lm: --hidden must be a multiple of --heads, --heads of --kv-heads, and the head size even");
        if (!Directory.Exists(corpus)) throw new CartanFormatException(corpus, "the corpus folder does not exist");
        string trainPath = LmCorpus.SplitPath(corpus, "train"), calibPath = LmCorpus.SplitPath(corpus, "calib"), testPath = LmCorpus.SplitPath(corpus, "test");

        if (threads > 0) TorchSharp.torch.set_num_threads(threads);
        Directory.CreateDirectory(outDir);
        var total = Stopwatch.StartNew();
        using var log = new StreamWriter(Path.Combine(outDir, "train.log"), append: false) { AutoFlush = true, NewLine = "\n" };
        void Log(string s) { log.WriteLine(s); }
        var inv = CultureInfo.InvariantCulture;
        Log("command: cartan train-lm " + string.Join(' ', argv));
        Log($"started: {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC; machine: {Environment.MachineName}, {Environment.ProcessorCount} logical CPUs (shared with other jobs), libtorch {TorchSharp.torch.__version__}, {TorchSharp.torch.get_num_threads()} intra-op threads");
        Log(string.Create(inv, $"settings: seed {o.Seed}, steps {o.Steps}, batch {o.Batch}, seqlen {o.SeqLen}, lr {o.Lr}, warmup {o.Warmup}, min-lr-fraction {o.MinLrFraction}, weight-decay {o.WeightDecay}, clip {o.Clip}, AdamW betas ({o.Beta1}, {o.Beta2})"));
        Log($"corpus: train {trainPath}, calib {calibPath}, test {testPath}");

        var sw = Stopwatch.StartNew();
        string trainText = LmCorpus.ReadText(trainPath);
        var bpe = BpeTrainer.Train([trainText], vocab);
        BpeTrainer.Save(bpe, outDir);
        var tok = LmTokenizer.Load(outDir);
        Log(string.Create(inv, $"tokeniser: byte-level BPE, {tok.VocabSize} entries ({bpe.Merges.Count} merges) trained on the train split in {sw.Elapsed.TotalSeconds:F1} s"));
        sw.Restart();
        var train = tok.Encode(trainText);
        var calib = tok.Encode(LmCorpus.ReadText(calibPath));
        var test = tok.Encode(LmCorpus.ReadText(testPath));
        Log(string.Create(inv, $"tokens: train {train.Length}, calib {calib.Length}, test {test.Length} (encoded in {sw.Elapsed.TotalSeconds:F1} s)"));

        var config = LmTrainer.LlamaConfig(tok.VocabSize, layers, hidden, heads, kvHeads, inter, seqLen);
        Log("config: " + config.Json.GetRawText());
        sw.Restart();
        double tokPerSecSum = 0;
        using (var model = LmTrainer.Train(config, train, o, (step, loss, lr, tps) =>
        {
            tokPerSecSum += tps;
            Log(string.Create(inv, $"step {step + 1} loss {loss:F4} lr {lr:E3} tok/s {tps:F0} elapsed {sw.Elapsed.TotalSeconds:F1}s"));
        }))
        {
            double trainSeconds = sw.Elapsed.TotalSeconds;
            Log(string.Create(inv, $"training: {o.Steps} steps, {(long)o.Steps * o.Batch * o.SeqLen} tokens seen ({(double)o.Steps * o.Batch * o.SeqLen / train.Length:F2} epochs) in {trainSeconds:F1} s wall, mean {tokPerSecSum / o.Steps:F0} tok/s"));
            HfModels.Save(model, outDir);
        }

        // Every number below comes from the stored files, read back as `cartan eval` reads them.
        using var stored = HfModels.Load(outDir);
        sw.Restart();
        var (calibPpl, calibN) = Perplexity.Evaluate(stored, calib, seqLen);
        var (testPpl, testN) = Perplexity.Evaluate(stored, test, seqLen);
        var (prefixPpl, prefixN) = Perplexity.Evaluate(stored, test[..Math.Min(prefix, test.Length)], seqLen);
        var (uniPpl, uniN) = Perplexity.Unigram(train, tok.VocabSize, test, seqLen);
        Log(string.Create(inv, $"eval (stored weights, windows of {seqLen}, {sw.Elapsed.TotalSeconds:F1} s):"));
        Log(string.Create(inv, $"calib perplexity: {calibPpl:F4} over {calibN} tokens"));
        Log(string.Create(inv, $"test perplexity: {testPpl:F4} over {testN} tokens"));
        Log(string.Create(inv, $"test perplexity, first {prefix} tokens (--max-tokens {prefix}): {prefixPpl:F4} over {prefixN} tokens"));
        Log(string.Create(inv, $"test unigram baseline perplexity (add-one train frequencies, same tokeniser and positions): {uniPpl:F4} over {uniN} tokens"));
        Log(string.Create(inv, $"wall time: {total.Elapsed.TotalSeconds:F1} s"));
        stdout.WriteLine(string.Create(inv, $"wrote {outDir}: test perplexity {testPpl:F4} (unigram {uniPpl:F4}), calib {calibPpl:F4}, {total.Elapsed.TotalSeconds:F0} s"));
        return TorchCommands.Ok;
    }
}

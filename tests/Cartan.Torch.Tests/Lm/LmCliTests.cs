using System.Globalization;
using System.Text.RegularExpressions;
using Cartan.Torch.Lm;

namespace Cartan.Torch.Tests.Lm;

public class LmCliTests
{
    private static (int Code, string Out, string Err) Cli(params string[] argv)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Cartan.Cli.Cli.Run(argv, o, e);
        return (code, o.ToString(), e.ToString());
    }

    private static double Number(string text, string pattern) =>
        double.Parse(Regex.Match(text, pattern, RegexOptions.Multiline) is { Success: true } m ? m.Groups[1].Value
            : throw new Xunit.Sdk.XunitException($"no match for {pattern} in:\n{text}"), CultureInfo.InvariantCulture);

    [Fact]
    public void EvalReproducesThePerplexityInTheCommittedTrainingLog()
    {
        string log = File.ReadAllText(Path.Combine(LmPaths.Model, "train.log"));
        int prefix = TrainLmPrefix(log);
        double want = Number(log, @"^test perplexity, first \d+ tokens.*?: ([0-9.]+) over");
        string test = LmCorpus.SplitPath(LmPaths.Data, "test");
        var (code, stdout, stderr) = Cli("eval", LmPaths.Model, "--ppl", test, "--max-tokens", prefix.ToString(CultureInfo.InvariantCulture));
        Assert.True(code == 0, stderr);
        double got = Number(stdout, @"^perplexity: ([0-9.]+)$");
        Assert.Equal(want, got, want * 1e-4); // the log prints 4 decimals; thread counts may differ in the last bits
        Assert.Equal(Number(log, @"^test perplexity, first \d+ tokens.*? over (\d+) tokens"), Number(stdout, @"^tokens: (\d+) predicted"));
        Assert.Contains("windows", stderr); // progress on stderr
        // And the model beats the unigram baseline by far.
        Assert.True(got < 0.5 * Number(log, @"^test unigram baseline perplexity.*?: ([0-9.]+) over"));
    }

    private static int TrainLmPrefix(string log) => (int)Number(log, @"^test perplexity, first (\d+) tokens");

    [Fact]
    public void TrainLmTwiceWithOneSeedWritesIdenticalFolders()
    {
        // A tiny corpus cut from the committed test split, tiny model, three steps.
        string text = LmCorpus.ReadText(LmCorpus.SplitPath(LmPaths.Data, "test"));
        string corpus = LmPaths.TempDir("corpus");
        File.WriteAllText(Path.Combine(corpus, "train.txt"), text[..30000]);
        File.WriteAllText(Path.Combine(corpus, "calib.txt"), text[30000..32000]);
        File.WriteAllText(Path.Combine(corpus, "test.txt"), text[32000..34000]);
        string[] Args(string outDir) => ["train-lm", "--corpus", corpus, "--out", outDir, "--seed", "3", "--steps", "3", "--batch", "2",
            "--seqlen", "32", "--vocab", "300", "--layers", "1", "--hidden", "32", "--heads", "4", "--kv-heads", "2",
            "--intermediate", "48", "--warmup", "1", "--prefix-tokens", "100"];
        string a = LmPaths.TempDir("runA"), b = LmPaths.TempDir("runB");
        var ra = Cli(Args(a));
        Assert.True(ra.Code == 0, ra.Err);
        var rb = Cli(Args(b));
        Assert.True(rb.Code == 0, rb.Err);
        foreach (var f in new[] { "config.json", "model.safetensors", "vocab.json", "merges.txt" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(a, f)), File.ReadAllBytes(Path.Combine(b, f)));
        string log = File.ReadAllText(Path.Combine(a, "train.log"));
        Assert.Contains("seed 3", log);
        Assert.Equal(3, Regex.Matches(log, @"^step \d+ loss [0-9.]+ lr \S+ tok/s \d+", RegexOptions.Multiline).Count);
        Assert.Matches(@"test unigram baseline perplexity", log);
        // cartan eval on what train-lm wrote gives the perplexity train-lm logged.
        var ev = Cli("eval", a, "--ppl", Path.Combine(corpus, "test.txt"));
        Assert.True(ev.Code == 0, ev.Err);
        Assert.Equal(Number(log, @"^test perplexity: ([0-9.]+) over"), Number(ev.Out, @"^perplexity: ([0-9.]+)$"), 1e-3);
    }

    [Theory]
    [InlineData("eval")]
    [InlineData("eval", "MODEL")]
    [InlineData("eval", "MODEL", "--ppl")]
    [InlineData("eval", "MODEL", "--ppl", "f.txt", "--window", "1")]
    [InlineData("eval", "MODEL", "--ppl", "f.txt", "--max-tokens", "many")]
    [InlineData("eval", "MODEL", "--ppl", "f.txt", "--frobnicate", "1")]
    [InlineData("eval", "A", "B", "--ppl", "f.txt")]
    [InlineData("train-lm")]
    [InlineData("train-lm", "--out", "x")]
    [InlineData("train-lm", "--corpus", "c", "--out", "x", "--steps", "0")]
    [InlineData("train-lm", "--corpus", "c", "--out", "x", "--lr", "abc")]
    [InlineData("train-lm", "--corpus", "c", "--out", "x", "--hidden", "30", "--heads", "8")]
    [InlineData("train-lm", "--corpus", "c", "--out", "x", "--seed", "1", "--seed", "2")]
    public void BadArgumentsExitWithCode2AndOneLine(params string[] argv)
    {
        var argv2 = argv.Select(s => s == "MODEL" ? LmPaths.Model : s).ToArray();
        var (code, stdout, stderr) = Cli(argv2);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Single(stderr.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void MissingModelOrTextIsBadInputWithOneLine()
    {
        var r1 = Cli("eval", Path.Combine(LmPaths.RepoRoot, "no-such-model"), "--ppl", "x.txt");
        Assert.Equal(3, r1.Code);
        Assert.Single(r1.Err.TrimEnd('\n').Split('\n'));
        var r2 = Cli("eval", LmPaths.Model, "--ppl", Path.Combine(LmPaths.RepoRoot, "no-such-file.txt"));
        Assert.Equal(3, r2.Code);
        Assert.Single(r2.Err.TrimEnd('\n').Split('\n'));
        var r3 = Cli("train-lm", "--corpus", Path.Combine(LmPaths.RepoRoot, "no-such-corpus"), "--out", LmPaths.TempDir("x"));
        Assert.Equal(3, r3.Code);
    }
}

public class LmCliHelpTests
{
    [Theory]
    [InlineData("eval")]
    [InlineData("train-lm")]
    public void HelpPrintsUsageAndExitsZero(string command)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        Assert.Equal(0, Cartan.Cli.Cli.Run([command, "--help"], o, e));
        Assert.StartsWith($"usage: cartan {command}", o.ToString());
        Assert.Equal("", e.ToString());
    }
}

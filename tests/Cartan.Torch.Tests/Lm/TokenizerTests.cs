using System.Text.Json;
using Cartan.Formats;
using Cartan.Torch.Lm;
using Microsoft.ML.Tokenizers;

namespace Cartan.Torch.Tests.Lm;

public class TokenizerTests
{
    private static string Save(BpeTrainer.Result r)
    {
        string dir = LmPaths.TempDir("bpe");
        BpeTrainer.Save(r, dir);
        return dir;
    }

    [Fact]
    public void MostFrequentPairIsMergedFirstAndMergesChain()
    {
        // "abab" and " abab": (a,b) occurs 4 times, (b,a) twice, (Ġ,a) once → "a b"; then (ab,ab) twice → "ab ab";
        // then every pair occurs once, below the minimum count of 2, so training stops at 258 entries.
        var r = BpeTrainer.Train(["abab abab"], 300);
        Assert.Equal([("a", "b"), ("ab", "ab")], r.Merges);
        Assert.Equal(258, r.Tokens.Count);
        Assert.Equal("abab", r.Tokens[257]);
    }

    [Fact]
    public void TiesGoToTheSmallestPairOfIds()
    {
        // Pre-tokens "ab", " cd", " ab", " cd": (a,b), (Ġ,c), (c,d) all occur twice. Ġ is byte 32, the smallest id,
        // so "Ġ c" goes first; then (a,b) = (97,98) beats (Ġc,d) = (256,100); then "Ġc d".
        var r = BpeTrainer.Train(["ab cd ab cd"], 300);
        Assert.Equal([("Ġ", "c"), ("a", "b"), ("Ġc", "d")], r.Merges);
    }

    [Fact]
    public void VocabularyStopsAtTheRequestedSize()
    {
        var r = BpeTrainer.Train(["the cat sat on the mat; the cat ate the rat. the end, the end"], 260);
        Assert.Equal(260, r.Tokens.Count);
        Assert.Equal(4, r.Merges.Count);
        Assert.Equal(r.Tokens.Count, r.Tokens.Distinct().Count());
    }

    [Fact]
    public void MicrosoftMlTokenizersLoadsOurFilesAndAppliesOurMerges()
    {
        string dir = Save(BpeTrainer.Train(["ab cd ab cd"], 300));
        // The library object built straight from our files (no Cartan wrapper in between).
        var bpe = BpeTokenizer.Create(LmTokenizer.Options(dir));
        Assert.Equal(259, bpe.Vocabulary.Count);
        // ids: 256 = "Ġc", 257 = "ab", 258 = "Ġcd"; " ab" has no merge for (Ġ, ab), so it is Ġ (byte 32) then ab.
        Assert.Equal([257, 258, 32, 257, 120], bpe.EncodeToIds("ab cd abx").ToArray());
        Assert.Equal("ab cd abx", bpe.Decode([257, 258, 32, 257, 120]));
        var tok = LmTokenizer.Load(dir);
        Assert.Equal(259, tok.VocabSize);
        Assert.Equal([257, 258, 32, 257, 120], tok.Encode("ab cd abx"));
    }

    [Fact]
    public void FilesAreTheFormatHuggingFaceUses()
    {
        string dir = Save(BpeTrainer.Train(["ab cd ab cd"], 300));
        var merges = File.ReadAllLines(Path.Combine(dir, "merges.txt"));
        Assert.Equal(["#version: 0.2", "Ġ c", "a b", "Ġc d"], merges);
        using var vocab = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "vocab.json")));
        Assert.Equal(32, vocab.RootElement.GetProperty("Ġ").GetInt32());
        Assert.Equal(10, vocab.RootElement.GetProperty("Ċ").GetInt32()); // newline byte
        Assert.Equal(97, vocab.RootElement.GetProperty("a").GetInt32());
        Assert.Equal(258, vocab.RootElement.GetProperty("Ġcd").GetInt32());
    }

    [Theory]
    [InlineData("Hello, world!\nA second line.\n\n\tTabs, 3.14 and 1/2 % signs.")]
    [InlineData("naïve café — 日本語 ✓ 🙂 and \u0000 control bytes \u007f")]
    [InlineData("   leading and trailing spaces   ")]
    public void CommittedTokeniserRoundTripsAnyText(string text)
    {
        var tok = LmTokenizer.Load(LmPaths.Model);
        var ids = tok.Encode(text);
        Assert.All(ids, id => Assert.InRange(id, 0, tok.VocabSize - 1));
        Assert.Equal(text, tok.Decode(ids));
    }

    [Fact]
    public void CommittedTokeniserRoundTripsTheCalibrationSplitAndCompressesIt()
    {
        var tok = LmTokenizer.Load(LmPaths.Model);
        Assert.Equal(4096, tok.VocabSize);
        string text = LmCorpus.ReadText(LmCorpus.SplitPath(LmPaths.Data, "calib"));
        var ids = tok.Encode(text);
        Assert.Equal(text, tok.Decode(ids));
        // A 4096-entry BPE trained on English gives well over 3 bytes per token (bytes alone would give 1).
        Assert.True(text.Length / (double)ids.Length > 3.0, $"{text.Length / (double)ids.Length:F2} characters per token");
    }

    [Fact]
    public void MissingTokeniserFilesAreAFormatError()
    {
        string dir = LmPaths.TempDir("empty");
        var e = Assert.Throws<CartanFormatException>(() => LmTokenizer.Load(dir));
        Assert.Contains("vocab.json", e.Message);
    }

    [Fact]
    public void ByteLevelTableIsGpt2s()
    {
        Assert.Equal('Ġ', ByteLevel.Char((byte)' '));
        Assert.Equal('Ċ', ByteLevel.Char((byte)'\n'));
        Assert.Equal('!', ByteLevel.Char((byte)'!'));
        Assert.Equal('ÿ', ByteLevel.Char(0xFF));
        Assert.Equal((char)0x100, ByteLevel.Char(0));
        var all = Enumerable.Range(0, 256).Select(b => (byte)b).ToArray();
        Assert.Equal(all, ByteLevel.Decode(ByteLevel.Encode(all)));
        Assert.Equal(256, ByteLevel.Encode(all).Distinct().Count());
    }
}

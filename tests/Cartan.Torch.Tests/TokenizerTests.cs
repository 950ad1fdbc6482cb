using System.Text.Json;
using Cartan.Formats;
using Cartan.Torch.Tokenizers;

namespace Cartan.Torch.Tests;

/// <summary>
/// HfTokenizer against Fixtures/tokenizers/make_tokenizers.py, an independent pure-Python implementation of BERT
/// WordPiece, GPT-2 byte-level BPE and SentencePiece BPE (golden.json), and the tiktoken encodings against ids
/// published for them.
/// </summary>
public class TokenizerTests
{
    private static string Dir => Path.Combine(AppContext.BaseDirectory, "Fixtures", "tokenizers");

    private static JsonElement Golden()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Dir, "golden.json")));
        return doc.RootElement.Clone();
    }

    private static string[] Texts => [.. Golden().GetProperty("texts").EnumerateArray().Select(t => t.GetString()!)];

    private static int[] Ids(string key, int i) => [.. Golden().GetProperty(key)[i].EnumerateArray().Select(x => x.GetInt32())];

    [Theory]
    [InlineData("minilm", "wordpiece", HfTokenizerKind.WordPiece)]
    [InlineData("bpe", "bpe", HfTokenizerKind.ByteLevelBpe)]
    [InlineData("spm", "spm", HfTokenizerKind.SentencePiece)]
    public void Folder_tokenizer_matches_the_python_reference(string folder, string key, HfTokenizerKind kind)
    {
        var tok = HfTokenizer.Load(Path.Combine(Dir, folder));
        Assert.Equal(kind, tok.Kind);
        var texts = Texts;
        for (int i = 0; i < texts.Length; i++)
            Assert.True(Ids(key, i).SequenceEqual(tok.Encode(texts[i])),
                $"{folder} text {i} '{texts[i]}': got [{string.Join(",", tok.Encode(texts[i]))}], want [{string.Join(",", Ids(key, i))}]");
    }

    [Fact]
    public void Byte_level_bpe_decodes_back_to_the_text()
    {
        var tok = HfTokenizer.Load(Path.Combine(Dir, "bpe"));
        foreach (var t in Texts) Assert.Equal(t, tok.Decode(tok.Encode(t)));
    }

    [Fact]
    public void WordPiece_without_special_tokens_drops_cls_and_sep()
    {
        var tok = HfTokenizer.Load(Path.Combine(Dir, "minilm"));
        var with = tok.Encode("Hello, world!");
        var without = tok.Encode("Hello, world!", addSpecialTokens: false);
        Assert.Equal(with.Skip(1).Take(with.Count - 2), without);
        // bert-base-uncased ids, as published with the vocabulary: [CLS] hello , world ! [SEP]
        Assert.Equal([101, 7592, 1010, 2088, 999, 102], with);
    }

    /// <summary>Ids published for OpenAI's encodings (tiktoken's and the GPT-2 paper code's well-known examples).</summary>
    [Theory]
    [InlineData("gpt2", "Hello world", new[] { 15496, 995 })]
    [InlineData("cl100k_base", "hello world", new[] { 15339, 1917 })]
    [InlineData("gpt-4", "hello world", new[] { 15339, 1917 })]
    public void Tiktoken_encodings_give_the_published_ids(string name, string text, int[] ids)
    {
        var tok = HfTokenizer.Tiktoken(name);
        Assert.Equal(HfTokenizerKind.Tiktoken, tok.Kind);
        Assert.Equal(ids, tok.Encode(text));
        foreach (var t in Texts) Assert.Equal(t, tok.Decode(tok.Encode(t)));
    }

    [Fact]
    public void Gpt2_is_the_gpt2_tiktoken_encoding()
    {
        var a = HfTokenizer.Gpt2();
        Assert.Equal("gpt2", a.Source);
        Assert.Equal([15496, 995], a.Encode("Hello world"));
        Assert.Throws<ArgumentException>(() => HfTokenizer.Tiktoken("o999k_base"));
    }

    [Fact]
    public void Tokenizer_config_flags_are_honoured()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"cartan-tok-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            File.Copy(Path.Combine(Dir, "minilm", "vocab.txt"), Path.Combine(dir, "vocab.txt"));
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"do_lower_case": false}""");
            var cased = HfTokenizer.Load(dir);
            var uncased = HfTokenizer.Load(Path.Combine(Dir, "minilm"));
            Assert.Equal(uncased.Encode("hello cafe"), cased.Encode("hello cafe"));
            // The uncased vocabulary has no "Hello" and no "é" pieces: kept as they are, they cannot match as lower case does.
            Assert.NotEqual(uncased.Encode("Hello café"), cased.Encode("Hello café"));

            File.Delete(Path.Combine(dir, "vocab.txt"));
            File.Copy(Path.Combine(Dir, "bpe", "vocab.json"), Path.Combine(dir, "vocab.json"));
            File.Copy(Path.Combine(Dir, "bpe", "merges.txt"), Path.Combine(dir, "merges.txt"));
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"add_prefix_space": true}""");
            var prefixed = HfTokenizer.Load(dir);
            var plain = HfTokenizer.Load(Path.Combine(Dir, "bpe"));
            Assert.Equal(plain.Encode(" the weather"), prefixed.Encode("the weather"));
            Assert.NotEqual(plain.Encode("the weather"), prefixed.Encode("the weather"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Missing_or_broken_files_are_format_errors()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"cartan-tok-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            Assert.Throws<CartanFormatException>(() => HfTokenizer.Load(Path.Combine(dir, "absent")));
            Assert.Throws<CartanFormatException>(() => HfTokenizer.Load(dir));
            File.WriteAllBytes(Path.Combine(dir, "tokenizer.model"), [0xFF, 0xFF, 0xFF, 0x07, 0x01]);
            Assert.Throws<CartanFormatException>(() => HfTokenizer.Load(dir));
            File.Delete(Path.Combine(dir, "tokenizer.model"));
            File.WriteAllText(Path.Combine(dir, "vocab.json"), "{ not json");
            File.WriteAllText(Path.Combine(dir, "merges.txt"), "#version: 0.2\n");
            Assert.Throws<CartanFormatException>(() => HfTokenizer.Load(dir));
            File.Delete(Path.Combine(dir, "vocab.json"));
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), "[1,");
            File.WriteAllText(Path.Combine(dir, "vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\n");
            Assert.Throws<CartanFormatException>(() => HfTokenizer.Load(dir));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

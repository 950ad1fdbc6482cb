using System.Text.RegularExpressions;
using Cartan.Formats;
using Microsoft.ML.Tokenizers;

namespace Cartan.Torch.Lm;

/// <summary>
/// The tiny LM's tokeniser: byte-level BPE files (<c>vocab.json</c>, <c>merges.txt</c>) in the model folder, read and
/// applied by Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/> with <c>ByteLevel = true</c> and GPT-2's
/// pre-tokenisation pattern (<see cref="BpeTrainer.PreTokenizePattern"/>). No special tokens: any text round-trips.
/// </summary>
public sealed class LmTokenizer
{
    public const string VocabFile = "vocab.json", MergesFile = "merges.txt";

    private LmTokenizer(BpeTokenizer bpe, int vocabSize) { Bpe = bpe; VocabSize = vocabSize; }

    /// <summary>The underlying Microsoft.ML.Tokenizers object.</summary>
    public BpeTokenizer Bpe { get; }

    public int VocabSize { get; }

    /// <summary>The Microsoft.ML.Tokenizers options that read our files (useful to build the library object yourself).</summary>
    public static BpeOptions Options(string folder) => new(Path.Combine(folder, VocabFile), Path.Combine(folder, MergesFile))
    {
        ByteLevel = true,
        PreTokenizer = new RegexPreTokenizer(new Regex(BpeTrainer.PreTokenizePattern, RegexOptions.Compiled | RegexOptions.CultureInvariant), null),
    };

    /// <summary>Loads vocab.json + merges.txt from <paramref name="folder"/>; <see cref="CartanFormatException"/> when
    /// they are missing or unreadable.</summary>
    public static LmTokenizer Load(string folder)
    {
        foreach (var f in new[] { VocabFile, MergesFile })
        {
            if (!File.Exists(Path.Combine(folder, f))) throw new CartanFormatException(folder, $"no {f} in the model folder (the tokeniser is vocab.json + merges.txt)");
        }
        try
        {
            var bpe = BpeTokenizer.Create(Options(folder));
            return new LmTokenizer(bpe, bpe.Vocabulary.Count);
        }
        catch (Exception e) when (e is not CartanFormatException)
        {
            throw new CartanFormatException(Path.Combine(folder, VocabFile), $"the BPE tokeniser files cannot be read: {e.Message.ReplaceLineEndings(" ")}");
        }
    }

    /// <summary>Token ids of <paramref name="text"/>.</summary>
    public int[] Encode(string text) => [.. Bpe.EncodeToIds(text)];

    /// <summary>The text of <paramref name="ids"/>.</summary>
    public string Decode(IEnumerable<int> ids) => Bpe.Decode(ids);
}

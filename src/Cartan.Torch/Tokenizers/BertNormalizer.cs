using System.Globalization;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace Cartan.Torch.Tokenizers;

/// <summary>
/// The normalisation half of BERT's BasicTokenizer (as Hugging Face's BertTokenizer applies it): drop NUL, U+FFFD and
/// control characters, map whitespace to spaces, put spaces around CJK ideographs, and, for uncased models, lower-case
/// and strip accents (NFD, then drop non-spacing marks). Splitting is left to the pre-tokeniser.
/// </summary>
internal sealed class BertNormalizer(bool lowerCase) : Normalizer
{
    public override string Normalize(string original) => Normalize(original.AsSpan());

    public override string Normalize(ReadOnlySpan<char> original)
    {
        var sb = new StringBuilder(original.Length + 8);
        foreach (var rune in original.ToString().EnumerateRunes())
        {
            int cp = rune.Value;
            var cat = Rune.GetUnicodeCategory(rune);
            if (cp == 0 || cp == 0xFFFD) continue;
            bool ws = cp is ' ' or '\t' or '\n' or '\r' || cat == UnicodeCategory.SpaceSeparator;
            if (!ws && cat is UnicodeCategory.Control or UnicodeCategory.Format) continue;
            if (ws) sb.Append(' ');
            else if (IsCjk(cp)) sb.Append(' ').Append(rune.ToString()).Append(' ');
            else sb.Append(rune.ToString());
        }
        if (!lowerCase) return sb.ToString();
        // NFD and dropping non-spacing marks, from a table: string.Normalize does nothing under InvariantGlobalization
        // (measured: "café".Normalize(FormD) came back unchanged), which Cartan runs with.
        string lowered = Lower(sb.ToString());
        var o = new StringBuilder(lowered.Length);
        foreach (var rune in lowered.EnumerateRunes())
        {
            int cp = rune.Value;
            if (Rune.GetUnicodeCategory(rune) == UnicodeCategory.NonSpacingMark) continue;
            if (cp is >= 0xAC00 and <= 0xD7A3)
            {
                int s = cp - 0xAC00;
                o.Append((char)(0x1100 + s / 588)).Append((char)(0x1161 + s % 588 / 28));
                if (s % 28 != 0) o.Append((char)(0x11A7 + s % 28));
            }
            else if (Strip.Value.TryGetValue(cp, out var mapped)) o.Append(mapped);
            else o.Append(rune.ToString());
        }
        return o.ToString();
    }

    /// <summary>Python's str.lower (what Hugging Face's BERT uses): .NET's invariant simple case mapping plus the two
    /// context rules it lacks: İ (U+0130) → "i̇" and Greek capital sigma → final ς at the end of a word.</summary>
    private static string Lower(string text)
    {
        var runes = text.EnumerateRunes().ToArray();
        var o = new StringBuilder(text.Length);
        for (int i = 0; i < runes.Length; i++)
        {
            int cp = runes[i].Value;
            if (cp == 0x130) o.Append("i\u0307");
            else if (cp == 0x3A3)
            {
                bool after = i > 0 && Rune.IsLetter(runes[i - 1]);
                bool before = i + 1 < runes.Length && Rune.IsLetter(runes[i + 1]);
                o.Append(after && !before ? '\u03C2' : '\u03C3');
            }
            else o.Append(Rune.ToLowerInvariant(runes[i]).ToString());
        }
        return o.ToString();
    }

    private static readonly Lazy<Dictionary<int, string>> Strip = new(() =>
    {
        var d = new Dictionary<int, string>();
        foreach (var e in StripAccentsTable.Data.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int colon = e.IndexOf(':');
            int from = int.Parse(e.AsSpan(0, colon), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var to = new StringBuilder();
            foreach (var h in e[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries))
                to.Append(char.ConvertFromUtf32(int.Parse(h, NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
            d[from] = to.ToString();
        }
        return d;
    });

    private static bool IsCjk(int cp) =>
        cp is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF) or (>= 0x2A700 and <= 0x2B73F)
            or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B820 and <= 0x2CEAF) or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);
}

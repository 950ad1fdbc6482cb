using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Cartan.Torch.Lm;

/// <summary>
/// Trains a byte-level BPE tokeniser (GPT-2 style) and writes it as <c>vocab.json</c> + <c>merges.txt</c>, the files
/// Microsoft.ML.Tokenizers' <c>BpeTokenizer</c> reads (see <see cref="LmTokenizer"/>).
/// Text is split by <see cref="PreTokenizePattern"/> (a word keeps its leading space), each piece is spelled as UTF-8
/// bytes, and the most frequent adjacent pair is merged until the vocabulary has the requested size. Ties go to the
/// pair whose (left id, right id) is smallest, so training is deterministic. Ids: 0..255 the bytes in byte order,
/// then one id per merge in merge order.
/// </summary>
public static class BpeTrainer
{
    /// <summary>GPT-2's pre-tokenisation pattern.</summary>
    public const string PreTokenizePattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    internal static readonly Regex PreTokenizer = new(PreTokenizePattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);

    /// <summary>A trained tokeniser: <see cref="Tokens"/>[id] is the byte-level spelling of id;
    /// <see cref="Merges"/>[k] made id 256 + k.</summary>
    public sealed record Result(IReadOnlyList<string> Tokens, IReadOnlyList<(string Left, string Right)> Merges);

    /// <summary>Learns up to <paramref name="vocabSize"/> − 256 merges from <paramref name="texts"/> (fewer when no
    /// pair occurs at least <paramref name="minCount"/> times).</summary>
    public static Result Train(IEnumerable<string> texts, int vocabSize, int minCount = 2)
    {
        if (vocabSize < 256) throw new ArgumentOutOfRangeException(nameof(vocabSize), "a byte-level vocabulary has at least 256 entries");
        // Unique pre-tokens with counts, in first-seen order (deterministic).
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var text in texts)
        {
            foreach (Match m in PreTokenizer.Matches(text))
            {
                if (counts.TryGetValue(m.Value, out int n)) counts[m.Value] = n + 1;
                else { counts[m.Value] = 1; order.Add(m.Value); }
            }
        }
        var words = new List<int>[order.Count];
        var freq = new long[order.Count];
        for (int w = 0; w < order.Count; w++)
        {
            words[w] = Encoding.UTF8.GetBytes(order[w]).Select(b => (int)b).ToList();
            freq[w] = counts[order[w]];
        }

        var tokens = new List<string>(vocabSize);
        for (int b = 0; b < 256; b++) tokens.Add(ByteLevel.Char((byte)b).ToString());
        var merges = new List<(string, string)>();

        var pairCount = new Dictionary<(int, int), long>();
        var where = new Dictionary<(int, int), HashSet<int>>();
        void Add(int w, int sign)
        {
            var s = words[w];
            for (int i = 0; i + 1 < s.Count; i++)
            {
                var p = (s[i], s[i + 1]);
                pairCount[p] = pairCount.GetValueOrDefault(p) + sign * freq[w];
                if (sign > 0)
                {
                    if (!where.TryGetValue(p, out var set)) where[p] = set = [];
                    set.Add(w);
                }
            }
        }
        for (int w = 0; w < words.Length; w++) Add(w, +1);

        while (tokens.Count < vocabSize)
        {
            (int, int) best = default;
            long bestCount = 0;
            foreach (var (p, c) in pairCount)
            {
                if (c > bestCount || (c == bestCount && c > 0 && p.CompareTo(best) < 0)) { best = p; bestCount = c; }
            }
            if (bestCount < minCount) break;
            int id = tokens.Count;
            tokens.Add(tokens[best.Item1] + tokens[best.Item2]);
            merges.Add((tokens[best.Item1], tokens[best.Item2]));
            foreach (int w in where[best].Order().ToArray())
            {
                var s = words[w];
                bool has = false;
                for (int i = 0; i + 1 < s.Count; i++) if (s[i] == best.Item1 && s[i + 1] == best.Item2) { has = true; break; }
                if (!has) continue;
                Add(w, -1);
                var merged = new List<int>(s.Count);
                for (int i = 0; i < s.Count; i++)
                {
                    if (i + 1 < s.Count && s[i] == best.Item1 && s[i + 1] == best.Item2) { merged.Add(id); i++; }
                    else merged.Add(s[i]);
                }
                words[w] = merged;
                Add(w, +1);
            }
            pairCount.Remove(best);
            where.Remove(best);
        }
        return new Result(tokens, merges);
    }

    /// <summary>Writes <c>vocab.json</c> (spelling → id) and <c>merges.txt</c> (a <c>#version</c> line, then one
    /// "left right" line per merge) into <paramref name="folder"/>.</summary>
    public static void Save(Result r, string folder)
    {
        Directory.CreateDirectory(folder);
        using (var f = File.Create(Path.Combine(folder, LmTokenizer.VocabFile)))
        using (var j = new Utf8JsonWriter(f, new JsonWriterOptions { Indented = false }))
        {
            j.WriteStartObject();
            for (int i = 0; i < r.Tokens.Count; i++) j.WriteNumber(r.Tokens[i], i);
            j.WriteEndObject();
        }
        var sb = new StringBuilder("#version: 0.2\n");
        foreach (var (a, b) in r.Merges) sb.Append(a).Append(' ').Append(b).Append('\n');
        File.WriteAllText(Path.Combine(folder, LmTokenizer.MergesFile), sb.ToString(), new UTF8Encoding(false));
    }
}

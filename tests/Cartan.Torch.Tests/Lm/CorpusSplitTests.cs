using System.Text.Json;
using System.Text.RegularExpressions;
using Cartan.Torch.Lm;

namespace Cartan.Torch.Tests.Lm;

public class CorpusSplitTests
{
    private static Dictionary<string, string[]> Manifest()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(LmPaths.Data, "splits.json")));
        return new[] { "train", "calib", "test" }.ToDictionary(s => s,
            s => doc.RootElement.GetProperty(s).EnumerateArray().Select(e => e.GetString()!).ToArray());
    }

    private static string[] Documents(string split) =>
        LmCorpus.ReadText(LmCorpus.SplitPath(LmPaths.Data, split)).TrimEnd('\n').Split("\n\n");

    [Fact]
    public void SplitListsAreDisjointAndCoverTheFiveHundredBrownDocuments()
    {
        var m = Manifest();
        var all = m.Values.SelectMany(v => v).ToList();
        Assert.Equal(500, all.Count);
        Assert.Equal(500, all.Distinct().Count()); // no document id in two splits, none twice
        Assert.All(all, id => Assert.Matches(new Regex("^c[a-r][0-9][0-9]$"), id));
        Assert.Equal(450, m["train"].Length);
        Assert.Equal(25, m["calib"].Length);
        Assert.Equal(25, m["test"].Length);
        // Documents come from every genre section, not one block (the shuffle is by document).
        Assert.True(m["test"].Select(id => id[1]).Distinct().Count() >= 5);
    }

    [Fact]
    public void SplitFilesHoldOneTextPerListedDocumentAndShareNoDocument()
    {
        var m = Manifest();
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var split in new[] { "train", "calib", "test" })
        {
            var docs = Documents(split);
            Assert.Equal(m[split].Length, docs.Length);
            foreach (var d in docs)
            {
                Assert.True(d.Length > 5000, $"a {split} document is only {d.Length} characters");
                Assert.DoesNotMatch(new Regex(@"[A-Za-z]/(at|nn|nns|in|jj|vbd|np|cc|rb)\b"), d); // tags stripped
                Assert.True(seen.TryAdd(d, split), $"a document of {split} also appears in {seen.GetValueOrDefault(d)}");
            }
        }
        // No sentence-level leakage either: long test sentences never occur in train.
        var trainSentences = Documents("train").SelectMany(d => d.Split('\n')).Where(s => s.Length > 80).ToHashSet(StringComparer.Ordinal);
        var shared = Documents("test").SelectMany(d => d.Split('\n')).Where(s => s.Length > 80 && trainSentences.Contains(s)).ToList();
        Assert.True(shared.Count == 0, "test sentences found in train: " + string.Join(" | ", shared.Take(3)));
    }

    [Fact]
    public void TextIsUntaggedPlainEnglish()
    {
        string first = Documents("test")[0];
        Assert.DoesNotContain("/at ", first);
        Assert.DoesNotContain("``", first);
        Assert.Matches(new Regex(@"\bthe\b"), first);
    }
}

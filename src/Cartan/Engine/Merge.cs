using Cartan.Report;
using Cartan.Spectra;

namespace Cartan.Engine;

/// <summary>Joins the outputs of <c>cartan analyze --shard i/n</c> runs into the analysis a single run would have written.</summary>
public static class Merge
{
    public static AnalysisResult Parts(IReadOnlyList<AnalysisResult> parts)
    {
        if (parts.Count == 0) throw new AnalysisReadException("no parts to merge");
        if (parts.Any(p => p.Shard is null)) throw new AnalysisReadException("every part must come from a --shard run");
        var first = parts[0];
        int n = first.Shard!.Count;
        var indices = parts.Select(p => p.Shard!.Index).Order().ToList();
        if (parts.Any(p => p.Shard!.Count != n) || !indices.SequenceEqual(Enumerable.Range(0, n)))
            throw new AnalysisReadException($"parts cover shards [{string.Join(", ", indices)}] of {n}: need each of 0..{n - 1} exactly once");
        string Key(AnalysisResult a) => $"{a.Model.Source}|{a.Model.Format}|{a.Model.Architecture}|{a.Model.TensorCount}";
        if (parts.Any(p => Key(p) != Key(first))) throw new AnalysisReadException("parts analysed different models");
        string Settings(AnalysisResult a) => JsonReport.ToJsonValue(a.Settings);
        if (parts.Any(p => Settings(p) != Settings(first))) throw new AnalysisReadException("parts were run with different settings");
        string Plan(AnalysisResult a) => JsonReport.ToJsonValue(new object[] { a.Shard!.PlanLayers, a.Shard.PlanInterfaces, a.Shard.PlanHeadBlocks });
        if (parts.Any(p => Plan(p) != Plan(first))) throw new AnalysisReadException("parts have different plans");

        var plan = first.Shard!;
        var layerPos = plan.PlanLayers.Select((name, i) => (name, i)).ToDictionary(x => x.name, x => x.i);
        var ifacePos = plan.PlanInterfaces.Select((p, i) => (key: p[0] + "\u0000" + p[1], i)).ToDictionary(x => x.key, x => x.i);
        var blockPos = plan.PlanHeadBlocks.Select((b, i) => (b, i)).ToDictionary(x => x.b, x => x.i);
        var layers = parts.SelectMany(p => p.Layers).OrderBy(l => layerPos[l.Name]).ToList();
        var interfaces = parts.SelectMany(p => p.Interfaces).OrderBy(f => ifacePos[f.From + "\u0000" + f.To]).ToList();
        var heads = parts.SelectMany(p => p.Heads.Select((h, k) => (h, k)))
            .OrderBy(x => x.h.TryGetValue("block", out var b) && b is long bl && blockPos.TryGetValue((int)bl, out var pos) ? pos : int.MaxValue)
            .ThenBy(x => x.k).Select(x => x.h).ToList();
        if (layers.Count != plan.PlanLayers.Length || interfaces.Count != plan.PlanInterfaces.Length)
            throw new AnalysisReadException($"parts hold {layers.Count} layers and {interfaces.Count} interfaces; the plan has {plan.PlanLayers.Length} and {plan.PlanInterfaces.Length}");

        var chartName = first.Settings.FirstOrDefault(kv => kv.Key == "chart").Value as string ?? "mle";
        var chart = Enum.Parse<PowerLawChart>(chartName, ignoreCase: true);
        bool spectraOnly = first.Settings.FirstOrDefault(kv => kv.Key == "spectra_only").Value is true;
        var lapacks = parts.Select(p => p.Tool.Lapack).Distinct().ToList();
        var merged = new AnalysisResult
        {
            Tool = first.Tool with { Lapack = lapacks.Count == 1 ? lapacks[0] : "mixed: " + string.Join("; ", lapacks) },
            Model = first.Model,
            Settings = first.Settings,
            Layers = layers,
            Interfaces = interfaces,
            Heads = heads,
            Chains = spectraOnly ? [] : Analyzer.Chains(layers, chart),
            Skipped = first.Skipped,
            Seconds = parts.Sum(p => p.Seconds ?? 0),
        };
        return merged with { Summary = Summary.Of(merged) };
    }
}

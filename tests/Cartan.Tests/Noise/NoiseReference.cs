using System.Text.Json;

namespace Cartan.Tests.Noise;

/// <summary>Reads Fixtures/noise/reference.json, written by reference.py (numpy; never by Cartan).</summary>
internal static class NoiseReference
{
    private static readonly Lazy<JsonDocument> Doc = new(() => JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("noise", "reference.json"))));

    public static JsonElement Root => Doc.Value.RootElement;

    public static IEnumerable<JsonElement> Grids => Root.GetProperty("grids").EnumerateArray();

    public static IEnumerable<JsonElement> Gates => Root.GetProperty("gates").EnumerateArray();

    public static double[] Doubles(this JsonElement e, string name) =>
        e.GetProperty(name).EnumerateArray().Select(x => x.GetDouble()).ToArray();

    public static Cartan.Noise.GChBoundary Boundary(this JsonElement e) =>
        e.GetProperty("boundary").GetString() == "ring" ? Cartan.Noise.GChBoundary.Ring : Cartan.Noise.GChBoundary.Ghost;
}

/// <summary>Mean and standard error of a stream of values (Welford).</summary>
internal sealed class RunningStat
{
    private double _mean, _m2;

    public long Count { get; private set; }

    public void Add(double x)
    {
        Count++;
        double d = x - _mean;
        _mean += d / Count;
        _m2 += d * (x - _mean);
    }

    public double Mean => _mean;

    public double Variance => _m2 / (Count - 1);

    public double StandardError => Math.Sqrt(Variance / Count);
}

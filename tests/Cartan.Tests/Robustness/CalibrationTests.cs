using System.Text.Json;
using Cartan.Robustness;

namespace Cartan.Tests.Robustness;

public class CalibrationTests
{
    public static TheoryData<int> Cases() => [0, 1, 2, 3];

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesNumpyReference(int index)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("robustness/calibration_cases.json")));
        var c = doc.RootElement[index];
        int n = c.GetProperty("samples").GetInt32(), k = c.GetProperty("classes").GetInt32(), m = c.GetProperty("bins").GetInt32();
        var logits = c.GetProperty("logits").EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();
        var labels = c.GetProperty("labels").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        var r = Calibration.FromLogits(logits, n, k, labels, m);
        Assert.Equal(c.GetProperty("accuracy").GetDouble(), r.Accuracy, 12);
        Assert.Equal(c.GetProperty("nll").GetDouble(), r.Nll, 10);
        Assert.Equal(c.GetProperty("ece").GetDouble(), r.Ece, 10);
        var counts = c.GetProperty("counts").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        var conf = c.GetProperty("confidence").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        var acc = c.GetProperty("bin_accuracy").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        Assert.Equal(m, r.Bins.Length);
        for (int b = 0; b < m; b++)
        {
            Assert.Equal(counts[b], r.Bins[b].Count);
            Assert.Equal(conf[b], r.Bins[b].Confidence, 10);
            Assert.Equal(acc[b], r.Bins[b].Accuracy, 12);
            Assert.Equal((double)b / m, r.Bins[b].Lower, 15);
        }
        Assert.Equal(n, r.Bins.Sum(b => b.Count));
    }

    [Fact]
    public void PerfectlyCalibratedConstantConfidenceHasZeroEce()
    {
        // 10 samples, each predicting class 0 with probability 0.7 and correct on exactly 7 of them
        int n = 10;
        var p = new double[n * 2];
        var y = new int[n];
        for (int i = 0; i < n; i++) { p[2 * i] = 0.7; p[2 * i + 1] = 0.3; y[i] = i < 7 ? 0 : 1; }
        var r = Calibration.FromProbabilities(p, n, 2, y);
        Assert.Equal(0.7, r.Accuracy, 15);
        Assert.Equal(0, r.Ece, 14);
        Assert.Equal(-(7 * Math.Log(0.7) + 3 * Math.Log(0.3)) / 10, r.Nll, 14);
        Assert.Equal(10, r.Bins[10].Count); // 0.7 ∈ (10/15, 11/15]
    }

    [Fact]
    public void OverconfidentPredictionsHaveEceEqualToTheGap()
    {
        // all confidence 0.99, half correct: ECE = |0.5 − 0.99|
        var p = new double[] { 0.99, 0.01, 0.99, 0.01, 0.01, 0.99, 0.01, 0.99 };
        var r = Calibration.FromProbabilities(p, 4, 2, [0, 1, 1, 0]);
        Assert.Equal(0.49, r.Ece, 12);
        Assert.Equal(0.5, r.Accuracy);
    }

    [Fact]
    public void ShiftingLogitsChangesNothing()
    {
        var rng = new Random(3);
        var l = Enumerable.Range(0, 300).Select(_ => MathF.Round((float)rng.NextDouble() * 4 * 256) / 256).ToArray(); // exact under +1000
        var y = Enumerable.Range(0, 100).Select(_ => rng.Next(3)).ToArray();
        var a = Calibration.FromLogits(l, 100, 3, y);
        var b = Calibration.FromLogits(l.Select(v => v + 1000f).ToArray(), 100, 3, y);
        Assert.Equal(a.Accuracy, b.Accuracy);
        Assert.Equal(a.Ece, b.Ece, 14);
        Assert.Equal(a.Nll, b.Nll, 14);
    }

    [Fact]
    public void RejectsBadArguments()
    {
        Assert.Throws<ArgumentException>(() => Calibration.FromLogits(new float[6], 2, 3, [0, 3]));
        Assert.Throws<ArgumentException>(() => Calibration.FromLogits(new float[5], 2, 3, [0, 1]));
        Assert.Throws<ArgumentException>(() => Calibration.FromProbabilities([0.5, 0.5, 1.5, -0.5], 2, 2, [0, 1]));
    }
}

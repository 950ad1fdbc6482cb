using System.Text.Json;
using Cartan.Alignment;

namespace Cartan.Tests.Alignment;

public class NeuralCollapseTests
{
    /// <summary>Simplex ETF class means in R^d (d ≥ C): e_c − 1/C·Σe, scaled.</summary>
    private static double[] Etf(int C, int d, double scale)
    {
        var m = new double[C * d];
        for (int c = 0; c < C; c++)
            for (int j = 0; j < C; j++)
                m[c * d + j] = scale * ((c == j ? 1.0 : 0.0) - 1.0 / C);
        return m;
    }

    [Fact]
    public void Perfect_collapse_gives_zero_for_every_metric_and_level_3()
    {
        int C = 4, d = 6, per = 5, n = C * per;
        var means = Etf(C, d, 3.0);
        var h = new double[n * d];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = i % C;
            Array.Copy(means, labels[i] * d, h, i * d, d);
        }
        var r = NeuralCollapse.Compute(h, n, d, labels, wc: (double[])means.Clone());
        Assert.Equal(0, r.NC1, 12);
        Assert.Equal(0, r.NC2, 12);
        Assert.Equal(0, r.NC3!.Value, 12);
        Assert.Equal(0, r.NC4!.Value);
        Assert.Equal(C - 1, r.SubspaceIntersection);
        Assert.StartsWith("level 3", r.Reading);
    }

    [Fact]
    public void A_rotated_classifier_in_the_same_subspace_reads_level_2()
    {
        int C = 3, d = 5, n = 30;
        var means = Etf(C, d, 2.0);
        var h = new double[n * d];
        var labels = new int[n];
        for (int i = 0; i < n; i++) { labels[i] = i % C; Array.Copy(means, labels[i] * d, h, i * d, d); }
        // W = R·M̃ᵀ mixes the class rows: same row space (span M̃), different basis.
        double[] mix = [0.2, 1.0, 0.1, 0.9, 0.3, 0.4, 0.5, 0.2, 1.1];
        var w = Cartan.Linalg.Lapack.MatMul(mix, C, C, means, d);
        var r = NeuralCollapse.Compute(h, n, d, labels, w);
        Assert.Equal(C - 1, r.SubspaceIntersection);
        Assert.True(r.NC3 > 1e-2);
        Assert.StartsWith("level 2", r.Reading);
    }

    [Fact]
    public void Matches_the_independent_numpy_reference()
    {
        var dir = TestPaths.Fixture("collapse");
        using var golden = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "golden.json")));
        var g = golden.RootElement;
        using var fm = Cartan.Formats.WeightSource.Open(Path.Combine(dir, "features.npy"));
        using var lm = Cartan.Formats.WeightSource.Open(Path.Combine(dir, "labels.npy"));
        using var wm = Cartan.Formats.WeightSource.Open(Path.Combine(dir, "classifier.npy"));
        int n = g.GetProperty("N").GetInt32(), d = g.GetProperty("d").GetInt32();
        var labels = lm.Tensors[0].ReadDoubles().Select(x => (int)x).ToArray();
        var r = NeuralCollapse.Compute(fm.Tensors[0].ReadDoubles(), n, d, labels, wm.Tensors[0].ReadDoubles());
        Assert.Equal(g.GetProperty("nc1").GetDouble(), r.NC1, 1e-9);
        Assert.Equal(g.GetProperty("nc2").GetDouble(), r.NC2, 1e-9);
        Assert.Equal(g.GetProperty("nc3").GetDouble(), r.NC3!.Value, 1e-9);
        Assert.Equal(g.GetProperty("nc4").GetDouble(), r.NC4!.Value, 1e-12);
        Assert.Equal(g.GetProperty("within_trace").GetDouble(), r.WithinTrace, 1e-9);
        Assert.Equal(g.GetProperty("between_trace").GetDouble(), r.BetweenTrace, 1e-9);
    }

    [Fact]
    public void Collapse_command_prints_the_metrics_and_writes_json()
    {
        var dir = TestPaths.Fixture("collapse");
        var json = Path.Combine(TestPaths.NewTempDir(), "nc.json");
        var o = new StringWriter();
        int code = Cartan.Cli.Cli.Run(["collapse", Path.Combine(dir, "features.npy"), Path.Combine(dir, "labels.npy"),
            "--classifier", Path.Combine(dir, "classifier.npy") + ":classifier", "--json", json], o, new StringWriter());
        Assert.Equal(0, code);
        Assert.Contains("NC1 ", o.ToString());
        using var doc = JsonDocument.Parse(File.ReadAllBytes(json));
        Assert.Equal("cartan.collapse/1", doc.RootElement.GetProperty("schema").GetString());
        Assert.Equal(2, Cartan.Cli.Cli.Run(["collapse", Path.Combine(dir, "features.npy")], new StringWriter(), new StringWriter()));
    }
}

using Cartan.Transport;

namespace Cartan.Tests.Transport;

public class RowGroupsTests
{
    [Fact]
    public void Structured_groupings_partition_the_rows()
    {
        Assert.Equal([[0, 1, 2], [3, 4, 5]], RowGroups.Heads(6, 3));
        Assert.Equal([[0, 1, 2], [3, 4], [5, 6]], RowGroups.EqualBlocks(7, 3));
        Assert.Equal([[0, 1], [2, 3], [4, 5], [6, 7]], RowGroups.GroupNorm(8, 4));
        Assert.Equal([[0], [1], [2]], RowGroups.Singletons(3));
        foreach (var g in new[] { RowGroups.EqualBlocks(37, 5), RowGroups.Heads(64, 16), RowGroups.GroupNorm(320, 32) })
            RowGroups.Validate(g, g.Sum(x => x.Length));
        Assert.Throws<ArgumentException>(() => RowGroups.Heads(10, 3));
        Assert.Throws<ArgumentException>(() => RowGroups.GroupNorm(10, 4));
        Assert.Throws<ArgumentException>(() => RowGroups.EqualBlocks(3, 4));
        Assert.Throws<ArgumentException>(() => RowGroups.Validate([[0, 1], [1, 2]], 3));
        Assert.Throws<ArgumentException>(() => RowGroups.Validate([[0, 1]], 3));
        Assert.Throws<ArgumentException>(() => RowGroups.Validate([[0, 3]], 2));
    }

    private static (double[] P, int[] Truth) Clusters(ulong seed, int rows, int cols, int k)
    {
        var rng = new SplitMix64(seed);
        var truth = new int[rows];
        for (int i = 0; i < rows; i++) truth[i] = i < k ? i : rng.NextInt(k);
        var p = new double[rows * cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                // Cluster c puts its energy on columns j ≡ c (mod k); magnitudes vary by row (normalisation removes them).
                p[i * cols + j] = (j % k == truth[i] ? 1.0 : 0.05) * (0.5 + 3 * (i % 4)) * (0.9 + 0.2 * rng.NextDouble());
        return (p, truth);
    }

    [Fact]
    public void KMeans_is_deterministic_and_recovers_separated_clusters()
    {
        for (ulong s = 0; s < 10; s++)
        {
            var (p, truth) = Clusters(s, 24, 12, 3);
            var g1 = RowGroups.KMeans(p, 24, 12, 3, seed: 42);
            var g2 = RowGroups.KMeans(p, 24, 12, 3, seed: 42);
            Assert.Equal(g1, g2);
            RowGroups.Validate(g1, 24);
            Assert.Equal(3, g1.Length);
            var expected = Enumerable.Range(0, 3).Select(c => Enumerable.Range(0, 24).Where(i => truth[i] == c).ToArray())
                .OrderBy(x => x[0]).ToArray();
            Assert.Equal(expected, g1);
            Assert.Equal(expected, RowGroups.KMeans(p, 24, 12, 3, seed: s + 1000));
        }
    }

    [Fact]
    public void KMeans_returns_k_nonempty_groups_even_with_duplicate_rows()
    {
        var p = new double[6 * 4]; // all rows identical (zero): every cluster must still get a row
        var g = RowGroups.KMeans(p, 6, 4, 4, seed: 1);
        Assert.Equal(4, g.Length);
        RowGroups.Validate(g, 6);
        Assert.Equal(RowGroups.Singletons(5), RowGroups.KMeans(Enumerable.Range(0, 10).Select(x => (double)x).ToArray(), 5, 2, 5, 3));
        Assert.Throws<ArgumentException>(() => RowGroups.KMeans(p, 6, 4, 7, 1));
    }
}

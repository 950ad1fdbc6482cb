namespace Cartan.Tests;

/// <summary>Where fixtures live at test time.</summary>
public static class TestPaths
{
    /// <summary>The Fixtures folder copied beside the test assembly.</summary>
    public static string Fixtures => Path.Combine(AppContext.BaseDirectory, "Fixtures");

    public static string Fixture(params string[] parts) => Path.Combine([Fixtures, .. parts]);

    /// <summary>The repository root (found by walking up to Cartan.slnx).</summary>
    public static string RepoRoot
    {
        get
        {
            var d = new DirectoryInfo(AppContext.BaseDirectory);
            while (d is not null && !File.Exists(Path.Combine(d.FullName, "Cartan.slnx"))) d = d.Parent;
            return d?.FullName ?? throw new InvalidOperationException("repository root not found");
        }
    }

    public static string NewTempDir()
    {
        var p = Path.Combine(Path.GetTempPath(), "cartan-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(p);
        return p;
    }
}

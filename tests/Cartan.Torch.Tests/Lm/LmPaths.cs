namespace Cartan.Torch.Tests.Lm;

/// <summary>Where the committed tiny-LM corpus and model live (found from the test's output folder upwards).</summary>
internal static class LmPaths
{
    public static string RepoRoot { get; } = Find();

    public static string Data => Path.Combine(RepoRoot, "experiments", "tinylm", "data");

    public static string Model => Path.Combine(RepoRoot, "models", "tiny-brown-lm");

    private static string Find()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "Cartan.slnx"))) return d.FullName;
        }
        throw new DirectoryNotFoundException("no Cartan.slnx above " + AppContext.BaseDirectory);
    }

    /// <summary>A fresh empty folder under the system temp folder.</summary>
    public static string TempDir(string tag)
    {
        string d = Path.Combine(Path.GetTempPath(), $"cartan-lm-{tag}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(d);
        return d;
    }
}

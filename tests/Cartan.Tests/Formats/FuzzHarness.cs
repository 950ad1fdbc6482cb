using System.Diagnostics;
using Cartan.Formats;

namespace Cartan.Tests.Formats;

/// <summary>
/// Mutation fuzzing for readers: random truncations, byte flips, byte runs and length-field smashes of
/// one file inside a copy of a fixture folder. Each case must either open and decode every tensor,
/// or fail with <see cref="CartanFormatException"/> (one line, naming a file) — within the time limit.
/// </summary>
public static class FuzzHarness
{
    /// <param name="sourceDir">folder holding the fixture (copied once to a temp folder)</param>
    /// <param name="target">file name inside the folder to mutate</param>
    /// <param name="openPath">file or folder name inside the copy to open (often the same as target)</param>
    public static FuzzStats Run(string sourceDir, string target, string openPath, int cases, int seed,
        Func<string, WeightModel>? open = null, double maxSecondsPerCase = 2.0)
    {
        open ??= WeightSource.Open;
        var work = TestPaths.NewTempDir();
        try
        {
            foreach (var f in Directory.GetFiles(sourceDir))
                File.Copy(f, Path.Combine(work, Path.GetFileName(f)));
            var targetPath = Path.Combine(work, target);
            var original = File.ReadAllBytes(targetPath);
            var rng = new Random(seed);
            var stats = new FuzzStats();
            for (int c = 0; c < cases; c++)
            {
                var mutated = Mutate(original, rng, out var how);
                File.WriteAllBytes(targetPath, mutated);
                var sw = Stopwatch.StartNew();
                try
                {
                    using var model = open(Path.Combine(work, openPath));
                    foreach (var t in model.Tensors)
                        if (t.HasNumericData && t.ElementCount <= 50_000_000) t.ReadDoubles();
                    stats.Opened++;
                }
                catch (CartanFormatException e)
                {
                    stats.Rejected++;
                    if (e.Message.Contains('\n'))
                        throw new Xunit.Sdk.XunitException($"case {c} ({how}): error message spans lines: {e.Message}");
                    if (e.Message.Length == 0)
                        throw new Xunit.Sdk.XunitException($"case {c} ({how}): empty error message");
                }
                catch (Exception e)
                {
                    throw new Xunit.Sdk.XunitException($"case {c} ({how}) of {target}, seed {seed}: reader threw {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
                }
                if (sw.Elapsed.TotalSeconds > maxSecondsPerCase)
                    throw new Xunit.Sdk.XunitException($"case {c} ({how}) of {target} took {sw.Elapsed.TotalSeconds:F2} s");
            }
            return stats;
        }
        finally
        {
            try { Directory.Delete(work, true); } catch (IOException) { }
        }
    }

    public static byte[] Mutate(byte[] original, Random rng, out string how)
    {
        var b = (byte[])original.Clone();
        switch (rng.Next(6))
        {
            case 0:
            {
                int len = rng.Next(original.Length);
                how = $"truncate to {len}";
                return b[..len];
            }
            case 1:
            {
                int flips = 1 + rng.Next(4);
                how = $"{flips} byte flips";
                for (int i = 0; i < flips && b.Length > 0; i++) b[Pos(b, rng)] ^= (byte)(1 << rng.Next(8));
                return b;
            }
            case 2:
            {
                // Header region mutations: most format logic lives in the first few KiB.
                int limit = Math.Min(b.Length, 4096);
                how = "header byte set";
                if (limit > 0) b[rng.Next(limit)] = (byte)rng.Next(256);
                return b;
            }
            case 3:
            {
                how = "length smash";
                if (b.Length >= 8)
                {
                    int p = rng.Next(Math.Min(b.Length - 8, 4096) + 1);
                    var v = rng.Next(3) switch { 0 => 0xFFFFFFFFUL, 1 => (ulong)rng.Next(), _ => 0x7FFFFFFFFFFFFFFFUL };
                    BitConverter.TryWriteBytes(b.AsSpan(p, 8), v);
                }
                return b;
            }
            case 4:
            {
                how = "extend with junk";
                var extra = new byte[rng.Next(1, 64)];
                rng.NextBytes(extra);
                return [.. b, .. extra];
            }
            default:
            {
                how = "digit edit";
                // Text headers (JSON): change a digit, which moves offsets and shapes.
                for (int tries = 0; tries < 32 && b.Length > 0; tries++)
                {
                    int p = rng.Next(Math.Min(b.Length, 8192));
                    if (b[p] >= '0' && b[p] <= '9') { b[p] = (byte)('0' + rng.Next(10)); break; }
                }
                return b;
            }
        }
    }

    private static int Pos(byte[] b, Random rng) => rng.Next(b.Length);
}

public sealed class FuzzStats
{
    public int Opened { get; set; }
    public int Rejected { get; set; }
}

using System.Diagnostics;

namespace Cartan.Tests.Report;

/// <summary>Runs headless Chromium on a local file with networking features off and a fresh profile.</summary>
public static class Chromium
{
    public static string Path =>
        new[] { Environment.GetEnvironmentVariable("CARTAN_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome" }
            .FirstOrDefault(p => p is not null && File.Exists(p))
        ?? throw new InvalidOperationException("headless Chromium not found: run scripts/setup.sh (Debian package 'chromium') or set CARTAN_CHROMIUM");

    /// <summary>Runs Chromium with the given mode arguments; returns (stdout, stderr).</summary>
    public static (string Stdout, string Stderr) Run(string file, params string[] mode) => RunAt(file, "", mode);

    /// <summary>As <see cref="Run"/>, opening the page at a fragment (e.g. <c>#heads</c>).</summary>
    public static (string Stdout, string Stderr) RunAt(string file, string fragment, params string[] mode)
    {
        var profile = TestPaths.NewTempDir();
        try
        {
            var psi = new ProcessStartInfo(Path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-default-apps", "--no-default-browser-check",
                         "--user-data-dir=" + profile, "--enable-logging=stderr", "--v=0", "--log-level=0", "--virtual-time-budget=4000" })
                psi.ArgumentList.Add(a);
            foreach (var a in mode) psi.ArgumentList.Add(a);
            psi.ArgumentList.Add(new Uri(System.IO.Path.GetFullPath(file)).AbsoluteUri + fragment);
            using var p = Process.Start(psi)!;
            var err = p.StandardError.ReadToEndAsync();
            var @out = p.StandardOutput.ReadToEndAsync();
            if (!p.WaitForExit(60_000))
            {
                p.Kill(entireProcessTree: true);
                throw new TimeoutException("chromium did not finish in 60 s");
            }
            return (@out.Result, err.Result);
        }
        finally
        {
            try { Directory.Delete(profile, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Lines of Chromium's log that report page console messages (e.g. <c>INFO:CONSOLE(12)] "…"</c>).</summary>
    public static List<string> ConsoleLines(string stderr) =>
        [.. stderr.Split('\n').Where(l => l.Contains(":CONSOLE", StringComparison.Ordinal) || l.Contains("Refused to", StringComparison.Ordinal))];
}

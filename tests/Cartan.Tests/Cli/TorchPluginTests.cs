using System.Diagnostics;
using Cartan.Cli;

namespace Cartan.Tests.Cli;

/// <summary>The CLI without its TorchSharp plugin: analysis works, network commands say what is missing (exit 5).</summary>
public class TorchPluginTests
{
    private static (int Code, string Out, string Err) RunChild(string pluginPath, params string[] args)
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "Cartan.Cli.dll");
        var psi = new ProcessStartInfo("dotnet", [cli, .. args]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // An explicit plugin location is the only place looked at: a path with nothing there is a machine without the plugin.
        psi.Environment["CARTAN_TORCH_PLUGIN"] = pluginPath;
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, o.Result, e);
    }

    [Fact]
    public void Without_the_plugin_analyze_runs_and_network_commands_exit_5_in_one_line()
    {
        var missing = Path.Combine(TestPaths.NewTempDir(), "nothing-here", "Cartan.Torch.dll");
        var model = TestPaths.Fixture("safetensors", "small.safetensors");
        var dir = TestPaths.NewTempDir();
        var (code, _, err) = RunChild(missing, "analyze", model, "--spectra-only", "--quiet", "--json", Path.Combine(dir, "a.json"));
        Assert.True(code == ExitCodes.Ok, err);
        Assert.True(File.Exists(Path.Combine(dir, "a.json")));
        foreach (var cmd in new[] { new[] { "torch-info" }, new[] { "eval", model, "--ppl", "x.txt" }, new[] { "train-lm", "--help" } })
        {
            var (c, o, e) = RunChild(missing, cmd);
            Assert.Equal(ExitCodes.TorchUnavailable, c);
            Assert.Single(e.Trim().Split('\n'));
            Assert.Contains("TorchSharp plugin", e);
            Assert.Contains(missing, e);
            Assert.Equal("", o);
        }
    }

    [Fact]
    public void A_file_that_is_not_a_plugin_is_refused_in_one_line()
    {
        var bogus = Path.Combine(TestPaths.NewTempDir(), "Cartan.Torch.dll");
        File.WriteAllText(bogus, "not an assembly");
        var (c, _, e) = RunChild(bogus, "torch-info");
        Assert.Equal(ExitCodes.TorchUnavailable, c);
        Assert.Single(e.Trim().Split('\n'));
    }
}

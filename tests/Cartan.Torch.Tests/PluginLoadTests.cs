using System.Diagnostics;

namespace Cartan.Torch.Tests;

/// <summary>The CLI process (which has no reference to Cartan.Torch) loads the plugin build output through its own load context.</summary>
public class PluginLoadTests
{
    [Fact]
    public async Task The_cli_loads_the_plugin_build_and_libtorch_runs()
    {
        // tests/Cartan.Torch.Tests/bin/<Config>/net10.0/ → src/Cartan.Torch/bin/<Config>/net10.0/Cartan.Torch.dll
        var bin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string tfm = bin.Name, config = bin.Parent!.Name;
        var repo = bin.Parent!.Parent!.Parent!.Parent!.Parent!.FullName;
        var plugin = Path.Combine(repo, "src", "Cartan.Torch", "bin", config, tfm, "Cartan.Torch.dll");
        Assert.True(File.Exists(plugin), $"plugin build not found at {plugin}");
        var psi = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "Cartan.Cli.dll"), "torch-info"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.Environment["CARTAN_TORCH_PLUGIN"] = plugin;
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}: {await err}");
        Assert.Contains("check: ones(2,2).sum() = 4", output);
        Assert.Contains(Path.GetDirectoryName(plugin)!, output); // TorchSharp came from the plugin folder
    }
}

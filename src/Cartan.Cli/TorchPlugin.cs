using System.Reflection;
using System.Runtime.Loader;

namespace Cartan.Cli;

/// <summary>
/// Loads the TorchSharp plugin (assembly <c>Cartan.Torch</c>) on demand, for the commands that run networks
/// (train-lm, eval, prune with --calib). The CLI has no reference to it, so inspect/analyze/merge/collapse never load
/// TorchSharp or libtorch and work where libtorch cannot load. Where it looks, in order:
/// <list type="number">
/// <item>an assembly <c>Cartan.Torch</c> the host process already resolves (the test projects reference it);</item>
/// <item><c>$CARTAN_TORCH_PLUGIN</c>: the plugin's <c>Cartan.Torch.dll</c> or the folder that holds it;</item>
/// <item><c>torch/Cartan.Torch.dll</c> beside the CLI;</item>
/// <item>the build output of <c>src/Cartan.Torch</c> in the source tree the CLI was built from (Release, then Debug).</item>
/// </list>
/// A plugin folder is the build output of <c>dotnet build src/Cartan.Torch</c> (it carries TorchSharp, libtorch and
/// a deps.json); it is loaded into its own <see cref="AssemblyLoadContext"/> that shares Cartan.dll with the CLI.
/// </summary>
public static class TorchPlugin
{
    public const int Unavailable = 5;
    private const string EntryType = "Cartan.Torch.Cli.TorchCommands";

    public static int Run(string command, string[] argv, TextWriter stdout, TextWriter stderr)
    {
        var entry = Resolve(out string why);
        if (entry is null)
        {
            stderr.WriteLine($"cartan: {command} runs networks and needs the TorchSharp plugin (Cartan.Torch), which was not found: {why}");
            return Unavailable;
        }
        var run = entry.GetMethod("Run", BindingFlags.Public | BindingFlags.Static, [typeof(string), typeof(string[]), typeof(TextWriter), typeof(TextWriter)]);
        if (run is null) { stderr.WriteLine($"cartan: the plugin at {entry.Assembly.Location} has no {EntryType}.Run"); return Unavailable; }
        try
        {
            return (int)run.Invoke(null, [command, argv, stdout, stderr])!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            stderr.WriteLine($"cartan: internal error in the TorchSharp plugin: {e.InnerException.GetType().Name}: {e.InnerException.Message.ReplaceLineEndings(" ")}");
            return ExitCodes.Internal;
        }
    }

    /// <summary>The plugin's entry type, or null with the reason.</summary>
    public static Type? Resolve(out string why)
    {
        var loaded = Type.GetType($"{EntryType}, Cartan.Torch", throwOnError: false);
        if (loaded is not null) { why = ""; return loaded; }
        var candidates = Candidates().ToList();
        foreach (var dll in candidates)
        {
            if (!File.Exists(dll)) continue;
            try
            {
                var context = new PluginContext(dll);
                var asm = context.LoadFromAssemblyPath(dll);
                var t = asm.GetType(EntryType, throwOnError: false);
                if (t is not null) { why = ""; return t; }
            }
            catch (Exception e) when (e is IOException or BadImageFormatException or FileLoadException)
            {
                why = $"{dll} could not be loaded ({e.Message.ReplaceLineEndings(" ")})";
                return null;
            }
        }
        why = "build it with 'dotnet build src/Cartan.Torch -c Release' or set CARTAN_TORCH_PLUGIN to its Cartan.Torch.dll (looked in: " +
              string.Join(", ", candidates) + ")";
        return null;
    }

    private static IEnumerable<string> Candidates()
    {
        if (Environment.GetEnvironmentVariable("CARTAN_TORCH_PLUGIN") is { Length: > 0 } env)
        {
            yield return Directory.Exists(env) ? Path.Combine(env, "Cartan.Torch.dll") : env;
            yield break; // an explicit setting is the only place looked at, so tests can hide the plugin
        }
        string self = AppContext.BaseDirectory;
        yield return Path.Combine(self, "torch", "Cartan.Torch.dll");
        // Source tree: <repo>/src/Cartan.Cli/bin/<Config>/net10.0/ → <repo>/src/Cartan.Torch/bin/<Config>/net10.0/
        var dir = new DirectoryInfo(self);
        for (int up = 0; up < 6 && dir is not null; up++, dir = dir.Parent)
        {
            var torchProject = Path.Combine(dir.FullName, "src", "Cartan.Torch");
            if (!Directory.Exists(torchProject)) continue;
            foreach (var config in new[] { "Release", "Debug" })
                yield return Path.Combine(torchProject, "bin", config, "net10.0", "Cartan.Torch.dll");
            yield break;
        }
    }

    /// <summary>Resolves the plugin's own dependencies (TorchSharp, libtorch) from its deps.json; Cartan.dll and the
    /// framework come from the host so that types are shared.</summary>
    private sealed class PluginContext(string pluginPath) : AssemblyLoadContext("cartan-torch", isCollectible: false)
    {
        private readonly AssemblyDependencyResolver _resolver = new(pluginPath);

        protected override Assembly? Load(AssemblyName name)
        {
            if (name.Name == "Cartan") return null; // shared with the host
            var path = _resolver.ResolveAssemblyToPath(name);
            return path is null ? null : LoadFromAssemblyPath(path);
        }

        protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
        {
            var path = _resolver.ResolveUnmanagedDllToPath(unmanagedDllName);
            return path is null ? IntPtr.Zero : LoadUnmanagedDllFromPath(path);
        }
    }
}

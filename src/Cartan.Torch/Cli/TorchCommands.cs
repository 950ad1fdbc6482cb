using Cartan.Formats;

namespace Cartan.Torch.Cli;

/// <summary>Bad command line for a TorchSharp command: one line on stderr, exit code 2.</summary>
public sealed class TorchUsageException(string message) : Exception(message);

/// <summary>
/// Entry point of the TorchSharp plugin. The <c>cartan</c> CLI never references this assembly: it loads it (and with it
/// TorchSharp and libtorch) only for the commands listed in <see cref="Commands"/>, through
/// <c>Cartan.Cli.TorchPlugin</c>. Exit codes follow the CLI's: 0 ok, 1 internal, 2 usage, 3 bad input,
/// 5 TorchSharp/libtorch cannot load on this machine.
/// </summary>
public static class TorchCommands
{
    public const int Ok = 0, Internal = 1, Usage = 2, BadInput = 3, TorchUnavailable = 5;

    /// <summary>command name → handler(argv after the command name, stdout, stderr) returning an exit code.</summary>
    public static readonly IReadOnlyDictionary<string, Func<string[], TextWriter, TextWriter, int>> Commands =
        new Dictionary<string, Func<string[], TextWriter, TextWriter, int>>(StringComparer.Ordinal)
        {
            // Each command lives in its own file under Cli/ and adds one line here.
            ["torch-info"] = TorchInfo,
            ["train-lm"] = TrainLmCommand.Run,
            ["eval"] = EvalCommand.Run,
            ["prune"] = PruneCommand.Run,
        };

    /// <summary>Runs one command; never throws (errors become one line on stderr and an exit code).</summary>
    public static int Run(string command, string[] argv, TextWriter stdout, TextWriter stderr)
    {
        if (!Commands.TryGetValue(command, out var handler))
        {
            stderr.WriteLine($"cartan: the TorchSharp plugin has no command '{command}' (it has: {string.Join(", ", Commands.Keys)})");
            return Usage;
        }
        try
        {
            if (TorchRuntime.Problem is { } problem)
            {
                stderr.WriteLine($"cartan: {command} needs TorchSharp, which cannot load here: {OneLine(problem)}");
                return TorchUnavailable;
            }
            return handler(argv, stdout, stderr);
        }
        catch (TorchUsageException e)
        {
            stderr.WriteLine($"cartan: {OneLine(e.Message)} (see cartan --help)");
            return Usage;
        }
        catch (Cartan.Engine.UsageException e) // shared option parsers of the library (e.g. PruneArguments)
        {
            stderr.WriteLine($"cartan: {OneLine(e.Message)} (see cartan --help)");
            return Usage;
        }
        catch (CartanFormatException e)
        {
            stderr.WriteLine($"cartan: {OneLine(e.Message)}");
            return BadInput;
        }
        catch (Exception e)
        {
            stderr.WriteLine($"cartan: internal error: {OneLine(e.GetType().Name + ": " + e.Message)}");
            return Internal;
        }
    }

    /// <summary>Says which TorchSharp and libtorch this plugin loaded, and with how many threads.</summary>
    private static int TorchInfo(string[] argv, TextWriter stdout, TextWriter stderr)
    {
        if (argv.Length > 0) throw new TorchUsageException("torch-info takes no arguments");
        stdout.WriteLine($"TorchSharp {typeof(TorchSharp.torch).Assembly.GetName().Version} from {Path.GetDirectoryName(typeof(TorchSharp.torch).Assembly.Location)}");
        stdout.WriteLine($"libtorch {TorchSharp.torch.__version__}, intra-op threads {TorchSharp.torch.get_num_threads()}");
        using var x = TorchSharp.torch.ones(2, 2);
        stdout.WriteLine($"check: ones(2,2).sum() = {x.sum().item<float>()}");
        return Ok;
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim();
}

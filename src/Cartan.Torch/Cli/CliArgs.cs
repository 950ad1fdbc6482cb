using System.Globalization;

namespace Cartan.Torch.Cli;

/// <summary>"--name value" options and positional arguments of a torch command; every problem is a
/// <see cref="TorchUsageException"/>.</summary>
internal sealed class CliArgs
{
    private readonly Dictionary<string, string> _options = new(StringComparer.Ordinal);

    public List<string> Positional { get; } = [];

    public CliArgs(string command, string[] argv, IReadOnlySet<string> known)
    {
        for (int i = 0; i < argv.Length; i++)
        {
            string a = argv[i];
            if (a.StartsWith("--", StringComparison.Ordinal))
            {
                if (!known.Contains(a)) throw new TorchUsageException($"{command}: unknown option '{a}' (options: {string.Join(", ", known.Order())})");
                if (i + 1 >= argv.Length) throw new TorchUsageException($"{command}: option {a} needs a value");
                if (!_options.TryAdd(a, argv[++i])) throw new TorchUsageException($"{command}: option {a} given twice");
            }
            else Positional.Add(a);
        }
        Command = command;
    }

    public string Command { get; }

    public string? String(string name) => _options.GetValueOrDefault(name);

    public int Int(string name, int fallback, int min = 1, int max = int.MaxValue)
    {
        if (!_options.TryGetValue(name, out var s)) return fallback;
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v < min || v > max)
            throw new TorchUsageException($"{Command}: {name} must be an integer in {min}..{max}, not '{s}'");
        return v;
    }

    public long Long(string name, long fallback, long min = long.MinValue)
    {
        if (!_options.TryGetValue(name, out var s)) return fallback;
        if (!long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) || v < min)
            throw new TorchUsageException($"{Command}: {name} must be an integer ≥ {min}, not '{s}'");
        return v;
    }

    public double Double(string name, double fallback, double min, double max)
    {
        if (!_options.TryGetValue(name, out var s)) return fallback;
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !(v >= min && v <= max))
            throw new TorchUsageException($"{Command}: {name} must be a number in [{min}, {max}], not '{s}'");
        return v;
    }
}

namespace Cartan.Engine;

/// <summary>Bad command line: printed as one line, exit code 2. Lives in the library so that the CLI and the TorchSharp
/// plugin parse shared option sets (e.g. <see cref="Cartan.Pruning.PruneArguments"/>) with one parser.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>A small, strict argument parser: options are declared, unknown ones are usage errors.</summary>
public sealed class Args
{
    private readonly Dictionary<string, List<string[]>> _options = new();
    public List<string> Positionals { get; } = [];

    /// <param name="arity">option name (with dashes) → number of values it takes (0 for a flag)</param>
    public static Args Parse(IReadOnlyList<string> argv, IReadOnlyDictionary<string, int> arity)
    {
        var a = new Args();
        for (int i = 0; i < argv.Count; i++)
        {
            var s = argv[i];
            if (s.StartsWith("--", StringComparison.Ordinal) && s.Length > 2)
            {
                string name = s, inline = "";
                int eq = s.IndexOf('=');
                if (eq > 0) { name = s[..eq]; inline = s[(eq + 1)..]; }
                if (!arity.TryGetValue(name, out var n)) throw new UsageException($"unknown option {name}");
                var values = new List<string>();
                if (eq > 0)
                {
                    if (n != 1) throw new UsageException($"{name} does not take '=value'");
                    values.Add(inline);
                }
                else
                {
                    for (int k = 0; k < n; k++)
                    {
                        if (i + 1 >= argv.Count) throw new UsageException($"{name} needs {n} value{(n > 1 ? "s" : "")}");
                        values.Add(argv[++i]);
                    }
                }
                if (!a._options.TryGetValue(name, out var list)) a._options[name] = list = [];
                list.Add([.. values]);
            }
            else if (s == "-h") { a._options["--help"] = [[]]; }
            else a.Positionals.Add(s);
        }
        return a;
    }

    public bool Has(string name) => _options.ContainsKey(name);

    public string? Get(string name)
    {
        if (!_options.TryGetValue(name, out var l)) return null;
        if (l.Count > 1) throw new UsageException($"{name} given more than once");
        return l[0].Length > 0 ? l[0][0] : null;
    }

    public IReadOnlyList<string[]> All(string name) => _options.TryGetValue(name, out var l) ? l : [];

    public int? GetInt(string name, int min = int.MinValue)
    {
        var v = Get(name);
        if (v is null) return null;
        if (!int.TryParse(v, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var i) || i < min)
            throw new UsageException($"{name} expects an integer ≥ {min}, got '{v}'");
        return i;
    }
}

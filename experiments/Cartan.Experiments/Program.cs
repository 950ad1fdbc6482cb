using System.Globalization;

namespace Cartan.Experiments;

public static class Program
{
    public static int Main(string[] args)
    {
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        if (args.Length == 0)
        {
            Console.Error.WriteLine("usage: Cartan.Experiments gch|gch-report|collapse|collapse-report [--key value ...]");
            return 2;
        }
        var opts = new Dictionary<string, string>();
        for (int i = 1; i + 1 < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal)) { Console.Error.WriteLine($"bad argument {args[i]}"); return 2; }
            opts[args[i][2..]] = args[i + 1];
        }
        switch (args[0])
        {
            case "gch": GchExperiment.Run(opts); break;
            case "gch-report": GchExperiment.Report(opts); break;
            case "collapse": CollapseExperiment.Run(opts); break;
            case "collapse-report": CollapseExperiment.Report(opts); break;
            default: Console.Error.WriteLine($"unknown command {args[0]}"); return 2;
        }
        return 0;
    }

    public static string Get(this Dictionary<string, string> o, string key, string fallback) => o.TryGetValue(key, out var v) ? v : fallback;
    public static int GetInt(this Dictionary<string, string> o, string key, int fallback) => o.TryGetValue(key, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
    public static double GetDouble(this Dictionary<string, string> o, string key, double fallback) => o.TryGetValue(key, out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;
}

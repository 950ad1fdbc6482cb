using Cartan.Engine;

namespace Cartan.Cli;

/// <summary>A progress bar on a terminal, plain progress lines (every 10%) otherwise, nothing with --quiet.</summary>
public sealed class ProgressDisplay : IProgress<Progress>, IDisposable
{
    private readonly TextWriter _err;
    private readonly bool _tty, _quiet;
    private readonly string _label;
    private readonly object _lock = new();
    private int _lastDecile = -1;
    private bool _drawn;

    private ProgressDisplay(TextWriter err, bool tty, bool quiet, string label) { _err = err; _tty = tty; _quiet = quiet; _label = label; }

    public static ProgressDisplay Create(TextWriter err, bool quiet, string label) =>
        new(err, ReferenceEquals(err, Console.Error) && !Console.IsErrorRedirected, quiet, label);

    public void Report(Progress p)
    {
        if (_quiet || p.Total == 0) return;
        lock (_lock)
        {
            if (_tty)
            {
                const int width = 30;
                int filled = (int)((long)p.Done * width / p.Total);
                var item = p.Item.Length > 40 ? "…" + p.Item[^39..] : p.Item;
                _err.Write($"\r{_label} [{new string('#', filled)}{new string('.', width - filled)}] {p.Done}/{p.Total} {item,-40}");
                _drawn = true;
            }
            else
            {
                int decile = (int)((long)p.Done * 10 / p.Total);
                if (decile != _lastDecile)
                {
                    _lastDecile = decile;
                    _err.WriteLine($"{_label}: {p.Done}/{p.Total} jobs ({decile * 10}%)");
                }
            }
        }
    }

    public void Finish()
    {
        lock (_lock)
        {
            if (_drawn) { _err.Write("\r" + new string(' ', 100) + "\r"); _drawn = false; }
        }
    }

    public void Dispose() => Finish();
}

using TorchSharp;

namespace Cartan.Torch;

/// <summary>Checks that libtorch and TorchSharp's native library load, with a message that names the real cause.</summary>
public static class TorchRuntime
{
    private static readonly Lazy<string?> Failure = new(Probe);

    /// <summary>Null when TorchSharp works here, else one paragraph saying why not and what to run.</summary>
    public static string? Problem => Failure.Value;

    /// <summary>Throws <see cref="InvalidOperationException"/> with <see cref="Problem"/> when TorchSharp cannot load.</summary>
    public static void EnsureAvailable()
    {
        if (Problem is { } p) throw new InvalidOperationException(p);
    }

    private static string? Probe()
    {
        try
        {
            using var t = torch.ones(1);
            return null;
        }
        catch (Exception e) when (e is NotSupportedException or DllNotFoundException or TypeInitializationException or InvalidOperationException)
        {
            string hint = OperatingSystem.IsLinux()
                ? " On Linux the usual cause is a C++ runtime older than GLIBCXX_3.4.32 (Debian 12): run scripts/setup-torch.sh after every restore (the build of Cartan.Torch runs it)."
                : "";
            return $"TorchSharp could not load its native libraries: {e.GetBaseException().Message}.{hint}";
        }
    }
}

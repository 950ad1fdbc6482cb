namespace Cartan.Formats;

/// <summary>Placeholder until the Npy reader lands.</summary>
public static class NpyReader
{
    public static WeightModel Open(string path) => throw new CartanFormatException(path, "Npy reader not implemented yet");
}

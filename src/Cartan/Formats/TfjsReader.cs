namespace Cartan.Formats;

/// <summary>Placeholder until the Tfjs reader lands.</summary>
public static class TfjsReader
{
    public static WeightModel Open(string path) => throw new CartanFormatException(path, "Tfjs reader not implemented yet");
}

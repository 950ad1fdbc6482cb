namespace Cartan.Formats;

/// <summary>Placeholder until the Safetensors reader lands.</summary>
public static class SafetensorsReader
{
    public static WeightModel Open(string path) => throw new CartanFormatException(path, "Safetensors reader not implemented yet");
}

namespace Cartan.Formats;

/// <summary>Placeholder until the Onnx reader lands.</summary>
public static class OnnxReader
{
    public static WeightModel Open(string path) => throw new CartanFormatException(path, "Onnx reader not implemented yet");
}

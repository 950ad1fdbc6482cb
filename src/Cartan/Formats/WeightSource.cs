using System.Text.Json;

namespace Cartan.Formats;

/// <summary>Opens a weight file or a model folder, sniffing the format from names and magic bytes.</summary>
public static class WeightSource
{
    /// <summary>Opens <paramref name="path"/>. Throws <see cref="CartanFormatException"/> for anything unreadable.</summary>
    public static WeightModel Open(string path) => Open(path, null);

    /// <summary>
    /// Opens <paramref name="path"/>; an <c>hf://ORG/NAME[@REVISION]</c> path is read from the Hugging Face Hub
    /// (see <see cref="Hub.HubSource"/>) with <paramref name="hub"/> settings (environment defaults when null).
    /// </summary>
    public static WeightModel Open(string path, Hub.HubOptions? hub)
    {
        if (Hub.HubSource.IsHubPath(path)) return Hub.HubSource.Open(path, hub);
        if (Directory.Exists(path)) return OpenFolder(path);
        if (!File.Exists(path)) throw new CartanFormatException(path, "no such file or folder");
        return OpenFile(path);
    }

    /// <summary>The format name a file would be read as, or null when unknown.</summary>
    public static string? SniffFile(string path)
    {
        var name = Path.GetFileName(path).ToLowerInvariant();
        if (name.EndsWith(".safetensors") || name.EndsWith(".safetensors.index.json")) return "safetensors";
        if (name.EndsWith(".onnx")) return "onnx";
        if (name.EndsWith(".npy") || name.EndsWith(".npz")) return "npy";
        if (name.EndsWith(".json")) return "tfjs";
        if (name.EndsWith(".gguf")) return "gguf";
        Span<byte> head = stackalloc byte[8];
        int got;
        try
        {
            using var fs = File.OpenRead(path);
            got = fs.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        { throw new CartanFormatException(path, $"cannot open: {e.Message}"); }
        if (got >= 6 && head[0] == 0x93 && head[1] == (byte)'N' && head[2] == (byte)'U') return "npy";
        if (got >= 4 && head[0] == (byte)'G' && head[1] == (byte)'G' && head[2] == (byte)'U' && head[3] == (byte)'F') return "gguf";
        if (got >= 4 && head[0] == (byte)'P' && head[1] == (byte)'K' && PytorchReader.IsTorchZip(path)) return "pytorch";
        if (got >= 2 && head[0] == 0x80 && (name.EndsWith(".pt") || name.EndsWith(".pth") || name.EndsWith(".bin"))) return "pytorch";
        if (got >= 4 && head[0] == (byte)'P' && head[1] == (byte)'K') return "npy";
        if (got >= 8 && head[0] <= 0x7f && head[1] == 0 && head[2] == 0 && head[3] == 0 && head[4] == 0 && head[5] == 0 && head[6] == 0 && head[7] == 0)
            return "safetensors";
        if (got >= 8 && head[7] == 0 && head[6] == 0 && head[5] == 0 && head[4] == 0 && head[3] == 0) return "safetensors";
        if (got >= 1 && head[0] == 0x08) return "onnx";
        return null;
    }

    private static WeightModel OpenFile(string path)
    {
        var format = SniffFile(path)
            ?? throw new CartanFormatException(path, "unknown format (expected safetensors, onnx, tfjs model.json, npy, npz, gguf or a PyTorch zip checkpoint)");
        return format switch
        {
            "safetensors" => SafetensorsReader.Open(path),
            "onnx" => OnnxReader.Open(path),
            "npy" => NpyReader.Open(path),
            "tfjs" => TfjsReader.Open(path),
            "gguf" => GgufReader.Open(path),
            "pytorch" => PytorchReader.Open(path),
            _ => throw new CartanFormatException(path, $"unsupported format {format}"),
        };
    }

    private static WeightModel OpenFolder(string dir)
    {
        string? pick = null;
        string[] files = Directory.GetFiles(dir);
        string? Find(Func<string, bool> pred) => files.Where(f => pred(Path.GetFileName(f))).OrderBy(f => f, StringComparer.Ordinal).FirstOrDefault();
        pick ??= Find(f => f.EndsWith(".safetensors.index.json", StringComparison.OrdinalIgnoreCase));
        pick ??= Find(f => f.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase));
        pick ??= Find(f => f.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase));
        pick ??= Find(f => f.Equals("model.json", StringComparison.OrdinalIgnoreCase));
        pick ??= Find(f => f.EndsWith(".npz", StringComparison.OrdinalIgnoreCase));
        pick ??= Find(f => f.Equals("pytorch_model.bin", StringComparison.OrdinalIgnoreCase));
        pick ??= Find(f => f.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase));
        if (pick is null)
            throw new CartanFormatException(dir, "folder holds no weights (*.safetensors, *.onnx, model.json, *.npz, pytorch_model.bin or *.gguf)");
        if (files.Count(f => f.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)) > 1 && !pick.EndsWith(".index.json", StringComparison.OrdinalIgnoreCase))
            throw new CartanFormatException(dir, "folder holds several .safetensors files but no model.safetensors.index.json");
        var model = OpenFile(pick);
        var cfg = Path.Combine(dir, "config.json");
        if (File.Exists(cfg))
        {
            try
            {
                using var doc = JsonDocument.Parse(File.ReadAllBytes(cfg));
                model.Config = doc.RootElement.Clone();
            }
            catch (JsonException e)
            {
                model.Dispose();
                throw new CartanFormatException(cfg, $"invalid JSON: {e.Message.Split('\n')[0]}");
            }
        }
        return model;
    }
}

using System.IO.Compression;
using System.Text;
using Cartan.Formats;

namespace Cartan.Torch.Lm;

/// <summary>Reads corpus text files: plain UTF-8, or gzip when the name ends in <c>.gz</c>; and finds a split
/// (<c>train</c>, <c>calib</c>, <c>test</c>) in a corpus folder as <c>NAME.txt</c> or <c>NAME.txt.gz</c>.</summary>
public static class LmCorpus
{
    /// <summary>Largest text accepted (characters), so a wrong file cannot exhaust memory.</summary>
    public const long MaxChars = 256L << 20;

    public static string ReadText(string path)
    {
        if (!File.Exists(path)) throw new CartanFormatException(path, "the text file does not exist");
        try
        {
            using var file = File.OpenRead(path);
            using Stream s = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
            using var reader = new StreamReader(s, new UTF8Encoding(false, throwOnInvalidBytes: true));
            var sb = new StringBuilder();
            var buf = new char[1 << 16];
            int n;
            while ((n = reader.Read(buf, 0, buf.Length)) > 0)
            {
                if (sb.Length + (long)n > MaxChars) throw new CartanFormatException(path, $"the text is longer than {MaxChars} characters");
                sb.Append(buf, 0, n);
            }
            return sb.ToString();
        }
        catch (Exception e) when (e is InvalidDataException or DecoderFallbackException or IOException)
        {
            throw new CartanFormatException(path, $"cannot read the text: {e.Message.ReplaceLineEndings(" ")}");
        }
    }

    /// <summary>The path of split <paramref name="name"/> in <paramref name="folder"/>.</summary>
    public static string SplitPath(string folder, string name)
    {
        foreach (var candidate in new[] { name + ".txt", name + ".txt.gz" })
        {
            string p = Path.Combine(folder, candidate);
            if (File.Exists(p)) return p;
        }
        throw new CartanFormatException(folder, $"no {name}.txt or {name}.txt.gz in the corpus folder");
    }
}

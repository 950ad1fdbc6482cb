namespace Cartan.Torch.Lm;

/// <summary>
/// The byte ↔ character table of byte-level BPE (GPT-2's <c>bytes_to_unicode</c>, which Microsoft.ML.Tokenizers'
/// <c>BpeOptions.ByteLevel</c> uses too): the printable bytes '!'..'~', '¡'..'¬', '®'..'ÿ' stand for themselves,
/// the other 68 bytes for U+0100, U+0101, … in byte order (so a space is 'Ġ', a newline 'Ċ').
/// </summary>
public static class ByteLevel
{
    private static readonly char[] ToChar = Build();
    private static readonly Dictionary<char, byte> ToByte = ToChar.Select((c, b) => (c, (byte)b)).ToDictionary(p => p.c, p => p.Item2);

    private static char[] Build()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    /// <summary>The character that stands for byte <paramref name="b"/>.</summary>
    public static char Char(byte b) => ToChar[b];

    /// <summary>The byte-level spelling of UTF-8 bytes.</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        var c = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) c[i] = ToChar[bytes[i]];
        return new string(c);
    }

    /// <summary>The bytes a byte-level spelling stands for; null when a character is not one of the 256.</summary>
    public static byte[]? Decode(string s)
    {
        var b = new byte[s.Length];
        for (int i = 0; i < s.Length; i++)
        {
            if (!ToByte.TryGetValue(s[i], out b[i])) return null;
        }
        return b;
    }
}

namespace Cartan.Formats;

/// <summary>
/// The one error a reader may throw: the input is unreadable or malformed. The message is a single
/// sentence naming the file and what is wrong (and the byte offset or tensor where known); the CLI
/// prints it and exits with code 3.
/// </summary>
public sealed class CartanFormatException : Exception
{
    public CartanFormatException(string file, string problem, Exception? inner = null)
        : base($"{file}: {problem}", inner)
    {
        FilePath = file;
        Problem = problem;
    }

    public string FilePath { get; }
    public string Problem { get; }
}

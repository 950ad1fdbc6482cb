namespace Cartan.Cli;

public static class Entry
{
    public static int Run(string[] args)
    {
        Console.Error.WriteLine("cartan: not yet");
        return 2;
    }
}

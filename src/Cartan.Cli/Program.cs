return Cartan.Cli.Cli.Run(args, Console.Out, Console.Error);

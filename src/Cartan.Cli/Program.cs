return Cartan.Cli.Entry.Run(args);

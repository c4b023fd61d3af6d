using System.CommandLine;
using Offload.Cli;
using Offload.Cli.Commands;

// The one program a user runs. User errors (bad options, missing data) print one line and exit 2;
// anything else is a bug and keeps its stack trace.
var root = new RootCommand("Offload: federated learning with compressed updates and event-driven aggregation.");
root.Subcommands.Add(SimulateCommand.Create());
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(ClientCommand.Create());
root.Subcommands.Add(InspectCommand.Create());
root.Subcommands.Add(StoreCommand.Create());
root.Subcommands.Add(ExperimentCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(PlotCommand.Create());
root.Subcommands.Add(DeployCommand.Create());
return CommandLineEntry.Run(root, args);

using System.CommandLine;
using Offload.Cli.Experiments;

namespace Offload.Cli.Commands;

/// <summary><c>offload experiment ...</c>: multi-run studies that write CSV, JSON and PNG side by side.</summary>
public static class ExperimentCommand
{
    /// <summary>Builds the parent command with every experiment as a subcommand.</summary>
    public static Command Create()
    {
        var command = new Command("experiment", "Run a multi-configuration study; each writes CSV, summary.json and plots.");
        command.Subcommands.Add(CompressionExperiment.Create());
        command.Subcommands.Add(StalenessExperimentCommand.Create());
        command.Subcommands.Add(StalenessGapCommand.Create());
        command.Subcommands.Add(StrategyExperiment.Create());
        command.Subcommands.Add(ByzantineExperiment.Create());
        return command;
    }
}

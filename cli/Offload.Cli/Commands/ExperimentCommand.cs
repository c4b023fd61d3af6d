using System.CommandLine;

namespace Offload.Cli.Commands;

/// <summary><c>offload experiment</c>: reproducible comparisons, one subcommand per experiment.</summary>
public static class ExperimentCommand
{
    /// <summary>Builds the command group with its experiments.</summary>
    public static Command Create()
    {
        var command = new Command("experiment", "Run a reproducible experiment and write its results (CSV, JSON, PNG).");
        command.Subcommands.Add(StalenessExperimentCommand.Create());
        return command;
    }
}

using System.CommandLine;
using Offload.Cli.Benchmarks;

namespace Offload.Cli.Commands;

/// <summary><c>offload bench ...</c>: end-to-end measurements that write summary.json (hot loops live in bench/).</summary>
public static class BenchCommand
{
    /// <summary>Builds the parent command with every benchmark as a subcommand.</summary>
    public static Command Create()
    {
        var command = new Command("bench", "End-to-end measurements; each writes summary.json.");
        command.Subcommands.Add(AggregationBenchmark.Create());
        command.Subcommands.Add(IngestBenchmark.Create());
        command.Subcommands.Add(PlacementBenchmark.Create());
        command.Subcommands.Add(HopBenchmark.Create());
        return command;
    }
}

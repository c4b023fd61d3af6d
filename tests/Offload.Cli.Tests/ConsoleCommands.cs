namespace Offload.Cli.Tests;

/// <summary>
/// Tests that run commands in this process share Spectre.Console's one static console, which refuses
/// two live progress displays at once: they run one after another, never in parallel.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleCommands
{
    public const string Name = "console commands";
}

using System.CommandLine;
using Offload.Aggregator.Strategies;

namespace Offload.Cli.Options;

/// <summary>
/// <c>--strategy NAME[:key=value,...]</c>, shared by <c>simulate</c> and <c>serve</c> (in process and
/// Dapr): one registry, <see cref="StrategyCatalog"/>. An unknown name or key exits 2 with the list.
/// </summary>
public static class StrategyOption
{
    /// <summary>A new <c>--strategy</c> option (System.CommandLine options belong to one command each).</summary>
    public static Option<string> Create() => new("--strategy")
    {
        Description = $"Federated algorithm, NAME[:key=value,...]: {string.Join(" | ", StrategyCatalog.Names)}; any sum-decomposable one also takes clip=C (norm clipping). Default fedavg.",
        DefaultValueFactory = _ => "fedavg",
    };

    /// <summary>Parses the option's value.</summary>
    /// <exception cref="InvalidOptionException">Not a strategy; the message lists every strategy with its keys.</exception>
    public static AggregationStrategy Parse(string value)
    {
        try
        {
            return StrategyCatalog.Parse(value);
        }
        catch (FormatException e)
        {
            string message = e.Message.Contains('\n') ? e.Message : $"{e.Message}\nStrategies:\n{StrategyCatalog.Describe()}";
            throw new InvalidOptionException($"--strategy: {message}");
        }
    }
}

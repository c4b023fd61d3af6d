using System.Collections.Concurrent;
using Offload.Aggregator.Strategies;

namespace Offload.Functions.Aggregation;

/// <summary>
/// The strategies the rounds' tickets name, parsed once per name (<see cref="StrategyCatalog"/>):
/// a function instance aggregates with whatever the gateway opened the round with, so every
/// instance, warm or cold, folds and steps alike. Thread-safe.
/// </summary>
public sealed class RoundStrategies
{
    private const int Kept = 32;
    private readonly ConcurrentDictionary<string, AggregationStrategy> _known = new(StringComparer.Ordinal);

    /// <summary>The strategy <paramref name="name"/> names; FedAvg for a ticket written before rounds carried one.</summary>
    /// <exception cref="InvalidDataException">The name is not a strategy (a corrupt or foreign actor state).</exception>
    public AggregationStrategy For(string? name)
    {
        string key = string.IsNullOrEmpty(name) ? "fedavg" : name;
        if (_known.TryGetValue(key, out var strategy)) return strategy;
        try
        {
            strategy = StrategyCatalog.Parse(key);
        }
        catch (FormatException e)
        {
            throw new InvalidDataException($"The round names strategy '{key}', which this function cannot run: {e.Message}", e);
        }
        if (_known.Count >= Kept) _known.Clear(); // A handful of names in practice; never grow without bound.
        return _known.GetOrAdd(key, strategy);
    }
}

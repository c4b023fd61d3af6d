namespace Offload.Functions.Rounds;

/// <summary>
/// Everything a round's actor persists (in the actor state store, never in process memory): the
/// opening, each update's arrival (the set that makes folding idempotent), the children's partials,
/// which aggregators emitted, and whether the deadline passed and the model was published.
/// Serialised as JSON between turns.
/// </summary>
public sealed record RoundState
{
    /// <summary>How the round was opened.</summary>
    public required RoundOpening Opening { get; init; }

    /// <summary>Updates registered, in arrival order (index = position).</summary>
    public List<Arrival> Arrivals { get; init; } = [];

    /// <summary>Partials registered with their parents.</summary>
    public List<PartialClaim> Partials { get; init; } = [];

    /// <summary>Aggregators that emitted (or were handed to a caller to emit), as "l{level}/a{index}".</summary>
    public List<string> Emitted { get; init; } = [];

    /// <summary>
    /// When each emitted aggregator was last handed to a function (UTC), so a repeated delivery
    /// hands it out again only after <see cref="RoundActor.EmitLease"/> (the first emitter died) or
    /// after the emitter gave it back with <see cref="IRoundActor.Release"/>; never to two at once.
    /// </summary>
    public Dictionary<string, DateTimeOffset> HandedOut { get; init; } = [];

    /// <summary>Whether the deadline reminder fired.</summary>
    public bool DeadlinePassed { get; set; }

    /// <summary>The published model version; null until the top publishes.</summary>
    public long? PublishedVersion { get; set; }

    /// <summary>Where the published model is stored; null until the top publishes.</summary>
    public string? PublishedReference { get; set; }

    /// <summary>The key of an aggregator.</summary>
    public static string AggregatorKey(int level, int index) => $"l{level}/a{index}";
}

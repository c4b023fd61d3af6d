using Offload.Aggregator.Strategies;

namespace Offload.Functions.Rounds;

/// <summary>What opens a round on its <see cref="RoundActor"/>: who is expected, the tree bound, the deadline and the model it starts from.</summary>
/// <param name="Round">The 1-based round.</param>
/// <param name="ExpectedUpdates">Updates the round waits for (the tree is planned for them).</param>
/// <param name="MaxFanIn">The fan-in bound of the tree (at least 2).</param>
/// <param name="DeadlineSeconds">Seconds after opening at which the deadline reminder closes the round.</param>
/// <param name="ModelReference">Store key of the global model the round trains from.</param>
/// <param name="ModelVersion">That model's version.</param>
/// <param name="Layout">The model's tensors.</param>
/// <param name="Clients">The clients given a task this round; empty accepts any client.</param>
/// <param name="Last">Whether no round follows (an update arriving after it closed has no round to go to).</param>
/// <param name="Strategy">The round's strategy by name (<see cref="StrategyCatalog"/>): every function instance rebuilds it from the ticket, so the gateway's choice reaches them all.</param>
/// <param name="Node">The gateway's node, where uploads land, when node stores are used: a leaf the deadline makes due with no update is announced there, so it folds beside its siblings (null: on the shared topic).</param>
public sealed record RoundOpening(
    long Round,
    int ExpectedUpdates,
    int MaxFanIn,
    double DeadlineSeconds,
    string ModelReference,
    long ModelVersion,
    TensorShape[] Layout,
    string[]? Clients = null,
    bool Last = false,
    string Strategy = "fedavg",
    string? Node = null)
{
    /// <summary>Throws when a field is out of range.</summary>
    /// <exception cref="ArgumentException">The message names the field and its allowed range.</exception>
    public RoundOpening Validate()
    {
        if (Round < 1) throw new ArgumentException($"Round must be at least 1 (got {Round}).", nameof(Round));
        if (ExpectedUpdates < 1) throw new ArgumentException($"ExpectedUpdates must be at least 1 (got {ExpectedUpdates}).", nameof(ExpectedUpdates));
        if (MaxFanIn < 2) throw new ArgumentException($"MaxFanIn must be at least 2 (got {MaxFanIn}).", nameof(MaxFanIn));
        if (!(DeadlineSeconds > 0) || !double.IsFinite(DeadlineSeconds)) throw new ArgumentException($"DeadlineSeconds must be positive (got {DeadlineSeconds}).", nameof(DeadlineSeconds));
        if (string.IsNullOrEmpty(ModelReference)) throw new ArgumentException("ModelReference must name the stored model.", nameof(ModelReference));
        // The round's top reads the model it names; nothing outside the models may be named.
        if (!ModelReference.StartsWith(Storage.StoreKeys.ModelPrefix, StringComparison.Ordinal))
            throw new ArgumentException($"ModelReference '{ModelReference}' is not a stored model (it must start with '{Storage.StoreKeys.ModelPrefix}').", nameof(ModelReference));
        if (Node is not null && Names.NodeTopics.NodeProblem(Node, nameof(Node)) is { } node) throw new ArgumentException(node, nameof(Node));
        if (ModelVersion < 0) throw new ArgumentException($"ModelVersion must not be negative (got {ModelVersion}).", nameof(ModelVersion));
        if (Layout is null || Layout.Length == 0) throw new ArgumentException("Layout must list the model's tensors.", nameof(Layout));
        TensorShape.ToLayout(Layout);
        try
        {
            StrategyCatalog.Parse(Strategy ?? "");
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"Strategy '{Strategy}' is not a strategy: {e.Message}", nameof(Strategy), e);
        }
        return this;
    }
}

namespace Offload.Functions.Rounds;

/// <summary>
/// The round's answer to an input. When <see cref="Complete"/> is true the caller must emit the
/// aggregator at (<see cref="Level"/>, <see cref="Index"/>) from <see cref="Updates"/> (a leaf) or
/// <see cref="Partials"/> (above), all of them read from the store; the actor has already recorded
/// that aggregator as emitted, so exactly the inputs listed are covered.
/// </summary>
/// <param name="Status">How the input was taken.</param>
/// <param name="Reason">Why, for <see cref="FoldStatus.Late"/>, <see cref="FoldStatus.UnknownRound"/> and <see cref="FoldStatus.Invalid"/>.</param>
/// <param name="Complete">Whether an aggregator is due to emit.</param>
/// <param name="Round">The round.</param>
/// <param name="Level">The due aggregator's level.</param>
/// <param name="Index">Its index.</param>
/// <param name="IsTop">Whether it is the top (emitting publishes the next model).</param>
/// <param name="Updates">A due leaf's updates.</param>
/// <param name="Partials">A due parent's children's partials; for a <see cref="FoldStatus.Duplicate"/> partial, the claim registered first for that child.</param>
/// <param name="Layout">The model's tensors.</param>
/// <param name="ModelReference">Store key of the model the round trains from.</param>
/// <param name="ModelVersion">Its version.</param>
/// <param name="Strategy">The round's strategy by name (how a leaf folds its updates, how the top steps).</param>
public sealed record FoldTicket(
    FoldStatus Status,
    string? Reason = null,
    bool Complete = false,
    long Round = 0,
    int Level = 0,
    int Index = 0,
    bool IsTop = false,
    Arrival[]? Updates = null,
    PartialClaim[]? Partials = null,
    TensorShape[]? Layout = null,
    string? ModelReference = null,
    long ModelVersion = 0,
    string? Strategy = null);

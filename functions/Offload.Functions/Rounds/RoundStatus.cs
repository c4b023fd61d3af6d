namespace Offload.Functions.Rounds;

/// <summary>A round as its actor sees it.</summary>
/// <param name="Known">Whether the round was opened.</param>
/// <param name="Round">The round.</param>
/// <param name="ExpectedUpdates">Updates it waits for.</param>
/// <param name="Arrivals">Distinct updates registered.</param>
/// <param name="DeadlinePassed">Whether the deadline closed it.</param>
/// <param name="Published">Whether its model was published.</param>
/// <param name="PublishedVersion">The published model version, when published.</param>
/// <param name="AggregatorsPerLevel">The tree plan, leaves first.</param>
/// <param name="Layout">The model's tensors.</param>
/// <param name="Last">Whether no round follows.</param>
/// <param name="PublishedReference">Where the published model is stored, when published.</param>
/// <param name="ModelReference">Where the model the round trains from is stored.</param>
/// <param name="ModelVersion">That model's version.</param>
/// <param name="Strategy">The round's strategy by name.</param>
public sealed record RoundStatus(
    bool Known,
    long Round = 0,
    int ExpectedUpdates = 0,
    int Arrivals = 0,
    bool DeadlinePassed = false,
    bool Published = false,
    long? PublishedVersion = null,
    int[]? AggregatorsPerLevel = null,
    TensorShape[]? Layout = null,
    bool Last = false,
    string? PublishedReference = null,
    string? ModelReference = null,
    long ModelVersion = 0,
    string? Strategy = null);

namespace Offload.Functions.Rounds;

/// <summary>A child's partial registered with its round (the claim check of a <c>PartialReady</c>).</summary>
/// <param name="Level">The child's level.</param>
/// <param name="Index">The child's index within its level.</param>
/// <param name="Reference">Store key of the partial sum.</param>
/// <param name="UpdateCount">Client updates it covers.</param>
/// <param name="TotalWeight">Their total weight.</param>
public sealed record PartialClaim(int Level, int Index, string Reference, int UpdateCount, double TotalWeight)
{
    /// <summary>The contribution id a parent folds this partial under.</summary>
    public string ContributionId => $"l{Level}/a{Index}";
}

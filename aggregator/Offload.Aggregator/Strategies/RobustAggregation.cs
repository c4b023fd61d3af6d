using Offload.Aggregator.Kernels;

namespace Offload.Aggregator.Strategies;

/// <summary>
/// The Byzantine-robust strategies: each group's individual updates are combined by a rule that a
/// bounded number of arbitrary inputs cannot drag far (<see cref="AggregationStrategy.Combine"/>), and the server steps
/// by the result as FedAvg does (x += combined).
/// </summary>
/// <remarks>
/// Every update weighs 1, whatever sample count it claims: counts are self-reported, and a defence
/// that let one device claim a million samples would give that device the round. Under the
/// hierarchy each leaf combines its own inputs and the leaves are averaged by how many updates each
/// covered, so the guarantee is per leaf: a leaf whose Byzantine inputs stay below the rule's
/// breakdown point yields a value inside its honest inputs' range (median, trimmed mean) or one of
/// its honest inputs' neighbourhood (Krum), and the mean of such leaves stays inside the range of the
/// honest updates. A leaf taken over beyond the breakdown point moves the model by at most its share
/// (its update count over the round's). Flat rounds are one group, the strongest form.
/// </remarks>
public abstract class RobustAggregation : AggregationStrategy
{
    /// <inheritdoc/>
    public override AggregationKind Kind => AggregationKind.Robust;

    /// <inheritdoc/>
    public override double WeightOf(UpdateReceipt receipt)
    {
        base.WeightOf(receipt); // Still refuses an update that claims no sample.
        return 1;
    }

    /// <inheritdoc/>
    protected override void Step(ReadOnlySpan<float> aggregatedUpdate, Span<float> globalWeights, ServerState state) =>
        AggregationKernels.ApplyStep(globalWeights, aggregatedUpdate, 1f);
}

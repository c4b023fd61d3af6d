using System.Buffers;
using System.Numerics.Tensors;
using Offload.Core.Federation;

namespace Offload.Aggregator.Strategies;

/// <summary>
/// A federated learning algorithm, cut along the hooks Flower's strategies have, so that a new one
/// overrides one or two members:
/// <list type="bullet">
/// <item><see cref="Configure"/>: what the round's selected clients are told to train with (sent in the task).</item>
/// <item><see cref="WeightOf"/> and, for norm clipping, <see cref="PrepareUpdate"/>: how one update enters its group.</item>
/// <item><see cref="Combine"/>: for <see cref="AggregationKind.Robust"/> strategies, how a group's individual updates become one.</item>
/// <item><see cref="Step"/>: from the round's aggregated update to the next global model, reading and
/// writing the explicit <see cref="ServerState"/> (momentum, moments), never fields of the strategy.</item>
/// <item><see cref="Evaluate"/> (optional): how the clients' own scores of the model combine.</item>
/// </list>
/// The flow of a round (selection, quorum, deadline) belongs to the round lifecycle, and where the
/// folding happens (one process, or the Dapr functions) to the coordinators; a strategy is pure and
/// thread-safe, so one instance serves every round and every aggregator.
/// </summary>
/// <remarks>
/// Sign convention: an update is the client's trained weights minus the weights it started from, so
/// the aggregated update is minus the pseudo-gradient of Reddi et al. (2021) and steps add it.
/// </remarks>
public abstract class AggregationStrategy
{
    /// <summary>The registry name with its settings, e.g. <c>fedadam:eta=0.01</c>; what summaries record and the Dapr tickets carry.</summary>
    public abstract string Name { get; }

    /// <summary>Whether updates sum eagerly through the tree or a group's individual updates are needed.</summary>
    public virtual AggregationKind Kind => AggregationKind.SumDecomposable;

    /// <summary>Whether <see cref="PrepareUpdate"/> changes updates (then each is decoded densely before it is folded).</summary>
    public virtual bool PreparesUpdates => false;

    /// <summary>The local training the clients of <paramref name="round"/> are asked for; <paramref name="defaults"/> are the operator's settings.</summary>
    public virtual TrainingOptions Configure(long round, TrainingOptions defaults) => defaults;

    /// <summary>The weight of one update in its group: its sample count by default (FedAvg), positive and finite.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The update claims no sample.</exception>
    public virtual double WeightOf(UpdateReceipt receipt)
    {
        if (receipt.SampleCount <= 0)
            throw new ArgumentOutOfRangeException(nameof(receipt), receipt.SampleCount, "An update must come from at least one sample.");
        return receipt.SampleCount;
    }

    /// <summary>
    /// A factor on one update's contribution that, unlike <see cref="WeightOf"/>, does not count in the
    /// mean's denominator: a down-weighted stale update moves the model less instead of just counting
    /// less against the others (FedBuff's staleness weighting). 1 by default; in (0, 1].
    /// </summary>
    public virtual double ScaleOf(UpdateReceipt receipt) => 1.0;

    /// <summary>Changes one decoded update before it is folded (norm clipping); called only when <see cref="PreparesUpdates"/>.</summary>
    public virtual void PrepareUpdate(Span<float> update)
    {
    }

    /// <summary>Combines a group's individual updates into one (robust strategies only).</summary>
    /// <exception cref="NotSupportedException">The strategy is sum-decomposable.</exception>
    public virtual void Combine(UpdateGroup group, Span<float> destination) =>
        throw new NotSupportedException($"Strategy '{Name}' is sum-decomposable; its updates are folded as a weighted sum, not combined as a group.");

    /// <summary>
    /// Federated evaluation: combines the scores the round's clients reported for the model they were
    /// sent, weighted by examples (Flower's default); null when none reported.
    /// </summary>
    public virtual FederatedEvaluation? Evaluate(long round, IReadOnlyList<ClientEvaluation> evaluations)
    {
        ArgumentNullException.ThrowIfNull(evaluations);
        if (evaluations.Count == 0) return null;
        long examples = 0;
        double loss = 0, accuracy = 0;
        foreach (var e in evaluations)
        {
            examples += e.Examples;
            loss += e.Loss * e.Examples;
            accuracy += e.Accuracy * e.Examples;
        }
        return new FederatedEvaluation(evaluations.Count, examples, loss / examples, accuracy / examples);
    }

    /// <summary>A fresh server state for this strategy (round 0, no vectors yet).</summary>
    public ServerState InitialState() => new(Name);

    /// <summary>
    /// The round's server step: applies <paramref name="aggregatedUpdate"/> (the weighted mean, or the
    /// robust combination) to <paramref name="globalWeights"/> in place through <see cref="Step"/>,
    /// advances <paramref name="state"/> by one round and reports what the step did.
    /// </summary>
    /// <exception cref="ArgumentException">The spans differ in length, or the state belongs to another strategy.</exception>
    public AggregationMetrics Aggregate(ReadOnlySpan<float> aggregatedUpdate, int updates, Span<float> globalWeights, ServerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (aggregatedUpdate.Length != globalWeights.Length)
            throw new ArgumentException($"The aggregated update has {aggregatedUpdate.Length} values; the model has {globalWeights.Length}.", nameof(aggregatedUpdate));
        if (state.Strategy != Name) throw new ArgumentException($"The server state belongs to '{state.Strategy}', not '{Name}'.", nameof(state));
        float[] before = ArrayPool<float>.Shared.Rent(globalWeights.Length);
        try
        {
            var previous = before.AsSpan(0, globalWeights.Length);
            globalWeights.CopyTo(previous);
            Step(aggregatedUpdate, globalWeights, state);
            state.Rounds++;
            return new AggregationMetrics(updates, TensorPrimitives.Norm(aggregatedUpdate), globalWeights.IsEmpty ? 0 : TensorPrimitives.Distance(previous, globalWeights));
        }
        finally
        {
            ArrayPool<float>.Shared.Return(before);
        }
    }

    /// <summary>
    /// Moves <paramref name="globalWeights"/> by the round's <paramref name="aggregatedUpdate"/>.
    /// <see cref="ServerState.Rounds"/> is the number of rounds aggregated before this one.
    /// </summary>
    protected abstract void Step(ReadOnlySpan<float> aggregatedUpdate, Span<float> globalWeights, ServerState state);

    /// <summary>Runs <see cref="Step"/> for a wrapper (<see cref="NormClipping"/>) that delegates the server step.</summary>
    internal void StepWith(ReadOnlySpan<float> aggregatedUpdate, Span<float> globalWeights, ServerState state) =>
        Step(aggregatedUpdate, globalWeights, state);
}

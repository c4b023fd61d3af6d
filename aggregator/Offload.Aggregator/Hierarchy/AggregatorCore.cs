using System.Buffers;
using System.Numerics.Tensors;
using Offload.Aggregator.Accumulation;
using Offload.Aggregator.Kernels;
using Offload.Aggregator.Strategies;
using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Aggregator.Hierarchy;

/// <summary>
/// The one engine behind every role of the tree: it folds each input into its accumulator the
/// moment it arrives (eager aggregation, LIFL-style, rather than wait-then-sum), ignores a repeated
/// contribution id (delivery is at-least-once), and emits a <see cref="PartialAggregate"/> once its
/// fan-in is reached or when the round's deadline forces it. After emitting, inputs are refused as
/// <see cref="FoldOutcome.Late"/> so the caller can route them on; nothing is dropped silently.
/// Thread-safe: inputs may arrive from concurrent event handlers.
/// </summary>
/// <remarks>
/// A leaf given a strategy honours its two per-update hooks: updates are decoded densely and passed
/// through <see cref="AggregationStrategy.PrepareUpdate"/> (norm clipping) when it asks, and for a
/// <see cref="AggregationKind.Robust"/> strategy the leaf keeps every decoded update (one pooled model
/// copy each) and combines them at emission; the partial then carries combined * total weight, so the
/// tree above sums it like any other.
/// </remarks>
public sealed class AggregatorCore : IDisposable
{
    private readonly object _gate = new();
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private readonly AggregationStrategy? _strategy;
    private readonly List<float[]> _kept = [];
    private readonly List<double> _keptWeights = [];
    private float[]? _sum;
    private double _totalWeight;
    private int _updates;
    private bool _emitted;

    /// <summary>Creates an empty aggregator; <paramref name="strategy"/> (a leaf's) decides how client updates enter it, null folding them as a plain weighted sum.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The fan-in is not positive.</exception>
    public AggregatorCore(TensorLayout layout, AggregatorAddress address, int fanIn, AggregationStrategy? strategy = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(fanIn);
        _strategy = strategy;
        Layout = layout;
        Address = address;
        FanIn = fanIn;
        _sum = ArrayPool<float>.Shared.Rent(layout.TotalLength);
        Array.Clear(_sum, 0, layout.TotalLength);
    }

    /// <summary>The layout of every input.</summary>
    public TensorLayout Layout { get; }

    /// <summary>This aggregator's place in the tree.</summary>
    public AggregatorAddress Address { get; }

    /// <summary>Inputs expected before the partial is emitted.</summary>
    public int FanIn { get; }

    /// <summary>Distinct inputs folded so far.</summary>
    public int Inputs
    {
        get { lock (_gate) return _seen.Count; }
    }

    /// <summary>Whether an input under <paramref name="contributionId"/> has been folded.</summary>
    public bool Contains(string contributionId)
    {
        lock (_gate) return _seen.Contains(contributionId);
    }

    /// <summary>Whether the fan-in has been reached.</summary>
    public bool IsComplete
    {
        get { lock (_gate) return _seen.Count >= FanIn; }
    }

    /// <summary>Whether the partial has been emitted.</summary>
    public bool HasEmitted
    {
        get { lock (_gate) return _emitted; }
    }

    /// <summary>Folds <paramref name="weight"/> * <paramref name="update"/>, a client's update, under <paramref name="contributionId"/>.</summary>
    /// <exception cref="ArgumentException">The update does not match the layout or holds a NaN or infinity; nothing is folded.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The weight is not positive and finite.</exception>
    public FoldOutcome FoldUpdate(string contributionId, ReadOnlySpan<float> update, double weight)
    {
        ArgumentException.ThrowIfNullOrEmpty(contributionId);
        UpdateValidation.EnsureDense(Layout, update, weight);
        lock (_gate)
        {
            var outcome = Admit(contributionId);
            if (outcome != FoldOutcome.Folded) return outcome;
            if (NeedsDense)
            {
                var dense = RentDense();
                update.CopyTo(dense);
                Take(dense, weight);
            }
            else AggregationKernels.WeightedAccumulate(_sum.AsSpan(0, Layout.TotalLength), update, (float)weight);
            _totalWeight += weight;
            _updates++;
            return outcome;
        }
    }

    /// <summary>Whether client updates must be decoded densely first (a strategy that prepares or keeps them).</summary>
    private bool NeedsDense => _strategy is not null && (_strategy.PreparesUpdates || _strategy.Kind == AggregationKind.Robust);

    private float[] RentDense()
    {
        var dense = ArrayPool<float>.Shared.Rent(Layout.TotalLength);
        Array.Clear(dense, 0, Layout.TotalLength);
        return dense;
    }

    /// <summary>Prepares a dense update, then keeps it (robust) or adds it to the sum and returns its buffer.</summary>
    private void Take(float[] dense, double weight)
    {
        var span = dense.AsSpan(0, Layout.TotalLength);
        if (_strategy!.PreparesUpdates) _strategy.PrepareUpdate(span);
        if (_strategy.Kind == AggregationKind.Robust)
        {
            _kept.Add(dense);
            _keptWeights.Add(weight);
            return;
        }
        AggregationKernels.WeightedAccumulate(_sum.AsSpan(0, Layout.TotalLength), span, (float)weight);
        ArrayPool<float>.Shared.Return(dense);
    }

    /// <summary>Folds an encoded client update by fused decode-and-add, under <paramref name="contributionId"/>.</summary>
    /// <param name="contributionId">Idempotency key.</param>
    /// <param name="codec">The payload's codec.</param>
    /// <param name="payload">The encoded update.</param>
    /// <param name="weight">Its weight.</param>
    /// <param name="validated">True when the caller ran <see cref="UpdatePayload.Validate"/> on these very bytes and holds them unchanged: the CRC and finiteness sweeps are not run again (<see cref="UpdatePayload.AccumulateValidated"/>), so the update is checked once.</param>
    /// <param name="scale">A factor on the update's contribution to the sum only, not to the total weight (<see cref="AggregationStrategy.ScaleOf"/>): a down-weighted stale update moves the mean less.</param>
    /// <exception cref="InvalidPayloadException">The payload is malformed or not for this layout; nothing is folded and the id stays free.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The weight or the scale is not positive and finite.</exception>
    public FoldOutcome FoldEncoded(string contributionId, IUpdateCodec codec, ReadOnlySpan<byte> payload, double weight, bool validated = false, double scale = 1.0)
    {
        ArgumentException.ThrowIfNullOrEmpty(contributionId);
        ArgumentNullException.ThrowIfNull(codec);
        UpdateValidation.EnsureWeight(weight);
        UpdateValidation.EnsureWeight(scale);
        double contribution = weight * scale;
        lock (_gate)
        {
            if (_seen.Contains(contributionId)) return FoldOutcome.Duplicate;
            if (_emitted) return FoldOutcome.Late;
            ObjectDisposedException.ThrowIf(_sum is null, this);
            // Decode first: a rejected payload must not consume the contribution id.
            if (NeedsDense)
            {
                var dense = RentDense();
                try
                {
                    if (validated) UpdatePayload.AccumulateValidated(payload, Layout, dense.AsSpan(0, Layout.TotalLength), 1f);
                    else codec.DecodeAndAccumulate(payload, Layout, dense.AsSpan(0, Layout.TotalLength), 1f);
                }
                catch
                {
                    ArrayPool<float>.Shared.Return(dense);
                    throw;
                }
                Take(dense, contribution);
            }
            else if (validated) UpdatePayload.AccumulateValidated(payload, Layout, _sum.AsSpan(0, Layout.TotalLength), (float)contribution);
            else codec.DecodeAndAccumulate(payload, Layout, _sum.AsSpan(0, Layout.TotalLength), (float)contribution);
            _seen.Add(contributionId);
            _totalWeight += weight;
            _updates++;
            return FoldOutcome.Folded;
        }
    }

    /// <summary>Folds a child's partial (its sum is already weighted), keyed by the child's address.</summary>
    /// <exception cref="ArgumentException">The partial's length differs from the layout's.</exception>
    public FoldOutcome FoldPartial(PartialAggregate partial)
    {
        ArgumentNullException.ThrowIfNull(partial);
        Layout.EnsureMatches(partial.Sum, nameof(partial));
        if (_strategy?.Kind == AggregationKind.Robust)
            throw new InvalidOperationException($"Aggregator {Address} combines client updates robustly; it takes no partial.");
        lock (_gate)
        {
            var outcome = Admit(partial.Source.ToString());
            if (outcome != FoldOutcome.Folded) return outcome;
            if (partial.UpdateCount > 0)
                AggregationKernels.WeightedAccumulate(_sum.AsSpan(0, Layout.TotalLength), partial.Sum, 1f);
            _totalWeight += partial.TotalWeight;
            _updates += partial.UpdateCount;
            return outcome;
        }
    }

    /// <summary>
    /// Emits the partial: call when <see cref="IsComplete"/> turns true, or at the round deadline with
    /// whatever has arrived (possibly nothing: the partial then has weight 0 and covers no update).
    /// </summary>
    /// <exception cref="InvalidOperationException">The partial was already emitted.</exception>
    public PartialAggregate Emit()
    {
        lock (_gate)
        {
            if (_emitted) throw new InvalidOperationException($"Aggregator {Address} already emitted its partial.");
            ObjectDisposedException.ThrowIf(_sum is null, this);
            _emitted = true;
            if (_kept.Count > 0) CombineKept();
            var partial = new PartialAggregate(Address, _sum, Layout.TotalLength, _totalWeight, _updates);
            _sum = null; // Ownership moves to the partial.
            return partial;
        }
    }

    /// <summary>Emits the partial if the fan-in is reached and nobody emitted it yet; otherwise null. Atomic, so one of several concurrent callers wins.</summary>
    public PartialAggregate? EmitIfComplete()
    {
        lock (_gate)
            return !_emitted && _seen.Count >= FanIn ? Emit() : null;
    }

    /// <summary>Emits the partial unless it was already emitted (the deadline path); otherwise null.</summary>
    public PartialAggregate? EmitIfOpen()
    {
        lock (_gate)
            return _emitted ? null : Emit();
    }

    /// <summary>The robust combination of the kept updates, written to the sum as combined * total weight (what a weighted sum would hold).</summary>
    private void CombineKept()
    {
        var sum = _sum.AsSpan(0, Layout.TotalLength);
        _strategy!.Combine(new UpdateGroup(_kept, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_keptWeights), Layout.TotalLength), sum);
        TensorPrimitives.Multiply(sum, (float)_totalWeight, sum);
        ReturnKept();
    }

    private void ReturnKept()
    {
        foreach (var buffer in _kept) ArrayPool<float>.Shared.Return(buffer);
        _kept.Clear();
        _keptWeights.Clear();
    }

    public void Dispose()
    {
        lock (_gate)
        {
            ReturnKept();
            if (_sum is null) return;
            ArrayPool<float>.Shared.Return(_sum);
            _sum = null;
        }
    }

    private FoldOutcome Admit(string contributionId)
    {
        if (_seen.Contains(contributionId)) return FoldOutcome.Duplicate;
        if (_emitted) return FoldOutcome.Late;
        ObjectDisposedException.ThrowIf(_sum is null, this);
        _seen.Add(contributionId);
        return FoldOutcome.Folded;
    }
}

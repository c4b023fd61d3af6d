using Offload.Aggregator.Strategies;
using Offload.Core.Model;

namespace Offload.Aggregator.Hierarchy;

/// <summary>
/// One round's tree of leaf, middle and top aggregators run in one process (the simulator and
/// <c>offload serve</c>; on Dapr each node is a function instance instead). An update goes to its
/// leaf; a leaf that reaches its fan-in emits at once and its partial is folded into the parent,
/// and so on up (eager aggregation). Aggregators are created on first input, so with contiguous
/// assignment only a few accumulators are alive at a time. Thread-safe: concurrent folds into
/// different leaves run in parallel.
/// </summary>
public sealed class AggregationTree : IDisposable
{
    private readonly object _gate = new();
    private readonly Dictionary<(int Level, int Index), AggregatorCore> _nodes = new();
    private readonly HashSet<(int Level, int Index)> _retired = new();
    private readonly TopAggregator _top;
    private int _live;

    private readonly AggregationStrategy? _strategy;

    /// <summary>Creates the (empty) tree of <paramref name="plan"/> for <paramref name="round"/>; its leaves fold client updates as <paramref name="strategy"/> asks (null: plain weighted sum).</summary>
    public AggregationTree(TensorLayout layout, TreePlan plan, long round, AggregationStrategy? strategy = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(plan);
        _strategy = strategy;
        Layout = layout;
        Plan = plan;
        Round = round;
        _top = new TopAggregator(layout, new AggregatorAddress(round, plan.Levels - 1, 0), plan.ExpectedInputs(plan.Levels - 1, 0));
        _live = 1;
        PeakLiveAggregators = 1;
    }

    /// <summary>The layout of every update.</summary>
    public TensorLayout Layout { get; }

    /// <summary>The tree's shape.</summary>
    public TreePlan Plan { get; }

    /// <summary>The round served.</summary>
    public long Round { get; }

    /// <summary>Most accumulators alive at once (memory in model copies).</summary>
    public int PeakLiveAggregators { get; private set; }

    /// <summary>Whether every expected update has reached the top.</summary>
    public bool IsComplete => _top.Core.IsComplete;

    /// <summary>Folds the <paramref name="arrivalIndex"/>-th update of the round into its leaf and cascades completed partials upwards.</summary>
    /// <returns><see cref="FoldOutcome.Late"/> when the index is beyond the plan or its leaf already emitted (route it to the next round).</returns>
    /// <exception cref="ArgumentException">The update is invalid (see <see cref="AggregatorCore.FoldUpdate"/>); nothing is folded.</exception>
    public FoldOutcome Fold(int arrivalIndex, string contributionId, ReadOnlySpan<float> update, double weight)
    {
        int leaf = Plan.LeafFor(arrivalIndex);
        if (leaf < 0) return FoldOutcome.Late;
        var node = Node(0, leaf);
        if (node is null) return FoldOutcome.Late; // Its leaf already emitted.
        var outcome = node.FoldUpdate(contributionId, update, weight);
        if (outcome == FoldOutcome.Folded) CascadeFrom(node, 0, leaf, deadline: false);
        return outcome;
    }

    /// <summary>As <see cref="Fold"/>, for an encoded update folded by fused decode-and-add.</summary>
    /// <exception cref="Offload.Core.Codec.InvalidPayloadException">The payload is malformed; nothing is folded.</exception>
    public FoldOutcome FoldEncoded(int arrivalIndex, string contributionId, Offload.Core.Codec.IUpdateCodec codec, ReadOnlySpan<byte> payload, double weight)
    {
        int leaf = Plan.LeafFor(arrivalIndex);
        if (leaf < 0) return FoldOutcome.Late;
        var node = Node(0, leaf);
        if (node is null) return FoldOutcome.Late;
        var outcome = node.FoldEncoded(contributionId, codec, payload, weight);
        if (outcome == FoldOutcome.Folded) CascadeFrom(node, 0, leaf, deadline: false);
        return outcome;
    }

    /// <summary>
    /// Closes the round (at completion, or at the deadline with whatever arrived): emits every open
    /// aggregator bottom-up, then the top applies the weighted mean through <paramref name="strategy"/>'s
    /// server step, advancing <paramref name="state"/>. Reports the client updates in the new model and the step.
    /// </summary>
    public AggregationMetrics Publish(AggregationStrategy strategy, Span<float> globalWeights, ServerState state)
    {
        for (int level = 0; level < Plan.Levels - 1; level++)
        {
            List<(int Index, AggregatorCore Node)> open;
            lock (_gate)
            {
                open = new List<(int, AggregatorCore)>();
                foreach (var ((l, i), n) in _nodes)
                    if (l == level) open.Add((i, n));
            }
            open.Sort((a, b) => a.Index.CompareTo(b.Index));
            foreach (var (index, node) in open) CascadeFrom(node, level, index, deadline: true);
        }
        return _top.Publish(strategy, globalWeights, state);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var node in _nodes.Values) node.Dispose();
            _nodes.Clear();
        }
        _top.Dispose();
    }

    /// <summary>The live aggregator at (level, index), created on first use; null once it has emitted.</summary>
    private AggregatorCore? Node(int level, int index)
    {
        lock (_gate)
        {
            if (_retired.Contains((level, index))) return null;
            if (!_nodes.TryGetValue((level, index), out var node))
            {
                node = new AggregatorCore(Layout, new AggregatorAddress(Round, level, index), Plan.ExpectedInputs(level, index), level == 0 ? _strategy : null);
                _nodes.Add((level, index), node);
                PeakLiveAggregators = Math.Max(PeakLiveAggregators, ++_live);
            }
            return node;
        }
    }

    /// <summary>Emits <paramref name="node"/> if complete (or open, at the deadline) and folds the partial into its parent, repeating upwards.</summary>
    private void CascadeFrom(AggregatorCore node, int level, int index, bool deadline)
    {
        while (level < Plan.Levels - 1)
        {
            using var partial = deadline ? node.EmitIfOpen() : node.EmitIfComplete();
            if (partial is null) return;
            Retire(level, index, node);
            int parentIndex = Plan.ParentOf(level, index);
            if (level + 1 == Plan.Levels - 1)
            {
                _top.Fold(partial);
                return;
            }
            var parent = Node(level + 1, parentIndex)
                ?? throw new InvalidOperationException($"Aggregator {level + 1}/{parentIndex} emitted before its child {level}/{index}.");
            parent.FoldPartial(partial);
            if (deadline) return; // The deadline sweep visits the parent's level next.
            node = parent;
            level++;
            index = parentIndex;
        }
    }

    private void Retire(int level, int index, AggregatorCore node)
    {
        lock (_gate)
        {
            if (_nodes.Remove((level, index))) _live--;
            _retired.Add((level, index));
        }
        node.Dispose();
    }
}

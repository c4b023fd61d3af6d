namespace Offload.Aggregator.Hierarchy;

/// <summary>
/// The shape of one round's aggregation tree: how many aggregators at each level (leaves first,
/// the single top last) and how many inputs each expects. Inputs are assigned contiguously
/// (arrival k goes to leaf k / leaf fan-in), so in one process the leaves fill one after another
/// and few accumulators are alive at once.
/// </summary>
public sealed class TreePlan
{
    private readonly int[] _counts;
    private readonly int[] _fanIns;

    internal TreePlan(int expectedUpdates, int maxFanIn, int[] counts, int[] fanIns)
    {
        ExpectedUpdates = expectedUpdates;
        MaxFanIn = maxFanIn;
        _counts = counts;
        _fanIns = fanIns;
    }

    /// <summary>Updates the round expects.</summary>
    public int ExpectedUpdates { get; }

    /// <summary>The bound the planner was given.</summary>
    public int MaxFanIn { get; }

    /// <summary>Aggregators per level, leaves first; the last level has one (the top).</summary>
    public IReadOnlyList<int> AggregatorsPerLevel => _counts;

    /// <summary>The nominal fan-in at each level (the last aggregator of a level may get fewer).</summary>
    public IReadOnlyList<int> FanInPerLevel => _fanIns;

    /// <summary>Number of levels, the top included.</summary>
    public int Levels => _counts.Length;

    /// <summary>Total number of aggregators in the tree.</summary>
    public int Aggregators
    {
        get
        {
            int n = 0;
            foreach (int c in _counts) n += c;
            return n;
        }
    }

    /// <summary>The leaf for the update that arrived <paramref name="arrivalIndex"/>-th (from 0), or -1 when it exceeds the expected count.</summary>
    public int LeafFor(int arrivalIndex) =>
        arrivalIndex < 0 || arrivalIndex >= ExpectedUpdates ? -1 : arrivalIndex / _fanIns[0];

    /// <summary>The index, one level up, of aggregator <paramref name="index"/> at <paramref name="level"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The level is the top or out of range.</exception>
    public int ParentOf(int level, int index)
    {
        if (level < 0 || level >= Levels - 1) throw new ArgumentOutOfRangeException(nameof(level), level, $"Only levels 0..{Levels - 2} have parents.");
        return index / _fanIns[level + 1];
    }

    /// <summary>Inputs aggregator <paramref name="index"/> at <paramref name="level"/> expects.</summary>
    public int ExpectedInputs(int level, int index)
    {
        int below = level == 0 ? ExpectedUpdates : _counts[level - 1];
        return Math.Min(_fanIns[level], below - index * _fanIns[level]);
    }

    public override string ToString() =>
        $"{ExpectedUpdates} updates, fan-in <= {MaxFanIn}: {string.Join(" -> ", _counts)} aggregators (fan-in {string.Join("/", _fanIns)})";
}

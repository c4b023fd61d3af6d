using Offload.Functions.Events;

namespace Offload.Functions.Rounds;

/// <summary>One aggregator of a round's tree, named in an actor call.</summary>
/// <param name="Level">Its level (0: a leaf).</param>
/// <param name="Index">Its index within the level.</param>
public sealed record AggregatorSlot(int Level, int Index)
{
    /// <summary>Throws when a field is out of range (the round's actor checks it against the tree).</summary>
    /// <exception cref="ArgumentException">The message names the field and its allowed range.</exception>
    public AggregatorSlot Validate()
    {
        if (Level is < 0 or > MalformedEvent.MaxLevel) throw new ArgumentException($"AggregatorSlot.level is {Level}; levels run from 0 to {MalformedEvent.MaxLevel}.", "level");
        if (Index < 0) throw new ArgumentException($"AggregatorSlot.index is {Index}; indexes start at 0.", "index");
        return this;
    }
}

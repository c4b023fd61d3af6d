namespace Offload.Aggregator.Strategies;

/// <summary>
/// The individual, decoded updates one aggregator holds for a robust strategy (a leaf's inputs, or a
/// flat round's), with the weight each was folded with. The buffers belong to the aggregator; a
/// strategy reads them during <see cref="AggregationStrategy.Combine"/> and keeps no reference.
/// </summary>
public sealed class UpdateGroup
{
    private readonly IReadOnlyList<float[]> _updates;
    private readonly double[] _weights;

    /// <summary>Creates a view of <paramref name="updates"/> (each at least <paramref name="length"/> long) and their weights.</summary>
    /// <exception cref="ArgumentException">The counts differ, a buffer is short, or a weight is not positive and finite.</exception>
    public UpdateGroup(IReadOnlyList<float[]> updates, ReadOnlySpan<double> weights, int length)
    {
        ArgumentNullException.ThrowIfNull(updates);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (updates.Count != weights.Length) throw new ArgumentException($"{updates.Count} updates but {weights.Length} weights.", nameof(weights));
        for (int i = 0; i < updates.Count; i++)
        {
            if (updates[i].Length < length) throw new ArgumentException($"Update {i} holds {updates[i].Length} values; {length} are needed.", nameof(updates));
            if (!(weights[i] > 0) || !double.IsFinite(weights[i])) throw new ArgumentException($"Update {i} has weight {weights[i]}; weights must be positive and finite.", nameof(weights));
        }
        _updates = updates;
        _weights = weights.ToArray();
        Length = length;
    }

    /// <summary>Updates in the group.</summary>
    public int Count => _updates.Count;

    /// <summary>Values per update (the layout's total length).</summary>
    public int Length { get; }

    /// <summary>The buffers themselves, for kernels over lists of arrays; each may be longer than <see cref="Length"/> (pooled).</summary>
    public IReadOnlyList<float[]> Buffers => _updates;

    /// <summary>The <paramref name="index"/>-th update.</summary>
    public ReadOnlySpan<float> this[int index] => _updates[index].AsSpan(0, Length);

    /// <summary>The weight the <paramref name="index"/>-th update was folded with.</summary>
    public double WeightOf(int index) => _weights[index];

    /// <summary>Sum of the weights.</summary>
    public double TotalWeight
    {
        get
        {
            double total = 0;
            foreach (double w in _weights) total += w;
            return total;
        }
    }
}

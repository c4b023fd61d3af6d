namespace Offload.Core.Model;

/// <summary>A global model's version: 0 is the initial model, each aggregation adds one.</summary>
public readonly record struct ModelVersion(long Value) : IComparable<ModelVersion>
{
    /// <summary>The initial model.</summary>
    public static ModelVersion Initial => new(0);

    /// <summary>The version that follows this one.</summary>
    public ModelVersion Next() => new(checked(Value + 1));

    /// <summary>How many versions <paramref name="current"/> is ahead of this one (the staleness tau).</summary>
    public long StalenessAt(ModelVersion current) => current.Value - Value;

    public int CompareTo(ModelVersion other) => Value.CompareTo(other.Value);

    public override string ToString() => $"v{Value}";
}

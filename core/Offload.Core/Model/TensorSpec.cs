namespace Offload.Core.Model;

/// <summary>One named tensor of a model: its shape and where it sits in the flat buffer.</summary>
/// <param name="Name">The parameter's name as the model reports it, e.g. <c>conv1.weight</c>.</param>
/// <param name="Shape">The tensor's dimensions; every one is positive.</param>
/// <param name="Offset">Index of the tensor's first element in the flat buffer.</param>
public sealed record TensorSpec(string Name, IReadOnlyList<int> Shape, int Offset)
{
    /// <summary>Number of elements (the product of the shape).</summary>
    public int Length
    {
        get
        {
            long n = 1;
            foreach (int d in Shape) n *= d;
            return checked((int)n);
        }
    }

    /// <summary>Value equality over the shape's elements, not the list reference.</summary>
    public bool Equals(TensorSpec? other) =>
        other is not null && Name == other.Name && Offset == other.Offset && Shape.SequenceEqual(other.Shape);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Name);
        hash.Add(Offset);
        foreach (int d in Shape) hash.Add(d);
        return hash.ToHashCode();
    }

    public override string ToString() => $"{Name}[{string.Join('x', Shape)}]@{Offset}";
}

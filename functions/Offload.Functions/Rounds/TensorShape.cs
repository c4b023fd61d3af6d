using Offload.Core.Model;

namespace Offload.Functions.Rounds;

/// <summary>One tensor of a model layout, in a form that travels as JSON (actor state, actor calls).</summary>
/// <param name="Name">The tensor's name.</param>
/// <param name="Shape">Its dimensions.</param>
public sealed record TensorShape(string Name, int[] Shape)
{
    /// <summary>The shapes of <paramref name="layout"/>, in order.</summary>
    public static TensorShape[] Of(TensorLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        return layout.Tensors.Select(t => new TensorShape(t.Name, t.Shape.ToArray())).ToArray();
    }

    /// <summary>Rebuilds the layout of <paramref name="shapes"/>.</summary>
    /// <exception cref="ArgumentException">The shapes do not form a valid layout.</exception>
    public static TensorLayout ToLayout(IReadOnlyList<TensorShape> shapes)
    {
        ArgumentNullException.ThrowIfNull(shapes);
        return TensorLayout.Create(shapes.Select(s => (s.Name, s.Shape)));
    }
}

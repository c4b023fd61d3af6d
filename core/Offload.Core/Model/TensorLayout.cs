using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace Offload.Core.Model;

/// <summary>
/// The layout of a model's parameters in one flat <see cref="float"/> buffer: tensor names, shapes
/// and offsets, contiguous and in order. Codecs and aggregators see only this and spans, never a
/// tensor library's types.
/// </summary>
public sealed class TensorLayout : IEquatable<TensorLayout>
{
    /// <summary>Largest accepted parameter count (2^31 - 1 floats; 8 GiB of weights).</summary>
    public const int MaxParameters = int.MaxValue;

    private readonly TensorSpec[] _tensors;

    private TensorLayout(TensorSpec[] tensors, int totalLength)
    {
        _tensors = tensors;
        TotalLength = totalLength;
        Hash = ComputeHash(tensors);
    }

    /// <summary>The tensors in buffer order.</summary>
    public IReadOnlyList<TensorSpec> Tensors => _tensors;

    /// <summary>Total number of parameters (floats) across all tensors.</summary>
    public int TotalLength { get; }

    /// <summary>64-bit XxHash3 of names and shapes: a compact identity for wire formats.</summary>
    public ulong Hash { get; }

    /// <summary>Builds a layout by placing the given tensors one after another.</summary>
    /// <exception cref="ArgumentException">A name is empty or repeated, or a dimension is not positive.</exception>
    /// <exception cref="OverflowException">The parameter count exceeds <see cref="MaxParameters"/>.</exception>
    public static TensorLayout Create(IEnumerable<(string Name, int[] Shape)> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var specs = new List<TensorSpec>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        long offset = 0;
        foreach (var (name, shape) in tensors)
        {
            if (string.IsNullOrEmpty(name)) throw new ArgumentException("A tensor name is empty.", nameof(tensors));
            if (!names.Add(name)) throw new ArgumentException($"Tensor name '{name}' appears twice.", nameof(tensors));
            ArgumentNullException.ThrowIfNull(shape);
            long length = 1;
            foreach (int d in shape)
            {
                if (d <= 0) throw new ArgumentException($"Tensor '{name}' has a dimension of {d}; dimensions must be positive.", nameof(tensors));
                length = checked(length * d);
            }
            specs.Add(new TensorSpec(name, (int[])shape.Clone(), checked((int)offset)));
            offset = checked(offset + length);
            if (offset > MaxParameters) throw new OverflowException($"The layout holds more than {MaxParameters} parameters.");
        }
        return new TensorLayout(specs.ToArray(), (int)offset);
    }

    /// <summary>The span of one tensor inside a flat buffer laid out by this layout.</summary>
    public Span<float> Slice(Span<float> flat, int tensorIndex)
    {
        var t = _tensors[tensorIndex];
        return flat.Slice(t.Offset, t.Length);
    }

    /// <summary>Throws when <paramref name="flat"/> does not have exactly <see cref="TotalLength"/> elements.</summary>
    /// <exception cref="ArgumentException">The buffer length differs from the layout's.</exception>
    public void EnsureMatches(ReadOnlySpan<float> flat, string parameterName)
    {
        if (flat.Length != TotalLength)
            throw new ArgumentException($"Buffer holds {flat.Length} floats; the layout needs {TotalLength}.", parameterName);
    }

    public bool Equals(TensorLayout? other)
    {
        if (other is null) return false;
        if (ReferenceEquals(this, other)) return true;
        if (Hash != other.Hash || _tensors.Length != other._tensors.Length) return false;
        for (int i = 0; i < _tensors.Length; i++)
            if (!_tensors[i].Equals(other._tensors[i])) return false;
        return true;
    }

    public override bool Equals(object? obj) => Equals(obj as TensorLayout);

    public override int GetHashCode() => Hash.GetHashCode();

    public override string ToString() => $"{_tensors.Length} tensors, {TotalLength} parameters";

    private static ulong ComputeHash(TensorSpec[] tensors)
    {
        var hasher = new XxHash3();
        Span<byte> word = stackalloc byte[4];
        foreach (var t in tensors)
        {
            hasher.Append(Encoding.UTF8.GetBytes(t.Name));
            BinaryPrimitives.WriteInt32LittleEndian(word, t.Shape.Count);
            hasher.Append(word);
            foreach (int d in t.Shape)
            {
                BinaryPrimitives.WriteInt32LittleEndian(word, d);
                hasher.Append(word);
            }
        }
        return hasher.GetCurrentHashAsUInt64();
    }
}

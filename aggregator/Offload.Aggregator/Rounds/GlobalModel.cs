using Offload.Core.Model;
using Offload.Core.Wire;

namespace Offload.Aggregator.Rounds;

/// <summary>
/// One published global model: its weights and, for downloads, the same weights as little-endian
/// float32 bytes with their CRC-32C, and optionally its <see cref="Change"/> from the previous version.
/// Immutable; a new version is a new instance.
/// </summary>
public sealed class GlobalModel
{
    private readonly float[] _weights;
    private readonly byte[] _bytes;

    /// <summary>Copies <paramref name="weights"/> into a new model.</summary>
    /// <param name="layout">The parameter layout.</param>
    /// <param name="version">The model's version.</param>
    /// <param name="weights">The weights, laid out by <paramref name="layout"/>.</param>
    /// <param name="change">The encoded change from an earlier version that yields exactly these weights, or null.</param>
    /// <exception cref="ArgumentException">The weights do not match the layout.</exception>
    public GlobalModel(TensorLayout layout, ModelVersion version, ReadOnlySpan<float> weights, ModelChange? change = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        layout.EnsureMatches(weights, nameof(weights));
        Layout = layout;
        Version = version;
        _weights = weights.ToArray();
        _bytes = new byte[WeightBytes.ByteLength(layout)];
        WeightBytes.Write(_weights, _bytes);
        Crc32C = Core.Checksums.Crc32C.HashToUInt32(_bytes);
        Change = change;
    }

    /// <summary>The parameter layout.</summary>
    public TensorLayout Layout { get; }

    /// <summary>The model's version.</summary>
    public ModelVersion Version { get; }

    /// <summary>The weights, laid out by <see cref="Layout"/>.</summary>
    public ReadOnlyMemory<float> Weights => _weights;

    /// <summary>The weights as little-endian float32 bytes.</summary>
    public ReadOnlyMemory<byte> Bytes => _bytes;

    /// <summary>CRC-32C of <see cref="Bytes"/>.</summary>
    public uint Crc32C { get; }

    /// <summary>
    /// The encoded change from <see cref="ModelChange.BaseVersion"/> whose decoding, added to the base
    /// weights, gives <see cref="Weights"/> bit for bit; null when only full weights are served.
    /// </summary>
    public ModelChange? Change { get; }
}

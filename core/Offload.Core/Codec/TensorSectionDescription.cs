namespace Offload.Core.Codec;

/// <summary>What a payload says about one tensor: how it is stored and how many bytes each part takes.</summary>
/// <param name="Index">The tensor's position in the layout.</param>
/// <param name="Name">The tensor's name when the payload embeds its layout; otherwise null.</param>
/// <param name="Shape">The tensor's shape when the payload embeds its layout; otherwise null.</param>
/// <param name="Mode">How the tensor is stored.</param>
/// <param name="Elements">Number of elements.</param>
/// <param name="Kept">Entries sent (all of them when dense).</param>
/// <param name="Clusters">Number of centroids (0 when dense).</param>
/// <param name="PositionParameter">Bit width of a position (Positions) or Rice parameter (Gaps); otherwise 0.</param>
/// <param name="Centroids">The centroid values, ascending as the encoder writes them.</param>
/// <param name="PositionBytes">Bytes of the position stream.</param>
/// <param name="ValueBytes">Bytes of the value stream (raw floats when dense, centroid indices otherwise).</param>
/// <param name="RecordBytes">Bytes of the whole record: header, centroids, code lengths and both streams.</param>
public sealed record TensorSectionDescription(
    int Index,
    string? Name,
    IReadOnlyList<int>? Shape,
    TensorSectionMode Mode,
    int Elements,
    int Kept,
    int Clusters,
    int PositionParameter,
    IReadOnlyList<float> Centroids,
    int PositionBytes,
    int ValueBytes,
    int RecordBytes)
{
    /// <summary>Bits sent per element of the tensor (record bytes × 8 / elements).</summary>
    public double BitsPerElement => RecordBytes * 8.0 / Elements;
}

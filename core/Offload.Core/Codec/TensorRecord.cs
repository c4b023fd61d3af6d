namespace Offload.Core.Codec;

/// <summary>
/// Where one tensor's record lies in a payload and what its header says, after the structural checks
/// of <see cref="PayloadReader"/>. Offsets are byte offsets into the payload.
/// </summary>
internal readonly record struct TensorRecord(
    TensorSectionMode Mode,
    int Parameter,
    int Clusters,
    int Elements,
    int Kept,
    int ElementOffset,
    int RecordAt,
    int RecordBytes,
    int CentroidsAt,
    int LengthsAt,
    int PositionsAt,
    int PositionBytes,
    int ValuesAt,
    int ValueBytes)
{
    /// <summary>Whether the centroid indices are Huffman coded (and code lengths follow the centroids).</summary>
    public bool HasCodeLengths => Mode is TensorSectionMode.Huffman or TensorSectionMode.Gaps && Clusters >= 2;
}

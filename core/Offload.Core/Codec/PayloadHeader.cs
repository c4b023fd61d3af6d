namespace Offload.Core.Codec;

/// <summary>
/// The fixed 28-byte header every payload starts with: enough for a receiver to know the codec,
/// the total size to expect and the model layout it is for, before the rest arrives.
/// </summary>
/// <param name="Version">Format version; this build reads and writes <see cref="UpdatePayload.FormatVersion"/>.</param>
/// <param name="Codec">The codec that wrote the payload.</param>
/// <param name="LayoutEmbedded">Whether tensor names and shapes follow the header.</param>
/// <param name="PayloadLength">Total bytes, header and trailing CRC included.</param>
/// <param name="LayoutHash">The <see cref="Model.TensorLayout.Hash"/> of the layout the update is for.</param>
/// <param name="TensorCount">Number of tensors in that layout.</param>
/// <param name="ParameterCount">Number of parameters (floats) in that layout.</param>
public readonly record struct PayloadHeader(
    int Version,
    PayloadCodec Codec,
    bool LayoutEmbedded,
    int PayloadLength,
    ulong LayoutHash,
    int TensorCount,
    int ParameterCount);

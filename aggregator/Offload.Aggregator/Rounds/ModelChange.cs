using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Aggregator.Rounds;

/// <summary>
/// An encoded change from <see cref="BaseVersion"/> to the model that carries it: a device holding the
/// base weights decodes <see cref="Payload"/> with <see cref="Codec"/> and adds it, element by element
/// in float, to get that model bit for bit. Immutable.
/// </summary>
/// <param name="BaseVersion">The version the change applies to.</param>
/// <param name="Codec">The codec of <see cref="Payload"/> (an <see cref="IUpdateCodec"/> payload).</param>
/// <param name="Payload">The encoded change.</param>
/// <param name="Crc32C">CRC-32C of <see cref="Payload"/>.</param>
public sealed record ModelChange(ModelVersion BaseVersion, PayloadCodec Codec, ReadOnlyMemory<byte> Payload, uint Crc32C);

using System.Runtime.InteropServices;

namespace Offload.Functions.Aggregation;

/// <summary>How a global model is stored between functions: its weights as little-endian float32s, nothing else (the layout travels with the round).</summary>
public static class ModelWeightsFormat
{
    /// <summary>Encodes <paramref name="weights"/>.</summary>
    public static byte[] Encode(ReadOnlySpan<float> weights)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Models are stored little-endian; this machine is big-endian.");
        return MemoryMarshal.AsBytes(weights).ToArray();
    }

    /// <summary>Decodes stored weights, expecting <paramref name="parameters"/> of them.</summary>
    /// <exception cref="InvalidDataException">The size does not match.</exception>
    public static float[] Decode(ReadOnlySpan<byte> bytes, int parameters)
    {
        if (bytes.Length != (long)parameters * sizeof(float))
            throw new InvalidDataException($"A stored model of {parameters} parameters holds {(long)parameters * sizeof(float)} bytes, not {bytes.Length}.");
        return MemoryMarshal.Cast<byte, float>(bytes).ToArray();
    }
}

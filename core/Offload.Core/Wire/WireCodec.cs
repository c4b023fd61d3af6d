using Offload.Core.Codec;
using Offload.Core.Protos;

namespace Offload.Core.Wire;

/// <summary>Maps the wire's <see cref="UpdateCodec"/> to the codec library's <see cref="PayloadCodec"/> and back.</summary>
public static class WireCodec
{
    /// <summary>The wire value for <paramref name="codec"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The codec has no wire value.</exception>
    public static UpdateCodec ToWire(PayloadCodec codec) => codec switch
    {
        PayloadCodec.Identity => UpdateCodec.Identity,
        PayloadCodec.FedZip => UpdateCodec.Fedzip,
        _ => throw new ArgumentOutOfRangeException(nameof(codec), codec, "Only the identity and FedZip codecs travel on the wire."),
    };

    /// <summary>The codec named by <paramref name="codec"/>; false for unspecified or unknown values.</summary>
    public static bool TryFromWire(UpdateCodec codec, out PayloadCodec result)
    {
        switch (codec)
        {
            case UpdateCodec.Identity: result = PayloadCodec.Identity; return true;
            case UpdateCodec.Fedzip: result = PayloadCodec.FedZip; return true;
            default: result = default; return false;
        }
    }
}

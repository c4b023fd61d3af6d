using Offload.Aggregator.Rounds;
using Offload.Core.Codec;
using Offload.Core.Model;
using Offload.Core.Checksums;

namespace Offload.Functions.Tests.Gateway;

/// <summary>
/// Serves what the inner coordinator serves, except that while <see cref="Corrupt"/> is set the model's
/// change is swapped for another well-formed FedZip payload (valid framing and CRC): the bytes arrive
/// intact but do not rebuild the served weights, as when a device's base has drifted from the gateway's.
/// </summary>
internal sealed class CorruptChangeCoordinator(IRoundCoordinator inner) : DelegatingCoordinator(inner)
{
    public bool Corrupt { get; set; }

    public override GlobalModel Broadcast
    {
        get
        {
            var served = Inner.Broadcast;
            if (!Corrupt || served.Change is not { } change) return served;
            var wrong = new float[served.Layout.TotalLength];
            wrong[0] = 1000f; // a change the device's held weights plus anything real would never produce
            byte[] payload = new FedZipCodec().Encode(wrong, served.Layout);
            return new GlobalModel(served.Layout, served.Version, served.Weights.Span,
                change with { Payload = payload, Crc32C = Crc32C.HashToUInt32(payload) });
        }
    }
}

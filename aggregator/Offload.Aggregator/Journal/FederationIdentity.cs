using System.Globalization;
using System.Runtime.InteropServices;
using Offload.Aggregator.Strategies;
using Offload.Core.Checksums;
using Offload.Core.Model;

namespace Offload.Aggregator.Journal;

/// <summary>What names a federation in its journal: a journal of another model, initial weights or strategy is not resumed.</summary>
public static class FederationIdentity
{
    /// <summary>The identity of the federation that starts from <paramref name="initial"/> with <paramref name="strategy"/>.</summary>
    public static string Of(TensorLayout layout, ReadOnlySpan<float> initial, AggregationStrategy strategy)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(strategy);
        return string.Create(CultureInfo.InvariantCulture,
            $"layout {layout.Hash:X16}, {layout.TotalLength} parameters, initial weights CRC-32C {Crc32C.HashToUInt32(MemoryMarshal.AsBytes(initial)):X8}, strategy {strategy.Name}");
    }
}

using Offload.Core.Model;

namespace Offload.Aggregator.Strategies;

/// <summary>What a strategy may weigh an update by, without seeing its payload.</summary>
/// <param name="SampleCount">Samples the client trained on.</param>
/// <param name="BaseVersion">The global version the client started from.</param>
/// <param name="CurrentVersion">The global version at the server when the update arrived.</param>
public readonly record struct UpdateReceipt(long SampleCount, ModelVersion BaseVersion, ModelVersion CurrentVersion)
{
    /// <summary>Versions between the client's start and now (tau).</summary>
    public long Staleness => BaseVersion.StalenessAt(CurrentVersion);
}

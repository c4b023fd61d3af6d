using Offload.Aggregator.Staleness;
using Offload.Core.Model;

namespace Offload.Aggregator.Tests.Staleness;

/// <summary>Builds small stale updates for corrector tests.</summary>
internal static class StaleUpdates
{
    public static TensorLayout Layout(int n) => TensorLayout.Create([("w", new[] { n })]);

    public static StaleUpdate Of(float[] delta, long baseVersion, long currentVersion, float[]? baseWeights = null, float[]? currentWeights = null, int client = 0) =>
        new(client, Layout(delta.Length), delta, 10, new ModelVersion(baseVersion), baseWeights ?? new float[delta.Length],
            new ModelVersion(currentVersion), currentWeights ?? new float[delta.Length]);
}

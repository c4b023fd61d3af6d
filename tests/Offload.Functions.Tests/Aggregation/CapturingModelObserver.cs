using System.Collections.Concurrent;
using Offload.Aggregator.Events;
using Offload.Functions.Aggregation;

namespace Offload.Functions.Tests.Aggregation;

/// <summary>Records what the gateway function hands to its observers.</summary>
internal sealed class CapturingModelObserver : IModelPublishedObserver
{
    public ConcurrentQueue<(ModelPublished Published, float[] Weights)> Seen { get; } = new();

    public ValueTask OnModelPublishedAsync(ModelPublished published, ReadOnlyMemory<float> weights, CancellationToken cancellationToken)
    {
        Seen.Enqueue((published, weights.ToArray()));
        return ValueTask.CompletedTask;
    }
}

using Offload.Aggregator.Events;

namespace Offload.Functions.Aggregation;

/// <summary>Told about each model the gateway function receives (serving tasks from it, reporting, evaluation).</summary>
public interface IModelPublishedObserver
{
    /// <summary>Called once per delivery of <paramref name="published"/> with the model's weights, read from the store.</summary>
    ValueTask OnModelPublishedAsync(ModelPublished published, ReadOnlyMemory<float> weights, CancellationToken cancellationToken);
}

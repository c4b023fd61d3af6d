using Offload.Aggregator.Events;

namespace Offload.Functions.Gateway;

/// <summary>
/// The gateway's event bus in asynchronous serving on Dapr: each <see cref="UpdateArrived"/> the
/// gateway announces goes where <see cref="DaprAsynchronousCoordinator.Route"/> sends it (to the open
/// round's leaves, weighted or not, or to the corrector app as a <see cref="StaleUpdateArrived"/>);
/// every other event passes through unchanged. The gateway itself stays as it is in synchronous serving.
/// </summary>
public sealed class AsynchronousRouting(IEventBus inner, DaprAsynchronousCoordinator coordinator) : IEventBus
{
    /// <inheritdoc/>
    public async ValueTask PublishAsync<TEvent>(TEvent @event, CancellationToken cancellationToken = default) where TEvent : class
    {
        if (@event is not UpdateArrived arrived)
        {
            await inner.PublishAsync(@event, cancellationToken).ConfigureAwait(false);
            return;
        }
        var routed = coordinator.Route(arrived);
        if (routed is StaleUpdateArrived stale) await inner.PublishAsync(stale, cancellationToken).ConfigureAwait(false);
        else await inner.PublishAsync((UpdateArrived)routed, cancellationToken).ConfigureAwait(false);
        coordinator.Routed(arrived, routed);
    }

    /// <inheritdoc/>
    public IAsyncDisposable Subscribe<TEvent>(Func<TEvent, CancellationToken, ValueTask> handler) where TEvent : class => inner.Subscribe(handler);
}

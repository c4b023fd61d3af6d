namespace Offload.Aggregator.Events;

/// <summary>
/// Publish and subscribe of small events (claim checks such as <see cref="UpdateArrived"/>; payloads
/// never ride on the bus). Each subscription gets every event of its type published after it was
/// made, delivered to its handler one at a time, in publish order. Implementations: in-process
/// channels (<see cref="InProcessEventBus"/>) or Dapr pub/sub.
/// </summary>
public interface IEventBus
{
    /// <summary>Delivers <paramref name="event"/> to every current subscriber of <typeparamref name="TEvent"/>.</summary>
    /// <exception cref="ObjectDisposedException">The bus was disposed.</exception>
    ValueTask PublishAsync<TEvent>(TEvent @event, CancellationToken cancellationToken = default) where TEvent : class;

    /// <summary>
    /// Delivers several events of one type, in order. By default one <see cref="PublishAsync{TEvent}"/>
    /// each; a bus with a batch call (Dapr's bulk publish) sends them in one.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The bus was disposed.</exception>
    async ValueTask PublishManyAsync<TEvent>(IReadOnlyList<TEvent> events, CancellationToken cancellationToken = default) where TEvent : class
    {
        ArgumentNullException.ThrowIfNull(events);
        foreach (var e in events) await PublishAsync(e, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Calls <paramref name="handler"/> for each <typeparamref name="TEvent"/> published from now on,
    /// one call at a time. Disposing the returned handle stops delivery after the events already queued.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The bus was disposed.</exception>
    IAsyncDisposable Subscribe<TEvent>(Func<TEvent, CancellationToken, ValueTask> handler) where TEvent : class;
}

using Dapr.Client;
using Offload.Aggregator.Events;
using Offload.Functions.Names;

namespace Offload.Functions.Events;

/// <summary>
/// <see cref="IEventBus"/> over Dapr pub/sub: publishing goes to the sidecar
/// (<see cref="DaprClient.PublishEventAsync{TData}(string, string, TData, CancellationToken)"/>) on the
/// topic of <see cref="EventTopics.For"/>. Subscribing is declarative on Dapr (the app's routes,
/// <c>MapSubscribeHandler</c>), so <see cref="Subscribe{TEvent}"/> is not supported here.
/// </summary>
public sealed class DaprEventBus : IEventBus
{
    private readonly DaprClient _client;
    private readonly string _pubSub;

    /// <summary>Creates a bus publishing through <paramref name="client"/> to <paramref name="pubSubName"/>.</summary>
    public DaprEventBus(DaprClient client, string pubSubName = DaprNames.PubSub)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrEmpty(pubSubName);
        _client = client;
        _pubSub = pubSubName;
    }

    /// <inheritdoc/>
    public async ValueTask PublishAsync<TEvent>(TEvent @event, CancellationToken cancellationToken = default) where TEvent : class
    {
        ArgumentNullException.ThrowIfNull(@event);
        await _client.PublishEventAsync(_pubSub, EventTopics.For(typeof(TEvent)), @event, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Publishes several events of one type in one call to the sidecar (Dapr bulk publish), for <see cref="IEventBus.PublishManyAsync{TEvent}"/>.</summary>
    /// <exception cref="IOException">The sidecar reported entries it could not publish; the message counts them.</exception>
    public async ValueTask PublishManyAsync<TEvent>(IReadOnlyList<TEvent> events, CancellationToken cancellationToken = default) where TEvent : class
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0) return;
        var response = await _client.BulkPublishEventAsync(_pubSub, EventTopics.For(typeof(TEvent)), events, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (response.FailedEntries.Count > 0)
            throw new IOException($"The sidecar failed to publish {response.FailedEntries.Count} of {events.Count} {typeof(TEvent).Name} events: {response.FailedEntries[0].ErrorMessage}");
    }

    /// <summary>Not supported: on Dapr the sidecar delivers events to the routes the app declares.</summary>
    /// <exception cref="NotSupportedException">Always.</exception>
    public IAsyncDisposable Subscribe<TEvent>(Func<TEvent, CancellationToken, ValueTask> handler) where TEvent : class =>
        throw new NotSupportedException("On Dapr, subscriptions are the app's routes (MapSubscribeHandler/WithTopic); the sidecar delivers events to them.");
}

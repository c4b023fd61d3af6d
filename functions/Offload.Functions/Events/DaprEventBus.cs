using Dapr.Client;
using Offload.Aggregator.Events;
using Offload.Functions.Names;

namespace Offload.Functions.Events;

/// <summary>
/// <see cref="IEventBus"/> over Dapr pub/sub: publishing goes to the sidecar
/// (<see cref="DaprClient.PublishEventAsync{TData}(string, string, TData, CancellationToken)"/>) on the
/// topic of <see cref="EventTopics.For"/>. Subscribing is declarative on Dapr (the app's routes,
/// <c>MapSubscribeHandler</c>), so <see cref="Subscribe{TEvent}"/> is not supported here. With
/// node stores the bus routes by node (<see cref="EventTopics.ForNode"/>): Dapr's consumer groups
/// are locality-blind, so the topic is what keeps an update on the node that holds it.
/// </summary>
public sealed class DaprEventBus : IEventBus
{
    private readonly DaprClient _client;
    private readonly string _pubSub;
    private readonly bool _byNode;

    /// <summary>Creates a bus publishing through <paramref name="client"/> to <paramref name="pubSubName"/>.</summary>
    /// <param name="client">The sidecar's client.</param>
    /// <param name="pubSubName">The pub/sub component.</param>
    /// <param name="routeByNode">Publish events that name a node on that node's topic (with node stores); false: every event on its shared topic.</param>
    public DaprEventBus(DaprClient client, string pubSubName = DaprNames.PubSub, bool routeByNode = false)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrEmpty(pubSubName);
        _client = client;
        _pubSub = pubSubName;
        _byNode = routeByNode;
    }

    private string TopicOf(object @event) => _byNode ? EventTopics.ForNode(@event) : EventTopics.For(@event.GetType());

    /// <inheritdoc/>
    public async ValueTask PublishAsync<TEvent>(TEvent @event, CancellationToken cancellationToken = default) where TEvent : class
    {
        ArgumentNullException.ThrowIfNull(@event);
        await _client.PublishEventAsync(_pubSub, TopicOf(@event), @event, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Publishes several events of one type in one call to the sidecar (Dapr bulk publish), for <see cref="IEventBus.PublishManyAsync{TEvent}"/>.</summary>
    /// <exception cref="IOException">The sidecar reported entries it could not publish; the message counts them.</exception>
    public async ValueTask PublishManyAsync<TEvent>(IReadOnlyList<TEvent> events, CancellationToken cancellationToken = default) where TEvent : class
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0) return;
        // One bulk call per topic: routed by node, one call's events may be bound for several nodes.
        var byTopic = new Dictionary<string, List<TEvent>>(StringComparer.Ordinal);
        foreach (var e in events)
        {
            string topic = TopicOf(e);
            if (!byTopic.TryGetValue(topic, out var list)) byTopic[topic] = list = [];
            list.Add(e);
        }
        foreach (var (topic, batch) in byTopic)
        {
            var response = await _client.BulkPublishEventAsync(_pubSub, topic, batch, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (response.FailedEntries.Count > 0)
                throw new IOException($"The sidecar failed to publish {response.FailedEntries.Count} of {batch.Count} {typeof(TEvent).Name} events on '{topic}': {response.FailedEntries[0].ErrorMessage}");
        }
    }

    /// <summary>Not supported: on Dapr the sidecar delivers events to the routes the app declares.</summary>
    /// <exception cref="NotSupportedException">Always.</exception>
    public IAsyncDisposable Subscribe<TEvent>(Func<TEvent, CancellationToken, ValueTask> handler) where TEvent : class =>
        throw new NotSupportedException("On Dapr, subscriptions are the app's routes (MapSubscribeHandler/WithTopic); the sidecar delivers events to them.");
}

using Offload.Aggregator.Events;
using Offload.Functions.Names;

namespace Offload.Functions.Events;

/// <summary>Maps each claim-check event type to its Dapr topic.</summary>
public static class EventTopics
{
    /// <summary>The topic events of <paramref name="eventType"/> travel on.</summary>
    /// <exception cref="ArgumentException">The type is not one of the events carried over Dapr.</exception>
    public static string For(Type eventType)
    {
        ArgumentNullException.ThrowIfNull(eventType);
        if (eventType == typeof(UpdateArrived)) return DaprNames.UpdateArrivedTopic;
        if (eventType == typeof(PartialReady)) return DaprNames.PartialReadyTopic;
        if (eventType == typeof(ModelPublished)) return DaprNames.ModelPublishedTopic;
        if (eventType == typeof(AggregatorDue)) return DaprNames.AggregatorDueTopic;
        if (eventType == typeof(StaleUpdateArrived)) return DaprNames.StaleUpdateTopic;
        if (eventType == typeof(CorrectionReported)) return DaprNames.CorrectionReportedTopic;
        if (eventType == typeof(RoundOpened)) return DaprNames.RoundOpenedTopic;
        throw new ArgumentException($"{eventType.Name} has no Dapr topic; only UpdateArrived, PartialReady, AggregatorDue, ModelPublished, StaleUpdateArrived, CorrectionReported and RoundOpened travel over pub/sub.", nameof(eventType));
    }

    /// <summary>
    /// The topic <paramref name="event"/> travels on when events are routed by node: an update, a
    /// partial or a due leaf that a node's store holds goes on that node's topic
    /// (<see cref="NodeTopics.For"/>), so the functions on that node take it; anything else (a model,
    /// an event naming no node) on the shared topic.
    /// </summary>
    public static string ForNode(object @event)
    {
        ArgumentNullException.ThrowIfNull(@event);
        string topic = For(@event.GetType());
        string? node = @event switch
        {
            UpdateArrived arrived => arrived.Node,
            PartialReady ready => ready.Node,
            AggregatorDue due => due.Node,
            _ => null,
        };
        return node is null ? topic : NodeTopics.For(topic, node);
    }
}

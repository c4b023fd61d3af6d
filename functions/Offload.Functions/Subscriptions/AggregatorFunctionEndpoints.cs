using System.Text.Json;
using System.Text.Json.Nodes;
using Dapr;
using Dapr.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Offload.Aggregator.Events;
using Offload.Functions.Aggregation;
using Offload.Functions.Names;

namespace Offload.Functions.Subscriptions;

/// <summary>
/// The routes the sidecar delivers events to, each declared with <c>WithTopic</c> so
/// <c>GET /dapr/subscribe</c> lists it: <c>UpdateArrived</c> in bulk (Dapr bulk subscribe; the
/// answer lists a status per entry), <c>PartialReady</c>, <c>AggregatorDue</c> and (in the
/// gateway's app) <c>ModelPublished</c> one CloudEvent at a time. Each answers
/// <c>{"status":"SUCCESS|RETRY|DROP"}</c>, with the reason for a drop or retry. Every route takes an
/// event in each form daprd delivers (<see cref="EventJson.Unwrap"/>), on either path.
/// </summary>
public static class AggregatorFunctionEndpoints
{
    /// <summary>Entries of one bulk delivery handled at once.</summary>
    public const int BulkParallelism = 8;

    /// <summary>
    /// Maps the functions' subscription routes: update-arrived, partial-ready, aggregator-due and
    /// round-opened (which only wakes them). Not
    /// model-published: only the gateway needs new models, and reading each one here was wasted work.
    /// With <paramref name="node"/>, also the same three on that node's topics (<see cref="NodeTopics"/>),
    /// at <c>{route}/{node}</c>: what carries placement out. The shared topics stay subscribed, for
    /// events that name no node (a deployment without node stores, a leaf due with no update).
    /// </summary>
    public static IEndpointRouteBuilder MapOffloadAggregatorFunctions(this IEndpointRouteBuilder endpoints, string? node = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        // A bad node name is refused by NodeTopics.For, before any route is mapped for it.
        MapFunctionRoutes(endpoints, null);
        if (node is not null) MapFunctionRoutes(endpoints, node);
        // Pre-warming: the event has done its work by waking this instance; a malformed one is dropped as every other.
        endpoints.MapPost(DaprNames.RoundOpenedRoute, (Delegate)((HttpContext context) => DeliverAsync<Events.RoundOpened>(context, DaprNames.RoundOpenedTopic,
                (e, sp, ct) => Task.FromResult(Events.MalformedEvent.ReasonFor(e) is { } malformed ? Delivery.Drop(malformed) : Delivery.Success))))
            .WithTopic(DaprNames.PubSub, DaprNames.RoundOpenedTopic);
        return endpoints;
    }

    private static void MapFunctionRoutes(IEndpointRouteBuilder endpoints, string? node)
    {
        string Topic(string topic) => node is null ? topic : NodeTopics.For(topic, node);
        string Route(string route) => node is null ? route : $"{route}/{node}";
        string updates = Topic(DaprNames.UpdateArrivedTopic), partials = Topic(DaprNames.PartialReadyTopic), due = Topic(DaprNames.AggregatorDueTopic);
        endpoints.MapPost(Route(DaprNames.UpdateArrivedRoute), (Delegate)((HttpContext context) => DeliverAsync<UpdateArrived>(context, updates,
                (e, sp, ct) => sp.GetRequiredService<LeafFunction>().HandleAsync(e, ct))))
            .WithTopic(DaprNames.PubSub, updates)
            .WithMetadata(new BulkSubscribeAttribute(updates, DaprNames.BulkMaxMessages, DaprNames.BulkMaxAwaitMilliseconds));
        endpoints.MapPost(Route(DaprNames.PartialReadyRoute), (Delegate)((HttpContext context) => DeliverAsync<PartialReady>(context, partials,
                (e, sp, ct) => sp.GetRequiredService<PartialFunction>().HandleAsync(e, ct))))
            .WithTopic(DaprNames.PubSub, partials);
        endpoints.MapPost(Route(DaprNames.AggregatorDueRoute), (Delegate)((HttpContext context) => DeliverAsync<Events.AggregatorDue>(context, due,
                (e, sp, ct) => sp.GetRequiredService<LeafFunction>().HandleDueAsync(e, ct))))
            .WithTopic(DaprNames.PubSub, due);
    }

    /// <summary>Maps the <c>ModelPublished</c> route alone (<see cref="GatewayModelFunction"/>): what the gateway's app subscribes to.</summary>
    public static IEndpointConventionBuilder MapModelPublished(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        return endpoints.MapPost(DaprNames.ModelPublishedRoute, (Delegate)((HttpContext context) => DeliverAsync<ModelPublished>(context, DaprNames.ModelPublishedTopic,
                (e, sp, ct) => sp.GetRequiredService<GatewayModelFunction>().HandleAsync(e, ct))))
            .WithTopic(DaprNames.PubSub, DaprNames.ModelPublishedTopic);
    }

    /// <summary>Maps the <c>StaleUpdateArrived</c> route (<see cref="Correction.CorrectorFunction"/>): what the corrector app subscribes to.</summary>
    public static IEndpointConventionBuilder MapStaleUpdates(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        return endpoints.MapPost(DaprNames.StaleUpdateRoute, (Delegate)((HttpContext context) => DeliverAsync<StaleUpdateArrived>(context, DaprNames.StaleUpdateTopic,
                (e, sp, ct) => sp.GetRequiredService<Correction.CorrectorFunction>().HandleAsync(e, ct))))
            .WithTopic(DaprNames.PubSub, DaprNames.StaleUpdateTopic);
    }

    /// <summary>Maps the <c>CorrectionReported</c> route (<see cref="Correction.ICorrectionObserver"/>): what the gateway subscribes to in asynchronous serving.</summary>
    public static IEndpointConventionBuilder MapCorrectionReports(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        return endpoints.MapPost(DaprNames.CorrectionReportedRoute, (Delegate)((HttpContext context) => DeliverAsync<CorrectionReported>(context, DaprNames.CorrectionReportedTopic,
                (e, sp, ct) =>
                {
                    if (Events.MalformedEvent.ReasonFor(e) is { } malformed) return Task.FromResult(Delivery.Drop(malformed));
                    sp.GetRequiredService<Correction.ICorrectionObserver>().OnCorrectionReported(e);
                    return Task.FromResult(Delivery.Success);
                })))
            .WithTopic(DaprNames.PubSub, DaprNames.CorrectionReportedTopic);
    }

    private static async Task<IResult> DeliverAsync<TEvent>(HttpContext context, string topic,
        Func<TEvent, IServiceProvider, CancellationToken, Task<Delivery>> handle) where TEvent : class
    {
        var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(AggregatorFunctionEndpoints).FullName!);
        // Absent in an app that only takes ModelPublished (the gateway's): there, every delivery is admitted.
        var gate = context.RequestServices.GetService<DeliveryGate>();
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            return Answer(Log(logger, topic, Delivery.Drop($"The body is not JSON: {e.Message}")));
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("entries", out var entries) && entries.ValueKind == JsonValueKind.Array)
            {
                // A bulk delivery: one status per entry, by entry id. Entries are independent (the
                // round's actor orders arrivals), so a few are handled at once.
                var items = entries.EnumerateArray().ToArray();
                var deliveries = new Delivery[items.Length];
                if (gate?.TryEnter(items.Length) == false) Array.Fill(deliveries, Stopping);
                else
                {
                    try
                    {
                        await Parallel.ForAsync(0, items.Length, new ParallelOptions { MaxDegreeOfParallelism = BulkParallelism, CancellationToken = context.RequestAborted },
                            async (i, _) => deliveries[i] = items[i].ValueKind == JsonValueKind.Object && items[i].TryGetProperty("event", out var @event)
                                ? await HandleOneAsync(@event, context, handle, logger).ConfigureAwait(false)
                                : Delivery.Drop("The bulk entry has no event (entries[].event).")).ConfigureAwait(false);
                    }
                    finally
                    {
                        gate?.Leave(deliveries.Where(d => d is not null));
                    }
                }
                var statuses = new JsonArray();
                for (int i = 0; i < items.Length; i++)
                {
                    string entryId = items[i].ValueKind == JsonValueKind.Object && items[i].TryGetProperty("entryId", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString()! : "";
                    var delivery = Log(logger, topic, deliveries[i]);
                    var status = new JsonObject { ["entryId"] = entryId, ["status"] = delivery.DaprStatus };
                    if (delivery.Reason is not null) status["reason"] = delivery.Reason;
                    statuses.Add(status);
                }
                return Results.Json(new JsonObject { ["statuses"] = statuses });
            }
            if (gate?.TryEnter() == false) return Answer(Log(logger, topic, Stopping));
            Delivery? single = null;
            try
            {
                single = await HandleOneAsync(root, context, handle, logger).ConfigureAwait(false);
            }
            finally
            {
                gate?.Leave(single is null ? [] : [single]);
            }
            return Answer(Log(logger, topic, single));
        }
    }

    /// <summary>The answer to a delivery that arrives while the app stops: another instance (or this one, restarted) takes it.</summary>
    private static readonly Delivery Stopping = Delivery.Retry("This functions instance is stopping; the event is left for redelivery.");

    private static async Task<Delivery> HandleOneAsync<TEvent>(JsonElement element, HttpContext context,
        Func<TEvent, IServiceProvider, CancellationToken, Task<Delivery>> handle, ILogger logger) where TEvent : class
    {
        TEvent? @event;
        try
        {
            @event = EventJson.Unwrap(element).Deserialize<TEvent>(EventJson.Options);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException or FormatException)
        {
            return Delivery.Drop($"The event is not a valid {typeof(TEvent).Name}: {e.Message}");
        }
        if (@event is null) return Delivery.Drop($"The event is not a {typeof(TEvent).Name}.");
        try
        {
            return await handle(@event, context.RequestServices, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A bug, not the event's fault (every field was checked): asked again rather than lost, and never a 500 without a reason.
            logger.LogError(e, "Unexpected failure handling a {Event}.", typeof(TEvent).Name);
            return Delivery.Retry($"Unexpected {e.GetType().Name}: {e.Message}");
        }
    }

    private static Delivery Log(ILogger logger, string topic, Delivery delivery)
    {
        if (delivery.Status == DeliveryStatus.Drop) logger.LogWarning("Dropped an event of '{Topic}': {Reason}", topic, delivery.Reason);
        else if (delivery.Status == DeliveryStatus.Retry) logger.LogWarning("Asked for redelivery of an event of '{Topic}': {Reason}", topic, delivery.Reason);
        return delivery;
    }

    private static IResult Answer(Delivery delivery) =>
        Results.Json(delivery.Reason is null
            ? new JsonObject { ["status"] = delivery.DaprStatus }
            : new JsonObject { ["status"] = delivery.DaprStatus, ["reason"] = delivery.Reason });
}

namespace Offload.Functions.Names;

/// <summary>
/// The names the Dapr deployment and the code must agree on: component names, topics, app ids,
/// ports, the actor type. <c>dapr-components/</c> and <c>k8s/</c> use exactly these (a test
/// cross-checks them).
/// </summary>
public static class DaprNames
{
    /// <summary>The pub/sub component (Redis Streams, or Kafka in the variant).</summary>
    public const string PubSub = "offload-pubsub";

    /// <summary>
    /// The state store holding payloads, partial sums and models, shared by both apps: its component
    /// sets <c>keyPrefix: none</c>, or each app would see only keys prefixed with its own app id.
    /// </summary>
    public const string StateStore = "offload-state";

    /// <summary>
    /// The actor state store (<c>actorStateStore: "true"</c>), scoped to the app that hosts the
    /// <see cref="RoundActorType"/> (the gateway); daprd keys actor state by host app id, actor type and id.
    /// </summary>
    public const string ActorStateStore = "offload-actor-state";

    /// <summary>Topic of <c>UpdateArrived</c>: the gateway publishes, leaf functions subscribe (in bulk).</summary>
    public const string UpdateArrivedTopic = "update-arrived";

    /// <summary>Topic of <c>PartialReady</c>: aggregators publish, middle and top functions subscribe.</summary>
    public const string PartialReadyTopic = "partial-ready";

    /// <summary>Topic of <c>ModelPublished</c>: the top publishes, the gateway subscribes.</summary>
    public const string ModelPublishedTopic = "model-published";

    /// <summary>
    /// Topic of <c>AggregatorDue</c>: a round's actor publishes one per leaf its deadline makes due;
    /// the functions emit those leaves (so closing a round does no folding inside an actor turn).
    /// </summary>
    public const string AggregatorDueTopic = "aggregator-due";

    /// <summary>
    /// Topic of <c>RoundOpened</c>: a round's actor publishes one when the round opens, the functions
    /// acknowledge it; it is there to wake them (its lag counts for the scaler) before updates arrive.
    /// </summary>
    public const string RoundOpenedTopic = "round-opened";

    /// <summary>Topic of <c>StaleUpdateArrived</c> (asynchronous serving): the gateway publishes, the corrector app subscribes.</summary>
    public const string StaleUpdateTopic = "stale-update";

    /// <summary>Topic of <c>CorrectionReported</c>: the corrector app publishes, the gateway subscribes.</summary>
    public const string CorrectionReportedTopic = "correction-reported";

    /// <summary>
    /// The topics whose events an app scaled from zero must be woken for: a deployment that scales it
    /// on stream lag needs a trigger on each (the shared streams; the per-node ones of a node store,
    /// <c>{topic}.{node}</c>, are not known before the nodes are). Empty for an app that always runs.
    /// </summary>
    public static IReadOnlyList<string> WakingTopicsOf(string appId) => appId switch
    {
        FunctionsAppId => [UpdateArrivedTopic, PartialReadyTopic, AggregatorDueTopic, RoundOpenedTopic],
        CorrectorAppId => [StaleUpdateTopic],
        _ => [],
    };

    /// <summary>App id of the ingest gateway, which also hosts the <see cref="RoundActorType"/> (it always runs one replica).</summary>
    public const string GatewayAppId = "offload-gateway";

    /// <summary>App id of the aggregator functions.</summary>
    public const string FunctionsAppId = "offload-aggregator";

    /// <summary>App id of the corrector (asynchronous serving): the only app that loads TorchSharp.</summary>
    public const string CorrectorAppId = "offload-corrector";

    /// <summary>Port the gateway listens on (gRPC, HTTP/2).</summary>
    public const int GatewayPort = 5000;

    /// <summary>Port the gateway's sidecar delivers <c>ModelPublished</c> to (HTTP; the gateway's Dapr app port).</summary>
    public const int GatewayAppPort = 5001;

    /// <summary>Port the aggregator functions listen on for their sidecar (HTTP).</summary>
    public const int FunctionsPort = 5100;

    /// <summary>Port the corrector app listens on for its sidecar (HTTP).</summary>
    public const int CorrectorPort = 5200;

    /// <summary>The actor type holding one round's state.</summary>
    public const string RoundActorType = "RoundActor";

    /// <summary>The reminder that closes a round at its deadline.</summary>
    public const string DeadlineReminder = "deadline";

    /// <summary>Route the sidecar posts <c>UpdateArrived</c> batches to.</summary>
    public const string UpdateArrivedRoute = "/events/update-arrived";

    /// <summary>Route the sidecar posts <c>PartialReady</c> to.</summary>
    public const string PartialReadyRoute = "/events/partial-ready";

    /// <summary>Route the sidecar posts <c>AggregatorDue</c> to.</summary>
    public const string AggregatorDueRoute = "/events/aggregator-due";

    /// <summary>Route the sidecar posts <c>ModelPublished</c> to.</summary>
    public const string ModelPublishedRoute = "/events/model-published";

    /// <summary>Route the corrector's sidecar posts <c>StaleUpdateArrived</c> to.</summary>
    public const string StaleUpdateRoute = "/events/stale-update";

    /// <summary>Route of the <c>RoundOpened</c> subscription.</summary>
    public const string RoundOpenedRoute = "/events/round-opened";

    /// <summary>Route the gateway's sidecar posts <c>CorrectionReported</c> to.</summary>
    public const string CorrectionReportedRoute = "/events/correction-reported";

    /// <summary>Most <c>UpdateArrived</c> events the sidecar batches into one bulk delivery.</summary>
    public const int BulkMaxMessages = 100;

    /// <summary>Longest the sidecar waits to fill a bulk delivery, in milliseconds.</summary>
    public const int BulkMaxAwaitMilliseconds = 200;
}

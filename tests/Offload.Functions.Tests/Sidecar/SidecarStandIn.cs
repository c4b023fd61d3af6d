using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dapr.Client.Autogen.Grpc.v1;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using Offload.Functions.Names;

namespace Offload.Functions.Tests.Sidecar;

/// <summary>
/// A loopback stand-in for one app's Dapr sidecar, for tests only (no daprd exists here). It serves
/// exactly the documented endpoints the apps call, over gRPC (HTTP/2, <c>dapr.proto.runtime.v1.Dapr</c>:
/// PublishEvent, BulkPublishEventAlpha1, SaveState, GetState, DeleteState) and HTTP (the actor API:
/// method calls, state, reminders), and it delivers events and actor calls to its app, the way daprd
/// does where the app depends on it: per-app key prefixes by each state component's keyPrefix,
/// component scopes, ERR_ACTOR_NO_ADDRESS when no app hosts an actor type, one turn at a time per
/// actor id, the 4 MB body limit, Redis-sized bulk batches, per-entry statuses (a missing one is
/// RETRY), redelivery of what was not acknowledged, and ETags. What the sidecars share lives in its
/// <see cref="DaprCluster"/>; docs/dapr.md lists each behaviour with the daprd source it follows.
/// </summary>
public sealed class SidecarStandIn : IAsyncDisposable
{
    private readonly WebApplication _server;
    private readonly bool _ownsCluster;
    private HttpClient? _app;
    private HashSet<string>? _actorTypes;
    private Dictionary<string, Subscription>? _subscriptions;
    private int _disposed;

    private SidecarStandIn(WebApplication server, DaprCluster cluster, string appId, bool ownsCluster)
    {
        _server = server;
        Cluster = cluster;
        AppId = appId;
        _ownsCluster = ownsCluster;
    }

    /// <summary>The installation this sidecar belongs to.</summary>
    public DaprCluster Cluster { get; }

    /// <summary>The app id daprd was started with.</summary>
    public string AppId { get; }

    /// <summary>The app's channel (its app port); set once the app listens. Its configuration and subscriptions are read again.</summary>
    public HttpClient? App
    {
        get => _app;
        set
        {
            _app = value;
            _actorTypes = null;
            _subscriptions = null;
        }
    }

    /// <summary>http://127.0.0.1:port of the HTTP API.</summary>
    public string HttpEndpoint { get; private set; } = "";

    /// <summary>http://127.0.0.1:port of the gRPC API.</summary>
    public string GrpcEndpoint { get; private set; } = "";

    /// <summary>Every event published in the cluster.</summary>
    public ConcurrentQueue<(string Topic, string Json)> Published => Cluster.Published;

    /// <summary>Requests to endpoints the stand-in does not implement.</summary>
    public ConcurrentQueue<string> Unmatched => Cluster.Unmatched;

    /// <summary>Actor methods called, as "id/method".</summary>
    public ConcurrentQueue<string> ActorCalls => Cluster.ActorCalls;

    /// <summary>Reminders registered.</summary>
    public ConcurrentDictionary<string, string> Reminders => Cluster.Reminders;

    /// <summary>Keys of the shared state store <see cref="DaprNames.StateStore"/>, as stored (prefixes included).</summary>
    public ICollection<string> StateKeys => Cluster.StoredKeys();

    /// <summary>What went wrong delivering events.</summary>
    public ConcurrentQueue<Exception> DeliveryErrors => Cluster.DeliveryErrors;

    /// <summary>When set, state calls fail with gRPC UNAVAILABLE.</summary>
    public bool StateUnavailable
    {
        get => Cluster.StateUnavailable;
        set => Cluster.StateUnavailable = value;
    }

    /// <summary>A sidecar for <paramref name="appId"/> in a cluster of its own over the repository's components (disposed with it).</summary>
    public static async Task<SidecarStandIn> StartAsync(string appId = DaprNames.FunctionsAppId)
    {
        var cluster = DaprCluster.FromComponents();
        var sidecar = await StartAsync(cluster, appId, ownsCluster: true);
        cluster.Adopt(sidecar);
        return sidecar;
    }

    internal static async Task<SidecarStandIn> StartAsync(DaprCluster cluster, string appId, bool ownsCluster = false)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = DaprCluster.MaxBodyBytes; // daprd's --max-body-size: 413 above it.
            k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http1);
            k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2);
        });
        var server = builder.Build();
        var sidecar = new SidecarStandIn(server, cluster, appId, ownsCluster);
        sidecar.Map(server);
        await server.StartAsync();
        var addresses = server.Urls.ToArray();
        sidecar.HttpEndpoint = addresses[0].Replace("[::1]", "127.0.0.1", StringComparison.Ordinal);
        sidecar.GrpcEndpoint = addresses[1].Replace("[::1]", "127.0.0.1", StringComparison.Ordinal);
        return sidecar;
    }

    /// <summary>Delivers events in the background (the whole cluster's).</summary>
    public void StartDelivering() => Cluster.StartDelivering();

    /// <summary>Delivers every unacknowledged event of the cluster; see <see cref="DaprCluster.DeliverPendingAsync"/>.</summary>
    public Task<List<string>> DeliverPendingAsync(int maxPasses = 100) => Cluster.DeliverPendingAsync(maxPasses);

    /// <summary>A CloudEvents 1.0 envelope as daprd builds it around published JSON data.</summary>
    public static JsonObject CloudEvent(string topic, JsonNode data, string source = "offload-tests") => new()
    {
        ["specversion"] = "1.0", ["id"] = Guid.NewGuid().ToString(), ["source"] = source, ["type"] = "com.dapr.event.sent",
        ["datacontenttype"] = "application/json", ["pubsubname"] = DaprNames.PubSub, ["topic"] = topic, ["data"] = data,
    };

    /// <summary>
    /// The envelope daprd puts around a message that is not a CloudEvent (a raw publisher's), for a
    /// subscriber that did not ask for raw payloads: components-contrib pubsub/envelope.go FromRawPayload.
    /// </summary>
    public static JsonObject RawPayloadCloudEvent(string topic, byte[] data) => new()
    {
        ["specversion"] = "1.0", ["id"] = Guid.NewGuid().ToString(), ["source"] = "Dapr", ["type"] = "com.dapr.event.sent",
        ["datacontenttype"] = "application/octet-stream", ["pubsubname"] = DaprNames.PubSub, ["topic"] = topic, ["data_base64"] = Convert.ToBase64String(data),
    };

    /// <summary>The actor types the app hosts (its <c>GET /dapr/config</c> entities); empty while the app cannot be reached.</summary>
    internal async Task<HashSet<string>> HostedActorTypesAsync()
    {
        if (_actorTypes is { } known) return known;
        if (App is not { } app) return [];
        try
        {
            var response = await app.GetAsync("/dapr/config");
            var types = new HashSet<string>(StringComparer.Ordinal);
            if (response.IsSuccessStatusCode && JsonNode.Parse(await response.Content.ReadAsStringAsync())?["entities"] is JsonArray entities)
                foreach (var e in entities) types.Add(e!.GetValue<string>());
            return _actorTypes = types;
        }
        catch (HttpRequestException)
        {
            return []; // daprd waits for the app port; until then it registers nothing with placement.
        }
    }

    /// <summary>The app's subscriptions on <see cref="DaprNames.PubSub"/> by topic (its <c>GET /dapr/subscribe</c>); null while it cannot be reached.</summary>
    internal async Task<Dictionary<string, Subscription>?> SubscriptionsAsync()
    {
        if (_subscriptions is { } known) return known;
        if (App is not { } app) return null;
        string text;
        try
        {
            text = await app.GetStringAsync("/dapr/subscribe");
        }
        catch (HttpRequestException e)
        {
            Cluster.DeliveryErrors.Enqueue(e);
            return null;
        }
        var routes = new Dictionary<string, Subscription>(StringComparer.Ordinal);
        // Field names are matched as Go's encoding/json does, ignoring case (the .NET SDK writes "pubsubName").
        var options = new JsonNodeOptions { PropertyNameCaseInsensitive = true };
        foreach (var s in JsonNode.Parse(text, options)!.AsArray())
        {
            if (s!["pubsubname"]?.GetValue<string>() != DaprNames.PubSub) continue;
            string route = s["routes"]?["default"]?.GetValue<string>() ?? s["route"]!.GetValue<string>();
            var bulk = s["bulkSubscribe"];
            routes[s["topic"]!.GetValue<string>()] = new Subscription(route, bulk?["enabled"]?.GetValue<bool>() ?? false, bulk?["maxMessagesCount"]?.GetValue<int>() ?? 100);
        }
        return _subscriptions = routes;
    }

    /// <summary>
    /// Delivers <paramref name="messages"/> of <paramref name="topic"/> to the app and returns each one's
    /// status as daprd reads the answer (dapr pkg/runtime/pubsub: a bulk answer's per-entry statuses, a
    /// missing one being RETRY; a single answer's status, an empty body being SUCCESS; 404 drops; any
    /// other failure retries).
    /// </summary>
    internal async Task<string[]> DeliverAsync(string topic, Subscription subscription, IReadOnlyList<StreamMessage> messages, CancellationToken cancellationToken)
    {
        var statuses = Enumerable.Repeat("RETRY", messages.Count).ToArray();
        try
        {
            if (subscription.Bulk)
            {
                var entries = new JsonArray();
                for (int i = 0; i < messages.Count; i++)
                    entries.Add(new JsonObject { ["entryId"] = messages[i].Id, ["event"] = Envelope(messages[i]), ["contentType"] = "application/cloudevents+json", ["metadata"] = new JsonObject() });
                var bulk = new JsonObject
                {
                    ["id"] = Guid.NewGuid().ToString(), ["pubsubname"] = DaprNames.PubSub, ["topic"] = topic, ["type"] = "com.dapr.event.sent", ["entries"] = entries, ["metadata"] = new JsonObject(),
                };
                var response = await App!.PostAsync(subscription.Path, new StringContent(bulk.ToJsonString(), Encoding.UTF8, "application/json"), cancellationToken);
                if (response.StatusCode == HttpStatusCode.NotFound) return Enumerable.Repeat("DROP", messages.Count).ToArray();
                if (!response.IsSuccessStatusCode) return statuses;
                var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))?["statuses"] as JsonArray;
                for (int i = 0; i < messages.Count; i++)
                {
                    var entry = answer?.FirstOrDefault(s => s?["entryId"]?.GetValue<string>() == messages[i].Id);
                    statuses[i] = Known(entry?["status"]?.GetValue<string>()) ?? "RETRY";
                }
                return statuses;
            }
            var single = await App!.PostAsync(subscription.Path, new StringContent(Envelope(messages[0]).ToJsonString(), Encoding.UTF8, "application/cloudevents+json"), cancellationToken);
            if (single.StatusCode == HttpStatusCode.NotFound) return ["DROP"];
            if (!single.IsSuccessStatusCode) return statuses;
            string body = await single.Content.ReadAsStringAsync(cancellationToken);
            if (body.Trim().Length == 0) return ["SUCCESS"];
            JsonNode? parsed;
            try
            {
                parsed = JsonNode.Parse(body);
            }
            catch (JsonException)
            {
                return ["SUCCESS"]; // daprd: a 2xx without a status object is success.
            }
            var status = parsed is JsonObject o ? o["status"]?.GetValue<string>() : null;
            return [status is null ? "SUCCESS" : Known(status) ?? "RETRY"];
        }
        catch (HttpRequestException e)
        {
            Cluster.DeliveryErrors.Enqueue(e);
            return statuses;
        }
    }

    private static string? Known(string? status) => status?.ToUpperInvariant() is "SUCCESS" or "RETRY" or "DROP" ? status.ToUpperInvariant() : null;

    private static JsonObject Envelope(StreamMessage message)
    {
        if (message.Raw) return RawPayloadCloudEvent(message.Topic, message.Data);
        var data = JsonNode.Parse(message.Data)!;
        // A publisher that sent a CloudEvent itself keeps its envelope (daprd only fills in what is missing).
        if (data is JsonObject o && o.ContainsKey("specversion")) return o;
        var envelope = CloudEvent(message.Topic, data, message.Publisher);
        envelope["datacontenttype"] = message.ContentType.Length == 0 ? "application/json" : message.ContentType;
        return envelope;
    }

    private void Map(WebApplication app)
    {
        const string grpc = "/dapr.proto.runtime.v1.Dapr/";
        app.MapPost(grpc + "PublishEvent", context => Unary(context, PublishEventRequest.Parser, r =>
        {
            CheckPubSub(r.PubsubName, r.Topic);
            bool raw = r.Metadata.TryGetValue("rawPayload", out var v) && string.Equals(v, "true", StringComparison.OrdinalIgnoreCase);
            Cluster.Append(AppId, r.Topic, r.Data.ToByteArray(), r.DataContentType, raw);
            return new Google.Protobuf.WellKnownTypes.Empty();
        }));
        app.MapPost(grpc + "BulkPublishEventAlpha1", context => Unary(context, BulkPublishRequest.Parser, r =>
        {
            CheckPubSub(r.PubsubName, r.Topic);
            foreach (var entry in r.Entries)
            {
                bool raw = (entry.Metadata.TryGetValue("rawPayload", out var v) || r.Metadata.TryGetValue("rawPayload", out v)) && string.Equals(v, "true", StringComparison.OrdinalIgnoreCase);
                Cluster.Append(AppId, r.Topic, entry.Event.ToByteArray(), entry.ContentType, raw);
            }
            return new BulkPublishResponse();
        }));
        app.MapPost(grpc + "SaveState", context => Unary(context, SaveStateRequest.Parser, r =>
        {
            var (component, store) = StateStore(r.StoreName);
            foreach (var item in r.States)
            {
                string key = component.StateKey(AppId, item.Key);
                CheckEtag(store, key, item.Etag?.Value, r.StoreName);
                Cluster.SavedKeys.Enqueue(item.Key);
                store[key] = new DaprCluster.StoredValue(item.Value.ToByteArray(), Cluster.NextEtag());
            }
            return new Google.Protobuf.WellKnownTypes.Empty();
        }, stateCall: true));
        app.MapPost(grpc + "GetState", context => Unary(context, GetStateRequest.Parser, r =>
        {
            var (component, store) = StateStore(r.StoreName);
            return store.TryGetValue(component.StateKey(AppId, r.Key), out var value)
                ? new GetStateResponse { Data = ByteString.CopyFrom(value.Data), Etag = value.Etag }
                : new GetStateResponse();
        }, stateCall: true));
        app.MapPost(grpc + "DeleteState", context => Unary(context, DeleteStateRequest.Parser, r =>
        {
            var (component, store) = StateStore(r.StoreName);
            string key = component.StateKey(AppId, r.Key);
            CheckEtag(store, key, r.Etag?.Value, r.StoreName);
            store.TryRemove(key, out _);
            return new Google.Protobuf.WellKnownTypes.Empty();
        }, stateCall: true));
        app.MapPost(grpc + "{method}", context =>
        {
            Unmatched.Enqueue($"{AppId}: gRPC {context.Request.RouteValues["method"]}");
            return Status(context, 12, $"The stand-in does not implement {context.Request.RouteValues["method"]}.");
        });

        app.MapFallback((HttpContext context) =>
        {
            Unmatched.Enqueue($"{AppId}: {context.Request.Method} {context.Request.Path}");
            return Results.NotFound();
        });
        app.MapGet("/v1.0/actors/{type}/{id}/state/{key}", async (string type, string id, string key) =>
        {
            if (await ActorStateAsync(type, id) is not { } store) return NotHostedHere(type, id);
            return store.TryGetValue(ActorStateKey(type, id, key), out var value) ? Results.Text(value.Data, "application/json") : Results.NoContent();
        });
        app.MapMethods("/v1.0/actors/{type}/{id}/state", ["PUT", "POST"], async (string type, string id, HttpRequest request) =>
        {
            if (await ActorStateAsync(type, id) is not { } store) return NotHostedHere(type, id);
            using var operations = await JsonDocument.ParseAsync(request.Body);
            foreach (var op in operations.RootElement.EnumerateArray())
            {
                var r = op.GetProperty("request");
                string key = ActorStateKey(type, id, r.GetProperty("key").GetString()!);
                if (op.GetProperty("operation").GetString() == "upsert") store[key] = new DaprCluster.StoredValue(Encoding.UTF8.GetBytes(r.GetProperty("value").GetRawText()), Cluster.NextEtag());
                else store.TryRemove(key, out _);
            }
            return Results.NoContent();
        });
        app.MapMethods("/v1.0/actors/{type}/{id}/reminders/{name}", ["PUT", "POST"], async (string type, string id, string name, HttpRequest request) =>
        {
            Reminders[$"{type}/{id}/{name}"] = await new StreamReader(request.Body).ReadToEndAsync();
            return Results.NoContent();
        });
        app.MapDelete("/v1.0/actors/{type}/{id}/reminders/{name}", (string type, string id, string name) =>
        {
            Reminders.TryRemove($"{type}/{id}/{name}", out _);
            return Results.NoContent();
        });
        app.MapMethods("/v1.0/actors/{type}/{id}/method/{method}", ["PUT", "POST"], async (HttpContext context, string type, string id, string method) =>
        {
            ActorCalls.Enqueue($"{id}/{method}");
            // Placement: the app that hosts the type, or ERR_ACTOR_NO_ADDRESS (dapr pkg/actors/router; messages/predefined.go).
            var host = await Cluster.HostOfAsync(type, id);
            if (host is null)
            {
                await DaprErrorAsync(context, 500, "ERR_ACTOR_NO_ADDRESS", $"did not find address for actor {type}/{id}");
                return;
            }
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            var (status, headers, answer) = await Cluster.InActorTurnAsync(type, id, async () =>
            {
                var forward = new HttpRequestMessage(HttpMethod.Put, $"/actors/{type}/{id}/method/{method}") { Content = new ByteArrayContent(body.ToArray()) };
                foreach (var header in context.Request.Headers)
                    if (header.Key.StartsWith("X-Dapr", StringComparison.OrdinalIgnoreCase)) forward.Headers.TryAddWithoutValidation(header.Key, header.Value.ToArray());
                forward.Content.Headers.TryAddWithoutValidation("Content-Type", context.Request.ContentType ?? "application/json");
                try
                {
                    using var response = await host.App!.SendAsync(forward);
                    var daprHeaders = response.Headers.Where(h => h.Key.StartsWith("X-Dapr", StringComparison.OrdinalIgnoreCase)).ToArray();
                    return ((int)response.StatusCode, daprHeaders, await response.Content.ReadAsByteArrayAsync());
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // An in-memory test server rethrows the actor's exception where Kestrel would answer 500.
                    return (500, Array.Empty<KeyValuePair<string, IEnumerable<string>>>(), Encoding.UTF8.GetBytes(e.Message));
                }
            });
            if (status is < 200 or > 299)
            {
                await DaprErrorAsync(context, 500, "ERR_ACTOR_INVOKE_METHOD", $"error invoke actor method: {Encoding.UTF8.GetString(answer)}");
                return;
            }
            context.Response.StatusCode = status;
            foreach (var header in headers) context.Response.Headers[header.Key] = header.Value.ToArray();
            await context.Response.Body.WriteAsync(answer);
        });
    }

    private static Task DaprErrorAsync(HttpContext context, int status, string code, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(new JsonObject { ["errorCode"] = code, ["message"] = message }.ToJsonString());
    }

    private static IResult NotHostedHere(string type, string id) =>
        Results.Json(new JsonObject { ["errorCode"] = "ERR_ACTOR_INSTANCE_MISSING", ["message"] = $"actor instance {type}/{id} is not hosted by this app" }, statusCode: 400);

    /// <summary>The actor state store, when this sidecar's app hosts the actor (daprd serves actor state only to the host).</summary>
    private async Task<System.Collections.Concurrent.ConcurrentDictionary<string, DaprCluster.StoredValue>?> ActorStateAsync(string type, string id)
    {
        if (await Cluster.HostOfAsync(type, id) != this) return null;
        return Cluster.Store(Cluster.ActorStateStore(AppId)!.Name);
    }

    /// <summary>daprd's actor state key: host app id, actor type, actor id, key (whatever the component's keyPrefix).</summary>
    private string ActorStateKey(string type, string id, string key) => $"{AppId}||{type}||{id}||{key}";

    private (DaprComponent Component, ConcurrentDictionary<string, DaprCluster.StoredValue> Store) StateStore(string name)
    {
        var component = Cluster.Component(AppId, name, "state.")
            ?? throw new SidecarError(3, $"state store {name} is not found"); // daprd: ERR_STATE_STORE_NOT_FOUND, InvalidArgument (also when not scoped to the app).
        return (component, Cluster.Store(component.Name));
    }

    private void CheckPubSub(string name, string topic)
    {
        if (Cluster.Component(AppId, name, "pubsub.") is null) throw new SidecarError(3, $"pubsub {name} is not found");
        if (string.IsNullOrEmpty(topic)) throw new SidecarError(3, $"topic is empty in pubsub {name}");
    }

    private static void CheckEtag(ConcurrentDictionary<string, DaprCluster.StoredValue> store, string key, string? etag, string storeName)
    {
        if (string.IsNullOrEmpty(etag)) return; // Last write wins without one.
        if (!store.TryGetValue(key, out var current) || current.Etag != etag)
            throw new SidecarError(10, $"failed saving state in state store {storeName}: possible etag mismatch"); // daprd: Aborted.
    }

    private async Task Unary<TRequest>(HttpContext context, MessageParser<TRequest> parser, Func<TRequest, IMessage> handle, bool stateCall = false)
        where TRequest : IMessage<TRequest>
    {
        // The gRPC server answers an oversized message itself (RESOURCE_EXHAUSTED), rather than the HTTP limit resetting the stream.
        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = null;
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        var frame = body.ToArray();
        int length = BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(1));
        context.Response.ContentType = "application/grpc";
        if (length > DaprCluster.MaxBodyBytes)
        {
            // daprd's gRPC server takes messages up to --max-body-size (4Mi by default).
            await Status(context, 8, $"grpc: received message larger than max ({length} vs. {DaprCluster.MaxBodyBytes})");
            return;
        }
        var request = parser.ParseFrom(frame, 5, length);
        if (stateCall && StateUnavailable)
        {
            await Status(context, 14, "state store unavailable (test)");
            return;
        }
        IMessage result;
        try
        {
            result = handle(request);
        }
        catch (SidecarError e)
        {
            await Status(context, e.Code, e.Message);
            return;
        }
        var reply = result.ToByteArray();
        var header = new byte[5];
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(1), reply.Length);
        await context.Response.Body.WriteAsync(header);
        await context.Response.Body.WriteAsync(reply);
        context.Response.AppendTrailer("grpc-status", "0");
    }

    private static Task Status(HttpContext context, int code, string message)
    {
        context.Response.ContentType = "application/grpc";
        context.Response.AppendTrailer("grpc-status", code.ToString(System.Globalization.CultureInfo.InvariantCulture));
        context.Response.AppendTrailer("grpc-message", Uri.EscapeDataString(message));
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        await _server.DisposeAsync();
        if (_ownsCluster) await Cluster.DisposeAsync();
    }

    /// <summary>A subscription as the app declared it.</summary>
    internal sealed record Subscription(string Path, bool Bulk, int MaxMessages);

    private sealed class SidecarError(int code, string message) : Exception(message)
    {
        public int Code { get; } = code;
    }
}

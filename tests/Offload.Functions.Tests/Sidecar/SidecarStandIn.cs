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

namespace Offload.Functions.Tests.Sidecar;

/// <summary>
/// A loopback stand-in for the Dapr sidecar's own API, for tests only (no daprd exists here). It
/// implements exactly the documented endpoints the app calls: over gRPC (HTTP/2, the
/// <c>dapr.proto.runtime.v1.Dapr</c> service) PublishEvent, BulkPublishEventAlpha1, SaveState,
/// GetState and DeleteState; over HTTP the actor API (<c>/v1.0/actors/{type}/{id}/state</c>,
/// <c>/state/{key}</c>, <c>/reminders/{name}</c>, <c>/method/{method}</c>, the last forwarded to the
/// app as the sidecar does). It also delivers what was published to the app's subscribed routes as
/// CloudEvents (bulk for bulk subscriptions), the way the sidecar would.
/// </summary>
public sealed class SidecarStandIn : IAsyncDisposable
{
    private readonly WebApplication _server;
    private readonly ConcurrentDictionary<string, byte[]> _state = new();
    private readonly ConcurrentDictionary<string, string> _actorState = new();
    private readonly ConcurrentQueue<(string Topic, byte[] Data)> _outbox = new();
    private readonly ConcurrentQueue<HttpClient> _subscribers = new();
    private readonly SemaphoreSlim _delivering = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private Task? _pump;

    private SidecarStandIn(WebApplication server) => _server = server;

    /// <summary>The app (its test client); set once the app is built.</summary>
    public HttpClient? App { get; set; }

    /// <summary>http://127.0.0.1:port of the HTTP API.</summary>
    public string HttpEndpoint { get; private set; } = "";

    /// <summary>http://127.0.0.1:port of the gRPC API.</summary>
    public string GrpcEndpoint { get; private set; } = "";

    /// <summary>Every event published, by topic, in order (JSON data).</summary>
    public ConcurrentQueue<(string Topic, string Json)> Published { get; } = new();

    /// <summary>Requests to endpoints the stand-in does not implement, as "METHOD path".</summary>
    public ConcurrentQueue<string> Unmatched { get; } = new();

    /// <summary>Actor methods the app called through this sidecar, as "id/method", in order.</summary>
    public ConcurrentQueue<string> ActorCalls { get; } = new();

    /// <summary>Reminders registered: (actor type/id/name) to the body the app sent.</summary>
    public ConcurrentDictionary<string, string> Reminders { get; } = new();

    /// <summary>Keys of the state store.</summary>
    public ICollection<string> StateKeys => _state.Keys;

    /// <summary>When set, state calls fail with gRPC UNAVAILABLE.</summary>
    public bool StateUnavailable { get; set; }

    public static async Task<SidecarStandIn> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http1);
            k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2);
        });
        var server = builder.Build();
        var sidecar = new SidecarStandIn(server);
        sidecar.Map(server);
        await server.StartAsync();
        var addresses = server.Urls.ToArray();
        sidecar.HttpEndpoint = addresses[0].Replace("[::1]", "127.0.0.1", StringComparison.Ordinal);
        sidecar.GrpcEndpoint = addresses[1].Replace("[::1]", "127.0.0.1", StringComparison.Ordinal);
        return sidecar;
    }

    /// <summary>
    /// Another app sharing this stand-in's pub/sub and state store (as apps with their own sidecars
    /// share one broker and store): it gets the events its <c>/dapr/subscribe</c> lists.
    /// </summary>
    public void AddSubscriber(HttpClient app) => _subscribers.Enqueue(app);

    /// <summary>Delivers published events in the background, as the sidecar does, until disposed; failures land in <see cref="DeliveryErrors"/>.</summary>
    public void StartDelivering()
    {
        _pump ??= Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    await DeliverPendingAsync();
                    await Task.Delay(10, _stop.Token);
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e)
                {
                    DeliveryErrors.Enqueue(e);
                }
            }
        });
    }

    /// <summary>What went wrong in background delivery.</summary>
    public ConcurrentQueue<Exception> DeliveryErrors { get; } = new();

    /// <summary>
    /// Delivers everything published so far (and whatever that triggers) to the subscribed routes of
    /// <see cref="App"/> and every <see cref="AddSubscriber">subscriber</see>, until nothing is left;
    /// returns the apps' answers.
    /// </summary>
    public async Task<List<string>> DeliverPendingAsync(int maxRounds = 100)
    {
        await _delivering.WaitAsync();
        try
        {
            var answers = new List<string>();
            var apps = new List<(HttpClient Client, Dictionary<string, (string Path, bool Bulk)> Routes)> { (App!, await SubscriptionsAsync(App!)) };
            foreach (var subscriber in _subscribers) apps.Add((subscriber, await SubscriptionsAsync(subscriber)));
            for (int i = 0; i < maxRounds && !_outbox.IsEmpty; i++)
            {
                while (_outbox.TryDequeue(out var item))
                {
                    foreach (var (client, routes) in apps)
                    {
                        if (!routes.TryGetValue(item.Topic, out var route)) continue;
                        answers.Add(await DeliverAsync(client, route, item.Topic, item.Data));
                    }
                }
            }
            return answers;
        }
        finally
        {
            _delivering.Release();
        }
    }

    private static async Task<string> DeliverAsync(HttpClient app, (string Path, bool Bulk) route, string topic, byte[] data)
    {
        var cloudEvent = CloudEvent(topic, JsonNode.Parse(data)!);
        HttpResponseMessage response;
        if (route.Bulk)
        {
            var bulk = new JsonObject
            {
                ["id"] = Guid.NewGuid().ToString(), ["pubsubname"] = Offload.Functions.Hosting.DaprNames.PubSub, ["topic"] = topic, ["type"] = "com.dapr.event.sent",
                ["entries"] = new JsonArray(new JsonObject { ["entryId"] = "e1", ["event"] = cloudEvent, ["contentType"] = "application/cloudevents+json", ["metadata"] = new JsonObject() }),
            };
            response = await app.PostAsync(route.Path, new StringContent(bulk.ToJsonString(), Encoding.UTF8, "application/json"));
        }
        else
        {
            response = await app.PostAsync(route.Path, new StringContent(cloudEvent.ToJsonString(), Encoding.UTF8, "application/cloudevents+json"));
        }
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>A CloudEvents 1.0 envelope as the sidecar builds it.</summary>
    public static JsonObject CloudEvent(string topic, JsonNode data) => new()
    {
        ["specversion"] = "1.0", ["id"] = Guid.NewGuid().ToString(), ["source"] = "offload-tests", ["type"] = "com.dapr.event.sent",
        ["datacontenttype"] = "application/json", ["pubsubname"] = Offload.Functions.Hosting.DaprNames.PubSub, ["topic"] = topic, ["data"] = data,
    };

    private static async Task<Dictionary<string, (string Path, bool Bulk)>> SubscriptionsAsync(HttpClient app)
    {
        var json = JsonNode.Parse(await app.GetStringAsync("/dapr/subscribe"))!.AsArray();
        var routes = new Dictionary<string, (string, bool)>();
        foreach (var s in json)
        {
            string route = s!["routes"]?["default"]?.GetValue<string>() ?? s["route"]!.GetValue<string>();
            bool bulk = s["bulkSubscribe"]?["enabled"]?.GetValue<bool>() ?? false;
            routes[s["topic"]!.GetValue<string>()] = (route, bulk);
        }
        return routes;
    }

    private void Map(WebApplication app)
    {
        const string grpc = "/dapr.proto.runtime.v1.Dapr/";
        app.MapPost(grpc + "PublishEvent", context => Unary(context, PublishEventRequest.Parser, r =>
        {
            Record(r.Topic, r.Data.ToByteArray());
            return new Google.Protobuf.WellKnownTypes.Empty();
        }));
        app.MapPost(grpc + "BulkPublishEventAlpha1", context => Unary(context, BulkPublishRequest.Parser, r =>
        {
            foreach (var entry in r.Entries) Record(r.Topic, entry.Event.ToByteArray());
            return new BulkPublishResponse();
        }));
        app.MapPost(grpc + "SaveState", context => Unary(context, SaveStateRequest.Parser, r =>
        {
            foreach (var item in r.States) _state[item.Key] = item.Value.ToByteArray();
            return new Google.Protobuf.WellKnownTypes.Empty();
        }, stateCall: true));
        app.MapPost(grpc + "GetState", context => Unary(context, GetStateRequest.Parser, r =>
            _state.TryGetValue(r.Key, out var value) ? new GetStateResponse { Data = ByteString.CopyFrom(value), Etag = "1" } : new GetStateResponse(), stateCall: true));
        app.MapPost(grpc + "DeleteState", context => Unary(context, DeleteStateRequest.Parser, r =>
        {
            _state.TryRemove(r.Key, out _);
            return new Google.Protobuf.WellKnownTypes.Empty();
        }, stateCall: true));
        app.MapPost(grpc + "{method}", context =>
        {
            context.Response.ContentType = "application/grpc";
            context.Response.AppendTrailer("grpc-status", "12");
            context.Response.AppendTrailer("grpc-message", $"The stand-in does not implement {context.Request.RouteValues["method"]}.");
            return Task.CompletedTask;
        });

        app.MapFallback((HttpContext context) =>
        {
            Unmatched.Enqueue($"{context.Request.Method} {context.Request.Path}");
            return Results.NotFound();
        });
        app.MapGet("/v1.0/actors/{type}/{id}/state/{key}", (string type, string id, string key) =>
            _actorState.TryGetValue($"{type}/{id}/{key}", out var value) ? Results.Text(value, "application/json") : Results.NoContent());
        app.MapMethods("/v1.0/actors/{type}/{id}/state", ["PUT", "POST"], async (string type, string id, HttpRequest request) =>
        {
            using var operations = await JsonDocument.ParseAsync(request.Body);
            foreach (var op in operations.RootElement.EnumerateArray())
            {
                var r = op.GetProperty("request");
                string key = $"{type}/{id}/{r.GetProperty("key").GetString()}";
                if (op.GetProperty("operation").GetString() == "upsert") _actorState[key] = r.GetProperty("value").GetRawText();
                else _actorState.TryRemove(key, out _);
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
            // The sidecar places the actor and calls the app's actor route.
            var forward = new HttpRequestMessage(HttpMethod.Put, $"/actors/{type}/{id}/method/{method}")
            {
                Content = new StreamContent(context.Request.Body),
            };
            foreach (var header in context.Request.Headers)
                if (header.Key.StartsWith("X-Dapr", StringComparison.OrdinalIgnoreCase)) forward.Headers.TryAddWithoutValidation(header.Key, header.Value.ToArray());
            var response = await App!.SendAsync(forward);
            context.Response.StatusCode = (int)response.StatusCode;
            foreach (var header in response.Headers)
                if (header.Key.StartsWith("X-Dapr", StringComparison.OrdinalIgnoreCase)) context.Response.Headers[header.Key] = header.Value.ToArray();
            await response.Content.CopyToAsync(context.Response.Body);
        });
    }

    private void Record(string topic, byte[] data)
    {
        _outbox.Enqueue((topic, data));
        Published.Enqueue((topic, Encoding.UTF8.GetString(data)));
    }

    private async Task Unary<TRequest>(HttpContext context, MessageParser<TRequest> parser, Func<TRequest, IMessage> handle, bool stateCall = false)
        where TRequest : IMessage<TRequest>
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        var frame = body.ToArray();
        int length = BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(1));
        var request = parser.ParseFrom(frame, 5, length);
        context.Response.ContentType = "application/grpc";
        if (stateCall && StateUnavailable)
        {
            context.Response.AppendTrailer("grpc-status", "14");
            context.Response.AppendTrailer("grpc-message", "state store unavailable (test)");
            return;
        }
        var reply = handle(request).ToByteArray();
        var header = new byte[5];
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(1), reply.Length);
        await context.Response.Body.WriteAsync(header);
        await context.Response.Body.WriteAsync(reply);
        context.Response.AppendTrailer("grpc-status", "0");
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_pump is not null) await _pump;
        await _server.DisposeAsync();
    }
}

using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Offload.Functions.Names;

namespace Offload.Functions.Tests.Sidecar;

/// <summary>
/// What the sidecars of one Dapr installation share, for tests only (no daprd exists here): the
/// components read from the repository's files, the state stores behind them (one key space per
/// component, as one Redis), the topics with one consumer group per subscribing app, and actor
/// placement. Each app gets its own <see cref="SidecarStandIn"/> (<see cref="StartSidecarAsync"/>),
/// so the stand-in knows which app makes each call, as daprd does. docs/dapr.md lists the daprd
/// behaviours modelled here, with the daprd source each comes from, and those that are not.
/// </summary>
public sealed class DaprCluster : IAsyncDisposable
{
    /// <summary>daprd's default body limit (<c>--max-body-size</c> 4Mi), for gRPC messages and HTTP bodies alike.</summary>
    public const int MaxBodyBytes = 4 * 1024 * 1024;

    /// <summary>Messages the Redis pub/sub component hands to an app at once (its <c>concurrency</c> workers, 10 by default).</summary>
    public const int RedisConcurrency = 10;

    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, StoredValue>> _stores = new(StringComparer.Ordinal);
    private readonly List<SidecarStandIn> _sidecars = [];
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _actorTurns = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _actorInTurn = new(StringComparer.Ordinal);
    private int _maxActorOverlap;
    private readonly List<StreamMessage> _messages = [];
    private readonly object _streams = new();
    private readonly SemaphoreSlim _delivering = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private long _etag;
    private int _disposed;
    private Task? _pump;

    private DaprCluster(IReadOnlyList<DaprComponent> components) => Components = components;

    /// <summary>The components loaded.</summary>
    public IReadOnlyList<DaprComponent> Components { get; }

    /// <summary>How long an event that was not acknowledged waits before it is delivered again (the Redis component's <c>redeliverInterval</c>, shortened).</summary>
    public TimeSpan RedeliverAfter { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Every key an app saved to any state store, in order, as the app named it (before daprd's prefix).</summary>
    public ConcurrentQueue<string> SavedKeys { get; } = new();

    /// <summary>Every event published, by topic, in order (the published data as JSON).</summary>
    public ConcurrentQueue<(string Topic, string Json)> Published { get; } = new();

    /// <summary>Requests to endpoints the stand-in does not implement, as "app: METHOD path".</summary>
    public ConcurrentQueue<string> Unmatched { get; } = new();

    /// <summary>Actor methods called through any sidecar, as "id/method", in order.</summary>
    public ConcurrentQueue<string> ActorCalls { get; } = new();

    /// <summary>Reminders registered: (actor type/id/name) to the body the app sent.</summary>
    public ConcurrentDictionary<string, string> Reminders { get; } = new();

    /// <summary>What went wrong delivering events (an app not listening yet, an answer daprd would not accept).</summary>
    public ConcurrentQueue<Exception> DeliveryErrors { get; } = new();

    /// <summary>Every answer an app gave a delivery, as "topic: STATUS" per event.</summary>
    public ConcurrentQueue<string> Answers { get; } = new();

    /// <summary>The size of every delivery made, as (topic, events in it).</summary>
    public ConcurrentQueue<(string Topic, int Events)> Batches { get; } = new();

    /// <summary>When set, state calls fail with gRPC UNAVAILABLE (daprd's answer when Redis is down).</summary>
    public bool StateUnavailable { get; set; }

    /// <summary>The most calls seen inside one actor's turn at once (daprd allows one; a test checks it stays 1).</summary>
    public int MaxActorOverlap => Volatile.Read(ref _maxActorOverlap);

    /// <summary>A cluster over the component files of <paramref name="componentsDirectory"/> (default: the repository's dapr-components/).</summary>
    public static DaprCluster FromComponents(string? componentsDirectory = null) =>
        new(DaprComponent.Load(componentsDirectory ?? Path.Combine(Deployment.Manifests.Root, "dapr-components")));

    /// <summary>Starts the sidecar of app <paramref name="appId"/>; set its <see cref="SidecarStandIn.App"/> once the app is up.</summary>
    public async Task<SidecarStandIn> StartSidecarAsync(string appId)
    {
        var sidecar = await SidecarStandIn.StartAsync(this, appId);
        Adopt(sidecar);
        return sidecar;
    }

    internal void Adopt(SidecarStandIn sidecar)
    {
        lock (_sidecars) _sidecars.Add(sidecar);
    }

    /// <summary>The keys held by state store <paramref name="component"/> (as daprd stored them, prefixes included).</summary>
    public ICollection<string> StoredKeys(string component = DaprNames.StateStore) => Store(component).Keys;

    /// <summary>Delivers events in the background, as the sidecars do, until disposed.</summary>
    public void StartDelivering()
    {
        _pump ??= Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    await DeliverAsync(ignoreRedeliveryDelay: false, _stop.Token);
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

    /// <summary>
    /// Delivers every unacknowledged event (each at most once per pass, redelivery delays ignored) and
    /// whatever that publishes, until a pass delivers nothing new; returns the answers, "STATUS" per event.
    /// </summary>
    public async Task<List<string>> DeliverPendingAsync(int maxPasses = 100)
    {
        var answers = new List<string>();
        var seen = new HashSet<(StreamMessage, string)>();
        for (int pass = 0; pass < maxPasses; pass++)
        {
            var delivered = await DeliverAsync(ignoreRedeliveryDelay: true, CancellationToken.None, seen);
            if (delivered.Count == 0) break;
            answers.AddRange(delivered);
        }
        return answers;
    }

    /// <summary>Fires reminder <paramref name="name"/> of an actor now, as the Scheduler would at its due time (inside the actor's turn).</summary>
    public async Task<HttpResponseMessage> FireReminderAsync(string type, string id, string name)
    {
        if (!Reminders.TryGetValue($"{type}/{id}/{name}", out var body)) throw new InvalidOperationException($"No reminder {type}/{id}/{name} is registered.");
        var host = await HostOfAsync(type, id) ?? throw new InvalidOperationException($"No app hosts actor type {type}.");
        var registered = JsonNode.Parse(body)!;
        var content = new JsonObject { ["data"] = registered["data"]?.DeepClone(), ["dueTime"] = registered["dueTime"]?.DeepClone(), ["period"] = registered["period"]?.DeepClone() };
        return await InActorTurnAsync(type, id, () => host.App!.PutAsync($"/actors/{type}/{id}/method/remind/{name}",
            new StringContent(content.ToJsonString(), Encoding.UTF8, "application/json")));
    }

    internal ConcurrentDictionary<string, StoredValue> Store(string component) => _stores.GetOrAdd(component, _ => new(StringComparer.Ordinal));

    internal string NextEtag() => Interlocked.Increment(ref _etag).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The component named <paramref name="name"/> of type <paramref name="typePrefix"/>* that <paramref name="appId"/> may use, or null (daprd: not found).</summary>
    internal DaprComponent? Component(string appId, string name, string typePrefix) =>
        Components.FirstOrDefault(c => c.Name == name && c.Type.StartsWith(typePrefix, StringComparison.Ordinal) && c.Serves(appId));

    /// <summary>The actor state store of <paramref name="appId"/> (the one state component it may use with actorStateStore), or null.</summary>
    internal DaprComponent? ActorStateStore(string appId) => Components.FirstOrDefault(c => c.Type.StartsWith("state.", StringComparison.Ordinal) && c.IsActorStateStore && c.Serves(appId));

    /// <summary>
    /// The sidecar whose app hosts actor <paramref name="type"/>/<paramref name="id"/>: among the apps
    /// whose <c>GET /dapr/config</c> lists the type and which have an actor state store (daprd does not
    /// start the actor runtime of an app without one), chosen by a hash of the id as placement does; null
    /// when no app hosts the type (daprd: ERR_ACTOR_NO_ADDRESS).
    /// </summary>
    internal async Task<SidecarStandIn?> HostOfAsync(string type, string id)
    {
        SidecarStandIn[] sidecars;
        lock (_sidecars) sidecars = _sidecars.ToArray();
        var hosts = new List<SidecarStandIn>();
        foreach (var sidecar in sidecars)
            if (ActorStateStore(sidecar.AppId) is not null && (await sidecar.HostedActorTypesAsync()).Contains(type)) hosts.Add(sidecar);
        if (hosts.Count == 0) return null;
        uint hash = 2166136261;
        foreach (char c in id) hash = (hash ^ c) * 16777619;
        return hosts[(int)(hash % (uint)hosts.Count)];
    }

    /// <summary>Runs <paramref name="call"/> as one turn of the actor: daprd holds a lock per actor id, so turns never overlap.</summary>
    internal async Task<T> InActorTurnAsync<T>(string type, string id, Func<Task<T>> call)
    {
        string key = $"{type}/{id}";
        var turn = _actorTurns.GetOrAdd(key, _ => new SemaphoreSlim(1, 1));
        await turn.WaitAsync();
        int inTurn = _actorInTurn.AddOrUpdate(key, 1, (_, n) => n + 1);
        InterlockedMax(ref _maxActorOverlap, inTurn);
        try
        {
            return await call();
        }
        finally
        {
            _actorInTurn.AddOrUpdate(key, 0, (_, n) => n - 1);
            turn.Release();
        }
    }

    /// <summary>Appends a message to <paramref name="topic"/>'s stream (published by <paramref name="publisher"/>).</summary>
    internal void Append(string publisher, string topic, byte[] data, string contentType, bool raw)
    {
        lock (_streams) _messages.Add(new StreamMessage(topic, publisher, data, contentType, raw));
        Published.Enqueue((topic, Encoding.UTF8.GetString(data)));
    }

    /// <summary>One pass: for each app and each of its subscriptions, the due messages its group has not acknowledged, in batches.</summary>
    private async Task<List<string>> DeliverAsync(bool ignoreRedeliveryDelay, CancellationToken cancellationToken, HashSet<(StreamMessage, string)>? seen = null)
    {
        await _delivering.WaitAsync(cancellationToken);
        try
        {
            var answers = new List<string>();
            SidecarStandIn[] sidecars;
            lock (_sidecars) sidecars = _sidecars.Where(s => s.App is not null).ToArray();
            foreach (var sidecar in sidecars)
            {
                if (Components.FirstOrDefault(c => c.Name == DaprNames.PubSub && c.Serves(sidecar.AppId)) is null) continue;
                var subscriptions = await sidecar.SubscriptionsAsync();
                if (subscriptions is null) continue;
                foreach (var (topic, subscription) in subscriptions)
                {
                    List<StreamMessage> due;
                    var now = DateTimeOffset.UtcNow;
                    lock (_streams)
                        due = _messages.Where(m => m.Topic == topic && m.IsDue(sidecar.AppId, now, ignoreRedeliveryDelay) && (seen is null || !seen.Contains((m, sidecar.AppId)))).ToList();
                    if (seen is not null) foreach (var m in due) seen.Add((m, sidecar.AppId));
                    // Redis has no native bulk subscribe: daprd's default bulk subscriber batches what the component's workers hold at once.
                    int batch = subscription.Bulk ? Math.Min(subscription.MaxMessages, RedisConcurrency) : 1;
                    for (int i = 0; i < due.Count; i += batch)
                    {
                        var chunk = due.GetRange(i, Math.Min(batch, due.Count - i));
                        Batches.Enqueue((topic, chunk.Count));
                        var statuses = await sidecar.DeliverAsync(topic, subscription, chunk, cancellationToken);
                        for (int k = 0; k < chunk.Count; k++)
                        {
                            chunk[k].Settle(sidecar.AppId, statuses[k], RedeliverAfter);
                            answers.Add(statuses[k]);
                            Answers.Enqueue($"{topic}: {statuses[k]}");
                        }
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

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        await _stop.CancelAsync();
        if (_pump is not null)
        {
            try
            {
                await _pump;
            }
            catch (OperationCanceledException)
            {
            }
        }
        SidecarStandIn[] sidecars;
        lock (_sidecars) sidecars = _sidecars.ToArray();
        foreach (var sidecar in sidecars) await sidecar.DisposeAsync();
    }

    /// <summary>A state value with its ETag (daprd returns one with every read and checks one given on a write).</summary>
    internal sealed record StoredValue(byte[] Data, string Etag);
}

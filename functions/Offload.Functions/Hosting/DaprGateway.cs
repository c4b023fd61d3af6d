using Dapr.Actors.Client;
using Dapr.Client;
using Microsoft.Extensions.Logging;
using Offload.Aggregator.Asynchronous;
using Offload.Aggregator.Events;
using Offload.Aggregator.Staleness;
using Offload.Aggregator.Rounds;
using Offload.Aggregator.Storage;
using Offload.Core.Model;
using Microsoft.Extensions.DependencyInjection;
using Offload.Functions.Aggregation;
using Offload.Functions.Correction;
using Offload.Functions.Events;
using Offload.Functions.Gateway;
using Offload.Functions.Journal;
using Offload.Functions.Rounds;
using Offload.Functions.Storage;
using Offload.Gateway.Authentication;
using Offload.Gateway.Hosting;
using Offload.Gateway.Ingest;
using Offload.Gateway.Service;

namespace Offload.Functions.Hosting;

/// <summary>
/// The ingest gateway as one app of the Dapr deployment (<c>offload serve --aggregator dapr</c>):
/// devices reach its gRPC port directly; accepted payloads go to the Dapr state store, each
/// <see cref="UpdateArrived"/> to the Dapr pub/sub for the leaf functions, each round opens on its
/// <see cref="RoundActor"/>, which this app hosts (its sidecar calls the actor routes on
/// <see cref="GatewayListenOptions.SidecarAppPort"/>), and the sidecar delivers <see cref="ModelPublished"/>
/// to that port too. Dispose it to stop.
/// </summary>
public sealed class DaprGateway : IAsyncDisposable
{
    private readonly DaprClient _client;
    private readonly ILoggerFactory _loggers;

    private DaprGateway(GatewayServer server, IRoundCoordinator coordinator, DaprClient client, ILoggerFactory loggers, InProcessEventBus roundEvents)
    {
        RoundEvents = roundEvents;
        Server = server;
        Coordinator = coordinator;
        _client = client;
        _loggers = loggers;
    }

    /// <summary>How long the start waits for the sidecar and the aggregator functions (the apps of a deployment start in any order).</summary>
    public static readonly TimeSpan DefaultSidecarWait = TimeSpan.FromSeconds(60);

    /// <summary>The gRPC server.</summary>
    public GatewayServer Server { get; }

    /// <summary>Where each <see cref="RoundClosed"/> is announced in this process (reports subscribe here).</summary>
    public InProcessEventBus RoundEvents { get; }

    /// <summary>The rounds, aggregated by the functions (a <see cref="DaprRoundCoordinator"/>, or a <see cref="DaprAsynchronousCoordinator"/> in asynchronous serving).</summary>
    public IRoundCoordinator Coordinator { get; }

    /// <summary>The asynchronous coordinator, when <see cref="StartAsynchronousAsync"/> started this gateway.</summary>
    public DaprAsynchronousCoordinator? Asynchronous => Coordinator as DaprAsynchronousCoordinator;

    /// <summary>Starts the gateway and opens round 1.</summary>
    /// <param name="options">Gateway limits and codec.</param>
    /// <param name="listen">Where to listen; <see cref="GatewayListenOptions.SidecarAppPort"/> is required.</param>
    /// <param name="tokens">Device credentials.</param>
    /// <param name="layout">The model's tensors.</param>
    /// <param name="initialWeights">Model version 0.</param>
    /// <param name="rounds">Round settings.</param>
    /// <param name="sidecar">The sidecar's endpoints; null: <see cref="DaprSidecarEndpoints.FromEnvironment"/>.</param>
    /// <param name="configureLogging">Log providers; nothing is logged without them.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <param name="sidecarWait">How long to wait for the sidecar and the functions' actors before failing (<see cref="DefaultSidecarWait"/>).</param>
    /// <param name="nodeStore">This node's shared-memory store: uploads and partials stay there (<see cref="NodeLocalUpdateStore"/>); null keeps them in the state store.</param>
    /// <exception cref="ArgumentException">No sidecar app port (the Dapr app port) is set.</exception>
    public static async Task<DaprGateway> StartAsync(GatewayOptions options, GatewayListenOptions listen, ClientTokens tokens,
        TensorLayout layout, ReadOnlyMemory<float> initialWeights, RoundOptions rounds, DaprSidecarEndpoints? sidecar = null,
        Action<ILoggingBuilder>? configureLogging = null, CancellationToken cancellationToken = default, TimeSpan? sidecarWait = null,
        IUpdateStore? nodeStore = null)
    {
        ArgumentNullException.ThrowIfNull(listen);
        if (listen.SidecarAppPort is not int appPort) throw new ArgumentException("The Dapr gateway needs a Dapr app port for its sidecar.", nameof(listen));
        sidecar ??= DaprSidecarEndpoints.FromEnvironment();
        var client = new DaprClientBuilder().UseGrpcEndpoint(sidecar.GrpcEndpoint).UseHttpEndpoint(sidecar.HttpEndpoint).Build();
        var proxyOptions = new ActorProxyOptions { HttpEndpoint = sidecar.HttpEndpoint };
        var loggers = LoggerFactory.Create(b => configureLogging?.Invoke(b));
        // With a node store, uploads and partials stay on the node, and their events go on this node's topics
        // (GatewayOptions.Node, checked as a node name by NodeLocalUpdateStore), which the functions on this node take;
        // models go through the state store either way.
        IUpdateStore store = nodeStore is null ? new DaprUpdateStore(client) : new NodeLocalUpdateStore(nodeStore, new DaprUpdateStore(client), options.Node);
        var roundEvents = new InProcessEventBus(loggers.CreateLogger<InProcessEventBus>());
        var journal = new DaprFederationJournal(client);
        var coordinator = new DaprRoundCoordinator(layout, initialWeights.Span, rounds, new RoundActors(new ActorProxyFactory(proxyOptions)), store,
            roundEvents, logger: loggers.CreateLogger<DaprRoundCoordinator>(), journal: journal);
        var updates = new DaprEventBus(client, routeByNode: nodeStore is not null);
        GatewayServer? server = null;
        try
        {
            // This app hosts the rounds' actors: it always runs, so daprd always has a host to place them on.
            // Its sidecar delivers ModelPublished and calls the actors on the sidecar app port.
            server = await GatewayServer.StartAsync(options, listen, tokens, coordinator, store, updates, configureLogging, cancellationToken, roundEvents,
                services =>
                {
                    services.AddSingleton<IModelPublishedObserver>(coordinator);
                    services.AddSingleton<GatewayModelFunction>();
                    services.AddOffloadRoundActors(sidecar.HttpEndpoint);
                },
                app => app.UseOffloadGatewaySubscription(appPort), new IngestJournal(journal, [])).ConfigureAwait(false);
            var started = server;
            var record = await coordinator.StartAsync(sidecarWait ?? DefaultSidecarWait, cancellationToken, r => started.RestoreAcknowledged(r.Accepted)).ConfigureAwait(false);
            // An update acknowledged just before a crash may not have been announced: announce the open round's again (the actor counts each once).
            long open = coordinator.Status.Round;
            foreach (var update in record.Accepted)
                if (update.Arrived.Round == open) await updates.PublishAsync(update.Arrived, cancellationToken).ConfigureAwait(false);
            return new DaprGateway(server, coordinator, client, loggers, roundEvents);
        }
        catch
        {
            await DisposeUnstartedAsync(server, coordinator, roundEvents, client, loggers).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Starts the gateway for asynchronous serving (<c>serve --mode async --aggregator dapr</c>) and
    /// opens round 1: as <see cref="StartAsync"/>, but tasks go out continuously and every K updates the
    /// functions publish a version (<see cref="DaprAsynchronousCoordinator"/>); stale updates go to the
    /// corrector app when <paramref name="corrects"/>. Its sidecar also delivers the corrector's reports.
    /// </summary>
    /// <param name="weighting">How the leaves weigh stale updates (the corrector when it only weights, else the fall-back).</param>
    /// <param name="fallback">The weight of an update older than the window.</param>
    /// <param name="corrects">Whether a corrector app (app id offload-corrector) takes stale updates.</param>
    /// <exception cref="ArgumentException">No sidecar app port is set, or the weighting is not one the functions can rebuild.</exception>
    /// <exception cref="InvalidOperationException">The actors hold an earlier federation.</exception>
    public static async Task<DaprGateway> StartAsynchronousAsync(GatewayOptions options, GatewayListenOptions listen, ClientTokens tokens,
        TensorLayout layout, ReadOnlyMemory<float> initialWeights, AsynchronousOptions asynchronous, IStalenessWeighting weighting, IStalenessWeighting fallback,
        bool corrects, DaprSidecarEndpoints? sidecar = null, Action<ILoggingBuilder>? configureLogging = null, CancellationToken cancellationToken = default,
        TimeSpan? sidecarWait = null)
    {
        ArgumentNullException.ThrowIfNull(listen);
        if (listen.SidecarAppPort is not int appPort) throw new ArgumentException("The Dapr gateway needs a Dapr app port for its sidecar.", nameof(listen));
        sidecar ??= DaprSidecarEndpoints.FromEnvironment();
        var client = new DaprClientBuilder().UseGrpcEndpoint(sidecar.GrpcEndpoint).UseHttpEndpoint(sidecar.HttpEndpoint).Build();
        var loggers = LoggerFactory.Create(b => configureLogging?.Invoke(b));
        IUpdateStore store = new DaprUpdateStore(client);
        var roundEvents = new InProcessEventBus(loggers.CreateLogger<InProcessEventBus>());
        var actors = new RoundActors(new ActorProxyFactory(new ActorProxyOptions { HttpEndpoint = sidecar.HttpEndpoint }));
        var coordinator = new DaprAsynchronousCoordinator(layout, initialWeights.Span, asynchronous, weighting, fallback, corrects, actors, store, roundEvents,
            logger: loggers.CreateLogger<DaprAsynchronousCoordinator>());
        GatewayServer? server = null;
        try
        {
            server = await GatewayServer.StartAsync(options, listen, tokens, coordinator, store, new AsynchronousRouting(new DaprEventBus(client), coordinator),
                configureLogging, cancellationToken, roundEvents,
                services =>
                {
                    services.AddSingleton<IModelPublishedObserver>(coordinator);
                    services.AddSingleton<ICorrectionObserver>(coordinator);
                    services.AddSingleton<GatewayModelFunction>();
                    services.AddOffloadRoundActors(sidecar.HttpEndpoint);
                },
                app => app.UseOffloadGatewaySubscription(appPort)).ConfigureAwait(false);
            await coordinator.StartAsync(sidecarWait ?? DefaultSidecarWait, cancellationToken).ConfigureAwait(false);
            return new DaprGateway(server, coordinator, client, loggers, roundEvents);
        }
        catch
        {
            await DisposeUnstartedAsync(server, coordinator, roundEvents, client, loggers).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Releases what a start that failed had built, in the order a stop would.</summary>
    private static async Task DisposeUnstartedAsync(GatewayServer? server, IAsyncDisposable coordinator, IAsyncDisposable roundEvents, DaprClient client, ILoggerFactory loggers)
    {
        if (server is not null) await server.DisposeAsync().ConfigureAwait(false);
        await coordinator.DisposeAsync().ConfigureAwait(false);
        await roundEvents.DisposeAsync().ConfigureAwait(false);
        client.Dispose();
        loggers.Dispose();
    }

    /// <summary>Stops the server and the coordinator.</summary>
    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync().ConfigureAwait(false);
        if (Coordinator is IAsyncDisposable disposable) await disposable.DisposeAsync().ConfigureAwait(false);
        await RoundEvents.DisposeAsync().ConfigureAwait(false);
        _client.Dispose();
        _loggers.Dispose();
    }
}

using Microsoft.Extensions.Logging;
using Offload.Aggregator.Asynchronous;
using Offload.Aggregator.Events;
using Offload.Aggregator.Journal;
using Offload.Aggregator.Rounds;
using Offload.Aggregator.SharedMemory;
using Offload.Aggregator.Staleness;
using Offload.Aggregator.Storage;
using Offload.Aggregator.Strategies;
using Offload.Core.Model;
using Offload.Functions.Hosting;
using Offload.Functions.Names;
using Offload.Gateway.Authentication;
using Offload.Gateway.Hosting;
using Offload.Gateway.Ingest;
using Offload.Gateway.Service;

namespace Offload.Cli.Serving;

/// <summary>
/// What <c>offload serve</c> runs: the gRPC gateway and its rounds, aggregated either in this process
/// or by the Dapr aggregator functions. <see cref="RoundEvents"/> announces each closed round either way.
/// </summary>
internal sealed class HostedRounds : IAsyncDisposable
{
    private readonly Func<ValueTask> _dispose;

    private HostedRounds(GatewayServer server, IRoundCoordinator coordinator, IEventBus roundEvents, Func<ValueTask> dispose)
    {
        Server = server;
        Coordinator = coordinator;
        RoundEvents = roundEvents;
        _dispose = dispose;
    }

    public GatewayServer Server { get; }

    public IRoundCoordinator Coordinator { get; }

    public IEventBus RoundEvents { get; }

    /// <summary>With <c>--mode async</c>, its settings and what was done with the updates so far; else null.</summary>
    public (AsynchronousOptions Options, Func<AsynchronousStatistics> Statistics)? Asynchronous { get; private init; }

    /// <summary>What the journal held when this process started (empty without <c>--state</c>, or on a first start).</summary>
    public FederationRecord Resumed { get; private init; } = FederationRecord.Empty;

    /// <summary>
    /// The gateway with the in-process synchronous coordinator, store and bus. With
    /// <paramref name="stateDirectory"/>, what is acknowledged is journaled there first, and a federation
    /// found there is resumed where it stopped.
    /// </summary>
    /// <exception cref="InvalidOptionException">The state directory holds another federation, or cannot be read.</exception>
    public static async Task<HostedRounds> StartInProcessAsync(GatewayOptions gateway, GatewayListenOptions listen, ClientTokens tokens,
        TensorLayout layout, float[] initial, RoundOptions rounds, Action<ILoggingBuilder> logging, ILoggerFactory loggers, CancellationToken cancellationToken,
        string? stateDirectory = null, Func<IRoundCoordinator, RoundClosed, ValueTask>? onRoundClosed = null,
        string? nodeStore = null, long nodeStoreBytes = SharedMemoryUpdateStore.DefaultCapacityBytes)
    {
        var shared = nodeStore is null ? null : OpenNodeStore(nodeStore, nodeStoreBytes, layout);
        SqliteFederationJournal? journal;
        try
        {
            journal = stateDirectory is null ? null : OpenJournal(stateDirectory, layout, initial, rounds);
        }
        catch
        {
            shared?.Dispose();
            throw;
        }
        var record = FederationRecord.Empty;
        IUpdateStore store = shared is null ? new InMemoryUpdateStore() : shared;
        var bus = new InProcessEventBus(loggers.CreateLogger<InProcessEventBus>());
        var coordinator = new SynchronousRoundCoordinator(layout, initial, rounds, store, bus,
            logger: loggers.CreateLogger<SynchronousRoundCoordinator>(), journal: journal);
        var watch = onRoundClosed is null ? null : bus.Subscribe<RoundClosed>((closed, _) => onRoundClosed(coordinator, closed));
        try
        {
            try
            {
                record = journal is null ? FederationRecord.Empty : await journal.LoadAsync(cancellationToken);
                await coordinator.StartAsync(record, cancellationToken);
            }
            catch (InvalidDataException e)
            {
                throw new InvalidOptionException($"--state {stateDirectory}: the federation kept there cannot be resumed: {e.Message}");
            }
            var server = await GatewayServer.StartAsync(gateway, listen, tokens, coordinator, store, bus, logging, cancellationToken,
                journal: journal is null ? null : new IngestJournal(journal, record.Accepted));
            return new HostedRounds(server, coordinator, bus, async () =>
            {
                await server.DisposeAsync();
                await coordinator.DisposeAsync();
                if (watch is not null) await watch.DisposeAsync();
                await bus.DisposeAsync();
                journal?.Dispose();
                shared?.Dispose();
            }) { Resumed = record };
        }
        catch
        {
            await coordinator.DisposeAsync();
            if (watch is not null) await watch.DisposeAsync();
            await bus.DisposeAsync();
            journal?.Dispose();
            shared?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The gateway with buffered asynchronous aggregation in this process (<c>serve --mode async</c>):
    /// stale updates are corrected by <paramref name="corrector"/> on its own worker thread.
    /// </summary>
    public static async Task<HostedRounds> StartAsynchronousAsync(GatewayOptions gateway, GatewayListenOptions listen, ClientTokens tokens,
        TensorLayout layout, float[] initial, AsynchronousOptions options, IStalenessCorrector corrector, IStalenessWeighting fallback,
        Action<ILoggingBuilder> logging, ILoggerFactory loggers, CancellationToken cancellationToken,
        Func<IRoundCoordinator, RoundClosed, ValueTask>? onRoundClosed = null, string? nodeStore = null, long nodeStoreBytes = SharedMemoryUpdateStore.DefaultCapacityBytes)
    {
        var shared = nodeStore is null ? null : OpenNodeStore(nodeStore, nodeStoreBytes, layout);
        IUpdateStore store = shared is null ? new InMemoryUpdateStore() : shared;
        var bus = new InProcessEventBus(loggers.CreateLogger<InProcessEventBus>());
        var coordinator = new AsynchronousCoordinator(layout, initial, options, corrector, fallback, store, bus,
            logger: loggers.CreateLogger<AsynchronousCoordinator>());
        var watch = onRoundClosed is null ? null : bus.Subscribe<RoundClosed>((closed, _) => onRoundClosed(coordinator, closed));
        try
        {
            coordinator.Start();
            var server = await GatewayServer.StartAsync(gateway, listen, tokens, coordinator, store, bus, logging, cancellationToken);
            return new HostedRounds(server, coordinator, bus, async () =>
            {
                await server.DisposeAsync();
                await coordinator.DisposeAsync();
                if (watch is not null) await watch.DisposeAsync();
                await bus.DisposeAsync();
                shared?.Dispose();
            }) { Asynchronous = (coordinator.Asynchronous, () => coordinator.Statistics) };
        }
        catch
        {
            await coordinator.DisposeAsync();
            if (watch is not null) await watch.DisposeAsync();
            await bus.DisposeAsync();
            shared?.Dispose();
            throw;
        }
    }

    /// <summary>Attaches to (or creates) the node's shared-memory store; what is wrong with the file is the operator's to fix.</summary>
    /// <param name="path">The store's file.</param>
    /// <param name="bytes">Data area when the file is created.</param>
    /// <param name="layout">The model updates are for: a store that cannot hold one of its largest updates is refused, since every upload would be pushed back forever.</param>
    /// <exception cref="InvalidOptionException">The file cannot be a store, or is too small (the message names --node-store).</exception>
    public static SharedMemoryUpdateStore OpenNodeStore(string path, long bytes, TensorLayout? layout = null)
    {
        SharedMemoryUpdateStore store;
        try
        {
            store = SharedMemoryUpdateStore.Open(path, bytes);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or PlatformNotSupportedException or InvalidOperationException)
        {
            throw new InvalidOptionException($"--node-store {path}: {e.Message}");
        }
        long largest = layout is null ? 0 : Math.Max(Core.Codec.UpdatePayload.GetMaxValidLength(layout, Core.Codec.PayloadCodec.Identity), Core.Codec.UpdatePayload.GetMaxValidLength(layout, Core.Codec.PayloadCodec.FedZip));
        if (store.CapacityBytes < largest)
        {
            long capacity = store.CapacityBytes;
            store.Dispose();
            throw new InvalidOptionException($"--node-store {path}: its {capacity} bytes cannot hold one update of this model ({largest} bytes at most); give --node-store-mb at least {(largest + (1 << 20) - 1) >> 20} (an existing store keeps its size: remove the file first).");
        }
        return store;
    }

    /// <summary>The journal of this federation: one whose model layout, initial weights or strategy differ is refused.</summary>
    private static SqliteFederationJournal OpenJournal(string directory, TensorLayout layout, float[] initial, RoundOptions rounds)
    {
        string identity = FederationIdentity.Of(layout, initial, rounds.Strategy);
        try
        {
            return SqliteFederationJournal.Open(directory, identity);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            throw new InvalidOptionException($"--state {directory}: {e.Message}");
        }
    }

    /// <summary>The gateway of the Dapr deployment: the sidecar is found through the variables <c>dapr run</c> sets.</summary>
    public static async Task<HostedRounds> StartDaprAsync(GatewayOptions gateway, GatewayListenOptions listen, ClientTokens tokens,
        TensorLayout layout, float[] initial, RoundOptions rounds, Action<ILoggingBuilder> logging, TimeSpan sidecarWait, CancellationToken cancellationToken,
        string? nodeStore = null, long nodeStoreBytes = SharedMemoryUpdateStore.DefaultCapacityBytes)
    {
        var shared = nodeStore is null ? null : OpenNodeStore(nodeStore, nodeStoreBytes, layout);
        try
        {
            var dapr = await DaprGateway.StartAsync(gateway, listen, tokens, layout, initial, rounds, sidecar: null, logging, cancellationToken, sidecarWait, shared);
            return new HostedRounds(dapr.Server, dapr.Coordinator, dapr.RoundEvents, async () =>
            {
                await dapr.DisposeAsync();
                shared?.Dispose();
            });
        }
        catch when (Dispose(shared))
        {
            throw;
        }
        catch (Exception e) when (SidecarProblem(e, sidecarWait) is { } problem)
        {
            throw problem;
        }
    }

    /// <summary>
    /// The gateway of the Dapr deployment serving asynchronously (<c>serve --mode async --aggregator dapr</c>):
    /// the functions fold every K updates into a version; stale updates go to the corrector app when <paramref name="corrects"/>.
    /// </summary>
    public static async Task<HostedRounds> StartDaprAsynchronousAsync(GatewayOptions gateway, GatewayListenOptions listen, ClientTokens tokens,
        TensorLayout layout, float[] initial, AsynchronousOptions options, IStalenessWeighting weighting, IStalenessWeighting fallback, bool corrects,
        Action<ILoggingBuilder> logging, TimeSpan sidecarWait, CancellationToken cancellationToken)
    {
        try
        {
            var dapr = await DaprGateway.StartAsynchronousAsync(gateway, listen, tokens, layout, initial, options, weighting, fallback, corrects,
                sidecar: null, logging, cancellationToken, sidecarWait);
            var coordinator = dapr.Asynchronous!;
            return new HostedRounds(dapr.Server, coordinator, dapr.RoundEvents, dapr.DisposeAsync) { Asynchronous = (options, () => coordinator.Statistics) };
        }
        catch (Exception e) when (SidecarProblem(e, sidecarWait) is { } problem)
        {
            throw problem;
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOptionException($"--mode async --aggregator dapr: {e.Message}");
        }
    }

    /// <summary>What the operator is told when the gateway's first calls to its sidecar fail; null for any other failure.</summary>
    private static InvalidOptionException? SidecarProblem(Exception e, TimeSpan sidecarWait)
    {
        if (Functions.Aggregation.TransientFailure.Is(e))
        {
            string grpc = DaprSidecarEndpoints.FromEnvironment().GrpcEndpoint;
            return new InvalidOptionException($"--aggregator dapr: no Dapr sidecar (with this app's RoundActor placed behind it) answered at {grpc} within {sidecarWait.TotalSeconds:0} s ({(e.InnerException ?? e).Message}). "
                + "Start the gateway under its sidecar (`dapr run -f dapr-components/dapr.yaml`, or the Kubernetes injector), or set DAPR_GRPC_ENDPOINT and DAPR_HTTP_ENDPOINT.");
        }
        if (Functions.Aggregation.TransientFailure.IsPermanentSidecarError(e))
            // A sidecar that answers but refuses: a component missing, not scoped to this app, or misconfigured.
            return new InvalidOptionException($"--aggregator dapr: the sidecar refused the gateway's first calls: {(e.InnerException ?? e).Message}. "
                + $"Check that the components '{DaprNames.StateStore}' (keyPrefix none) and '{DaprNames.ActorStateStore}' (actorStateStore) are loaded and scoped to '{DaprNames.GatewayAppId}' (dapr-components/).");
        if (e is InvalidDataException or Aggregator.Storage.UpdateNotFoundException)
            // Resuming a federation whose stored model is missing or is not this model's.
            return new InvalidOptionException($"--aggregator dapr: the federation in the state store cannot be resumed: {e.Message}");
        return null;
    }

    public ValueTask DisposeAsync() => _dispose();

    /// <summary>Disposes <paramref name="store"/> from an exception filter (so the catches below still see the exception); false.</summary>
    private static bool Dispose(IDisposable? store)
    {
        store?.Dispose();
        return false;
    }
}

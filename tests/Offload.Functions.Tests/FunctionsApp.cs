using Dapr.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Offload.Aggregator.Events;
using Offload.Aggregator.Storage;
using Offload.Functions.Aggregation;
using Offload.Functions.Events;
using Offload.Functions.Hosting;
using Offload.Functions.Names;
using Offload.Functions.Storage;
using Offload.Functions.Subscriptions;
using Offload.Functions.Tests.Sidecar;

namespace Offload.Functions.Tests;

/// <summary>
/// The aggregator functions app (app id offload-aggregator) on an in-memory test server with its
/// sidecar, and, as in the deployment, the RoundActor hosted by another app (app id offload-gateway,
/// here nothing but the actor host) with its own sidecar, both in one <see cref="DaprCluster"/> over
/// the repository's dapr-components/.
/// </summary>
public sealed class FunctionsApp : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly WebApplication? _actorHost;
    private readonly DaprClient? _actorHostClient;
    private readonly bool _ownsCluster;

    private FunctionsApp(WebApplication app, WebApplication? actorHost, DaprClient? actorHostClient, DaprCluster cluster, bool ownsCluster, SidecarStandIn sidecar, SidecarStandIn? actorSidecar)
    {
        _ownsCluster = ownsCluster;
        _app = app;
        _actorHost = actorHost;
        _actorHostClient = actorHostClient;
        Cluster = cluster;
        Sidecar = sidecar;
        ActorHostSidecar = actorSidecar;
        Client = app.GetTestClient();
        Actors = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };
    }

    public DaprCluster Cluster { get; }

    /// <summary>The functions app's sidecar.</summary>
    public SidecarStandIn Sidecar { get; }

    /// <summary>The actor host's sidecar (null when started without one).</summary>
    public SidecarStandIn? ActorHostSidecar { get; }

    /// <summary>Calls the functions app as its sidecar does.</summary>
    public HttpClient Client { get; }

    /// <summary>The functions' sidecar HTTP API, for actor calls (<c>/v1.0/actors/...</c>) as the functions make them.</summary>
    public HttpClient Actors { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>Starts the apps; <paramref name="store"/> replaces the Dapr state store (null: the Dapr store through the stand-in).</summary>
    /// <param name="store">The functions' store, when not the Dapr one.</param>
    /// <param name="services">More services for the functions app.</param>
    /// <param name="actorHost">Whether to start the app hosting the RoundActor (without it, every actor call finds no host).</param>
    /// <param name="components">The component folder (default: the repository's dapr-components/).</param>
    /// <param name="gateway">Services for the actor host, which also takes ModelPublished as the gateway's app does (e.g. an <see cref="IModelPublishedObserver"/>).</param>
    /// <param name="cluster">The installation to join (the caller disposes it); null: one of its own over <paramref name="components"/>.</param>
    public static async Task<FunctionsApp> StartAsync(IUpdateStore? store = null, Action<IServiceCollection>? services = null, bool actorHost = true, string? components = null,
        Action<IServiceCollection>? gateway = null, DaprCluster? cluster = null)
    {
        bool ownsCluster = cluster is null;
        cluster ??= DaprCluster.FromComponents(components);
        var sidecar = await cluster.StartSidecarAsync(DaprNames.FunctionsAppId);
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        if (store is not null) builder.Services.AddSingleton(store);
        services?.Invoke(builder.Services);
        builder.Services.AddOffloadAggregatorFunctions(sidecar.HttpEndpoint, b => b.UseGrpcEndpoint(sidecar.GrpcEndpoint).UseHttpEndpoint(sidecar.HttpEndpoint));
        var app = builder.Build();
        app.UseOffloadAggregatorFunctions();
        await app.StartAsync();
        sidecar.App = app.GetTestClient();

        WebApplication? host = null;
        SidecarStandIn? hostSidecar = null;
        DaprClient? hostClient = null;
        if (actorHost)
        {
            hostSidecar = await cluster.StartSidecarAsync(DaprNames.GatewayAppId);
            hostClient = new DaprClientBuilder().UseGrpcEndpoint(hostSidecar.GrpcEndpoint).UseHttpEndpoint(hostSidecar.HttpEndpoint).Build();
            var hostBuilder = WebApplication.CreateBuilder();
            hostBuilder.WebHost.UseTestServer();
            hostBuilder.Logging.ClearProviders();
            hostBuilder.Services.AddSingleton<IEventBus>(new DaprEventBus(hostClient));
            hostBuilder.Services.AddSingleton<IUpdateStore>(new DaprUpdateStore(hostClient));
            hostBuilder.Services.AddSingleton<GatewayModelFunction>();
            gateway?.Invoke(hostBuilder.Services);
            hostBuilder.Services.AddOffloadRoundActors(hostSidecar.HttpEndpoint);
            host = hostBuilder.Build();
            host.UseCloudEvents();
            host.MapSubscribeHandler();
            host.MapOffloadRoundActors();
            host.MapModelPublished();
            await host.StartAsync();
            hostSidecar.App = host.GetTestClient();
        }
        return new FunctionsApp(app, host, hostClient, cluster, ownsCluster, sidecar, hostSidecar);
    }

    /// <summary>Stops the functions app as <c>offload serve --dapr</c> does on SIGTERM (<see cref="AggregatorFunctionsHost.DrainAsync"/>).</summary>
    public Task<DrainSummary> DrainAsync(TimeSpan timeout) => AggregatorFunctionsHost.DrainAsync(_app, timeout);

    public async ValueTask DisposeAsync()
    {
        Actors.Dispose();
        await _app.DisposeAsync();
        if (_actorHost is not null) await _actorHost.DisposeAsync();
        _actorHostClient?.Dispose();
        if (_ownsCluster) await Cluster.DisposeAsync();
    }
}

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Offload.Aggregator.Events;
using Offload.Aggregator.Rounds;
using Offload.Aggregator.Storage;
using Offload.Gateway.Authentication;
using Offload.Gateway.Ingest;
using Offload.Gateway.Service;

namespace Offload.Gateway.Hosting;

/// <summary>
/// The ingest gateway on its own Kestrel server in this process: what <c>offload serve</c>, the
/// ingest benchmark and the end-to-end tests run. Dispose it to stop the server.
/// </summary>
public sealed class GatewayServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private GatewayServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
        Metrics = app.Services.GetRequiredService<GatewayMetrics>();
    }

    /// <summary>The first address the server listens on, e.g. <c>http://127.0.0.1:5123</c>.</summary>
    public Uri Address { get; }

    /// <summary>The gateway's counters.</summary>
    public GatewayMetrics Metrics { get; }

    /// <summary>Builds and starts the server; the coordinator must be started by the caller.</summary>
    /// <param name="configureLogging">Adds log providers; without it the server logs nothing.</param>
    /// <param name="roundEvents">Where the coordinator announces <c>RoundClosed</c>, if not on <paramref name="bus"/>.</param>
    /// <param name="configureServices">Adds services after the gateway's, e.g. those the routes of <paramref name="configureApp"/> need.</param>
    /// <param name="configureApp">Maps more routes after the gateway's, e.g. a sidecar's on <see cref="GatewayListenOptions.SidecarAppPort"/>.</param>
    /// <param name="journal">Durable ingest (<c>serve --state</c>), or null.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="IOException">The address is in use.</exception>
    public static async Task<GatewayServer> StartAsync(GatewayOptions options, GatewayListenOptions listen, ClientTokens tokens,
        IRoundCoordinator coordinator, IUpdateStore store, IEventBus bus,
        Action<ILoggingBuilder>? configureLogging = null, CancellationToken cancellationToken = default, IEventBus? roundEvents = null,
        Action<IServiceCollection>? configureServices = null, Action<WebApplication>? configureApp = null, IngestJournal? journal = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(listen);
        listen.Validate();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = typeof(GatewayServer).Assembly.GetName().Name });
        foreach (string file in listen.JsonFiles) builder.Configuration.AddJsonFile(Path.GetFullPath(file), optional: false);
        if (listen.Configuration is not null) builder.Configuration.AddInMemoryCollection(listen.Configuration);
        builder.Logging.ClearProviders();
        configureLogging?.Invoke(builder.Logging);
        builder.WebHost.UseKestrelHttpsConfiguration(); // Lets Kestrel:Endpoints configure TLS certificates.
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = null; // gRPC's own message limit and the gateway's size checks apply.
            kestrel.Limits.Http2.MaxStreamsPerConnection = 1000;
            if (listen.Port is int port)
                kestrel.Listen(listen.Address, port, endpoint => endpoint.Protocols = HttpProtocols.Http2);
            if (listen.SidecarAppPort is int appPort)
                kestrel.Listen(listen.Address, appPort, endpoint => endpoint.Protocols = HttpProtocols.Http1);
        });
        builder.Services.AddSingleton<Microsoft.Extensions.Hosting.IHostLifetime, EmbeddedHostLifetime>();
        builder.Services.AddOffloadGateway(options, tokens, coordinator, store, bus, roundEvents, journal);
        configureServices?.Invoke(builder.Services);
        var app = builder.Build();
        app.MapOffloadGateway();
        configureApp?.Invoke(app);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        string first = addresses?.FirstOrDefault() ?? throw new InvalidOperationException("The server started without an address; configure Kestrel endpoints or a port.");
        return new GatewayServer(app, new Uri(first));
    }

    /// <summary>
    /// Knows again the updates a journal acknowledged before a restart, for a host that reads its journal
    /// only once the server runs (the Dapr gateway, whose sidecar answers once the app listens); call it before the rounds are ready.
    /// </summary>
    public void RestoreAcknowledged(IEnumerable<Aggregator.Rounds.AcceptedUpdate> acknowledged) =>
        GatewayServiceCollectionExtensions.Restore(_app.Services.GetRequiredService<Ingest.UploadLedger>(), _app.Services.GetRequiredService<Service.UpdateBounds>(), acknowledged);

    /// <summary>Stops the server, letting calls in flight finish for up to <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        using var timeout = new CancellationTokenSource(grace);
        await _app.StopAsync(timeout.Token).ConfigureAwait(false);
    }

    /// <summary>Stops the server (two seconds' grace) and releases it.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Calls still open after the grace period are cut.
        }
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}

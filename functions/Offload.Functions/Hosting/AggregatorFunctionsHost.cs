using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Offload.Functions.Subscriptions;
using Offload.Gateway.Hosting;

namespace Offload.Functions.Hosting;

/// <summary>
/// The aggregator functions as a Dapr app on Kestrel (<c>offload serve --dapr</c>): the sidecar
/// delivers events and actor calls to this port (app-protocol http); the app reaches its sidecar
/// through the usual variables (DAPR_HTTP_PORT, DAPR_GRPC_PORT or their _ENDPOINT forms) that
/// <c>dapr run</c> and the Kubernetes injector set.
/// </summary>
public static class AggregatorFunctionsHost
{
    /// <summary>
    /// How long <c>offload serve --dapr</c> lets deliveries in flight finish after SIGTERM or SIGINT: under
    /// the 10 s the command line gives a stopping command, and a cut fold costs its round only the emit lease.
    /// </summary>
    public static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(8);

    /// <summary>Starts the app on <paramref name="address"/>:<paramref name="port"/> (0: any free port); dispose it to stop.</summary>
    /// <param name="address">Address to bind.</param>
    /// <param name="port">Port the sidecar calls (its app-port).</param>
    /// <param name="logging">Configures logging (nothing is logged otherwise).</param>
    /// <param name="services">Adds services before the functions' defaults, e.g. an <see cref="Aggregator.Storage.IUpdateStore"/> to use instead of the Dapr state store.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static Task<WebApplication> StartAsync(IPAddress address, int port, Action<ILoggingBuilder>? logging = null,
        Action<IServiceCollection>? services = null, CancellationToken cancellationToken = default) =>
        StartAppAsync(address, port, logging, s =>
        {
            services?.Invoke(s);
            s.AddOffloadAggregatorFunctions();
        }, app => app.UseOffloadAggregatorFunctions(), cancellationToken);

    /// <summary>
    /// Starts the corrector app (<c>offload serve --dapr --corrector NAME</c>, app id
    /// <see cref="Names.DaprNames.CorrectorAppId"/>) on <paramref name="address"/>:<paramref name="port"/>;
    /// <paramref name="services"/> must add <see cref="AggregatorFunctionsServiceCollectionExtensions.AddOffloadCorrector"/>.
    /// Stop it with <see cref="DrainAsync"/>, as the functions.
    /// </summary>
    public static Task<WebApplication> StartCorrectorAsync(IPAddress address, int port, Action<IServiceCollection> services, Action<ILoggingBuilder>? logging = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(services);
        return StartAppAsync(address, port, logging, services, app => app.UseOffloadCorrector(), cancellationToken);
    }

    private static async Task<WebApplication> StartAppAsync(IPAddress address, int port, Action<ILoggingBuilder>? logging,
        Action<IServiceCollection> services, Action<WebApplication> use, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        logging?.Invoke(builder.Logging);
        builder.WebHost.ConfigureKestrel(k => k.Listen(address, port, o => o.Protocols = HttpProtocols.Http1));
        // The command owns SIGTERM/SIGINT: the default console lifetime would swallow them (see EmbeddedHostLifetime).
        builder.Services.AddSingleton<IHostLifetime, EmbeddedHostLifetime>();
        services(builder.Services);
        var app = builder.Build();
        use(app);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        return app;
    }

    /// <summary>
    /// Stops <paramref name="app"/> cleanly: from now on every delivery is answered <c>RETRY</c> (daprd
    /// redelivers it, here after a restart or to another instance), the deliveries in flight finish (at most
    /// <paramref name="timeout"/>), then the web host stops.
    /// </summary>
    /// <param name="app">An app started by <see cref="StartAsync"/> (or any app with <see cref="AggregatorFunctionsServiceCollectionExtensions.AddOffloadAggregatorFunctions"/>).</param>
    /// <param name="timeout">How long deliveries in flight may take; those still running after it are cut.</param>
    /// <returns>What the app answered, for the summary line.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is negative.</exception>
    public static async Task<DrainSummary> DrainAsync(WebApplication app, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);
        var clock = Stopwatch.StartNew();
        var gate = app.Services.GetRequiredService<DeliveryGate>();
        try
        {
            await gate.CloseAsync().WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(AggregatorFunctionsHost).FullName!)
                .LogWarning("{InFlight} deliveries were still in flight after {Timeout} s; stopping without them.", gate.InFlight, timeout.TotalSeconds);
        }
        // Counted before the host stops: a delivery cut by the stop is one still in flight here.
        var counts = gate.Counts();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try
        {
            await app.StopAsync(stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Only deliveries already given up on were still open; their connections are closed.
        }
        return new DrainSummary(counts, clock.Elapsed);
    }
}

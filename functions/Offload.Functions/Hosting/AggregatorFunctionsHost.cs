using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Offload.Functions.Hosting;

/// <summary>
/// The aggregator functions as a Dapr app on Kestrel (<c>offload serve --dapr</c>): the sidecar
/// delivers events and actor calls to this port (app-protocol http); the app reaches its sidecar
/// through the usual variables (DAPR_HTTP_PORT, DAPR_GRPC_PORT or their _ENDPOINT forms) that
/// <c>dapr run</c> and the Kubernetes injector set.
/// </summary>
public static class AggregatorFunctionsHost
{
    /// <summary>Starts the app on <paramref name="address"/>:<paramref name="port"/> (0: any free port); dispose it to stop.</summary>
    /// <param name="address">Address to bind.</param>
    /// <param name="port">Port the sidecar calls (its app-port).</param>
    /// <param name="logging">Configures logging (nothing is logged otherwise).</param>
    /// <param name="services">Adds services before the functions' defaults, e.g. an <see cref="Aggregator.Storage.IUpdateStore"/> to use instead of the Dapr state store.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static async Task<WebApplication> StartAsync(IPAddress address, int port, Action<ILoggingBuilder>? logging = null,
        Action<IServiceCollection>? services = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        logging?.Invoke(builder.Logging);
        builder.WebHost.ConfigureKestrel(k => k.Listen(address, port, o => o.Protocols = HttpProtocols.Http1));
        services?.Invoke(builder.Services);
        builder.Services.AddOffloadAggregatorFunctions();
        var app = builder.Build();
        app.UseOffloadAggregatorFunctions();
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        return app;
    }
}

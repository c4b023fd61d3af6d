using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Offload.Aggregator.Storage;
using Offload.Gateway.Hosting;

namespace Offload.Gateway.Nodes;

/// <summary>
/// A node agent's gRPC endpoint (<see cref="NodeAgentService"/>) on its own Kestrel server: the
/// address other nodes pull this node's objects from. HTTP/2 without TLS, for a cluster network
/// (a service mesh or the pod network) that secures it.
/// </summary>
public sealed class NodeAgentServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private NodeAgentServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>Where the agent listens (the port chosen when 0 was asked).</summary>
    public Uri Address { get; }

    /// <summary>Starts serving <paramref name="store"/> on <paramref name="address"/>:<paramref name="port"/> (0: any free port).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="port"/> is outside 0..65535.</exception>
    /// <exception cref="IOException">The address is in use.</exception>
    /// <param name="clock">The clock that bounds each pull (<see cref="NodeAgentService.MaxPullDuration"/>); the system's by default.</param>
    public static async Task<NodeAgentServer> StartAsync(IUpdateStore store, IPAddress address, int port, Action<ILoggingBuilder>? configureLogging = null, CancellationToken cancellationToken = default,
        TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(address);
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = typeof(NodeAgentServer).Assembly.GetName().Name });
        builder.Logging.ClearProviders();
        configureLogging?.Invoke(builder.Logging);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(address, port, endpoint => endpoint.Protocols = HttpProtocols.Http2);
        });
        builder.Services.AddSingleton<Microsoft.Extensions.Hosting.IHostLifetime, EmbeddedHostLifetime>();
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(store);
        builder.Services.AddSingleton(clock ?? TimeProvider.System);
        var app = builder.Build();
        app.MapGrpcService<NodeAgentService>();
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        string first = addresses?.FirstOrDefault() ?? throw new InvalidOperationException("The node agent started without an address.");
        return new NodeAgentServer(app, new Uri(first));
    }

    /// <summary>Stops the server (two seconds' grace for pulls in flight) and releases it.</summary>
    public async ValueTask DisposeAsync()
    {
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await _app.StopAsync(grace.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Pulls still open after the grace period are cut; the puller resumes elsewhere.
        }
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}

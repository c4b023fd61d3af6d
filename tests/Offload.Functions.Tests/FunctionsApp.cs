using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Offload.Aggregator.Storage;
using Offload.Functions.Hosting;
using Offload.Functions.Tests.Sidecar;

namespace Offload.Functions.Tests;

/// <summary>The aggregator functions app on an in-memory test server, wired to a <see cref="SidecarStandIn"/>.</summary>
public sealed class FunctionsApp : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FunctionsApp(WebApplication app, SidecarStandIn sidecar, HttpClient client)
    {
        _app = app;
        Sidecar = sidecar;
        Client = client;
    }

    public SidecarStandIn Sidecar { get; }

    /// <summary>Calls the app as the sidecar does.</summary>
    public HttpClient Client { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>Starts the app; <paramref name="store"/> replaces the Dapr state store (null: the Dapr store through the stand-in).</summary>
    public static async Task<FunctionsApp> StartAsync(IUpdateStore? store = null, Action<IServiceCollection>? services = null)
    {
        var sidecar = await SidecarStandIn.StartAsync();
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        if (store is not null) builder.Services.AddSingleton(store);
        services?.Invoke(builder.Services);
        builder.Services.AddOffloadAggregatorFunctions(sidecar.HttpEndpoint, b => b.UseGrpcEndpoint(sidecar.GrpcEndpoint).UseHttpEndpoint(sidecar.HttpEndpoint));
        var app = builder.Build();
        app.UseOffloadAggregatorFunctions();
        await app.StartAsync();
        var client = app.GetTestClient();
        sidecar.App = app.GetTestClient();
        return new FunctionsApp(app, sidecar, client);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await Sidecar.DisposeAsync();
    }
}

using Microsoft.AspNetCore.Builder;
using Offload.Functions.Subscriptions;

namespace Offload.Functions.Hosting;

/// <summary>Wires the aggregator functions into a web app the way the Dapr sidecar calls it.</summary>
public static class AggregatorFunctionsApplicationExtensions
{
    /// <summary>
    /// CloudEvents unwrapping, <c>GET /dapr/subscribe</c>, the actor routes (<c>GET /dapr/config</c>,
    /// <c>PUT /actors/...</c>) and the subscription routes.
    /// </summary>
    public static WebApplication UseOffloadAggregatorFunctions(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.Use(MalformedCloudEventGuard.InvokeAsync);
        app.UseCloudEvents();
        app.MapSubscribeHandler();
        app.MapActorsHandlers();
        app.MapOffloadAggregatorFunctions();
        return app;
    }

    /// <summary>
    /// The gateway's Dapr side in the Dapr deployment: CloudEvents unwrapping, <c>GET /dapr/subscribe</c>
    /// and the <c>ModelPublished</c> route, answering on <paramref name="appPort"/> only (the port
    /// the sidecar calls), so devices reaching the gRPC port cannot post events.
    /// </summary>
    public static WebApplication UseOffloadGatewaySubscription(this WebApplication app, int appPort)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(appPort);
        string host = $"*:{appPort}";
        app.Use(MalformedCloudEventGuard.InvokeAsync);
        app.UseCloudEvents();
        app.MapSubscribeHandler().RequireHost(host);
        app.MapModelPublished().RequireHost(host);
        return app;
    }
}

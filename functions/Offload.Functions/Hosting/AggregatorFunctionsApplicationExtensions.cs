using Dapr.Actors.Runtime;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Offload.Aggregator.Storage;
using Offload.Functions.Storage;
using Offload.Functions.Subscriptions;

namespace Offload.Functions.Hosting;

/// <summary>Wires the aggregator functions into a web app the way the Dapr sidecar calls it.</summary>
public static class AggregatorFunctionsApplicationExtensions
{
    /// <summary>
    /// CloudEvents unwrapping, <c>GET /dapr/subscribe</c> and the subscription routes; when the app's
    /// store is a named node's (<see cref="NodeLocalUpdateStore"/>), that node's topics too. No actor routes:
    /// the <see cref="Rounds.RoundActor"/> lives in the gateway's app (<see cref="UseOffloadGatewaySubscription"/>).
    /// </summary>
    public static WebApplication UseOffloadAggregatorFunctions(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.Use(MalformedCloudEventGuard.InvokeAsync);
        app.UseCloudEvents();
        app.MapSubscribeHandler();
        app.MapOffloadAggregatorFunctions(app.Services.GetService<IUpdateStore>()?.OwningNode());
        return app;
    }

    /// <summary>
    /// The gateway's Dapr side in the Dapr deployment: CloudEvents unwrapping, <c>GET /dapr/subscribe</c>,
    /// the <c>ModelPublished</c> route and the <see cref="Rounds.RoundActor"/>'s routes
    /// (<c>GET /dapr/config</c>, <c>PUT /actors/...</c>), answering on <paramref name="appPort"/> only
    /// (the port the sidecar calls). The check is on the connection's local port, not the Host header
    /// (which <c>RequireHost</c> matches and a device could set), so devices reaching the gRPC port
    /// can neither post events nor call the actor.
    /// </summary>
    public static WebApplication UseOffloadGatewaySubscription(this WebApplication app, int appPort)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(appPort);
        app.Use((context, next) =>
        {
            bool daprRoute = context.Request.Path.StartsWithSegments("/dapr") || context.Request.Path.StartsWithSegments("/actors")
                || context.Request.Path.StartsWithSegments("/events") || context.Request.Path.StartsWithSegments("/healthz");
            if (daprRoute != (context.Connection.LocalPort == appPort))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }
            return next(context);
        });
        app.Use(MalformedCloudEventGuard.InvokeAsync);
        app.UseCloudEvents();
        app.MapSubscribeHandler();
        if (app.Services.GetService<ActorRuntime>() is not null) app.MapOffloadRoundActors();
        app.MapModelPublished();
        // Asynchronous serving with a corrector app: its reports drain the gateway's correction queue.
        if (app.Services.GetService<Correction.ICorrectionObserver>() is not null) app.MapCorrectionReports();
        return app;
    }

    /// <summary>The corrector app's side: CloudEvents unwrapping, <c>GET /dapr/subscribe</c> and the <c>StaleUpdateArrived</c> route.</summary>
    public static WebApplication UseOffloadCorrector(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.Use(MalformedCloudEventGuard.InvokeAsync);
        app.UseCloudEvents();
        app.MapSubscribeHandler();
        app.MapStaleUpdates();
        return app;
    }

    /// <summary>
    /// The <see cref="Rounds.RoundActor"/>'s routes (<c>GET /dapr/config</c>, <c>PUT /actors/...</c>) behind
    /// <see cref="RoundActorCallGuard"/>, so a malformed call is answered 400 with the field it got wrong.
    /// </summary>
    public static WebApplication MapOffloadRoundActors(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.Use(RoundActorCallGuard.InvokeAsync);
        app.MapActorsHandlers();
        return app;
    }
}

using Microsoft.Extensions.DependencyInjection;
using Offload.Functions.Names;
using Offload.Functions.Rounds;

namespace Offload.Functions.Hosting;

/// <summary>Registers the <see cref="RoundActor"/> with the Dapr actor runtime of an app.</summary>
public static class RoundActorServiceCollectionExtensions
{
    /// <summary>
    /// Hosts the <see cref="RoundActor"/> in this app: the gateway's app in the deployment, because it
    /// always runs one replica, so daprd always has a host to place rounds on (an actor type whose only
    /// host has scaled to zero answers every call with ERR_ACTOR_NO_ADDRESS). The app must register
    /// an <see cref="Aggregator.Events.IEventBus"/> (the actor publishes <see cref="Events.AggregatorDue"/>
    /// on it) and map the actor routes (<c>MapActorsHandlers</c>) on the port its sidecar calls.
    /// </summary>
    /// <param name="services">The app's services.</param>
    /// <param name="sidecarHttpEndpoint">The sidecar's HTTP endpoint for actor state and reminders; null: <see cref="DaprSidecarEndpoints.FromEnvironment"/>.</param>
    public static IServiceCollection AddOffloadRoundActors(this IServiceCollection services, string? sidecarHttpEndpoint = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddActors(options =>
        {
            options.Actors.RegisterActor<RoundActor>(DaprNames.RoundActorType);
            options.HttpEndpoint = (sidecarHttpEndpoint ?? DaprSidecarEndpoints.FromEnvironment().HttpEndpoint).TrimEnd('/');
        });
        return services;
    }
}

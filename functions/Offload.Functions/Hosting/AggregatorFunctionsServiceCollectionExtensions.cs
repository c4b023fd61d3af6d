using Dapr.Actors.Client;
using Dapr.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Offload.Aggregator.Events;
using Offload.Aggregator.Storage;
using Offload.Aggregator.Strategies;
using Offload.Functions.Aggregation;
using Offload.Functions.Events;
using Offload.Functions.Storage;
using Offload.Functions.Subscriptions;

namespace Offload.Functions.Hosting;

/// <summary>Registers the aggregator functions as a Dapr app.</summary>
public static class AggregatorFunctionsServiceCollectionExtensions
{
    /// <summary>
    /// Adds the leaf, middle and top functions, a <see cref="DaprClient"/>, the caller of the rounds'
    /// actors, and, unless already registered, the Dapr <see cref="IEventBus"/> and
    /// <see cref="IUpdateStore"/>. Each round's strategy comes with its tickets (<see cref="RoundStrategies"/>). The functions host no actor: the <see cref="Rounds.RoundActor"/>
    /// lives in the gateway's app (<see cref="RoundActorServiceCollectionExtensions.AddOffloadRoundActors"/>),
    /// so this app can scale to zero. Register an <see cref="InMemoryUpdateStore"/> first to keep
    /// payloads in the process (one instance only).
    /// </summary>
    /// <param name="services">The app's services.</param>
    /// <param name="sidecarHttpEndpoint">The sidecar's HTTP endpoint for actor calls; null: <see cref="DaprSidecarEndpoints.FromEnvironment"/>.</param>
    /// <param name="configureClient">Adjusts the <see cref="DaprClient"/> (its gRPC endpoint, JSON options).</param>
    public static IServiceCollection AddOffloadAggregatorFunctions(this IServiceCollection services, string? sidecarHttpEndpoint = null,
        Action<DaprClientBuilder>? configureClient = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddDaprClient(b => configureClient?.Invoke(b));
        string http = (sidecarHttpEndpoint ?? DaprSidecarEndpoints.FromEnvironment().HttpEndpoint).TrimEnd('/');
        services.TryAddSingleton<IActorProxyFactory>(new ActorProxyFactory(new ActorProxyOptions { HttpEndpoint = http }));
        // Routed by node when the store is a named node's: partials this node stores are announced on its topic.
        services.TryAddSingleton<IEventBus>(sp => new DaprEventBus(sp.GetRequiredService<DaprClient>(),
            routeByNode: sp.GetRequiredService<IUpdateStore>().OwningNode() is not null));
        services.TryAddSingleton<IUpdateStore>(sp => new DaprUpdateStore(sp.GetRequiredService<DaprClient>()));
        services.TryAddSingleton(new RoundStrategies());
        services.TryAddSingleton(new WarmLeaves());
        services.TryAddSingleton<AggregatorStep>();
        services.TryAddSingleton<RoundActors>();
        services.TryAddSingleton<LeafFunction>();
        services.TryAddSingleton<PartialFunction>();
        services.TryAddSingleton<DeliveryGate>();
        return services;
    }

    /// <summary>
    /// Adds the corrector app's function (<see cref="Correction.CorrectorFunction"/>) with
    /// <paramref name="corrector"/>, a <see cref="DaprClient"/>, and, unless already registered, the
    /// Dapr <see cref="IEventBus"/> and <see cref="IUpdateStore"/>. The app hosts no actor and keeps
    /// nothing a restart would lose, so it scales like the aggregator functions.
    /// </summary>
    /// <param name="services">The app's services.</param>
    /// <param name="corrector">Corrects stale updates (gradient inversion loads TorchSharp, in this app only).</param>
    /// <param name="fallback">Weights what cannot be corrected.</param>
    /// <param name="layout">The model's tensors.</param>
    /// <param name="queueCapacity">Stale updates that may wait for the correction worker.</param>
    /// <param name="configureClient">Adjusts the <see cref="DaprClient"/>.</param>
    public static IServiceCollection AddOffloadCorrector(this IServiceCollection services, Aggregator.Staleness.IStalenessCorrector corrector,
        Aggregator.Staleness.IStalenessWeighting fallback, Core.Model.TensorLayout layout, int queueCapacity = 16, Action<DaprClientBuilder>? configureClient = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(corrector);
        ArgumentNullException.ThrowIfNull(fallback);
        ArgumentNullException.ThrowIfNull(layout);
        services.AddDaprClient(b => configureClient?.Invoke(b));
        services.TryAddSingleton<IUpdateStore>(sp => new DaprUpdateStore(sp.GetRequiredService<DaprClient>()));
        services.TryAddSingleton<IEventBus>(sp => new DaprEventBus(sp.GetRequiredService<DaprClient>()));
        services.TryAddSingleton(sp => new Correction.CorrectorFunction(sp.GetRequiredService<IUpdateStore>(), sp.GetRequiredService<IEventBus>(), corrector, fallback, layout,
            queueCapacity, sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<Correction.CorrectorFunction>>()));
        services.TryAddSingleton<DeliveryGate>();
        return services;
    }
}

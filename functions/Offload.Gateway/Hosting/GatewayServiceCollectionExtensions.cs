using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Offload.Aggregator.Events;
using Offload.Aggregator.Rounds;
using Offload.Aggregator.Storage;
using Offload.Gateway.Authentication;
using Offload.Gateway.Service;
using Offload.Gateway.Ingest;

namespace Offload.Gateway.Hosting;

/// <summary>Registers and maps the ingest gateway in any ASP.NET Core host.</summary>
public static class GatewayServiceCollectionExtensions
{
    /// <summary>
    /// Adds the gRPC <c>Federation</c> service with bearer-token authentication over
    /// <paramref name="coordinator"/>, <paramref name="store"/> and <paramref name="bus"/>; the host
    /// owns those three and starts the coordinator. <see cref="GatewayMetrics"/> is registered too.
    /// </summary>
    /// <param name="services">The host's services.</param>
    /// <param name="options">Limits and codec.</param>
    /// <param name="tokens">Device credentials.</param>
    /// <param name="coordinator">The rounds.</param>
    /// <param name="store">Where accepted payloads go.</param>
    /// <param name="bus">Where <c>UpdateArrived</c> is published.</param>
    /// <param name="roundEvents">Where the coordinator announces <c>RoundClosed</c>, if not on <paramref name="bus"/> (it must support subscribing).</param>
    /// <param name="journal">Where acceptances are recorded before they are acknowledged, with what it held at startup; null keeps the ledger in memory only.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public static IServiceCollection AddOffloadGateway(this IServiceCollection services, GatewayOptions options, ClientTokens tokens,
        IRoundCoordinator coordinator, IUpdateStore store, IEventBus bus, IEventBus? roundEvents = null, IngestJournal? journal = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(coordinator);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(bus);
        options.Validate();
        services.AddSingleton(options);
        services.AddSingleton(tokens);
        services.AddSingleton<IRoundCoordinator>(coordinator);
        services.AddSingleton(store);
        services.AddSingleton(bus);
        services.AddSingleton(new RoundEvents(roundEvents ?? bus));
        services.AddSingleton<GatewayMetrics>();
        var ledger = new UploadLedger(store, journal?.Journal);
        var bounds = new UpdateBounds(options);
        // What a journal acknowledged before a restart: retries answered as duplicates, and weights to cap by.
        if (journal is not null) Restore(ledger, bounds, journal.Acknowledged);
        services.AddSingleton(ledger);
        services.AddSingleton(bounds);
        // A host or test may register its own clock (later registrations win).
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new EnrollmentThrottle(sp.GetRequiredService<TimeProvider>(), options.EnrollmentBackoff, options.MaxEnrollmentBackoff));
        services.AddSingleton<ClientUploadCounts>();
        services.AddSingleton(new ValidationSlots(options.MaxConcurrentValidations));
        services.AddSingleton<BearerTokenInterceptor>();
        services.AddHostedService<UploadSweepService>();
        services.AddGrpc(grpc =>
        {
            grpc.Interceptors.Add<BearerTokenInterceptor>();
            grpc.MaxReceiveMessageSize = options.MaxMessageBytes;
            grpc.MaxSendMessageSize = options.MaxMessageBytes;
            grpc.EnableDetailedErrors = false;
        });
        return services;
    }

    /// <summary>Maps the <c>Federation</c> service added by <see cref="AddOffloadGateway"/>.</summary>
    public static GrpcServiceEndpointConventionBuilder MapOffloadGateway(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        return endpoints.MapGrpcService<FederationGateway>();
    }

    /// <summary>Knows again the updates a journal acknowledged before a restart, in the ledger and in the weight cap's history.</summary>
    internal static void Restore(UploadLedger ledger, UpdateBounds bounds, IEnumerable<Aggregator.Rounds.AcceptedUpdate> acknowledged)
    {
        var updates = acknowledged as IReadOnlyCollection<Aggregator.Rounds.AcceptedUpdate> ?? [.. acknowledged];
        ledger.Restore(updates);
        bounds.Restore(updates);
    }
}

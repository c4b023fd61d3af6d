using Dapr.Actors;
using Dapr.Actors.Client;
using Offload.Functions.Hosting;
using Offload.Functions.Rounds;

namespace Offload.Functions.Aggregation;

/// <summary>Calls a round's <see cref="RoundActor"/> through the sidecar (by method name, JSON bodies).</summary>
public sealed class RoundActors
{
    private readonly IActorProxyFactory _proxies;

    /// <summary>Creates the caller over <paramref name="proxies"/>.</summary>
    public RoundActors(IActorProxyFactory proxies)
    {
        ArgumentNullException.ThrowIfNull(proxies);
        _proxies = proxies;
    }

    /// <summary>The round's status.</summary>
    public Task<RoundStatus> GetStatusAsync(long round, CancellationToken cancellationToken) =>
        Proxy(round).InvokeMethodAsync<RoundStatus>(nameof(IRoundActor.GetStatus), cancellationToken);

    /// <summary>Opens the round.</summary>
    public Task<RoundStatus> OpenAsync(RoundOpening opening, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(opening);
        return Proxy(opening.Round).InvokeMethodAsync<RoundOpening, RoundStatus>(nameof(IRoundActor.Open), opening, cancellationToken);
    }

    /// <summary>Registers an update.</summary>
    public Task<FoldTicket> ArriveAsync(long round, Arrival arrival, CancellationToken cancellationToken) =>
        Proxy(round).InvokeMethodAsync<Arrival, FoldTicket>(nameof(IRoundActor.Arrive), arrival, cancellationToken);

    /// <summary>Registers a partial.</summary>
    public Task<FoldTicket> PartialArrivedAsync(long round, PartialClaim partial, CancellationToken cancellationToken) =>
        Proxy(round).InvokeMethodAsync<PartialClaim, FoldTicket>(nameof(IRoundActor.PartialArrived), partial, cancellationToken);

    /// <summary>Records the published model.</summary>
    public Task<RoundStatus> ConfirmPublishedAsync(long round, long version, CancellationToken cancellationToken) =>
        Proxy(round).InvokeMethodAsync<long, RoundStatus>(nameof(IRoundActor.ConfirmPublished), version, cancellationToken);

    private ActorProxy Proxy(long round) => _proxies.Create(new ActorId(RoundActor.IdFor(round)), DaprNames.RoundActorType);
}

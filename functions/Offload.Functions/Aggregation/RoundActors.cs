using System.Collections.Concurrent;
using Dapr.Actors;
using Dapr.Actors.Client;
using Offload.Functions.Names;
using Offload.Functions.Rounds;

namespace Offload.Functions.Aggregation;

/// <summary>Calls a round's <see cref="RoundActor"/> through the sidecar (by method name, JSON bodies).</summary>
public sealed class RoundActors
{
    /// <summary>Rounds whose <see cref="OpenedRound"/> is kept, counting back from the newest asked for.</summary>
    private const int RoundsKept = 8;

    private readonly IActorProxyFactory _proxies;
    private readonly ConcurrentDictionary<long, OpenedRound> _opened = new();

    /// <summary>Creates the caller over <paramref name="proxies"/>.</summary>
    public RoundActors(IActorProxyFactory proxies)
    {
        ArgumentNullException.ThrowIfNull(proxies);
        _proxies = proxies;
    }

    /// <summary>
    /// What is fixed about an open round (its layout, whether it is the last), or null when it is not
    /// open. Kept once known, so an event costs one actor call (the arrival), not two.
    /// </summary>
    public async Task<OpenedRound?> GetOpenedAsync(long round, CancellationToken cancellationToken)
    {
        if (_opened.TryGetValue(round, out var known)) return known;
        var status = await GetStatusAsync(round, cancellationToken).ConfigureAwait(false);
        if (!status.Known || status.Layout is null) return null;
        var opened = new OpenedRound(round, status.Layout, status.Last, status.Strategy ?? "fedavg");
        _opened[round] = opened;
        foreach (long old in _opened.Keys)
            if (old < round - RoundsKept) _opened.TryRemove(old, out _);
        return opened;
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

    /// <summary>Hands out a due aggregator nobody holds.</summary>
    public Task<FoldTicket> ClaimAsync(long round, AggregatorSlot slot, CancellationToken cancellationToken) =>
        Proxy(round).InvokeMethodAsync<AggregatorSlot, FoldTicket>(nameof(IRoundActor.Claim), slot, cancellationToken);

    /// <summary>Closes the round at its deadline: every leaf that has not emitted is made due and announced.</summary>
    public Task<RoundStatus> CloseAsync(long round, CancellationToken cancellationToken) =>
        Proxy(round).InvokeMethodAsync<RoundStatus>(nameof(IRoundActor.Close), cancellationToken);

    /// <summary>Registers an update.</summary>
    public Task<FoldTicket> ArriveAsync(long round, Arrival arrival, CancellationToken cancellationToken) =>
        Proxy(round).InvokeMethodAsync<Arrival, FoldTicket>(nameof(IRoundActor.Arrive), arrival, cancellationToken);

    /// <summary>Registers a partial.</summary>
    public Task<FoldTicket> PartialArrivedAsync(long round, PartialClaim partial, CancellationToken cancellationToken) =>
        Proxy(round).InvokeMethodAsync<PartialClaim, FoldTicket>(nameof(IRoundActor.PartialArrived), partial, cancellationToken);

    /// <summary>Gives back an aggregator whose emitting step failed.</summary>
    public Task<RoundStatus> ReleaseAsync(long round, AggregatorSlot slot, CancellationToken cancellationToken) =>
        Proxy(round).InvokeMethodAsync<AggregatorSlot, RoundStatus>(nameof(IRoundActor.Release), slot, cancellationToken);

    /// <summary>
    /// Emits the aggregator <paramref name="ticket"/> hands out (null: another attempt had emitted it);
    /// if the step fails, gives the aggregator back (best effort) so the redelivery the caller asks
    /// for can emit it at once.
    /// </summary>
    public async Task<object?> EmitOrReleaseAsync(AggregatorStep step, FoldTicket ticket, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(step);
        ArgumentNullException.ThrowIfNull(ticket);
        try
        {
            return await step.EmitAsync(ticket, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            try
            {
                await ReleaseAsync(ticket.Round, new AggregatorSlot(ticket.Level, ticket.Index), CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The lease runs out instead (RoundActor.EmitLease).
            }
            throw;
        }
    }

    /// <summary>Records the published model.</summary>
    public Task<RoundStatus> ConfirmPublishedAsync(long round, PublishedModel model, CancellationToken cancellationToken) =>
        Proxy(round).InvokeMethodAsync<PublishedModel, RoundStatus>(nameof(IRoundActor.ConfirmPublished), model, cancellationToken);

    private ActorProxy Proxy(long round) => _proxies.Create(new ActorId(RoundActor.IdFor(round)), DaprNames.RoundActorType);
}

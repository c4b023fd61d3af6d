using Dapr.Actors;
using Offload.Functions.Names;

namespace Offload.Functions.Rounds;

/// <summary>
/// One round's state as a Dapr actor (id <c>round-{n}</c>, type <see cref="Names.DaprNames.RoundActorType"/>):
/// the only place that decides arrival order, which aggregator is due, and when the round closes.
/// Dapr runs one call at a time per actor, so these decisions need no lock, and the state lives
/// in the actor state store, so any function instance may serve any round. Methods are invoked by
/// name with JSON bodies (<c>PUT /actors/RoundActor/{id}/method/{name}</c>).
/// </summary>
public interface IRoundActor : IActor
{
    /// <summary>Opens the round (idempotent: a round already open is left as it is) and sets its deadline reminder.</summary>
    /// <exception cref="ArgumentException">The opening is invalid.</exception>
    Task<RoundStatus> Open(RoundOpening opening);

    /// <summary>Registers an update; the ticket says whether its leaf is now due.</summary>
    Task<FoldTicket> Arrive(Arrival arrival);

    /// <summary>Registers a child's partial; the ticket says whether its parent is now due.</summary>
    Task<FoldTicket> PartialArrived(PartialClaim partial);

    /// <summary>
    /// The deadline path: every leaf that has not emitted is made due and announced with an
    /// <c>AggregatorDue</c> event, so the functions emit what it has and the tree completes. Repeated,
    /// it announces again the due leaves no function claimed or delivered.
    /// </summary>
    Task<RoundStatus> Close();

    /// <summary>Hands out a due aggregator nobody holds (the answer to <c>AggregatorDue</c>); <see cref="FoldStatus.Duplicate"/> when there is nothing to emit.</summary>
    Task<FoldTicket> Claim(AggregatorSlot slot);

    /// <summary>Gives back an aggregator handed out for emitting whose step failed, so the next delivery hands it out at once.</summary>
    Task<RoundStatus> Release(AggregatorSlot slot);

    /// <summary>Records the model the top published (the first one, if two attempts published).</summary>
    Task<RoundStatus> ConfirmPublished(PublishedModel model);

    /// <summary>The round as it stands.</summary>
    Task<RoundStatus> GetStatus();
}

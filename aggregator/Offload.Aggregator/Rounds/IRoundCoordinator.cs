using Offload.Aggregator.Strategies;
using Offload.Core.Model;

namespace Offload.Aggregator.Rounds;

/// <summary>
/// What the ingest gateway needs from whoever runs the rounds: tasks to hand out, the model to
/// serve, and a reservation before it acknowledges an update, so an acknowledged update is counted
/// exactly once. <see cref="SynchronousRoundCoordinator"/> aggregates in this process; the Dapr
/// deployment's coordinator leaves aggregation to the event-driven functions. All members are thread-safe.
/// </summary>
public interface IRoundCoordinator
{
    /// <summary>The model's parameter layout.</summary>
    TensorLayout Layout { get; }

    /// <summary>The settings.</summary>
    RoundOptions Options { get; }

    /// <summary>The current global model.</summary>
    GlobalModel Model { get; }

    /// <summary>
    /// The model devices download and train from, of the same version as <see cref="Model"/>: the
    /// model itself, or with <see cref="RoundOptions.Downstream"/> FedZip the clients' view carrying its
    /// encoded change (<see cref="ModelBroadcast"/>). Defaults to <see cref="Model"/>.
    /// </summary>
    GlobalModel Broadcast => Model;

    /// <summary>
    /// The model a task trained from <paramref name="version"/> downloads, or null when it is no
    /// longer served. Rounds serve only <see cref="Broadcast"/>; asynchronous aggregation also serves
    /// the versions just before it, since a device's task may name a version the server has since
    /// moved past.
    /// </summary>
    GlobalModel? ServedModel(ModelVersion version)
    {
        var model = Broadcast;
        return model.Version == version ? model : null;
    }

    /// <summary>Completes when the last round's model has been published.</summary>
    Task Completion { get; }

    /// <summary>The rounds closed so far, in order.</summary>
    IReadOnlyList<RoundSummary> Rounds { get; }

    /// <summary>Where the rounds stand.</summary>
    CoordinatorStatus Status { get; }

    /// <summary>
    /// Whether the rounds take calls: false while a coordinator is still starting or resuming (the
    /// gateway then answers UNAVAILABLE, which devices retry, rather than "not held" for a task it has
    /// not read back yet).
    /// </summary>
    bool Ready => true;

    /// <summary>Work for <paramref name="clientId"/>: a task, wait, or done.</summary>
    TaskOffer RequestTask(string clientId);

    /// <summary>Whether <paramref name="clientId"/> may submit for <paramref name="taskId"/> now; changes nothing.</summary>
    SubmissionCheck CheckSubmission(string clientId, string taskId, out RoundTask? task);

    /// <summary>
    /// Reserves the round's room for the update to <paramref name="taskId"/>, which the caller then
    /// stores and announces; <paramref name="evaluation"/> is the client's score of the task's model
    /// on its own data, if it sent one (federated evaluation).
    /// </summary>
    SubmissionCheck TryReserve(string clientId, string taskId, ClientEvaluation? evaluation = null);

    /// <summary>Gives back a reservation whose update could not be stored or announced.</summary>
    void CancelReservation(string clientId, string taskId);
}

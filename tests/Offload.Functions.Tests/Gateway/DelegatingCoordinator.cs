using Offload.Aggregator.Rounds;
using Offload.Core.Model;

namespace Offload.Functions.Tests.Gateway;

/// <summary>Serves what the inner coordinator serves; fault-injecting test coordinators override the one member they change.</summary>
internal abstract class DelegatingCoordinator(IRoundCoordinator inner) : IRoundCoordinator
{
    protected IRoundCoordinator Inner { get; } = inner;

    public TensorLayout Layout => Inner.Layout;
    public RoundOptions Options => Inner.Options;
    public GlobalModel Model => Inner.Model;
    public virtual GlobalModel Broadcast => Inner.Broadcast;
    public CoordinatorStatus Status => Inner.Status;
    public Task Completion => Inner.Completion;
    public IReadOnlyList<RoundSummary> Rounds => Inner.Rounds;

    public TaskOffer RequestTask(string clientId) => Inner.RequestTask(clientId);
    public virtual SubmissionCheck CheckSubmission(string clientId, string taskId, out RoundTask? task) => Inner.CheckSubmission(clientId, taskId, out task);
    public SubmissionCheck TryReserve(string clientId, string taskId, Offload.Aggregator.Strategies.ClientEvaluation? evaluation = null) => Inner.TryReserve(clientId, taskId, evaluation);
    public void CancelReservation(string clientId, string taskId) => Inner.CancelReservation(clientId, taskId);
}

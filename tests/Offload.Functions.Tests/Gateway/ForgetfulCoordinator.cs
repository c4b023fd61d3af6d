using Offload.Aggregator.Rounds;
using Offload.Core.Model;

namespace Offload.Functions.Tests.Gateway;

/// <summary>
/// Serves what the inner coordinator serves, except that the next <see cref="Forget"/> submissions are
/// refused as not held, as by a gateway that restarted after handing the task out.
/// </summary>
internal sealed class ForgetfulCoordinator(IRoundCoordinator inner) : IRoundCoordinator
{
    private int _forget;

    public int Forget
    {
        get => Volatile.Read(ref _forget);
        set => Volatile.Write(ref _forget, value);
    }

    public TensorLayout Layout => inner.Layout;
    public RoundOptions Options => inner.Options;
    public GlobalModel Model => inner.Model;
    public GlobalModel Broadcast => inner.Broadcast;
    public CoordinatorStatus Status => inner.Status;
    public Task Completion => inner.Completion;
    public IReadOnlyList<RoundSummary> Rounds => inner.Rounds;

    public TaskOffer RequestTask(string clientId) => inner.RequestTask(clientId);

    public SubmissionCheck CheckSubmission(string clientId, string taskId, out RoundTask? task)
    {
        if (Interlocked.Decrement(ref _forget) >= 0)
        {
            task = null;
            return SubmissionCheck.NotHeld;
        }
        Interlocked.Exchange(ref _forget, 0);
        return inner.CheckSubmission(clientId, taskId, out task);
    }

    public SubmissionCheck TryReserve(string clientId, string taskId) => inner.TryReserve(clientId, taskId);
    public void CancelReservation(string clientId, string taskId) => inner.CancelReservation(clientId, taskId);
}

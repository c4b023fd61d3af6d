using Offload.Aggregator.Rounds;
using Offload.Core.Model;

namespace Offload.Functions.Tests.Gateway;

/// <summary>
/// Serves what the inner coordinator serves, except that the next <see cref="Forget"/> submissions are
/// refused as not held, as by a gateway that restarted after handing the task out.
/// </summary>
internal sealed class ForgetfulCoordinator(IRoundCoordinator inner) : DelegatingCoordinator(inner)
{
    private int _forget;

    public int Forget
    {
        get => Volatile.Read(ref _forget);
        set => Volatile.Write(ref _forget, value);
    }

    public override SubmissionCheck CheckSubmission(string clientId, string taskId, out RoundTask? task)
    {
        if (Interlocked.Decrement(ref _forget) >= 0)
        {
            task = null;
            return SubmissionCheck.NotHeld;
        }
        Interlocked.Exchange(ref _forget, 0);
        return Inner.CheckSubmission(clientId, taskId, out task);
    }
}

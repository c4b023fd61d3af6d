namespace Offload.Cli.Simulation;

/// <summary>
/// Lets concurrent workers run a step strictly in slot order (0, 1, 2, ...), so floating-point sums
/// do not depend on which worker finished first. A failed worker releases everyone waiting.
/// </summary>
internal sealed class OrderedCommit
{
    private readonly object _gate = new();
    private int _next;
    private volatile bool _failed;

    /// <summary>Runs <paramref name="step"/> once every lower slot has run its step.</summary>
    /// <exception cref="OperationCanceledException">Another worker failed first.</exception>
    public void InTurn(int slot, Action step)
    {
        lock (_gate)
        {
            while (_next != slot && !_failed) Monitor.Wait(_gate);
            if (_failed) throw new OperationCanceledException("Another client of this round failed; the round is abandoned.");
            try
            {
                step();
            }
            finally
            {
                _next++;
                Monitor.PulseAll(_gate);
            }
        }
    }

    /// <summary>Marks the round failed and wakes every waiting worker.</summary>
    public void Fail()
    {
        lock (_gate)
        {
            _failed = true;
            Monitor.PulseAll(_gate);
        }
    }
}

using Offload.Functions.Aggregation;

namespace Offload.Functions.Subscriptions;

/// <summary>
/// Admits deliveries until the app begins to stop, then turns them away (answered <c>RETRY</c>, so
/// daprd hands them to another instance or back to this one once restarted) while the ones already
/// admitted finish: a stop drains, it never cuts a fold in half. Counts what it answered for the
/// summary a stopping process prints.
/// </summary>
public sealed class DeliveryGate
{
    private readonly object _lock = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _closed;
    private int _inFlight;
    private long _succeeded;
    private long _retried;
    private long _dropped;
    private long _turnedAway;

    /// <summary>Whether the gate is closed (the app is stopping).</summary>
    public bool Closed
    {
        get
        {
            lock (_lock) return _closed;
        }
    }

    /// <summary>Deliveries admitted and not yet answered.</summary>
    public int InFlight
    {
        get
        {
            lock (_lock) return _inFlight;
        }
    }

    /// <summary>Admits one delivery (a request, which may hold a bulk of events); false once the gate is closed.</summary>
    public bool TryEnter(int events = 1)
    {
        lock (_lock)
        {
            if (_closed)
            {
                _turnedAway += events;
                return false;
            }
            _inFlight++;
            return true;
        }
    }

    /// <summary>Records the answers to an admitted delivery and lets it go.</summary>
    public void Leave(IEnumerable<Delivery> answers)
    {
        ArgumentNullException.ThrowIfNull(answers);
        lock (_lock)
        {
            foreach (var answer in answers)
            {
                switch (answer.Status)
                {
                    case DeliveryStatus.Success: _succeeded++; break;
                    case DeliveryStatus.Retry: _retried++; break;
                    default: _dropped++; break;
                }
            }
            _inFlight--;
            if (_closed && _inFlight == 0) _drained.TrySetResult();
        }
    }

    /// <summary>Closes the gate; the task completes when the last admitted delivery has been answered.</summary>
    public Task CloseAsync()
    {
        lock (_lock)
        {
            _closed = true;
            if (_inFlight == 0) _drained.TrySetResult();
        }
        return _drained.Task;
    }

    /// <summary>The counts so far.</summary>
    public DeliveryCounts Counts()
    {
        lock (_lock) return new DeliveryCounts(_succeeded, _retried, _dropped, _turnedAway, _inFlight);
    }
}

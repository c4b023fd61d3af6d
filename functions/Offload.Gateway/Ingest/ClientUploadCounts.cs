namespace Offload.Gateway.Ingest;

/// <summary>
/// Upload streams open per client, so one client cannot take the gateway's upload slots from the
/// rest. Entries disappear at zero, so the table holds only clients streaming now. Thread-safe.
/// </summary>
internal sealed class ClientUploadCounts
{
    private readonly Dictionary<string, int> _open = new(StringComparer.Ordinal);

    /// <summary>Counts one more stream for <paramref name="clientId"/> unless it already has <paramref name="limit"/>.</summary>
    public bool TryEnter(string clientId, int limit)
    {
        lock (_open)
        {
            _open.TryGetValue(clientId, out int now);
            if (now >= limit) return false;
            _open[clientId] = now + 1;
            return true;
        }
    }

    /// <summary>Ends one of <paramref name="clientId"/>'s streams counted by <see cref="TryEnter"/>.</summary>
    public void Exit(string clientId)
    {
        lock (_open)
        {
            if (!_open.TryGetValue(clientId, out int now)) return;
            if (now <= 1) _open.Remove(clientId);
            else _open[clientId] = now - 1;
        }
    }

    /// <summary>Streams <paramref name="clientId"/> has open now.</summary>
    public int Of(string clientId)
    {
        lock (_open) return _open.GetValueOrDefault(clientId);
    }
}

namespace Offload.Gateway.Authentication;

/// <summary>
/// Slows down guessing of enrollment codes: after a failed attempt a peer address waits
/// <c>backoff * 2^(failures - 1)</c> (at most <c>maxBackoff</c>) before its next attempt is even looked
/// at, whether that attempt would succeed or not; a peer without recent failures is never delayed.
/// Failures are forgotten after a quiet period of twice the longest wait. Thread-safe.
/// </summary>
internal sealed class EnrollmentThrottle(TimeProvider time, TimeSpan backoff, TimeSpan maxBackoff)
{
    /// <summary>Peers remembered before the quiet ones are forgotten.</summary>
    private const int PruneAbove = 4096;

    private readonly Dictionary<string, PeerFailures> _peers = new(StringComparer.Ordinal);

    /// <summary>How long <paramref name="peer"/> must still wait before an attempt, or null when it may try now.</summary>
    public TimeSpan? Wait(string peer)
    {
        var now = time.GetUtcNow();
        lock (_peers)
        {
            if (!_peers.TryGetValue(peer, out var failures)) return null;
            if (now - failures.Last > 2 * maxBackoff)
            {
                _peers.Remove(peer);
                return null;
            }
            return failures.BlockedUntil > now ? failures.BlockedUntil - now : null;
        }
    }

    /// <summary>Records a failed attempt from <paramref name="peer"/>; returns how long it must now wait.</summary>
    public TimeSpan Failed(string peer)
    {
        var now = time.GetUtcNow();
        lock (_peers)
        {
            if (_peers.Count >= PruneAbove) Prune(now);
            int count = _peers.TryGetValue(peer, out var earlier) && now - earlier.Last <= 2 * maxBackoff ? earlier.Count + 1 : 1;
            double wait = Math.Min(maxBackoff.TotalMilliseconds, backoff.TotalMilliseconds * Math.Pow(2, Math.Min(count - 1, 40)));
            var delay = TimeSpan.FromMilliseconds(wait);
            _peers[peer] = new PeerFailures(count, now, now + delay);
            return delay;
        }
    }

    /// <summary>The address part of <see cref="Grpc.Core.ServerCallContext.Peer"/> (<c>ipv4:1.2.3.4:5678</c>, <c>ipv6:[::1]:5678</c>): the port changes per connection, the device does not.</summary>
    public static string AddressOf(string? peer)
    {
        if (string.IsNullOrEmpty(peer)) return "unknown";
        string rest = peer;
        int scheme = rest.IndexOf(':', StringComparison.Ordinal);
        if (rest.StartsWith("ipv4:", StringComparison.Ordinal) || rest.StartsWith("ipv6:", StringComparison.Ordinal)) rest = rest[(scheme + 1)..];
        if (rest.StartsWith('['))
        {
            int close = rest.IndexOf(']', StringComparison.Ordinal);
            return close > 0 ? rest[1..close] : rest;
        }
        int port = rest.LastIndexOf(':');
        return port > 0 && rest.IndexOf(':', StringComparison.Ordinal) == port ? rest[..port] : rest;
    }

    private void Prune(DateTimeOffset now)
    {
        List<string>? quiet = null;
        foreach (var (peer, failures) in _peers)
            if (now - failures.Last > 2 * maxBackoff || failures.BlockedUntil <= now) (quiet ??= []).Add(peer);
        if (quiet is null) return;
        foreach (string peer in quiet) _peers.Remove(peer);
    }

    private sealed record PeerFailures(int Count, DateTimeOffset Last, DateTimeOffset BlockedUntil);
}

namespace Offload.Functions.Tests.Sidecar;

/// <summary>
/// One entry of a topic's stream and, per consumer group (one per subscribing app, as Dapr's Redis
/// pub/sub names groups by app id), whether it was acknowledged and when it may be delivered again.
/// </summary>
internal sealed class StreamMessage(string topic, string publisher, byte[] data, string contentType, bool raw)
{
    private readonly Dictionary<string, (bool Acked, DateTimeOffset NextAttempt, int Attempts)> _groups = new(StringComparer.Ordinal);

    public string Topic { get; } = topic;

    public string Publisher { get; } = publisher;

    public byte[] Data { get; } = data;

    public string ContentType { get; } = contentType;

    /// <summary>Published with <c>rawPayload</c>: not a CloudEvent, so daprd wraps it for subscribers that want one.</summary>
    public bool Raw { get; } = raw;

    public string Id { get; } = Guid.NewGuid().ToString();

    /// <summary>Whether <paramref name="group"/> should get the message now.</summary>
    public bool IsDue(string group, DateTimeOffset now, bool ignoreRedeliveryDelay)
    {
        lock (_groups)
        {
            if (!_groups.TryGetValue(group, out var state)) return true;
            return !state.Acked && (ignoreRedeliveryDelay || state.NextAttempt <= now);
        }
    }

    /// <summary>How many times <paramref name="group"/> was given the message.</summary>
    public int Attempts(string group)
    {
        lock (_groups) return _groups.TryGetValue(group, out var state) ? state.Attempts : 0;
    }

    /// <summary>
    /// Records <paramref name="group"/>'s answer: SUCCESS and DROP acknowledge the entry; RETRY, a
    /// missing status or anything else leaves it pending, to be delivered again after <paramref name="redeliverAfter"/>.
    /// </summary>
    public void Settle(string group, string status, TimeSpan redeliverAfter)
    {
        lock (_groups)
        {
            int attempts = (_groups.TryGetValue(group, out var state) ? state.Attempts : 0) + 1;
            bool acked = status is "SUCCESS" or "DROP";
            _groups[group] = (acked, DateTimeOffset.UtcNow + redeliverAfter, attempts);
        }
    }
}

using System.Collections.Concurrent;
using Offload.Aggregator.Storage;

namespace Offload.Gateway.Ingest;

/// <summary>
/// Every upload session by (client, task): the memory of what was accepted that makes a retried
/// submission count once, and of partial uploads that a client may resume.
/// </summary>
internal sealed class UploadLedger(IUpdateStore store)
{
    private readonly ConcurrentDictionary<(string Client, string Task), UploadSession> _sessions = new();

    public UploadSession GetOrAdd(string clientId, string taskId, long round) =>
        _sessions.GetOrAdd((clientId, taskId), key => new UploadSession(key.Client, key.Task, round));

    public UploadSession? Find(string clientId, string taskId) => _sessions.GetValueOrDefault((clientId, taskId));

    /// <summary>Forgets the session's upload in progress and deletes its bytes.</summary>
    public async Task DiscardAsync(UploadSession session)
    {
        session.Reset();
        await store.DeleteAsync(session.Reference, CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Drops partial uploads of rounds before <paramref name="round"/>: nobody can finish them any more.</summary>
    public async Task SweepBeforeAsync(long round)
    {
        foreach (var session in _sessions.Values.ToArray())
        {
            if (session.Round >= round || session.Accepted is not null) continue;
            if (!await session.Gate.WaitAsync(0).ConfigureAwait(false)) continue;
            try
            {
                if (session.Accepted is not null) continue;
                await DiscardAsync(session).ConfigureAwait(false);
                _sessions.TryRemove(new KeyValuePair<(string, string), UploadSession>((session.ClientId, session.TaskId), session));
            }
            finally
            {
                session.Gate.Release();
            }
        }
    }
}

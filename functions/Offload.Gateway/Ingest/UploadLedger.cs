using System.Collections.Concurrent;
using Offload.Aggregator.Rounds;
using Offload.Aggregator.Storage;
using Offload.Core.Protos;

namespace Offload.Gateway.Ingest;

/// <summary>
/// Every upload session by (client, task): the memory of what was accepted that makes a retried
/// submission count once, and of partial uploads that a client may resume. With a journal, the
/// acceptances recorded before a restart are known again, so their retries are answered as duplicates.
/// </summary>
internal sealed class UploadLedger
{
    private readonly ConcurrentDictionary<(string Client, string Task), UploadSession> _sessions = new();
    private readonly IUpdateStore _store;

    public UploadLedger(IUpdateStore store, IFederationJournal? journal = null)
    {
        _store = store;
        Journal = journal;
    }

    /// <summary>Knows the acceptances a journal kept from before a restart again, so their retries are answered as duplicates.</summary>
    public void Restore(IEnumerable<AcceptedUpdate> acknowledged)
    {
        foreach (var update in acknowledged)
        {
            var a = update.Arrived;
            var session = new UploadSession(a.ClientId, a.TaskId, a.Round)
            {
                Header = new UpdateHeader { TaskId = a.TaskId, IdempotencyKey = update.IdempotencyKey, TotalLength = a.PayloadBytes, SampleCount = a.SampleCount },
                Accepted = new SubmitUpdateReply { Outcome = SubmitOutcome.Accepted, UpdateId = a.Reference.Key, Round = a.Round, ReceivedBytes = a.PayloadBytes },
            };
            _sessions[(a.ClientId, a.TaskId)] = session;
        }
    }

    /// <summary>Where each acceptance is recorded before it is acknowledged, or null (nothing survives a restart).</summary>
    public IFederationJournal? Journal { get; }

    public UploadSession GetOrAdd(string clientId, string taskId, long round) =>
        _sessions.GetOrAdd((clientId, taskId), key => new UploadSession(key.Client, key.Task, round));

    public UploadSession? Find(string clientId, string taskId) => _sessions.GetValueOrDefault((clientId, taskId));

    /// <summary>Forgets the session's upload in progress and deletes its bytes.</summary>
    public async Task DiscardAsync(UploadSession session)
    {
        session.Reset();
        await _store.DeleteAsync(session.Reference, CancellationToken.None).ConfigureAwait(false);
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

using Offload.Aggregator.Events;
using Offload.Aggregator.Journal;
using Offload.Aggregator.Rounds;
using Offload.Aggregator.Storage;
using Offload.Aggregator.Strategies;
using Offload.Core.Federation;
using Offload.Core.Model;

namespace Offload.Aggregator.Tests.Journal;

public sealed class SqliteFederationJournalTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("offload-journal-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private SqliteFederationJournal Open(string identity = "federation A") => SqliteFederationJournal.Open(_directory, identity);

    private static RoundTask TaskOf(string id, string client, long round) =>
        new(id, client, round, new ModelVersion(round - 1), DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000),
            new TrainingOptions(2, 16, 0.1) { ProximalMu = 0.01, Evaluate = true, Settings = new Dictionary<string, string> { ["k"] = "v" } });

    private static AcceptedUpdate Accepted(RoundTask task, int bytes) =>
        new(new UpdateArrived(UpdateReference.ForTask(task.ClientId, task.TaskId), task.ClientId, task.TaskId, task.Round, task.BaseVersion, 10, bytes, "node-a"),
            "key-" + task.TaskId, new ClientEvaluation(10, 0.5, 0.75));

    private static RecordedRound Round(long round, float value) =>
        new(new RoundSummary(round, new ModelVersion(round), 2, 0, 20, 64, 1.5, 0.1, false, new AggregationMetrics(2, 0.3, 0.2), new FederatedEvaluation(2, 20, 0.5, 0.75)),
            Enumerable.Repeat(value, 4).ToArray(), new byte[] { 1, 2, 3 });

    [Fact]
    public async Task What_is_recorded_is_read_back_after_reopening()
    {
        var t1 = TaskOf("r1-a", "c0", 1);
        var t2 = TaskOf("r2-b", "c1", 2);
        using (var journal = Open())
        {
            journal.RecordTask(t1);
            await journal.RecordAcceptedAsync(Accepted(t1, 3), new byte[] { 7, 8, 9 });
            await journal.RecordRound(Round(1, 0.5f));
            journal.RecordTask(t2);
            await journal.RecordAcceptedAsync(Accepted(t2, 2), new byte[] { 4, 5 });
        }
        using var reopened = Open();
        var record = reopened.Load();
        Assert.Equal(1, record.LastRound);
        Assert.Equal(Round(1, 0.5f).Summary, record.Rounds[0].Summary);
        Assert.Equal(new[] { 0.5f, 0.5f, 0.5f, 0.5f }, record.Rounds[0].Weights.ToArray());
        Assert.Equal(new byte[] { 1, 2, 3 }, record.Rounds[0].ServerState.ToArray());
        // Round 1's task stays (a late upload hears "round closed"); both tasks come back whole.
        Assert.Equal(new[] { t1, t2 }, record.Tasks);
        Assert.Equal(new[] { Accepted(t1, 3), Accepted(t2, 2) }, record.Accepted);
        // Round 1's payload went with its model; round 2's waits to be folded again.
        Assert.Equal(new[] { "r2-b" }, record.PendingPayloads.Keys);
        Assert.Equal(new byte[] { 4, 5 }, record.PendingPayloads["r2-b"]);
    }

    [Fact]
    public void A_journal_of_another_federation_is_refused()
    {
        Open("federation A").Dispose();
        var e = Assert.Throws<InvalidDataException>(() => Open("federation B"));
        Assert.Contains("another federation", e.Message);
    }

    [Fact]
    public async Task A_discarded_rounds_payloads_are_dropped_and_its_updates_stay_acknowledged()
    {
        var t = TaskOf("r1-a", "c0", 1);
        using var journal = Open();
        journal.RecordTask(t);
        await journal.RecordAcceptedAsync(Accepted(t, 1), new byte[] { 1 });
        await journal.RecordDiscarded(1);
        var record = journal.Load();
        Assert.Single(record.Accepted);
        Assert.Empty(record.PendingPayloads);
    }

    private string PayloadFile(long round) => Path.Combine(_directory, SqliteFederationJournal.PayloadFolder, $"round-{round}.log");

    /// <summary>Records r1-a's payload, then a later commit (r2-a's), so r1-a's fsync is known to have finished.</summary>
    private async Task RecordSyncedAndOneMore()
    {
        using var journal = Open();
        await journal.RecordAcceptedAsync(Accepted(TaskOf("r1-a", "c0", 1), 3), new byte[] { 1, 2, 3 });
        await journal.RecordAcceptedAsync(Accepted(TaskOf("r2-a", "c0", 2), 2), new byte[] { 4, 5 });
    }

    [Fact]
    public async Task A_payload_changed_on_disk_fails_its_checksum()
    {
        await RecordSyncedAndOneMore();
        byte[] file = File.ReadAllBytes(PayloadFile(1));
        file[^1] ^= 0xFF;
        File.WriteAllBytes(PayloadFile(1), file);
        using var reopened = Open();
        var e = Assert.Throws<InvalidDataException>(() => reopened.Load());
        Assert.Contains("checksum", e.Message);
    }

    [Fact]
    public async Task A_missing_or_cut_payload_file_is_reported_as_damage_not_read_as_an_empty_update()
    {
        await RecordSyncedAndOneMore();
        File.WriteAllBytes(PayloadFile(1), new byte[] { 1, 2 });
        using (var reopened = Open())
            Assert.Contains("ends at byte 2", Assert.Throws<InvalidDataException>(() => reopened.Load()).Message);
        File.Delete(PayloadFile(1));
        using (var reopened = Open())
            Assert.Contains("missing", Assert.Throws<InvalidDataException>(() => reopened.Load()).Message);
    }

    [Theory]
    [InlineData("changed")]
    [InlineData("cut")]
    [InlineData("missing")]
    public async Task The_last_commits_acceptance_whose_payload_a_crash_lost_is_dropped_and_can_be_accepted_again(string loss)
    {
        var last = TaskOf("r2-a", "c0", 2);
        await RecordSyncedAndOneMore();
        // r2-a's rows committed while its payload's fsync ran; a crash (power loss) before the fsync ended
        // can lose the bytes. It was never acknowledged, so it is dropped, not reported as damage.
        switch (loss)
        {
            case "changed": File.WriteAllBytes(PayloadFile(2), new byte[] { 4, 6 }); break;
            case "cut": File.WriteAllBytes(PayloadFile(2), new byte[] { 4 }); break;
            default: File.Delete(PayloadFile(2)); break;
        }
        using (var reopened = Open())
        {
            var record = reopened.Load();
            Assert.Equal(new[] { "r1-a" }, record.Accepted.Select(a => a.Arrived.TaskId));
            Assert.Equal(new[] { "r1-a" }, record.PendingPayloads.Keys);
            // The device's retry is accepted anew.
            await reopened.RecordAcceptedAsync(Accepted(last, 2), new byte[] { 7, 8 });
        }
        using var again = Open();
        Assert.Equal(new byte[] { 7, 8 }, again.Load().PendingPayloads["r2-a"]);
    }

    [Fact]
    public async Task A_task_is_offered_at_once_and_kept_with_the_next_commit()
    {
        var task = TaskOf("r1-a", "c0", 1);
        using (var journal = Open())
        {
            journal.RecordTask(task);
            // Nothing acknowledged depends on the task until its own acceptance, which is queued after it.
            Assert.True(journal.ReadyToOfferAsync().IsCompletedSuccessfully);
            await journal.RecordAcceptedAsync(Accepted(task, 1), new byte[] { 1 });
            Assert.Equal(new[] { task }, journal.Load().Tasks);
        }
    }

    [Fact]
    public async Task A_closed_rounds_payload_file_is_deleted_and_the_open_rounds_is_kept()
    {
        using var journal = Open();
        await journal.RecordAcceptedAsync(Accepted(TaskOf("r1-a", "c0", 1), 2), new byte[] { 1, 2 });
        await journal.RecordAcceptedAsync(Accepted(TaskOf("r2-a", "c0", 2), 2), new byte[] { 3, 4 });
        Assert.True(File.Exists(PayloadFile(1)));
        await journal.RecordRound(Round(1, 0.5f));
        Assert.False(File.Exists(PayloadFile(1)));
        Assert.True(File.Exists(PayloadFile(2)));
        Assert.Equal(new byte[] { 3, 4 }, journal.Load().PendingPayloads["r2-a"]);
    }

    [Fact]
    public async Task Files_a_crash_left_are_cleaned_up_and_bytes_no_row_names_are_never_read()
    {
        using (var journal = Open())
        {
            await journal.RecordAcceptedAsync(Accepted(TaskOf("r2-a", "c0", 2), 2), new byte[] { 1, 2 });
            await journal.RecordRound(Round(1, 0.5f));
        }
        // A crash after round 1's commit, before its file went; and a torn append after r2-a's payload.
        File.WriteAllBytes(PayloadFile(1), new byte[] { 9, 9, 9 });
        using (var file = new FileStream(PayloadFile(2), FileMode.Append)) file.Write(new byte[] { 0xEE, 0xEE, 0xEE });
        using var reopened = Open();
        Assert.False(File.Exists(PayloadFile(1)));
        await reopened.RecordAcceptedAsync(Accepted(TaskOf("r2-b", "c1", 2), 3), new byte[] { 5, 6, 7 });
        var record = reopened.Load();
        Assert.Equal(new byte[] { 1, 2 }, record.PendingPayloads["r2-a"]);
        Assert.Equal(new byte[] { 5, 6, 7 }, record.PendingPayloads["r2-b"]);
    }

    [Fact]
    public async Task A_payload_of_another_length_than_its_update_declares_is_refused()
    {
        using var journal = Open();
        var e = await Assert.ThrowsAsync<ArgumentException>(() => journal.RecordAcceptedAsync(Accepted(TaskOf("r1-a", "c0", 1), 3), new byte[] { 1, 2 }).AsTask());
        Assert.Contains("declares 3", e.Message);
    }

    [Fact]
    public async Task A_payload_streamed_into_a_draft_is_kept_without_being_written_again()
    {
        var payload = Enumerable.Range(0, 5000).Select(i => (byte)i).ToArray();
        using (var journal = Open())
        {
            var draft = journal.BeginPayload(1, payload.Length)!;
            // Chunks in the order an upload streams them, and a clipped rewrite from the start.
            for (int at = 0; at < payload.Length; at += 1024) draft.Write(at, payload.AsSpan(at, Math.Min(1024, payload.Length - at)));
            payload[0] = 99;
            draft.Write(0, payload.AsSpan(0, 1));
            long before = new FileInfo(PayloadFile(1)).Length;
            await journal.RecordAcceptedAsync(Accepted(TaskOf("r1-a", "c0", 1), payload.Length), payload, draft);
            Assert.Equal(before, new FileInfo(PayloadFile(1)).Length);
        }
        using var reopened = Open();
        Assert.Equal(payload, reopened.Load().PendingPayloads["r1-a"]);
    }

    [Fact]
    public async Task A_draft_whose_round_file_went_is_replaced_by_the_payload_it_is_recorded_with()
    {
        var payload = new byte[] { 1, 2, 3, 4 };
        using var journal = Open();
        var draft = journal.BeginPayload(1, payload.Length)!;
        draft.Write(0, payload);
        // Round 1 closes under the upload: its file goes, and the draft's handle with it.
        await journal.RecordRound(Round(1, 0.5f));
        draft.Write(0, payload);
        Assert.True(draft.Failed);
        await journal.RecordAcceptedAsync(Accepted(TaskOf("r1-a", "c0", 1), payload.Length), payload, draft);
        Assert.Equal(payload, File.ReadAllBytes(PayloadFile(1)));
        // A draft of another round or length is not taken for the payload either.
        var other = journal.BeginPayload(3, 2)!;
        await journal.RecordAcceptedAsync(Accepted(TaskOf("r3-a", "c0", 3), payload.Length), payload, other);
        Assert.Equal(payload, journal.Load().PendingPayloads["r3-a"]);
    }

    [Fact]
    public void A_draft_refuses_a_write_past_its_declared_length()
    {
        using var journal = Open();
        var draft = journal.BeginPayload(1, 4)!;
        Assert.Throws<ArgumentOutOfRangeException>(() => draft.Write(2, new byte[3]));
        Assert.Throws<ArgumentOutOfRangeException>(() => draft.Write(-1, new byte[1]));
    }

    [Fact]
    public void A_journal_without_room_for_a_draft_gives_none()
    {
        using var journal = SqliteFederationJournal.Open(_directory, "federation A", maxBytes: 1 << 20);
        Assert.Null(journal.BeginPayload(1, 2 << 20));
        Assert.NotNull(journal.BeginPayload(1, 1000));
    }

    [Fact]
    public async Task The_callers_buffer_is_free_once_the_call_returns()
    {
        using var journal = Open();
        var payload = new byte[] { 1, 2, 3 };
        var recorded = journal.RecordAcceptedAsync(Accepted(TaskOf("r1-a", "c0", 1), 3), payload);
        // The gateway returns its pooled buffer as soon as it has the task, before the fsync.
        payload[0] = 42;
        await recorded;
        Assert.Equal(new byte[] { 1, 2, 3 }, journal.Load().PendingPayloads["r1-a"]);
    }

    [Fact]
    public async Task Payloads_recorded_from_many_threads_at_once_are_each_read_back_whole()
    {
        const int count = 64;
        using (var journal = Open())
        {
            await Task.WhenAll(Enumerable.Range(0, count).Select(i => Task.Run(async () =>
            {
                var payload = Enumerable.Range(0, 1000 + i).Select(j => (byte)(i * 7 + j)).ToArray();
                await journal.RecordAcceptedAsync(Accepted(TaskOf($"r1-{i}", $"c{i}", 1), payload.Length), payload);
            })));
        }
        using var reopened = Open();
        var record = reopened.Load();
        Assert.Equal(count, record.PendingPayloads.Count);
        for (int i = 0; i < count; i++)
            Assert.Equal(Enumerable.Range(0, 1000 + i).Select(j => (byte)(i * 7 + j)).ToArray(), record.PendingPayloads[$"r1-{i}"]);
    }

    [Fact]
    public void A_file_that_is_not_a_journal_is_refused_as_damaged()
    {
        File.WriteAllBytes(Path.Combine(_directory, SqliteFederationJournal.FileName), Enumerable.Repeat((byte)0x5A, 8192).ToArray());
        var e = Assert.Throws<InvalidDataException>(() => Open());
        Assert.Contains("damaged", e.Message);
    }

    [Fact]
    public async Task A_retried_acceptance_replaces_the_first_record()
    {
        var t = TaskOf("r1-a", "c0", 1);
        using var journal = Open();
        await journal.RecordAcceptedAsync(Accepted(t, 1), new byte[] { 1 });
        await journal.RecordAcceptedAsync(Accepted(t, 2), new byte[] { 2, 3 });
        var record = journal.Load();
        Assert.Single(record.Accepted);
        Assert.Equal(new byte[] { 2, 3 }, record.PendingPayloads["r1-a"]);
    }

    [Fact]
    public async Task A_full_journal_refuses_the_record_and_everything_after_it_and_keeps_the_prefix()
    {
        var first = TaskOf("r1-a", "c0", 1);
        var second = TaskOf("r1-b", "c1", 1);
        using (var journal = SqliteFederationJournal.Open(_directory, "federation A", maxBytes: 1 << 20))
        {
            await journal.RecordAcceptedAsync(Accepted(first, 3), new byte[] { 1, 2, 3 });
            // 2 MiB cannot fit a 1 MiB quota: the disk is "full".
            var full = await Assert.ThrowsAsync<IOException>(() => journal.RecordAcceptedAsync(Accepted(second, 2 << 20), new byte[2 << 20]).AsTask());
            Assert.Contains("full", full.Message);
            await Assert.ThrowsAsync<IOException>(() => journal.Broken);
            // Nothing is kept past the gap, however small.
            journal.RecordTask(second);
            await Assert.ThrowsAsync<IOException>(() => journal.FlushAsync().AsTask());
            // Nor is a task offered by a journal that keeps nothing.
            await Assert.ThrowsAsync<IOException>(() => journal.ReadyToOfferAsync().AsTask());
        }
        using var reopened = Open();
        var record = reopened.Load();
        Assert.Equal(new[] { Accepted(first, 3) }, record.Accepted);
        Assert.Empty(record.Tasks);
    }
}

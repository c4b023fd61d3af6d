using Microsoft.Data.Sqlite;
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
        journal.RecordDiscarded(1);
        var record = journal.Load();
        Assert.Single(record.Accepted);
        Assert.Empty(record.PendingPayloads);
    }

    [Fact]
    public async Task A_payload_changed_on_disk_fails_its_checksum()
    {
        var t = TaskOf("r1-a", "c0", 1);
        using (var journal = Open())
            await journal.RecordAcceptedAsync(Accepted(t, 3), new byte[] { 1, 2, 3 });
        using (var raw = new SqliteConnection($"Data Source={Path.Combine(_directory, SqliteFederationJournal.FileName)};Pooling=False"))
        {
            raw.Open();
            using var command = raw.CreateCommand();
            command.CommandText = "UPDATE accepted SET payload = x'010203FF' WHERE task_id = 'r1-a'; UPDATE accepted SET payload_bytes = 4";
            command.ExecuteNonQuery();
        }
        using var reopened = Open();
        var e = Assert.Throws<InvalidDataException>(() => reopened.Load());
        Assert.Contains("checksum", e.Message);
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
}

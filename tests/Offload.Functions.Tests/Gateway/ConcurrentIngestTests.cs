using Offload.Aggregator.Rounds;
using Offload.Client.Federation;
using Offload.Core.Codec;
using Offload.Gateway.Service;

namespace Offload.Functions.Tests.Gateway;

public class ConcurrentIngestTests
{
    [Fact]
    public async Task Two_hundred_concurrent_uploads_are_all_accepted_once_none_lost_and_memory_stays_bounded()
    {
        const int clients = 200, parameters = 4096, limit = 32;
        var layout = TestFederation.FlatLayout(parameters);
        await using var federation = await TestFederation.StartAsync(layout, new float[parameters],
            new RoundOptions { MinClients = clients, Rounds = 1, RoundDeadline = TimeSpan.FromHours(1) }, clients,
            // Client i sends i + 1 everywhere: a 200x spread of norms, which the default bound (10 x the median of the
            // first arrivals) would rightly call outliers; this test is about concurrency, so the bound is fixed and loose.
            new GatewayOptions { MaxConcurrentUploads = limit, MaxUpdateNorm = 1e9 });

        var receipts = await Task.WhenAll(Enumerable.Range(0, clients).Select(i => Task.Run(async () =>
        {
            var client = federation.Client(i, o => o with { ChunkBytes = 4096, MaxAttempts = 50 });
            var task = await client.GetTaskAsync();
            Assert.Equal(FederatedTaskState.Assigned, task.State);
            var delta = new float[parameters];
            Array.Fill(delta, i + 1); // Client i sends i + 1 everywhere, weight 1: the mean is 100.5.
            return await client.SubmitUpdateAsync(task, IdentityCodec.Instance.Encode(delta, layout), sampleCount: 1);
        })));

        await federation.Coordinator.Completion.WaitAsync(TimeSpan.FromSeconds(60));
        var metrics = federation.Server.Metrics;
        Assert.All(receipts, r => Assert.False(r.Duplicate));
        Assert.Equal(clients, receipts.Select(r => r.UpdateId).Distinct().Count());
        Assert.Equal(clients, metrics.Accepted);
        var round = Assert.Single(federation.Coordinator.Rounds);
        Assert.Equal(clients, round.Updates);
        Assert.Equal(0, round.Rejected);
        Assert.All(federation.Coordinator.Model.Weights.ToArray(), w => Assert.Equal(100.5f, w));

        // Bounded: never more than `limit` uploads streamed at once (the rest were told to come back),
        // the store never held more than one copy of each update, and it is empty once they are folded.
        Assert.True(metrics.PeakActiveUploads <= limit, $"{metrics.PeakActiveUploads} uploads at once");
        long perUpdate = (long)Math.Ceiling(4.0 * parameters / Aggregator.Storage.InMemoryUpdateStore.DefaultSegmentBytes) * Aggregator.Storage.InMemoryUpdateStore.DefaultSegmentBytes;
        Assert.True(federation.Store.PeakLiveBytes <= clients * perUpdate, $"store peaked at {federation.Store.PeakLiveBytes} bytes");
        await UploadFaultTests.WaitUntilAsync(() => federation.Store.LiveBytes == 0);
        Assert.Equal(0, federation.Store.Count);
    }
}

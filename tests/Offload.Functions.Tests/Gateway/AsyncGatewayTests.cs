using Offload.Aggregator.Asynchronous;
using Offload.Aggregator.Events;
using Offload.Aggregator.Staleness;
using Offload.Aggregator.Storage;
using Offload.Client.Federation;
using Offload.Core.Codec;
using Offload.Gateway.Authentication;
using Offload.Gateway.Hosting;
using Offload.Gateway.Service;

namespace Offload.Functions.Tests.Gateway;

/// <summary>The gateway in front of the asynchronous coordinator, over real gRPC on loopback.</summary>
public sealed class AsyncGatewayTests
{
    private const int Parameters = 64;

    [Fact]
    public async Task A_full_correction_queue_reaches_the_device_as_a_retry_delay_and_its_retry_is_accepted()
    {
        var layout = TestFederation.FlatLayout(Parameters);
        var store = new InMemoryUpdateStore();
        await using var bus = new InProcessEventBus();
        using var corrector = new HeldCorrector();
        await using var coordinator = new AsynchronousCoordinator(layout, new float[Parameters],
            new AsynchronousOptions { BufferSize = 1, Versions = 3, CorrectionQueueCapacity = 1 }, corrector, new PolynomialStalenessWeighting(), store, bus);
        coordinator.Start();
        var tokens = new ClientTokens();
        for (int i = 0; i < 3; i++) tokens.Add(TestFederation.ClientIdOf(i), TestFederation.TokenOf(i));
        await using var server = await GatewayServer.StartAsync(new GatewayOptions(), new GatewayListenOptions { Port = 0 }, tokens, coordinator, store, bus);
        var clients = Enumerable.Range(0, 3).Select(i => new FederatedClientBuilder(server.Address).WithToken(TestFederation.TokenOf(i))
            .Configure(o => o with { InitialBackoff = TimeSpan.FromMilliseconds(20), MaxBackoff = TimeSpan.FromMilliseconds(200), MaxAttempts = 50 }).Build()).ToArray();
        try
        {
            var slow = await clients[1].GetTaskAsync();
            var slower = await clients[2].GetTaskAsync();
            await clients[0].SubmitUpdateAsync(await clients[0].GetTaskAsync(), Payload(layout, 1), 10);
            using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
                while (coordinator.Model.Version.Value < 1) await Task.Delay(5, timeout.Token);

            Assert.False((await clients[1].SubmitUpdateAsync(slow, Payload(layout, 1), 10)).Duplicate); // Stale: held in the corrector.
            await corrector.Entered.Task.WaitAsync(TimeSpan.FromSeconds(30));
            // The SDK is pushed back (RESOURCE_EXHAUSTED with a retry delay) and keeps trying; the corrector is let go once it was.
            var retried = clients[2].SubmitUpdateAsync(slower, Payload(layout, 1), 10);
            using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
                while (server.Metrics.CorrectionQueueRefusals == 0) await Task.Delay(5, timeout.Token);
            Assert.False(retried.IsCompleted);
            corrector.Release.Set();
            Assert.False((await retried.WaitAsync(TimeSpan.FromSeconds(60))).Duplicate);

            await coordinator.Completion.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(3, server.Metrics.Accepted);
            Assert.Equal(2, coordinator.Statistics.ByClient.Count(c => c.Stale == 1));
            // A version the device's task named stays downloadable after the server moved on.
            Assert.Equal(new float[Parameters], await clients[1].DownloadModelAsync(slow));
        }
        finally
        {
            foreach (var c in clients) c.Dispose();
        }
    }

    private static byte[] Payload(Core.Model.TensorLayout layout, float value)
    {
        var delta = new float[Parameters];
        Array.Fill(delta, value);
        return IdentityCodec.Instance.Encode(delta, layout);
    }

    /// <summary>Holds every correction until released.</summary>
    private sealed class HeldCorrector : IStalenessCorrector, IDisposable
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ManualResetEventSlim Release { get; } = new();

        public string Name => "held";

        public StalenessCorrection Correct(StaleUpdate update, CancellationToken cancellationToken = default)
        {
            Entered.TrySetResult();
            Release.Wait(cancellationToken);
            return StalenessCorrection.Unchanged(update.Delta);
        }

        public void Dispose() => Release.Dispose();
    }
}

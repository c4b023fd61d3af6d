using System.Diagnostics;
using Offload.Aggregator.Events;
using Offload.Aggregator.Rounds;
using Offload.Aggregator.Storage;
using Offload.Aggregator.Strategies;
using Offload.Client.Federation;
using Offload.Core.Model;
using Offload.Core.Codec;
using Offload.Functions.Authentication;
using Offload.Functions.Gateway;
using Offload.Functions.Hosting;

namespace Offload.Cli.Benchmarks;

/// <summary>
/// Load on the real gateway over loopback: N clients, each with its own HTTP/2 connection, upload
/// one update per round to a Kestrel-hosted gateway whose coordinator folds every update (FedAvg)
/// and closes each round at N updates. Measures acknowledged updates and bytes per second, the
/// acknowledgement latency of each upload, and memory. Gateway, aggregator and clients share this
/// process, so the working set covers all three.
/// </summary>
public static class IngestBenchmark
{
    /// <summary>Runs the benchmark.</summary>
    public static async Task<IngestBenchmarkResult> RunAsync(IngestBenchmarkOptions options, IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        int parameters = options.PayloadBytes / 4;
        var layout = TensorLayout.Create([("w", new[] { parameters })]);
        var delta = new float[parameters];
        Array.Fill(delta, 1e-3f);
        byte[] payload = IdentityCodec.Instance.Encode(delta, layout);

        var store = new InMemoryUpdateStore();
        await using var bus = new InProcessEventBus();
        var rounds = new RoundOptions { MinClients = options.Clients, Rounds = options.Rounds + 1, RoundDeadline = TimeSpan.FromHours(1), WaitRetry = TimeSpan.FromMilliseconds(5) };
        await using var coordinator = new SynchronousRoundCoordinator(layout, new float[parameters], rounds, new FedAvg(), store, bus);
        var tokens = new ClientTokens();
        for (int i = 0; i < options.Clients; i++) tokens.Add($"bench-{i}", $"bench-token-{i:D5}");

        long warmedUp = 0;
        await using var onRound = bus.Subscribe<RoundClosed>((closed, _) =>
        {
            if (closed.Round == 1) Interlocked.Exchange(ref warmedUp, Stopwatch.GetTimestamp());
            progress?.Report($"round {closed.Round - 1}/{options.Rounds}{(closed.Round == 1 ? " (warm-up)" : "")}: {closed.Updates} updates");
            return ValueTask.CompletedTask;
        });
        coordinator.Start();
        var gatewayOptions = new GatewayOptions { MaxUpdateBytes = payload.Length, MaxConcurrentUploads = Math.Max(256, options.Clients) };
        await using var server = await GatewayServer.StartAsync(gatewayOptions, new GatewayListenOptions { Port = 0 }, tokens, coordinator, store, bus, cancellationToken: cancellationToken);

        using var sampling = new CancellationTokenSource();
        long peakHeap = 0;
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peakHeap = Math.Max(peakHeap, GC.GetTotalMemory(false));
                try { await Task.Delay(20, sampling.Token); } catch (OperationCanceledException) { }
            }
        });

        var latencies = new List<double>[options.Clients];
        long retries = 0;
        var clients = Enumerable.Range(0, options.Clients).Select(i => Task.Run(async () =>
        {
            latencies[i] = [];
            using var client = new FederatedClientBuilder(server.Address).WithToken($"bench-token-{i:D5}")
                .Configure(o => o with { ChunkBytes = options.ChunkBytes, InitialBackoff = TimeSpan.FromMilliseconds(10), MaxBackoff = TimeSpan.FromSeconds(1) })
                .Build();
            while (true)
            {
                var task = await client.GetTaskAsync(cancellationToken);
                if (task.State == FederatedTaskState.Done) return;
                if (task.State == FederatedTaskState.Wait)
                {
                    await Task.Delay(task.RetryAfter, cancellationToken);
                    continue;
                }
                long start = Stopwatch.GetTimestamp();
                var receipt = await client.SubmitUpdateAsync(task, payload, 1, cancellationToken: cancellationToken);
                if (task.Round > 1) latencies[i].Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                Interlocked.Add(ref retries, receipt.Attempts - 1);
            }
        }, cancellationToken)).ToArray();
        await Task.WhenAll(clients);
        await coordinator.Completion.WaitAsync(cancellationToken);
        long end = Stopwatch.GetTimestamp();
        sampling.Cancel();
        await sampler;

        var all = latencies.SelectMany(l => l).Order().ToArray();
        double wall = Stopwatch.GetElapsedTime(Interlocked.Read(ref warmedUp), end).TotalSeconds;
        long updates = all.Length;
        return new IngestBenchmarkResult(updates, payload.Length, wall, updates / wall, updates * (double)payload.Length / (1024 * 1024) / wall,
            Percentile(all, 0.50), Percentile(all, 0.99), Process.GetCurrentProcess().PeakWorkingSet64, peakHeap,
            store.PeakLiveBytes, server.Metrics.PeakActiveUploads, retries);
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}

using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Diagnostics;
using Offload.Aggregator.Events;
using Offload.Aggregator.Journal;
using Offload.Aggregator.Rounds;
using Offload.Aggregator.Storage;
using Offload.Aggregator.Strategies;
using Offload.Cli.Reports;
using Offload.Client.Federation;
using Offload.Core.Model;
using Offload.Core.Codec;
using Offload.Gateway.Authentication;
using Offload.Gateway.Hosting;
using Offload.Gateway.Ingest;
using Offload.Gateway.Service;

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
    /// <summary>Builds <c>offload bench ingest</c>.</summary>
    public static Command Create()
    {
        var d = new IngestBenchmarkOptions();
        var clients = new Option<int>("--clients") { Description = "Concurrent clients (and updates per round).", DefaultValueFactory = _ => d.Clients };
        var payload = new Option<double>("--payload-mb") { Description = "MiB per update.", DefaultValueFactory = _ => d.PayloadBytes / (1024.0 * 1024) };
        var rounds = new Option<int>("--rounds") { Description = "Measured rounds (after one warm-up round).", DefaultValueFactory = _ => d.Rounds };
        var chunk = new Option<int>("--chunk-kb") { Description = "KiB per upload message.", DefaultValueFactory = _ => d.ChunkBytes / 1024 };
        var output = new Option<string>("--out") { Description = "Output folder for summary.json.", DefaultValueFactory = _ => "runs/bench-ingest" };
        var durable = new Option<string>("--durable") { Description = "Journal acknowledged updates as serve --state does: off | on | compare (one warm-up pair not counted, then alternate runs without and with, --pairs times, and report the medians and their ratio).", DefaultValueFactory = _ => "off" };
        var pairs = new Option<int>("--pairs") { Description = "With --durable compare or --bare: pairs of runs.", DefaultValueFactory = _ => 3 };
        var bare = new Option<bool>("--bare") { Description = "Beside each gateway run, a bare gRPC client-streaming upload of the same bytes (same clients, rounds, chunks; a service that only counts them): one warm-up pair, then --pairs pairs, and the median ratio." };
        var ingest = new Command("ingest", "Load the gRPC gateway over loopback: concurrent clients uploading updates; updates/s, MB/s, latency, memory.")
        {
            clients, payload, rounds, chunk, output, durable, pairs, bare,
        };
        ingest.SetAction(async (parsed, cancellationToken) =>
        {
            var options = new IngestBenchmarkOptions
            {
                Clients = parsed.GetValue(clients),
                PayloadBytes = (int)Math.Round(parsed.GetValue(payload) * 1024 * 1024),
                Rounds = parsed.GetValue(rounds),
                ChunkBytes = parsed.GetValue(chunk) * 1024,
            }.Validate();
            string mode = parsed.GetValue(durable)!;
            if (mode is not ("off" or "on" or "compare")) throw new InvalidOptionException($"--durable must be off, on or compare (got '{mode}').");
            int pairCount = parsed.GetValue(pairs);
            if (pairCount is < 1 or > 20) throw new InvalidOptionException($"--pairs must be in 1..20 (got {pairCount}).");
            bool withBare = parsed.GetValue(bare);
            if (withBare && mode != "off") throw new InvalidOptionException("--bare compares the in-memory gateway with bare gRPC; leave --durable off.");
            string directory = parsed.GetValue(output)!;
            Directory.CreateDirectory(directory);
            string state = Path.Combine(directory, "state");
            var console = Console.Out;
            var c = CultureInfo.InvariantCulture;
            console.WriteLine($"Ingest: {options.Clients} clients x {options.PayloadBytes} B updates, {options.Rounds} rounds (+1 warm-up), {Environment.ProcessorCount} cores, durable {mode}");
            var runs = new List<(bool Durable, IngestBenchmarkResult Result)>();
            var bareRuns = new List<(double UpdatesPerSecond, double MegabytesPerSecond)>();
            if (withBare)
            {
                console.WriteLine("warm-up pair (not counted)");
                await IngestBenchmark.RunAsync(options, null, cancellationToken);
                await BareUploadBenchmark.RunAsync(options, cancellationToken);
                for (int i = 0; i < pairCount; i++)
                {
                    var result = await IngestBenchmark.RunAsync(options, null, cancellationToken);
                    runs.Add((false, result));
                    var baseline = await BareUploadBenchmark.RunAsync(options, cancellationToken);
                    bareRuns.Add(baseline);
                    console.WriteLine(string.Create(c, $"pair {i + 1}/{pairCount}: gateway {result.MegabytesPerSecond:F1} MiB/s ({result.UpdatesPerSecond:F1} updates/s), bare gRPC {baseline.MegabytesPerSecond:F1} MiB/s: {result.MegabytesPerSecond / baseline.MegabytesPerSecond:F3}"));
                }
            }
            else if (mode == "compare")
            {
                // One pair thrown away first: the JIT and the thread pool warm up over the first runs, and
                // measured pairs should compare the two modes, not the process's age.
                console.WriteLine("warm-up pair (not counted)");
                foreach (bool journaled in new[] { false, true })
                    await IngestBenchmark.RunAsync(options with { StateDirectory = journaled ? state : null }, null, cancellationToken);
            }
            foreach (bool journaled in withBare ? [] : mode switch { "off" => [false], "on" => [true], _ => Enumerable.Range(0, pairCount).SelectMany(_ => new[] { false, true }).ToArray() })
            {
                var result = await IngestBenchmark.RunAsync(options with { StateDirectory = journaled ? state : null }, new LineProgress(console), cancellationToken);
                runs.Add((journaled, result));
                console.WriteLine(string.Create(c, $"{(journaled ? "with --state" : "in memory")}: {result.Updates} updates in {result.WallSeconds:F2} s: {result.UpdatesPerSecond:F1} updates/s, {result.MegabytesPerSecond:F1} MiB/s; ack latency p50 {result.P50Milliseconds:F1} ms, p99 {result.P99Milliseconds:F1} ms"));
                console.WriteLine(string.Create(c, $"peak working set {result.PeakWorkingSetBytes / (1024.0 * 1024):F0} MiB, peak managed heap {result.PeakManagedHeapBytes / (1024.0 * 1024):F0} MiB, peak store {result.PeakStoreBytes / (1024.0 * 1024):F0} MiB, peak concurrent uploads {result.PeakConcurrentUploads}, retries {result.Retries}"));
            }
            if (Directory.Exists(state)) Directory.Delete(state, recursive: true);
            var summary = new JsonObject
            {
                ["benchmark"] = "gateway-ingest",
                ["clients"] = options.Clients,
                ["payload_bytes"] = runs[0].Result.PayloadBytes,
                ["rounds"] = options.Rounds,
                ["chunk_bytes"] = options.ChunkBytes,
                ["durable"] = mode,
                ["runs"] = new JsonArray([.. runs.Select(r => (JsonNode)ToJson(r.Durable, r.Result))]),
                ["machine"] = new JsonObject
                {
                    ["cores"] = Environment.ProcessorCount,
                    ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
                    ["runtime"] = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
                },
            };
            if (withBare)
            {
                double gateway = Median.Of(runs.Select(r => r.Result.MegabytesPerSecond));
                double bareRate = Median.Of(bareRuns.Select(r => r.MegabytesPerSecond));
                double ratio = Median.Of(Enumerable.Range(0, pairCount).Select(i => runs[i].Result.MegabytesPerSecond / bareRuns[i].MegabytesPerSecond));
                summary["bare_runs"] = new JsonArray([.. bareRuns.Select(b => (JsonNode)new JsonObject { ["updates_per_second"] = b.UpdatesPerSecond, ["mib_per_second"] = b.MegabytesPerSecond })]);
                summary["median_mib_per_second_gateway"] = gateway;
                summary["median_mib_per_second_bare"] = bareRate;
                summary["median_pair_ratio_to_bare"] = ratio;
                console.WriteLine(string.Create(c, $"median MiB/s: gateway {gateway:F1}, bare gRPC {bareRate:F1}; median ratio of the {pairCount} pairs {ratio:F3}"));
            }
            if (mode == "compare")
            {
                double memory = Median.Of(runs.Where(r => !r.Durable).Select(r => r.Result.UpdatesPerSecond));
                double journaledRate = Median.Of(runs.Where(r => r.Durable).Select(r => r.Result.UpdatesPerSecond));
                double ratio = Median.Of(Enumerable.Range(0, pairCount).Select(i => runs[2 * i + 1].Result.UpdatesPerSecond / runs[2 * i].Result.UpdatesPerSecond));
                summary["median_updates_per_second_in_memory"] = memory;
                summary["median_updates_per_second_with_state"] = journaledRate;
                summary["median_pair_ratio"] = ratio;
                console.WriteLine(string.Create(c, $"median updates/s: {memory:F1} in memory, {journaledRate:F1} with --state; median ratio of the {pairCount} pairs {ratio:F3}"));
            }
            File.WriteAllText(Path.Combine(directory, "summary.json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            console.WriteLine($"wrote {Path.GetFullPath(Path.Combine(directory, "summary.json"))}");
            return 0;
        });
        return ingest;
    }

    private static JsonObject ToJson(bool durable, IngestBenchmarkResult result) => new()
    {
        ["state"] = durable,
        ["updates"] = result.Updates,
        ["wall_seconds"] = result.WallSeconds,
        ["updates_per_second"] = result.UpdatesPerSecond,
        ["mib_per_second"] = result.MegabytesPerSecond,
        ["ack_latency_p50_ms"] = result.P50Milliseconds,
        ["ack_latency_p99_ms"] = result.P99Milliseconds,
        ["peak_working_set_bytes"] = result.PeakWorkingSetBytes,
        ["peak_managed_heap_bytes"] = result.PeakManagedHeapBytes,
        ["peak_store_bytes"] = result.PeakStoreBytes,
        ["peak_concurrent_uploads"] = result.PeakConcurrentUploads,
        ["retries"] = result.Retries,
    };

    private sealed class LineProgress(TextWriter output) : IProgress<string>
    {
        public void Report(string value) => output.WriteLine(value);
    }

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
        if (options.StateDirectory is not null && Directory.Exists(options.StateDirectory)) Directory.Delete(options.StateDirectory, recursive: true);
        using var journal = options.StateDirectory is null ? null
            : SqliteFederationJournal.Open(options.StateDirectory, FederationIdentity.Of(layout, new float[parameters], rounds.Strategy));
        await using var coordinator = new SynchronousRoundCoordinator(layout, new float[parameters], rounds, store, bus, journal: journal);
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
        await using var server = await GatewayServer.StartAsync(gatewayOptions, new GatewayListenOptions { Port = 0 }, tokens, coordinator, store, bus, cancellationToken: cancellationToken,
            journal: journal is null ? null : new IngestJournal(journal, []));

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

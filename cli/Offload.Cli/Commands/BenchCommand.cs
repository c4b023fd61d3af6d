using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Offload.Cli.Benchmarks;

namespace Offload.Cli.Commands;

/// <summary><c>offload bench</c>: load generators for the hosts (BenchmarkDotNet suites live in bench/).</summary>
public static class BenchCommand
{
    /// <summary>Builds the command and its subcommands.</summary>
    public static Command Create()
    {
        var d = new IngestBenchmarkOptions();
        var clients = new Option<int>("--clients") { Description = "Concurrent clients (and updates per round).", DefaultValueFactory = _ => d.Clients };
        var payload = new Option<double>("--payload-mb") { Description = "MiB per update.", DefaultValueFactory = _ => d.PayloadBytes / (1024.0 * 1024) };
        var rounds = new Option<int>("--rounds") { Description = "Measured rounds (after one warm-up round).", DefaultValueFactory = _ => d.Rounds };
        var chunk = new Option<int>("--chunk-kb") { Description = "KiB per upload message.", DefaultValueFactory = _ => d.ChunkBytes / 1024 };
        var output = new Option<string>("--out") { Description = "Output folder for summary.json.", DefaultValueFactory = _ => "runs/bench-ingest" };
        var ingest = new Command("ingest", "Load the gRPC gateway over loopback: concurrent clients uploading updates; updates/s, MB/s, latency, memory.")
        {
            clients, payload, rounds, chunk, output,
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
            var console = Console.Out;
            console.WriteLine($"Ingest: {options.Clients} clients x {options.PayloadBytes} B updates, {options.Rounds} rounds (+1 warm-up), {Environment.ProcessorCount} cores");
            var result = await IngestBenchmark.RunAsync(options, new Progress(console), cancellationToken);
            var c = CultureInfo.InvariantCulture;
            console.WriteLine(string.Create(c, $"{result.Updates} updates in {result.WallSeconds:F2} s: {result.UpdatesPerSecond:F1} updates/s, {result.MegabytesPerSecond:F1} MiB/s; ack latency p50 {result.P50Milliseconds:F1} ms, p99 {result.P99Milliseconds:F1} ms"));
            console.WriteLine(string.Create(c, $"peak working set {result.PeakWorkingSetBytes / (1024.0 * 1024):F0} MiB, peak managed heap {result.PeakManagedHeapBytes / (1024.0 * 1024):F0} MiB, peak store {result.PeakStoreBytes / (1024.0 * 1024):F0} MiB, peak concurrent uploads {result.PeakConcurrentUploads}, retries {result.Retries}"));
            string directory = parsed.GetValue(output)!;
            Directory.CreateDirectory(directory);
            var summary = new JsonObject
            {
                ["benchmark"] = "gateway-ingest",
                ["clients"] = options.Clients,
                ["payload_bytes"] = result.PayloadBytes,
                ["rounds"] = options.Rounds,
                ["chunk_bytes"] = options.ChunkBytes,
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
                ["machine"] = new JsonObject
                {
                    ["cores"] = Environment.ProcessorCount,
                    ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
                    ["runtime"] = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
                },
            };
            File.WriteAllText(Path.Combine(directory, "summary.json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            console.WriteLine($"wrote {Path.GetFullPath(Path.Combine(directory, "summary.json"))}");
            return 0;
        });
        return new Command("bench", "Load generators for the gateway.") { ingest };
    }

    private sealed class Progress(TextWriter output) : IProgress<string>
    {
        public void Report(string value) => output.WriteLine(value);
    }
}

using System.Buffers;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;
using Offload.Aggregator.SharedMemory;
using Offload.Aggregator.Storage;
using Offload.Cli.Options;
using Offload.Cli.Reports;
using Offload.Core.Protos.Node;
using Offload.Gateway.Nodes;
using Spectre.Console;
using StackExchange.Redis;

namespace Offload.Cli.Benchmarks;

/// <summary>
/// <c>offload bench hop</c>: what it costs to hand one update from an aggregator to the next, each
/// way Offload (or LIFL, or Dapr) can: a shared-memory reference (a lease, no bytes move); a copy into
/// shared memory and out again (LIFL's public code); a gRPC pull over loopback from a node agent;
/// and the two encodings a Dapr Redis state store would hold, written to and read from a real
/// <c>redis-server</c> in 1 MiB pieces (the SDK's <c>SaveStateAsync&lt;byte[]&gt;</c> JSON base64, and the
/// byte-state calls' raw bytes). A memcpy of the same bytes is the floor. Variants are interleaved
/// within each repeat so machine noise falls on all of them alike; medians are reported.
/// </summary>
public static class HopBenchmark
{
    /// <summary>The variants, in report order.</summary>
    public static readonly string[] Variants = ["memcpy", "shm-reference", "shm-copy-in-out", "grpc-loopback", "redis-json-base64", "redis-bytes"];

    private const int PieceBytes = 1024 * 1024;

    /// <summary>Builds <c>offload bench hop</c>.</summary>
    public static Command Create()
    {
        var sizes = new Option<string>("--sizes-mb") { Description = "Update sizes in MiB, comma-separated (45: a dense ResNet-18; 1: a compressed update).", DefaultValueFactory = _ => "45,1" };
        var repeats = new Option<int>("--repeats") { Description = "Timed hops per variant and size (after two warm-up hops).", DefaultValueFactory = _ => 15 };
        var output = new Option<string>("--out") { Description = "Output folder for summary.json, hops.csv and hops.png.", DefaultValueFactory = _ => "runs/bench-hop" };
        var command = new Command("hop", "The cost of one hop between aggregators: shared-memory reference, LIFL's copy through shared memory, gRPC over loopback, Dapr's Redis encodings.") { sizes, repeats, output };
        command.SetAction(async (parsed, cancellationToken) =>
        {
            double[] megabytes = OptionList.Parse<double>(parsed.GetValue(sizes)!, "--sizes-mb", v => v is > 0 and <= 1024, "a size in (0, 1024] MiB");
            int n = parsed.GetValue(repeats);
            if (n is < 1 or > 10_000) throw new InvalidOptionException($"--repeats must be in 1..10000 (got {n}).");
            string directory = parsed.GetValue(output)!;
            Directory.CreateDirectory(directory);
            var rows = await RunAsync(megabytes, n, directory, AnsiConsole.Console, cancellationToken).ConfigureAwait(false);
            Write(directory, rows, n);
            return 0;
        });
        return command;
    }

    /// <summary>Runs every variant at every size; the medians.</summary>
    public static async Task<IReadOnlyList<HopRow>> RunAsync(IReadOnlyList<double> megabytes, int repeats, string directory, IAnsiConsole console, CancellationToken cancellationToken = default)
    {
        long largest = 0;
        foreach (double mb in megabytes) largest = Math.Max(largest, (long)(mb * 1024 * 1024));
        string storePath = Path.Combine(directory, $"hop-store-{Environment.ProcessId}");
        File.Delete(storePath);
        // Room for the sent object, a copy in flight, and slack.
        using var sender = SharedMemoryUpdateStore.Open(storePath, Math.Max(SharedMemoryUpdateStore.MinCapacityBytes, 3 * largest + (8 << 20)));
        using var receiver = SharedMemoryUpdateStore.Open(storePath);
        await using var agent = await NodeAgentServer.StartAsync(sender, IPAddress.Loopback, 0, cancellationToken: cancellationToken).ConfigureAwait(false);
        using var channel = GrpcChannel.ForAddress(agent.Address, new GrpcChannelOptions { MaxReceiveMessageSize = 4 * PieceBytes });
        var client = new NodeAgent.NodeAgentClient(channel);
        await using var redis = await LocalRedis.StartAsync(cancellationToken).ConfigureAwait(false);
        if (redis is null) console.MarkupLine($"[yellow]{Markup.Escape(LocalRedis.InstallHint)}; the Redis rows are left out.[/]");
        var database = redis?.Connection.GetDatabase();

        var rows = new List<HopRow>();
        try
        {
            await console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async context =>
                {
                    foreach (double mb in megabytes)
                    {
                        int length = (int)Math.Round(mb * 1024 * 1024);
                        var task = context.AddTask(string.Create(CultureInfo.InvariantCulture, $"{mb} MiB"), maxValue: repeats + 2);
                        var payload = new byte[length];
                        new Random(length).NextBytes(payload);
                        var landing = new byte[length];
                        var sent = new UpdateReference($"hop/sent/{length}");
                        await PutAsync(sender, sent, payload, cancellationToken).ConfigureAwait(false);
                        var times = new Dictionary<string, List<double>>();
                        foreach (var v in Variants) times[v] = [];
                        for (int r = 0; r < repeats + 2; r++)
                        {
                            foreach (var variant in Variants)
                            {
                                if (database is null && variant.StartsWith("redis", StringComparison.Ordinal)) continue;
                                long start = Stopwatch.GetTimestamp();
                                long moved = variant switch
                                {
                                    "memcpy" => Copy(payload, landing),
                                    "shm-reference" => await ReferenceAsync(receiver, sent, cancellationToken).ConfigureAwait(false),
                                    "shm-copy-in-out" => await CopyThroughAsync(sender, receiver, payload, landing, cancellationToken).ConfigureAwait(false),
                                    "grpc-loopback" => await PullAsync(client, sent, landing, cancellationToken).ConfigureAwait(false),
                                    "redis-json-base64" => await RedisJsonAsync(database!, payload, landing).ConfigureAwait(false),
                                    "redis-bytes" => await RedisBytesAsync(database!, payload, landing).ConfigureAwait(false),
                                    _ => throw new InvalidOperationException(variant),
                                };
                                double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                                if (variant != "shm-reference" && !landing.AsSpan().SequenceEqual(payload))
                                    throw new InvalidOperationException($"{variant} delivered different bytes than were sent.");
                                if (moved != length && variant != "shm-reference") throw new InvalidOperationException($"{variant} moved {moved} of {length} bytes.");
                                if (r >= 2) times[variant].Add(ms);
                                landing.AsSpan().Clear();
                            }
                            task.Increment(1);
                        }
                        await sender.DeleteAsync(sent, cancellationToken).ConfigureAwait(false);
                        foreach (var variant in Variants)
                            if (times[variant].Count > 0) rows.Add(HopRow.From(mb, length, variant, times[variant]));
                    }
                }).ConfigureAwait(false);
        }
        finally
        {
            receiver.Dispose();
            sender.Dispose();
            File.Delete(storePath);
        }
        return rows;
    }

    private static void Write(string directory, IReadOnlyList<HopRow> rows, int repeats)
    {
        var c = CultureInfo.InvariantCulture;
        var csv = new StringBuilder("size_mb,bytes,variant,median_ms,p10_ms,p90_ms,repeats,gib_per_s\n");
        foreach (var r in rows)
            csv.Append(c, $"{r.Megabytes},{r.Bytes},{r.Variant},{r.MedianMilliseconds:R},{r.P10Milliseconds:R},{r.P90Milliseconds:R},{r.Repeats},{r.GibPerSecond:R}\n");
        File.WriteAllText(Path.Combine(directory, "hops.csv"), csv.ToString());
        HopPlot.Save(Path.Combine(directory, "hops.png"), rows);

        var sizes = new JsonArray();
        foreach (var size in rows.Select(r => r.Megabytes).Distinct())
        {
            var at = rows.Where(r => r.Megabytes == size).ToDictionary(r => r.Variant);
            var medians = new JsonObject();
            foreach (var (variant, row) in at) medians[variant] = row.MedianMilliseconds;
            var entry = new JsonObject { ["size_mb"] = size, ["bytes"] = at.Values.First().Bytes, ["median_ms"] = medians };
            if (at.TryGetValue("shm-reference", out var reference) && reference.MedianMilliseconds > 0)
            {
                var ratios = new JsonObject();
                foreach (var (variant, row) in at)
                    if (variant != "shm-reference") ratios[variant] = row.MedianMilliseconds / reference.MedianMilliseconds;
                entry["times_the_reference_hop"] = ratios;
            }
            sizes.Add(entry);
            Console.Out.WriteLine(string.Create(c, $"{size} MiB: ") + string.Join(", ", at.Values.Select(r => string.Create(c, $"{r.Variant} {r.MedianMilliseconds:F3} ms"))));
        }
        var summary = new JsonObject
        {
            ["benchmark"] = "hop",
            ["repeats"] = repeats,
            ["piece_bytes"] = PieceBytes,
            ["sizes"] = sizes,
            ["machine"] = new JsonObject { ["cores"] = Environment.ProcessorCount, ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription },
        };
        File.WriteAllText(Path.Combine(directory, "summary.json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        Console.Out.WriteLine($"wrote {Path.GetFullPath(Path.Combine(directory, "summary.json"))}, hops.csv and hops.png");
    }

    private static long Copy(byte[] payload, byte[] landing)
    {
        payload.AsSpan().CopyTo(landing);
        return payload.Length;
    }

    private static async Task PutAsync(IUpdateStore store, UpdateReference reference, byte[] payload, CancellationToken cancellationToken)
    {
        var writer = await store.OpenWriteAsync(reference, payload.Length, cancellationToken).ConfigureAwait(false);
        await writer.WriteAsync(payload, cancellationToken).ConfigureAwait(false);
        await writer.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The receiver borrows the sender's object by reference: what moves is the lease, not the bytes.</summary>
    private static async Task<long> ReferenceAsync(IUpdateStore receiver, UpdateReference sent, CancellationToken cancellationToken)
    {
        using var lease = await receiver.LeaseAsync(sent, cancellationToken).ConfigureAwait(false);
        return lease.Memory.Length;
    }

    /// <summary>LIFL's hop: the sender copies the update into a shared segment, the receiver copies it out.</summary>
    private static async Task<long> CopyThroughAsync(IUpdateStore sender, IUpdateStore receiver, byte[] payload, byte[] landing, CancellationToken cancellationToken)
    {
        var reference = new UpdateReference($"hop/copy/{payload.Length}");
        await PutAsync(sender, reference, payload, cancellationToken).ConfigureAwait(false);
        using (var lease = await receiver.LeaseAsync(reference, cancellationToken).ConfigureAwait(false)) lease.Memory.Span.CopyTo(landing);
        await receiver.DeleteAsync(reference, cancellationToken).ConfigureAwait(false);
        return payload.Length;
    }

    /// <summary>A cross-node hop on loopback: PullObject from the sender's node agent into the receiver's memory.</summary>
    private static async Task<long> PullAsync(NodeAgent.NodeAgentClient client, UpdateReference sent, byte[] landing, CancellationToken cancellationToken)
    {
        long at = 0;
        using var call = client.PullObject(new PullObjectRequest { Key = sent.Key }, cancellationToken: cancellationToken);
        await foreach (var chunk in call.ResponseStream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            chunk.Data.Span.CopyTo(landing.AsSpan((int)at));
            at += chunk.Data.Length;
        }
        return at;
    }

    /// <summary>What <c>SaveStateAsync&lt;byte[]&gt;</c> puts in Redis: each piece as a JSON string of base64, read back and decoded.</summary>
    private static async Task<long> RedisJsonAsync(IDatabase database, byte[] payload, byte[] landing)
    {
        int pieces = (payload.Length + PieceBytes - 1) / PieceBytes;
        for (int i = 0; i < pieces; i++)
        {
            var piece = payload.AsMemory(i * PieceBytes, Math.Min(PieceBytes, payload.Length - i * PieceBytes));
            byte[] json = JsonSerializer.SerializeToUtf8Bytes(piece);
            await database.StringSetAsync($"hop|json|{i}", json).ConfigureAwait(false);
        }
        long at = 0;
        for (int i = 0; i < pieces; i++)
        {
            byte[] json = (byte[])(await database.StringGetAsync($"hop|json|{i}").ConfigureAwait(false))!;
            byte[] bytes = JsonSerializer.Deserialize<byte[]>(json)!;
            bytes.CopyTo(landing.AsSpan((int)at));
            at += bytes.Length;
        }
        return at;
    }

    /// <summary>What the byte-state calls put in Redis: each piece's raw bytes.</summary>
    private static async Task<long> RedisBytesAsync(IDatabase database, byte[] payload, byte[] landing)
    {
        int pieces = (payload.Length + PieceBytes - 1) / PieceBytes;
        for (int i = 0; i < pieces; i++)
            await database.StringSetAsync($"hop|bytes|{i}", payload.AsMemory(i * PieceBytes, Math.Min(PieceBytes, payload.Length - i * PieceBytes))).ConfigureAwait(false);
        long at = 0;
        for (int i = 0; i < pieces; i++)
        {
            using var lease = await database.StringGetLeaseAsync($"hop|bytes|{i}").ConfigureAwait(false);
            lease!.Span.CopyTo(landing.AsSpan((int)at));
            at += lease.Length;
        }
        return at;
    }
}

using System.Buffers.Binary;
using System.CommandLine;
using Offload.Aggregator.Accumulation;
using Offload.Aggregator.SharedMemory;
using Offload.Aggregator.Storage;
using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Cli.Commands;

/// <summary>
/// <c>offload store</c>: an operator's handle on a node's shared-memory update store: what it holds
/// (<c>stat</c>), put a payload in (<c>put</c>), borrow one (<c>lease</c>), and fold payloads by
/// reference into their mean (<c>fold</c>). <c>--hold</c> keeps the process attached until its
/// standard input closes, so what a killed writer or reader leaves behind can be seen and reclaimed.
/// </summary>
public static class StoreCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var command = new Command("store", "Inspect and use a node's shared-memory update store.");
        command.Subcommands.Add(Stat());
        command.Subcommands.Add(Put());
        command.Subcommands.Add(Lease());
        command.Subcommands.Add(Fold());
        return command;
    }

    private static Option<string> PathOption() => new("--path") { Description = "The store's file (for example /dev/shm/offload-store).", Required = true };

    private static Option<bool> HoldOption(string what) => new("--hold") { Description = $"Stay attached, {what}, until standard input closes." };

    private static Command Stat()
    {
        var path = PathOption();
        var command = new Command("stat", "Print what the store holds: bytes used and free, objects, leases, attached processes.") { path };
        command.SetAction(parsed =>
        {
            using var store = OpenExisting(parsed.GetValue(path)!);
            var s = store.ReadStats();
            Console.WriteLine($"capacity_bytes={s.CapacityBytes} used_bytes={s.UsedBytes} largest_free_bytes={s.LargestFreeBytes}");
            // This process is attached while it reads: it is not counted.
            Console.WriteLine($"pending={s.Pending} committed={s.Committed} deleted={s.Deleted} max_objects={s.MaxObjects} leases={s.Leases} attachers={s.Attachers - 1} reclaimed_attachers={s.ReclaimedAttachers}");
            return 0;
        });
        return command;
    }

    private static Command Put()
    {
        var path = PathOption();
        var key = new Option<string>("--key") { Description = "The update reference to store it under.", Required = true };
        var file = new Argument<string>("FILE") { Description = "The bytes to store." };
        var pending = new Option<bool>("--pending") { Description = "Write the bytes but do not commit them (an upload still streaming)." };
        var capacity = new Option<long>("--capacity-mb") { Description = "Data area in MiB when the store does not exist yet.", DefaultValueFactory = _ => 64 };
        var hold = HoldOption("holding the object");
        var command = new Command("put", "Store a file's bytes under a key.") { path, key, file, pending, capacity, hold };
        command.SetAction(async (parsed, cancellationToken) =>
        {
            var reference = Reference(parsed.GetValue(key)!);
            string source = parsed.GetValue(file)!;
            if (!File.Exists(source)) throw new InvalidOptionException($"{source}: no such file.");
            long mb = parsed.GetValue(capacity);
            if (mb < 1 || mb > 1L << 20) throw new InvalidOptionException($"--capacity-mb must be between 1 and {1L << 20} (got {mb}).");
            byte[] bytes = await File.ReadAllBytesAsync(source, cancellationToken).ConfigureAwait(false);
            using var store = SharedMemoryUpdateStore.Open(parsed.GetValue(path)!, mb << 20);
            var writer = await store.OpenWriteAsync(reference, bytes.Length, cancellationToken).ConfigureAwait(false);
            await writer.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
            if (!parsed.GetValue(pending)) await writer.CommitAsync(cancellationToken).ConfigureAwait(false);
            Console.WriteLine($"stored {reference} ({bytes.Length} bytes{(parsed.GetValue(pending) ? ", pending" : "")})");
            if (parsed.GetValue(hold)) await HoldAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command Lease()
    {
        var path = PathOption();
        var key = new Option<string>("--key") { Description = "The update reference to borrow.", Required = true };
        var hold = HoldOption("holding the lease");
        var command = new Command("lease", "Borrow a committed object and print its length and CRC-32C.") { path, key, hold };
        command.SetAction(async (parsed, cancellationToken) =>
        {
            var reference = Reference(parsed.GetValue(key)!);
            using var store = OpenExisting(parsed.GetValue(path)!);
            using var lease = await LeaseOrExplainAsync(store, reference, cancellationToken).ConfigureAwait(false);
            Console.WriteLine($"leased {reference} length={lease.Memory.Length} crc32c={Offload.Core.Checksums.Crc32C.HashToUInt32(lease.Memory.Span):x8}");
            if (parsed.GetValue(hold)) await HoldAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command Fold()
    {
        var path = PathOption();
        var dimension = new Option<int>("--dimension") { Description = "Parameters of the model the updates are for (one flat tensor).", Required = true };
        var output = new Option<string>("--out") { Description = "Where to write the mean update (float32, little-endian).", Required = true };
        var keys = new Argument<string[]>("KEY") { Description = "Update references to fold, each with weight 1.", Arity = ArgumentArity.OneOrMore };
        var command = new Command("fold", "Fold committed updates straight from the store (by lease, no copy) and write their mean.") { path, dimension, output, keys };
        command.SetAction(async (parsed, cancellationToken) =>
        {
            int parameters = parsed.GetValue(dimension);
            if (parameters < 1) throw new InvalidOptionException($"--dimension must be at least 1 (got {parameters}).");
            var layout = TensorLayout.Create([("update", [parameters])]);
            using var store = OpenExisting(parsed.GetValue(path)!);
            using var accumulator = new UpdateAccumulator(layout);
            foreach (string key in parsed.GetValue(keys)!)
            {
                using var lease = await LeaseOrExplainAsync(store, Reference(key), cancellationToken).ConfigureAwait(false);
                IUpdateCodec codec;
                try
                {
                    codec = UpdatePayload.Validate(lease.Memory.Span, layout);
                }
                catch (InvalidPayloadException e)
                {
                    throw new InvalidOptionException($"'{key}' is not an update for {parameters} parameters: {e.Message}");
                }
                accumulator.AddEncoded(codec, lease.Memory.Span, 1.0);
            }
            var mean = new float[parameters];
            accumulator.MeanInto(mean);
            var bytes = new byte[parameters * sizeof(float)];
            for (int i = 0; i < mean.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), mean[i]);
            await File.WriteAllBytesAsync(parsed.GetValue(output)!, bytes, cancellationToken).ConfigureAwait(false);
            Console.WriteLine($"folded {accumulator.Count} updates");
            return 0;
        });
        return command;
    }

    private static SharedMemoryUpdateStore OpenExisting(string path)
    {
        if (!File.Exists(path)) throw new InvalidOptionException($"{path}: no store there.");
        try
        {
            return SharedMemoryUpdateStore.Open(path);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidOptionException(e.Message);
        }
    }

    private static async Task<UpdateLease> LeaseOrExplainAsync(SharedMemoryUpdateStore store, UpdateReference reference, CancellationToken cancellationToken)
    {
        try
        {
            return await store.LeaseAsync(reference, cancellationToken).ConfigureAwait(false);
        }
        catch (UpdateNotFoundException)
        {
            throw new InvalidOptionException($"'{reference}': nothing committed is stored under that key.");
        }
    }

    private static UpdateReference Reference(string key)
    {
        try
        {
            return new UpdateReference(key);
        }
        catch (ArgumentException e)
        {
            throw new InvalidOptionException($"--key: {e.Message}");
        }
    }

    /// <summary>Waits for standard input to close (or SIGTERM), printing "holding" so a caller knows when to act.</summary>
    private static async Task HoldAsync(CancellationToken cancellationToken)
    {
        Console.WriteLine("holding");
        await Console.Out.FlushAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var input = Console.OpenStandardInput();
            var buffer = new byte[256];
            while (await input.ReadAsync(buffer, cancellationToken).ConfigureAwait(false) > 0) { }
        }
        catch (OperationCanceledException)
        {
        }
    }
}

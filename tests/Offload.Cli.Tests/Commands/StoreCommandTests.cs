using System.Buffers.Binary;
using System.Diagnostics;
using Offload.Aggregator.Accumulation;
using Offload.Aggregator.SharedMemory;
using Offload.Aggregator.Storage;
using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Cli.Tests.Commands;

/// <summary>The shared-memory store across real OS processes: this test process on one side, <c>offload store</c> on the other.</summary>
public sealed class StoreCommandTests : IDisposable
{
    private const int Parameters = 20_000;
    private readonly string _folder = Directory.CreateTempSubdirectory("offload-store-cli").FullName;

    private string StorePath => Path.Combine(_folder, "store");

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static ProcessStartInfo Offload(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "offload.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        return start;
    }

    private static (int Code, string Out, string Error) RunToEnd(params string[] args)
    {
        using var process = Process.Start(Offload(args))!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), $"offload {string.Join(' ', args)} did not finish");
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Starts a <c>--hold</c> command and returns once it says it holds.</summary>
    private static Process StartHolding(params string[] args)
    {
        var process = Process.Start(Offload(args))!;
        string? line;
        var seen = new List<string>();
        while ((line = process.StandardOutput.ReadLine()) is not null && line != "holding") seen.Add(line);
        // The error stream is read only once the process has exited: reading it earlier would wait for that.
        if (line != "holding") Assert.Fail($"offload {string.Join(' ', args)} exited before holding: {string.Join('\n', seen)} {process.StandardError.ReadToEnd()}");
        return process;
    }

    private static void Kill(Process process)
    {
        process.Kill(entireProcessTree: true);
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(1)));
        process.Dispose();
    }

    [Fact]
    public async Task Updates_written_by_this_process_fold_by_reference_in_another_to_the_same_bits()
    {
        var layout = TensorLayout.Create([("update", [Parameters])]);
        var random = new Random(5);
        var payloads = new List<byte[]>();
        for (int k = 0; k < 6; k++)
        {
            var delta = new float[Parameters];
            for (int i = 0; i < delta.Length; i++) delta[i] = (float)(random.NextDouble() * 2 - 1) * (k + 1);
            payloads.Add(k % 2 == 0
                ? IdentityCodec.Instance.Encode(delta, layout)
                : new FedZipCodec(new FedZipOptions { TopZ = 0.1 }).Encode(delta, layout));
        }
        var keys = new List<string>();
        using (var store = SharedMemoryUpdateStore.Open(StorePath, 16 << 20))
        {
            for (int k = 0; k < payloads.Count; k++)
            {
                keys.Add($"update/c{k}/t0");
                var writer = await store.OpenWriteAsync(new UpdateReference(keys[^1]), payloads[k].Length);
                await writer.WriteAsync(payloads[k]);
                await writer.CommitAsync();
            }
        }

        string output = Path.Combine(_folder, "mean.bin");
        var (code, stdout, stderr) = RunToEnd(["store", "fold", "--path", StorePath, "--dimension", Parameters.ToString(), "--out", output, .. keys]);
        Assert.True(code == 0, stderr);
        Assert.Contains("folded 6 updates", stdout);

        using var accumulator = new UpdateAccumulator(layout);
        foreach (var payload in payloads) accumulator.AddEncoded(UpdatePayload.CodecFor(payload), payload, 1.0);
        var expected = new float[Parameters];
        accumulator.MeanInto(expected);
        var folded = await File.ReadAllBytesAsync(output);
        Assert.Equal(Parameters * sizeof(float), folded.Length);
        for (int i = 0; i < Parameters; i++)
            Assert.Equal(BitConverter.SingleToInt32Bits(expected[i]), BinaryPrimitives.ReadInt32LittleEndian(folded.AsSpan(i * 4)));
    }

    [Fact]
    public async Task A_killed_writer_s_upload_and_a_killed_reader_s_lease_are_reclaimed_and_committed_bytes_survive()
    {
        string blob = Path.Combine(_folder, "blob");
        var bytes = new byte[200_000];
        new Random(9).NextBytes(bytes);
        await File.WriteAllBytesAsync(blob, bytes);
        var (code, _, stderr) = RunToEnd("store", "put", "--path", StorePath, "--key", "update/acked/t1", blob, "--capacity-mb", "4");
        Assert.True(code == 0, stderr);

        using var store = SharedMemoryUpdateStore.Open(StorePath);
        var writer = StartHolding("store", "put", "--path", StorePath, "--key", "update/half/t1", blob, "--pending", "--hold");
        var reader = StartHolding("store", "lease", "--path", StorePath, "--key", "update/acked/t1", "--hold");
        var held = store.ReadStats();
        Assert.Equal((1, 1, 1, 3), (held.Pending, held.Committed, held.Leases, held.Attachers));

        // The reader's lease keeps a deleted object's bytes alive; killing the reader must free them.
        Assert.True(await store.DeleteAsync(new UpdateReference("update/acked/t1")));
        Assert.Equal(1, store.ReadStats().Deleted);
        Kill(writer);
        Kill(reader);
        Assert.Equal(2, store.Reclaim());
        var after = store.ReadStats();
        Assert.Equal((0, 0, 0, 0, 1), (after.Pending, after.Committed, after.Deleted, after.Leases, after.Attachers));
        Assert.Equal(0, after.UsedBytes);

        // A committed object of a killed writer stays: it may be an acknowledged update.
        var keeper = StartHolding("store", "put", "--path", StorePath, "--key", "update/kept/t1", blob, "--hold");
        Kill(keeper);
        store.Reclaim();
        using var lease = await store.LeaseAsync(new UpdateReference("update/kept/t1"));
        Assert.Equal(bytes, lease.Memory.ToArray());
    }

    [Fact]
    public void Bad_store_arguments_exit_2_naming_what_is_wrong()
    {
        var (code, _, stderr) = RunToEnd("store", "stat", "--path", Path.Combine(_folder, "absent"));
        Assert.Equal(2, code);
        Assert.Contains("no store there", stderr);

        string foreign = Path.Combine(_folder, "foreign");
        File.WriteAllBytes(foreign, new byte[1 << 20]);
        (code, _, stderr) = RunToEnd("store", "stat", "--path", foreign);
        Assert.Equal(2, code);
        Assert.Contains("not a usable shared-memory update store", stderr);

        (code, _, stderr) = RunToEnd("store", "put", "--path", StorePath, "--key", "has space", foreign);
        Assert.Equal(2, code);
        Assert.Contains("--key", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }
}

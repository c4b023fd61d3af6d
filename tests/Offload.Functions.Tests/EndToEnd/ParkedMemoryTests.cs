using System.Globalization;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Offload.Client.Federation;
using Offload.Core.Protos;
using Offload.Client.Training;
using Offload.Core.Codec;
using Xunit.Abstractions;

namespace Offload.Functions.Tests.EndToEnd;

/// <summary>
/// The parked-memory attack against a real <c>offload serve</c> on the default CNN: devices declare the
/// largest upload the gateway allows, send all of it but the last byte and hold the stream open. Before
/// issue 12, 20 devices holding 30 MiB uploads raised the gateway from 294 to 1,075 MiB for good.
/// </summary>
public sealed class ParkedMemoryTests(ITestOutputHelper output) : IDisposable
{
    private const int Devices = 20;
    // 20 × 1 stream × ~187 KB of payload, with room for gRPC's buffers and the runtime's own growth;
    // far below the 781 MiB the attack took before the declared length was bounded.
    private const long BoundBytes = 96L << 20;
    private readonly string _directory = Directory.CreateTempSubdirectory("offload-park-").FullName;
    private readonly OffloadProcesses _processes = new();

    public void Dispose()
    {
        _processes.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private static string Token(int device) => $"park-token-{device}";

    private static CallOptions As(int device) => new(new Metadata { { "authorization", "Bearer " + Token(device) } });

    [Fact]
    public async Task Devices_parking_their_largest_uploads_keep_the_gateways_memory_under_a_stated_bound()
    {
        int port = DaprDeploymentTests.FreePort();
        var arguments = new List<string> { "serve", "--port", port.ToString(CultureInfo.InvariantCulture), "--rounds", "1", "--min-clients", (Devices + 1).ToString(CultureInfo.InvariantCulture),
            "--data", "bundled", "--out", Path.Combine(_directory, "out") };
        for (int i = 0; i < Devices; i++) arguments.AddRange(["--token", $"parker-{i}={Token(i)}"]);
        var serve = _processes.Start(arguments);
        var address = new Uri($"http://127.0.0.1:{port}");

        // Every device holds a task first, so what follows measures the parked uploads alone.
        var tasks = new FederatedTask[Devices];
        for (int i = 0; i < Devices; i++)
        {
            using var client = new FederatedClientBuilder(address).WithToken(Token(i))
                .Configure(o => o with { InitialBackoff = TimeSpan.FromMilliseconds(100), MaxBackoff = TimeSpan.FromMilliseconds(500), MaxAttempts = 200 }).Build();
            tasks[i] = await client.GetTaskAsync();
            Assert.Equal(FederatedTaskState.Assigned, tasks[i].State);
        }
        // The default CNN's identity payload: the longest valid upload, with a header the gateway checks as it streams.
        using var model = TorchTrainer.CreateDefault(1, 28, 28, 10);
        Assert.Equal(tasks[0].LayoutHash, model.Layout.Hash);
        byte[] payload = IdentityCodec.Instance.Encode(new float[model.Layout.TotalLength], model.Layout);
        long length = payload.Length;
        long before = Resident(serve.Process.Id).Rss;
        // VmHWM starts again from the resident set now (Linux: "5" to clear_refs), so the peak is the attack's, not start-up's.
        File.WriteAllText($"/proc/{serve.Process.Id}/clear_refs", "5");

        using var channel = GrpcChannel.ForAddress(address);
        var raw = new Core.Protos.Federation.FederationClient(channel);
        var parked = new List<AsyncClientStreamingCall<SubmitUpdateRequest, SubmitUpdateReply>>();
        try
        {
            for (int i = 0; i < Devices; i++)
            {
                var task = tasks[i];
                var auth = As(i);
                // The 30 MiB declaration is refused before a byte is read.
                var oversized = raw.SubmitUpdate(auth);
                var big = Gateway.UploadFaultTests.Header(task, payload, $"big-{i}");
                big.TotalLength = 30L << 20;
                await oversized.RequestStream.WriteAsync(new SubmitUpdateRequest { Header = big });
                var refused = await Assert.ThrowsAsync<RpcException>(() => oversized.ResponseAsync);
                Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
                oversized.Dispose();

                // The longest valid upload, sent whole but for its last byte, and held.
                var call = raw.SubmitUpdate(auth);
                parked.Add(call);
                await call.RequestStream.WriteAsync(new SubmitUpdateRequest { Header = Gateway.UploadFaultTests.Header(task, payload, $"park-{i}") });
                for (int at = 0; at < length - 1; at += 64 * 1024)
                    await call.RequestStream.WriteAsync(new SubmitUpdateRequest { Chunk = ByteString.CopyFrom(payload, at, (int)Math.Min(64 * 1024, length - 1 - at)) });
            }
            // Held by the gateway, not just sent: each upload's offset is its length less one byte.
            for (int i = 0; i < Devices; i++)
            {
                using var patience = new CancellationTokenSource(TimeSpan.FromMinutes(1));
                while (true)
                {
                    var held = await raw.GetUploadOffsetAsync(new GetUploadOffsetRequest { TaskId = tasks[i].TaskId, IdempotencyKey = $"park-{i}" }, As(i));
                    if (held.State == UploadState.Partial && held.Offset == length - 1) break;
                    Assert.False(parked[i].ResponseAsync.IsCompleted, $"Upload {i} ended: {parked[i].GetStatus()}");
                    if (patience.IsCancellationRequested) Assert.Fail($"Upload {i}: {held.State} at {held.Offset} of {length}");
                    await Task.Delay(20, CancellationToken.None);
                }
            }
            var during = Resident(serve.Process.Id);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"gateway RSS {before >> 20} MiB before, {during.Rss >> 20} MiB with {Devices} uploads of {length} bytes parked, peak (VmHWM) {during.Peak >> 20} MiB"));
            Assert.True(during.Peak - before < BoundBytes,
                $"The gateway grew from {before >> 20} MiB to a peak of {during.Peak >> 20} MiB with {Devices} parked uploads; the bound is {BoundBytes >> 20} MiB.");
        }
        finally
        {
            foreach (var call in parked) call.Dispose();
        }
    }

    /// <summary>The process's resident set now and at its peak, from <c>/proc/PID/status</c> (VmRSS, VmHWM).</summary>
    private static (long Rss, long Peak) Resident(int pid)
    {
        long rss = 0, peak = 0;
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kibibytes(line);
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) peak = Kibibytes(line);
        }
        Assert.True(rss > 0 && peak > 0, $"/proc/{pid}/status gave no VmRSS or VmHWM.");
        return (rss, peak);
    }

    private static long Kibibytes(string line) =>
        long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
}

using System.Globalization;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Offload.Aggregator.SharedMemory;
using Offload.Aggregator.Storage;
using Offload.Client.Federation;
using Offload.Client.Training;
using Offload.Core.Codec;
using Offload.Core.Protos;

namespace Offload.Functions.Tests.EndToEnd;

/// <summary>
/// A real <c>offload serve --node-store</c>: uploads stream into the node's shared-memory store, which
/// this test process attaches to as another process on the node would. A full store pushes back
/// (RESOURCE_EXHAUSTED with a retry delay, nothing held), and once room is made the same upload is
/// accepted, and the round folds every acknowledged update exactly once.
/// </summary>
public sealed class NodeStoreServeTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("offload-node-store-").FullName;
    private readonly OffloadProcesses _processes = new();

    public void Dispose()
    {
        _processes.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private static CallOptions As(string token) => new(new Metadata { { "authorization", "Bearer " + token } });

    [Fact]
    public async Task A_full_node_store_pushes_back_and_every_acknowledged_update_is_folded_once()
    {
        int port = DaprDeploymentTests.FreePort();
        string storePath = Path.Combine(_directory, "node-store");
        string output = Path.Combine(_directory, "out");
        var serve = _processes.Start(["serve", "--port", port.ToString(CultureInfo.InvariantCulture), "--rounds", "1", "--min-clients", "3",
            "--data", "bundled", "--node-store", storePath, "--node-store-mb", "1",
            "--token", "raw=raw-device-token", "--token", "device-1=device-token-1", "--token", "device-2=device-token-2", "--out", output]);
        var address = new Uri($"http://127.0.0.1:{port}");
        FederatedTask task;
        using (var client = new FederatedClientBuilder(address).WithToken("raw-device-token")
            .Configure(o => o with { InitialBackoff = TimeSpan.FromMilliseconds(100), MaxBackoff = TimeSpan.FromMilliseconds(500), MaxAttempts = 200 }).Build())
            task = await client.GetTaskAsync();
        Assert.Equal(FederatedTaskState.Assigned, task.State);

        using var model = TorchTrainer.CreateDefault(1, 28, 28, 10);
        byte[] payload = IdentityCodec.Instance.Encode(new float[model.Layout.TotalLength], model.Layout);
        // Another process on the node fills the store but for less than one upload.
        using var node = SharedMemoryUpdateStore.Open(storePath);
        var blocker = new UpdateReference("blocker/other-work");
        var writer = await node.OpenWriteAsync(blocker, node.CapacityBytes - payload.Length / 2);
        await writer.WriteAsync(new byte[node.CapacityBytes - payload.Length / 2]);
        await writer.CommitAsync();

        using var channel = GrpcChannel.ForAddress(address);
        var raw = new Federation.FederationClient(channel);
        var header = Gateway.UploadFaultTests.Header(task, payload, "full-store");
        var refused = await Assert.ThrowsAsync<RpcException>(() => SubmitAsync(raw, header, payload));
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Contains("no room", refused.Status.Detail);
        Assert.NotNull(refused.Trailers.GetValue(Offload.Gateway.Service.FederationGateway.RetryAfterTrailer));
        var afterRefusal = node.ReadStats();
        Assert.Equal((0, 1), (afterRefusal.Pending, afterRefusal.Committed));

        // Room is made; the device's retry of the same upload is accepted.
        await node.DeleteAsync(blocker);
        var reply = await SubmitAsync(raw, header, payload);
        Assert.Equal(SubmitOutcome.Accepted, reply.Outcome);
        for (int d = 1; d <= 2; d++)
            _processes.Start(["client", "--server", address.ToString(), "--token", $"device-token-{d}", "--partition", $"{d - 1}/2", "--data", "bundled"]);

        var (exit, stdout, stderr) = await serve.ExitAsync(TimeSpan.FromMinutes(5));
        Assert.True(exit == 0, $"serve exited {exit}: {stderr}\n{stdout}");
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "summary.json")))!;
        Assert.Equal(1, summary["rounds"]!.GetValue<int>());
        Assert.Equal(3, summary["updates"]!.GetValue<long>());
        Assert.Equal(3, summary["gateway"]!["accepted"]!.GetValue<long>());
        Assert.True(summary["gateway"]!["store_full_refusals"]!.GetValue<long>() >= 1);
        // Folded and deleted: the node store holds nothing of the round.
        var end = node.ReadStats();
        Assert.Equal((0, 0, 0), (end.Pending, end.Committed, end.Deleted));
    }

    private static async Task<SubmitUpdateReply> SubmitAsync(Federation.FederationClient raw, UpdateHeader header, byte[] payload)
    {
        using var call = raw.SubmitUpdate(As("raw-device-token"));
        await call.RequestStream.WriteAsync(new SubmitUpdateRequest { Header = header });
        try
        {
            for (int at = 0; at < payload.Length; at += 64 * 1024)
                await call.RequestStream.WriteAsync(new SubmitUpdateRequest { Chunk = ByteString.CopyFrom(payload, at, Math.Min(64 * 1024, payload.Length - at)) });
            await call.RequestStream.CompleteAsync();
        }
        catch (RpcException)
        {
            // The gateway refused mid-stream; its answer says why.
        }
        catch (InvalidOperationException)
        {
            // The call already ended with the gateway's answer.
        }
        return await call.ResponseAsync;
    }
}

using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using Offload.Aggregator.SharedMemory;
using Offload.Aggregator.Storage;
using Offload.Core.Protos.Node;
using Offload.Gateway.Nodes;

namespace Offload.Functions.Tests.EndToEnd;

/// <summary><c>offload serve --node-agent</c> as its own process: it owns the node store, serves PullObject, and a SIGTERM stops it cleanly with the store kept.</summary>
public sealed class NodeAgentProcessTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("offload-node-agent-").FullName;
    private readonly OffloadProcesses _processes = new();

    public void Dispose()
    {
        _processes.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task The_agent_process_serves_objects_written_by_another_process_and_keeps_them_past_SIGTERM()
    {
        int port = DaprDeploymentTests.FreePort();
        string storePath = Path.Combine(_directory, "node-store");
        var agent = _processes.Start(["serve", "--node-agent", "--node-store", storePath, "--node-store-mb", "8", "--port", port.ToString(CultureInfo.InvariantCulture)]);

        var bytes = new byte[NodeAgentService.ChunkBytes + 4321];
        new Random(8).NextBytes(bytes);
        var reference = new UpdateReference("partial/r3/l1/a0");
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
        var client = new NodeAgent.NodeAgentClient(channel);
        // The agent creates the store; this process attaches once it answers.
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                using var probe = client.PullObject(new PullObjectRequest { Key = "probe/absent" });
                await probe.ResponseStream.MoveNext();
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && attempt < 600 && !agent.Process.HasExited)
            {
                await Task.Delay(100);
                continue;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
            {
            }
            break;
        }
        using (var writer = SharedMemoryUpdateStore.Open(storePath))
        {
            var w = await writer.OpenWriteAsync(reference, bytes.Length);
            await w.WriteAsync(bytes);
            await w.CommitAsync();
        }

        using var local = SharedMemoryUpdateStore.Open(Path.Combine(_directory, "other-node"), 8 << 20);
        Assert.Equal(bytes.Length, await ObjectPull.PullAsync(client, reference, local));
        using (var lease = await local.LeaseAsync(reference)) Assert.Equal(bytes, lease.Memory.ToArray());

        Signals.Send(agent.Process.Id, 15);
        var (exit, stdout, stderr) = await agent.ExitAsync(TimeSpan.FromMinutes(1));
        Assert.True(exit == 0, $"the agent exited {exit}: {stderr}");
        Assert.Contains("node store is kept", stdout);
        using var after = SharedMemoryUpdateStore.Open(storePath);
        Assert.Equal(bytes.Length, await after.GetLengthAsync(reference));
    }

    [Fact]
    public async Task Serve_refuses_a_missing_foreign_or_too_small_node_store_naming_the_option()
    {
        var (exit, _, stderr) = await _processes.Start(["serve", "--node-agent"]).ExitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(2, exit);
        Assert.Contains("--node-store", stderr);

        string foreign = Path.Combine(_directory, "foreign");
        await File.WriteAllBytesAsync(foreign, new byte[1 << 20]);
        (exit, _, stderr) = await _processes.Start(["serve", "--node-agent", "--node-store", foreign, "--port", "0"]).ExitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(2, exit);
        Assert.Contains("--node-store", stderr);
        Assert.Contains("not a usable shared-memory update store", stderr);
        Assert.DoesNotContain("   at ", stderr);

        // A store smaller than one of the model's updates would push every upload back forever: refused at start.
        (exit, _, stderr) = await _processes.Start(["serve", "--port", "0", "--data", "bundled", "--hidden", "1024", "--token", "tiny-store-token",
            "--node-store", Path.Combine(_directory, "tiny"), "--node-store-mb", "1"]).ExitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(2, exit);
        Assert.Contains("cannot hold one update of this model", stderr);
    }
}

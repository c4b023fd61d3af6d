using Grpc.Core;
using Offload.Aggregator.Rounds;
using Offload.Client.Federation;
using Offload.Core.Model;
using Offload.Core.Protos;
using Offload.Gateway.Service;

namespace Offload.Functions.Tests.Gateway;

/// <summary>A model download whose stream drops resumes from the bytes already received, over a real gateway on loopback.</summary>
public class DownloadResumeTests
{
    private const int Parameters = 50_000; // 200 KB of weights: about 200 chunks of 1 KiB.
    private static readonly TensorLayout Layout = TestFederation.FlatLayout(Parameters);

    private static async Task<TestFederation> StartAsync()
    {
        var initial = new float[Parameters];
        var random = new Random(5);
        for (int i = 0; i < initial.Length; i++) initial[i] = random.NextSingle();
        return await TestFederation.StartAsync(Layout, initial,
            new RoundOptions { MinClients = 1, Rounds = 2, RoundDeadline = TimeSpan.FromHours(1) }, clients: 1,
            new GatewayOptions { DownloadChunkBytes = 1024 });
    }

    [Fact]
    public async Task The_gateway_streams_from_the_offset_asked_for_with_the_descriptor_first_and_refuses_one_past_the_end()
    {
        await using var federation = await StartAsync();
        var full = federation.Coordinator.Broadcast.Bytes.ToArray();
        using var call = federation.Raw().DownloadModel(new DownloadModelRequest { TaskId = "t", ModelVersion = 0, HaveVersion = -1, Offset = 70_001 }, TestFederation.As(0));
        var tail = new List<byte>();
        ModelDescriptor? descriptor = null;
        await foreach (var chunk in call.ResponseStream.ReadAllAsync())
        {
            if (descriptor is null)
            {
                descriptor = chunk.Descriptor_;
                Assert.NotNull(descriptor);
                Assert.Equal(70_001, chunk.Offset);
            }
            Assert.Equal(70_001 + tail.Count, chunk.Offset);
            tail.AddRange(chunk.Data.ToByteArray());
        }
        Assert.Equal(full.AsSpan(70_001).ToArray(), tail.ToArray());
        Assert.Equal(full.Length, descriptor!.TotalLength);

        foreach (long offset in new long[] { -1, full.Length + 1, long.MaxValue })
        {
            using var refused = federation.Raw().DownloadModel(new DownloadModelRequest { TaskId = "t", ModelVersion = 0, HaveVersion = -1, Offset = offset }, TestFederation.As(0));
            var e = await Assert.ThrowsAsync<RpcException>(async () => await refused.ResponseStream.MoveNext());
            Assert.Equal(StatusCode.OutOfRange, e.StatusCode);
        }
    }

    [Fact]
    public async Task A_device_whose_download_drops_resumes_where_it_stopped_and_gets_the_same_bits()
    {
        await using var federation = await StartAsync();
        var cutting = new CuttingHandler(cutAfterBytes: 64 * 1024);
        var client = federation.Client(0, o => o with { HttpHandler = cutting });
        var task = await client.GetTaskAsync();
        Assert.Equal(FederatedTaskState.Assigned, task.State);

        var download = await client.DownloadModelAsync(task, Layout);
        Assert.Equal(1, cutting.Cuts);
        Assert.Equal(federation.Coordinator.Broadcast.Weights.ToArray(), download.Weights);
        // Resumed, not started over: every byte of the weights arrived once.
        Assert.Equal(4L * Parameters, download.Bytes);
    }

    /// <summary>Cuts the body of the first DownloadModel response after some bytes, as a dropped connection would.</summary>
    private sealed class CuttingHandler(int cutAfterBytes) : DelegatingHandler(new SocketsHttpHandler())
    {
        private int _cuts;

        public int Cuts => Volatile.Read(ref _cuts);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if (request.RequestUri!.AbsolutePath.EndsWith("/DownloadModel", StringComparison.Ordinal) && Interlocked.CompareExchange(ref _cuts, 1, 0) == 0)
            {
                var inner = response.Content;
                var cut = new StreamContent(new CutStream(await inner.ReadAsStreamAsync(cancellationToken), cutAfterBytes));
                foreach (var header in inner.Headers) cut.Headers.TryAddWithoutValidation(header.Key, header.Value);
                response.Content = cut;
            }
            return response;
        }
    }

    private sealed class CutStream(Stream inner, int limit) : Stream
    {
        private int _read;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_read >= limit) throw new IOException("The connection dropped (test).");
            int n = await inner.ReadAsync(buffer[..Math.Min(buffer.Length, limit - _read)], cancellationToken);
            _read += n;
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}

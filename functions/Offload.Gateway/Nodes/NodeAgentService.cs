using System.Globalization;
using Google.Protobuf;
using Grpc.Core;
using Offload.Aggregator.Storage;
using Offload.Core.Protos.Node;
using Offload.Gateway.Service;

namespace Offload.Gateway.Nodes;

/// <summary>
/// The node agent's <c>PullObject</c>: streams a committed object of this node's store to an
/// aggregator on another node. The object is leased for the call, so a delete meanwhile cannot pull
/// the bytes from under the stream, and each chunk wraps the leased memory instead of copying it
/// (<see cref="UnsafeByteOperations.UnsafeWrap"/>): the one copy is gRPC's, into the socket.
/// </summary>
public sealed class NodeAgentService(IUpdateStore store, TimeProvider clock) : NodeAgent.NodeAgentBase
{
    /// <summary>Largest chunk sent: well under gRPC's 4 MB default message limit on the receiving side.</summary>
    public const int ChunkBytes = 1024 * 1024;

    /// <summary>
    /// The longest one pull may hold its lease: a puller that stops reading (flow control then blocks
    /// the writes) must not keep a deleted object's bytes in the store for ever. The puller resumes
    /// from what it received.
    /// </summary>
    public static readonly TimeSpan MaxPullDuration = TimeSpan.FromMinutes(2);

    /// <inheritdoc/>
    public override async Task PullObject(PullObjectRequest request, IServerStreamWriter<ObjectChunk> responseStream, ServerCallContext context)
    {
        var reference = ReferenceOf(request.Key);
        UpdateLease lease;
        try
        {
            lease = await store.LeaseAsync(reference, context.CancellationToken).ConfigureAwait(false);
        }
        catch (UpdateNotFoundException)
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"Nothing committed is stored under '{reference}' on this node."));
        }
        catch (UpdateStoreFullException e)
        {
            throw new RpcException(new Status(StatusCode.ResourceExhausted, e.Message),
                new Metadata { { FederationGateway.RetryAfterTrailer, ((long)e.RetryAfter.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) } });
        }
        using var expiry = new CancellationTokenSource(MaxPullDuration, clock);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, expiry.Token);
        try
        {
            using (lease)
            {
                var bytes = lease.Memory;
                if (request.Offset < 0 || request.Offset > bytes.Length)
                    throw new RpcException(new Status(StatusCode.OutOfRange, $"offset {request.Offset} is outside '{reference}', which holds {bytes.Length} bytes."));
                int at = (int)request.Offset;
                do
                {
                    int n = Math.Min(ChunkBytes, bytes.Length - at);
                    // The lease outlives the write: WriteAsync has serialised the chunk when it returns.
                    await responseStream.WriteAsync(new ObjectChunk { TotalLength = bytes.Length, Offset = at, Data = UnsafeByteOperations.UnsafeWrap(bytes.Slice(at, n)) },
                        limit.Token).ConfigureAwait(false);
                    at += n;
                }
                while (at < bytes.Length);
            }
        }
        catch (OperationCanceledException) when (!context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.DeadlineExceeded, $"The pull of '{reference}' took longer than {MaxPullDuration.TotalSeconds:0} s; its lease was released. Resume from the bytes received."));
        }
    }

    /// <inheritdoc/>
    public override async Task<DeleteObjectReply> DeleteObject(DeleteObjectRequest request, ServerCallContext context) =>
        new() { Deleted = await store.DeleteAsync(ReferenceOf(request.Key), context.CancellationToken).ConfigureAwait(false) };

    private static UpdateReference ReferenceOf(string key)
    {
        try
        {
            return new UpdateReference(key);
        }
        catch (ArgumentException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"key: {e.Message}"));
        }
    }
}

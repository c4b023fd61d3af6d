using Grpc.Core;
using Offload.Aggregator.Storage;
using Offload.Core.Protos.Node;

namespace Offload.Gateway.Nodes;

/// <summary>
/// A cross-node hop: pulls an object from the node agent that owns it into this node's store, one
/// copy (the chunk into the store) after the socket's. The first chunk's total length reserves the
/// room; a broken stream is resumed from what the local store already holds.
/// </summary>
public static class ObjectPull
{
    /// <summary>Most attempts at one object (the first and resumptions) before giving up.</summary>
    public const int MaxAttempts = 4;

    /// <summary>
    /// Copies the committed object <paramref name="reference"/> from <paramref name="agent"/> into
    /// <paramref name="destination"/> under the same key and commits it; an object already committed
    /// there is kept.
    /// </summary>
    /// <returns>Bytes pulled over the network by this call.</returns>
    /// <exception cref="UpdateNotFoundException">The agent holds nothing committed under the key.</exception>
    /// <exception cref="InvalidDataException">The agent's answer is inconsistent (length changed, chunks out of order or past the end).</exception>
    /// <exception cref="RpcException">The agent failed <see cref="MaxAttempts"/> times, or refused for a reason a retry cannot fix.</exception>
    public static async Task<long> PullAsync(NodeAgent.NodeAgentClient agent, UpdateReference reference, IUpdateStore destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(agent);
        ArgumentNullException.ThrowIfNull(destination);
        long pulled = 0;
        IUpdateWriter? writer = null;
        long total = -1;
        // A local copy already there (committed, or half-written by a pull that died) is kept and resumed.
        if (await destination.GetLengthAsync(reference, cancellationToken).ConfigureAwait(false) >= 0)
        {
            try
            {
                writer = await destination.OpenWriteAsync(reference, cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidOperationException)
            {
                return 0;
            }
        }
        for (int attempt = 1; ; attempt++)
        {
            long offset = writer?.Length ?? 0;
            try
            {
                using var call = agent.PullObject(new PullObjectRequest { Key = reference.Key, Offset = offset }, cancellationToken: cancellationToken);
                await foreach (var chunk in call.ResponseStream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (total < 0)
                    {
                        if (chunk.TotalLength < 0) throw new InvalidDataException($"The agent says '{reference}' holds {chunk.TotalLength} bytes.");
                        total = chunk.TotalLength;
                        // The first chunk's length reserves the room once.
                        writer ??= await destination.OpenWriteAsync(reference, total, cancellationToken).ConfigureAwait(false);
                    }
                    if (chunk.TotalLength != total) throw new InvalidDataException($"The agent's length of '{reference}' changed from {total} to {chunk.TotalLength} mid-stream.");
                    if (chunk.Offset != writer!.Length || chunk.Offset + chunk.Data.Length > total)
                        throw new InvalidDataException($"The agent sent bytes {chunk.Offset}..{chunk.Offset + chunk.Data.Length} of '{reference}' when {writer.Length}..{total} were due.");
                    await writer.WriteAsync(chunk.Data.Memory, cancellationToken).ConfigureAwait(false);
                    pulled += chunk.Data.Length;
                }
                if (writer is not null && writer.Length == total)
                {
                    await writer.CommitAsync(cancellationToken).ConfigureAwait(false);
                    return pulled;
                }
                if (total < 0) throw new InvalidDataException($"The agent ended the stream of '{reference}' without a chunk.");
                // Short: pull again from what is held.
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
            {
                throw new UpdateNotFoundException(reference);
            }
            catch (RpcException e) when (attempt < MaxAttempts && e.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.ResourceExhausted or StatusCode.Cancelled or StatusCode.DeadlineExceeded && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt), cancellationToken).ConfigureAwait(false);
            }
            if (attempt >= MaxAttempts) throw new RpcException(new Status(StatusCode.Unavailable, $"'{reference}' could not be pulled whole in {MaxAttempts} attempts."));
        }
    }
}

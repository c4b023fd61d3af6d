using Offload.Aggregator.Rounds;
using Offload.Aggregator.Storage;
using Offload.Core.Checksums;
using Offload.Core.Protos;

namespace Offload.Gateway.Ingest;

/// <summary>
/// One client's upload for one task: the header it was started with, the store writer holding the
/// bytes so far and the running CRC-32C, so a dropped stream can be resumed; then, once accepted,
/// the reply every later attempt gets. Calls on one session are serialised by <see cref="Gate"/>.
/// </summary>
internal sealed class UploadSession(string clientId, string taskId, long round)
{
    public SemaphoreSlim Gate { get; } = new(1, 1);

    public string ClientId { get; } = clientId;

    public string TaskId { get; } = taskId;

    public long Round { get; } = round;

    public UpdateReference Reference { get; } = UpdateReference.ForTask(clientId, taskId);

    /// <summary>The header of the upload in progress or accepted; null before the first attempt.</summary>
    public UpdateHeader? Header { get; set; }

    public IUpdateWriter? Writer { get; set; }

    /// <summary>Where a durable journal takes the payload as it streams (<c>serve --state</c>); null without one.</summary>
    public PayloadDraft? Draft { get; set; }

    public Crc32C Checksum { get; } = new();

    /// <summary>The payload's first bytes, kept until its fixed header can be checked.</summary>
    public byte[] Prefix { get; } = new byte[Core.Codec.UpdatePayload.HeaderLength];

    /// <summary>Whether the payload's fixed header has been read and found valid.</summary>
    public bool PrefixChecked { get; set; }

    /// <summary>The answer given when the update was accepted; null until then.</summary>
    public SubmitUpdateReply? Accepted { get; set; }

    /// <summary>Bytes held for the upload in progress (0 when none).</summary>
    public long Offset => Writer?.Length ?? 0;

    /// <summary>Whether <paramref name="header"/> describes the same update as the one in progress (any offset).</summary>
    public bool Continues(UpdateHeader header) =>
        Header is { } h && h.IdempotencyKey == header.IdempotencyKey && h.TotalLength == header.TotalLength
        && h.Crc32C == header.Crc32C && h.Codec == header.Codec && h.SampleCount == header.SampleCount
        && h.BaseModelVersion == header.BaseModelVersion && h.LayoutHash == header.LayoutHash;

    /// <summary>Forgets the upload in progress; the caller deletes its bytes from the store.</summary>
    public void Reset()
    {
        Header = null;
        Writer = null;
        Draft = null;
        Checksum.Reset();
        PrefixChecked = false;
    }
}

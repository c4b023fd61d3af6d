using Offload.Aggregator.Rounds;
using Offload.Core.Model;
using Offload.Core.Protos;
using Offload.Core.Wire;

namespace Offload.Functions.Ingest;

/// <summary>
/// Checks an upload's header against the task and the model before any payload byte is read:
/// the reasons an update could never be folded, each with a message that says which field was wrong.
/// </summary>
internal static class UpdateHeaderValidation
{
    /// <summary>Longest idempotency key accepted.</summary>
    public const int MaxIdempotencyKeyLength = 128;

    /// <summary>Null when the header is acceptable, else why not.</summary>
    public static string? Problem(UpdateHeader header, RoundTask task, TensorLayout layout)
    {
        if (string.IsNullOrEmpty(header.IdempotencyKey) || header.IdempotencyKey.Length > MaxIdempotencyKeyLength)
            return $"idempotency_key must hold 1 to {MaxIdempotencyKeyLength} characters.";
        if (header.SampleCount <= 0) return $"sample_count is {header.SampleCount}; an update needs at least one sample.";
        if (header.BaseModelVersion != task.BaseVersion.Value)
            return $"base_model_version is {header.BaseModelVersion}; task {task.TaskId} starts from {task.BaseVersion.Value}.";
        if (header.LayoutHash != layout.Hash)
            return $"layout_hash {header.LayoutHash:X16} is not the model's {layout.Hash:X16}: the update is for another model.";
        if (header.Codec != UpdateCodec.RawFloat32)
            return $"codec {header.Codec} is not accepted by this gateway; send {UpdateCodec.RawFloat32}.";
        long expected = RawFloat32Payload.ByteLength(layout);
        if (header.TotalLength != expected)
            return $"total_length is {header.TotalLength}; a raw float32 update of this model holds {expected} bytes.";
        if (header.Offset < 0 || header.Offset > header.TotalLength)
            return $"offset {header.Offset} is outside [0, {header.TotalLength}].";
        return null;
    }
}

using Offload.Aggregator.Rounds;
using Offload.Aggregator.Strategies;
using Offload.Core.Codec;
using Offload.Core.Model;
using Offload.Core.Protos;
using Offload.Core.Wire;

namespace Offload.Gateway.Ingest;

/// <summary>
/// Checks an upload's header against the task and the model before any payload byte is read:
/// the reasons an update could never be folded, each with a message that says which field was wrong.
/// </summary>
internal static class UpdateHeaderValidation
{
    /// <summary>Longest idempotency key accepted.</summary>
    public const int MaxIdempotencyKeyLength = 128;

    /// <summary>The smallest framed payload: its fixed header and trailing CRC.</summary>
    public const int MinPayloadLength = UpdatePayload.HeaderLength + 4;

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
        if (!WireCodec.TryFromWire(header.Codec, out _))
            return $"codec {header.Codec} is not one this gateway decodes; send {UpdateCodec.Identity} or {UpdateCodec.Fedzip}.";
        if (header.TotalLength < MinPayloadLength || header.TotalLength > int.MaxValue)
            return $"total_length is {header.TotalLength}; a payload holds {MinPayloadLength} to {int.MaxValue} bytes.";
        if (header.Offset < 0 || header.Offset > header.TotalLength)
            return $"offset {header.Offset} is outside [0, {header.TotalLength}].";
        return EvaluationOf(header)?.Problem();
    }

    /// <summary>The client's federated-evaluation score the header carries, or null.</summary>
    public static ClientEvaluation? EvaluationOf(UpdateHeader header) =>
        header.Evaluation is { } e ? new ClientEvaluation(e.Examples, e.Loss, e.Accuracy) : null;

    /// <summary>
    /// Null when the payload's own fixed header (its first <see cref="UpdatePayload.HeaderLength"/>
    /// bytes) agrees with the upload's header and the model, else why not.
    /// </summary>
    public static string? PayloadProblem(ReadOnlySpan<byte> prefix, UpdateHeader header, TensorLayout layout)
    {
        var status = UpdatePayload.TryReadHeader(prefix, out var payload);
        if (status != System.Buffers.OperationStatus.Done) return "The payload does not start with a valid update header (magic, format version, codec, flags or length).";
        WireCodec.TryFromWire(header.Codec, out var declared);
        if (payload.Codec != declared) return $"The payload is encoded with {payload.Codec}; the upload declared {declared}.";
        if (payload.PayloadLength != header.TotalLength) return $"The payload says it holds {payload.PayloadLength} bytes; the upload declared {header.TotalLength}.";
        if (payload.LayoutHash != layout.Hash || payload.ParameterCount != layout.TotalLength || payload.TensorCount != layout.Tensors.Count)
            return $"The payload is for a model of {payload.TensorCount} tensors and {payload.ParameterCount} parameters (layout {payload.LayoutHash:X16}); this model has {layout.Tensors.Count}, {layout.TotalLength} ({layout.Hash:X16}).";
        return null;
    }
}

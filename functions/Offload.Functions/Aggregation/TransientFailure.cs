using Grpc.Core;

namespace Offload.Functions.Aggregation;

/// <summary>
/// Which failures are worth a redelivery: the store, the sidecar, the actor host or the network being
/// briefly unavailable. A sidecar error that no retry can cure (a malformed request, a value over the
/// body limit, a component that is not configured or not scoped to this app) is permanent: retried,
/// it would be retried for ever, so callers drop or fail with its reason instead.
/// </summary>
public static class TransientFailure
{
    /// <summary>Error codes of daprd's HTTP API (actors) that no retry cures.</summary>
    private static readonly HashSet<string> PermanentErrorCodes = new(StringComparer.Ordinal)
    {
        "ERR_MALFORMED_REQUEST", "ERR_MALFORMED_REQUEST_DATA", "ERR_BODY_TOO_LARGE", "ERR_DESERIALIZE_HTTP_BODY",
        "ERR_STATE_STORE_NOT_FOUND", "ERR_STATE_STORES_NOT_CONFIGURED", "ERR_ACTOR_STATE_STORE_NOT_FOUND",
        "ERR_PUBSUB_NOT_FOUND", "ERR_PUBSUB_NOT_CONFIGURED", "ERR_TOPIC_NAME_EMPTY", "ERR_PUBSUB_EMPTY",
        "ERR_ACTOR_REMINDER_NON_HOSTED", "ERR_ACTOR_TIMER_CREATE", "ERR_DIRECT_INVOKE_METHOD_NOT_FOUND",
    };

    /// <summary>Whether <paramref name="exception"/> is transient.</summary>
    public static bool Is(Exception exception) => exception switch
    {
        InvalidDataException => false,
        // A full node store is push-back: the same step succeeds once what it holds is folded and deleted.
        Aggregator.Storage.UpdateStoreFullException => true,
        RpcException rpc => IsTransient(rpc.StatusCode),
        global::Dapr.DaprApiException api => api.ErrorCode is null || !PermanentErrorCodes.Contains(api.ErrorCode),
        IOException or TimeoutException or HttpRequestException => true,
        TaskCanceledException or OperationCanceledException => true,
        AggregateException a => a.InnerExceptions.All(Is),
        // DaprClient wraps the gRPC failure; without one (a serialisation problem in the SDK) it is not the network's.
        global::Dapr.DaprException { InnerException: null } => false,
        _ => exception.InnerException is { } inner && Is(inner),
    };

    /// <summary>
    /// Whether <paramref name="exception"/> is a sidecar or component error that no retry cures
    /// (see <see cref="Is"/>); false for failures that are not the sidecar's.
    /// </summary>
    public static bool IsPermanentSidecarError(Exception exception) =>
        !Is(exception) && exception is RpcException or global::Dapr.DaprException;

    /// <summary>
    /// gRPC codes daprd answers for conditions that pass: the sidecar or its component unreachable or
    /// overloaded (Unavailable, DeadlineExceeded, Aborted, Cancelled), or a component failing inside
    /// (Internal, Unknown: daprd reports a Redis outage as Internal). The others describe the request:
    /// InvalidArgument (no such store, or not scoped to this app), ResourceExhausted (over the 4 MB
    /// message limit), NotFound, FailedPrecondition, PermissionDenied, Unimplemented.
    /// </summary>
    private static bool IsTransient(StatusCode code) => code is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Aborted
        or StatusCode.Cancelled or StatusCode.Internal or StatusCode.Unknown;
}

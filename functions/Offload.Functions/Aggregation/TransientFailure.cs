namespace Offload.Functions.Aggregation;

/// <summary>Which failures are worth a redelivery: the store, the sidecar or the network being briefly unavailable.</summary>
public static class TransientFailure
{
    /// <summary>Whether <paramref name="exception"/> is transient.</summary>
    public static bool Is(Exception exception) => exception switch
    {
        InvalidDataException => false,
        IOException or TimeoutException or HttpRequestException => true,
        global::Dapr.DaprException => true,
        Grpc.Core.RpcException => true,
        TaskCanceledException or OperationCanceledException => true,
        AggregateException a => a.InnerExceptions.All(Is),
        _ => exception.InnerException is { } inner && Is(inner),
    };
}

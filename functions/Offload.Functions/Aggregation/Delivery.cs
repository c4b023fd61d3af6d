namespace Offload.Functions.Aggregation;

/// <summary>A function's answer for one event, with the reason for a retry or a drop.</summary>
/// <param name="Status">The answer.</param>
/// <param name="Reason">Why, for <see cref="DeliveryStatus.Retry"/> and <see cref="DeliveryStatus.Drop"/>.</param>
public sealed record Delivery(DeliveryStatus Status, string? Reason = null)
{
    /// <summary>Handled.</summary>
    public static Delivery Success { get; } = new(DeliveryStatus.Success);

    /// <summary>Redeliver later, because of <paramref name="reason"/>.</summary>
    public static Delivery Retry(string reason) => new(DeliveryStatus.Retry, reason);

    /// <summary>Never redeliver, because of <paramref name="reason"/>.</summary>
    public static Delivery Drop(string reason) => new(DeliveryStatus.Drop, reason);

    /// <summary>The status word Dapr expects: SUCCESS, RETRY or DROP.</summary>
    public string DaprStatus => Status switch
    {
        DeliveryStatus.Success => "SUCCESS",
        DeliveryStatus.Retry => "RETRY",
        _ => "DROP",
    };
}

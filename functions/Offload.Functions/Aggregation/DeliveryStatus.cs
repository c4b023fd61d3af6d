namespace Offload.Functions.Aggregation;

/// <summary>What a function tells the sidecar about one event (Dapr's pub/sub response statuses).</summary>
public enum DeliveryStatus
{
    /// <summary>Handled (or knowingly ignored, such as a late or duplicate update): do not redeliver.</summary>
    Success,

    /// <summary>A transient failure (store or sidecar unavailable): redeliver later.</summary>
    Retry,

    /// <summary>A poisoned event (malformed, unknown round, invalid payload): never redeliver.</summary>
    Drop,
}

using System.Text.Json;

namespace Offload.Functions.Subscriptions;

/// <summary>The JSON conventions of events on Dapr (web defaults: camelCase, as <c>DaprClient</c> publishes them).</summary>
public static class EventJson
{
    /// <summary>The serializer options events are read and written with.</summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web);

    /// <summary>
    /// The event inside a delivered element: a CloudEvent's <c>data</c> when the element is a
    /// CloudEvent envelope, otherwise the element itself (raw payloads, or a body the CloudEvents
    /// middleware already unwrapped).
    /// </summary>
    public static JsonElement Unwrap(JsonElement element) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty("specversion", out _) && element.TryGetProperty("data", out var data)
            ? data
            : element;
}

using System.Text.Json;

namespace Offload.Functions.Subscriptions;

/// <summary>The JSON conventions of events on Dapr (web defaults: camelCase, as <c>DaprClient</c> publishes them).</summary>
public static class EventJson
{
    /// <summary>The serializer options events are read and written with.</summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web);

    /// <summary>
    /// The event inside a delivered element, in each form daprd delivers: a CloudEvent's <c>data</c>;
    /// a CloudEvent's <c>data_base64</c> (how daprd wraps a message a raw publisher sent, as
    /// components-contrib's <c>FromRawPayload</c> does, with datacontenttype application/octet-stream),
    /// decoded and read as JSON; otherwise the element itself (a raw payload, or a body the CloudEvents
    /// middleware already unwrapped).
    /// </summary>
    /// <exception cref="JsonException">data_base64 does not hold JSON.</exception>
    /// <exception cref="FormatException">data_base64 is not base64.</exception>
    public static JsonElement Unwrap(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty("specversion", out _)) return element;
        if (element.TryGetProperty("data", out var data)) return data;
        if (element.TryGetProperty("data_base64", out var encoded) && encoded.ValueKind == JsonValueKind.String)
        {
            using var document = JsonDocument.Parse(encoded.GetBytesFromBase64());
            return document.RootElement.Clone();
        }
        return element;
    }
}

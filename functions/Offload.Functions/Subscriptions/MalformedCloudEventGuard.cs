using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Offload.Functions.Subscriptions;

/// <summary>
/// Runs before the CloudEvents middleware, which throws on a body that is not JSON, not an object, or
/// whose <c>data_base64</c> is not base64 (the sidecar would read the 500 as "retry" and redeliver a
/// poisoned event forever): such a CloudEvent is answered <c>{"status":"DROP"}</c> with a 200 and the
/// reason naming the field, and logged. A 4xx would not do: daprd drops only on 404 and retries
/// every other non-2xx answer (pub/sub API reference, "Expected HTTP Response").
/// </summary>
public static class MalformedCloudEventGuard
{
    /// <summary>The middleware.</summary>
    public static async Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        if (!HttpMethods.IsPost(context.Request.Method)
            || context.Request.ContentType?.StartsWith("application/cloudevents+json", StringComparison.OrdinalIgnoreCase) != true)
        {
            await next().ConfigureAwait(false);
            return;
        }
        context.Request.EnableBuffering();
        string? problem = null;
        try
        {
            using var document = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted).ConfigureAwait(false);
            problem = EnvelopeProblem(document.RootElement);
        }
        catch (JsonException e)
        {
            problem = $"The CloudEvent is not JSON: {e.Message}";
        }
        context.Request.Body.Position = 0;
        if (problem is null)
        {
            await next().ConfigureAwait(false);
            return;
        }
        string reason = problem;
        context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(MalformedCloudEventGuard).FullName!)
            .LogWarning("Dropped an event posted to {Path}: {Reason}", context.Request.Path, reason);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(new JsonObject { ["status"] = "DROP", ["reason"] = reason }.ToJsonString(), context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Why the CloudEvents middleware could not unwrap <paramref name="envelope"/>, or null.</summary>
    private static string? EnvelopeProblem(JsonElement envelope)
    {
        if (envelope.ValueKind != JsonValueKind.Object) return $"The CloudEvent is a JSON {envelope.ValueKind}, not an object.";
        if (envelope.TryGetProperty("datacontenttype", out var type) && type.ValueKind is not JsonValueKind.String and not JsonValueKind.Null)
            return "The CloudEvent's datacontenttype is not a string.";
        bool hasData = envelope.TryGetProperty("data", out _);
        if (!envelope.TryGetProperty("data_base64", out var encoded)) return null;
        if (hasData) return "The CloudEvent holds both data and data_base64.";
        if (encoded.ValueKind != JsonValueKind.String || !encoded.TryGetBytesFromBase64(out _)) return "The CloudEvent's data_base64 is not a base64 string.";
        return null;
    }
}

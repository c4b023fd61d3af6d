using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Offload.Functions.Subscriptions;

/// <summary>
/// Runs before the CloudEvents middleware, which throws on a body that is not JSON (the sidecar would
/// read the 500 as "retry" and redeliver a poisoned event forever): such a CloudEvent is answered
/// <c>{"status":"DROP"}</c> with the reason, and logged.
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
            using var _ = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            problem = e.Message;
        }
        context.Request.Body.Position = 0;
        if (problem is null)
        {
            await next().ConfigureAwait(false);
            return;
        }
        string reason = $"The CloudEvent is not JSON: {problem}";
        context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(MalformedCloudEventGuard).FullName!)
            .LogWarning("Dropped an event posted to {Path}: {Reason}", context.Request.Path, reason);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(new JsonObject { ["status"] = "DROP", ["reason"] = reason }.ToJsonString(), context.RequestAborted).ConfigureAwait(false);
    }
}

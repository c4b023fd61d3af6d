using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Offload.Functions.Names;
using Offload.Functions.Rounds;
using Offload.Functions.Subscriptions;

namespace Offload.Functions.Hosting;

/// <summary>
/// Runs before the actor routes (<c>PUT /actors/RoundActor/{id}/method/{method}</c>) and answers a
/// malformed call with 400 and a JSON body naming the bad field, instead of letting it reach the
/// actor runtime (which answers an exception with 500, and folded nothing it could check): an actor
/// id that is not <c>round-{n}</c>, an unknown method, a body that is not the method's JSON, or a
/// field out of range, such as an arrival whose contribution id is not the client's own update.
/// The round's actor keeps the same checks (<see cref="Arrival.Validate"/> and the others), so the
/// guard only answers earlier and more clearly.
/// </summary>
public static class RoundActorCallGuard
{
    /// <summary>The error code of the 400 answer.</summary>
    public const string ErrorCode = "ERR_MALFORMED_ACTOR_CALL";

    private static readonly string Prefix = $"/actors/{DaprNames.RoundActorType}/";

    /// <summary>The middleware.</summary>
    public static async Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        string path = context.Request.Path.Value ?? "";
        if (!path.StartsWith(Prefix, StringComparison.Ordinal))
        {
            await next().ConfigureAwait(false);
            return;
        }
        var parts = path[Prefix.Length..].Split('/');
        string? problem = RoundOf(parts[0], out long round);
        string field = "id";
        // Reminder and timer callbacks (method/remind/..., method/timer/...) come from daprd itself and carry no call body.
        if (problem is null && parts.Length == 3 && parts[1] == "method")
        {
            context.Request.EnableBuffering();
            JsonElement body = default;
            try
            {
                using var copy = new MemoryStream();
                await context.Request.Body.CopyToAsync(copy, context.RequestAborted).ConfigureAwait(false);
                if (copy.Length > 0)
                {
                    using var document = JsonDocument.Parse(copy.ToArray());
                    body = document.RootElement.Clone();
                }
            }
            catch (JsonException e)
            {
                problem = $"The body of {parts[2]} is not JSON: {e.Message}";
                field = "body";
            }
            context.Request.Body.Position = 0;
            if (problem is null) (problem, field) = MethodProblem(parts[2], body, round);
        }
        if (problem is null)
        {
            await next().ConfigureAwait(false);
            return;
        }
        context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RoundActorCallGuard).FullName!)
            .LogWarning("Refused an actor call to {Path}: {Problem}", path, problem);
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(new JsonObject { ["errorCode"] = ErrorCode, ["field"] = field, ["message"] = problem }.ToJsonString(), context.RequestAborted).ConfigureAwait(false);
    }

    private static string? RoundOf(string id, out long round)
    {
        round = 0;
        const string prefix = "round-";
        if (!id.StartsWith(prefix, StringComparison.Ordinal)
            || !long.TryParse(id.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out round) || round < 1
            || id != RoundActor.IdFor(round))
            return $"Actor id '{id}' is not a round's ('round-{{n}}', n from 1).";
        return null;
    }

    /// <summary>Why the call's body cannot be taken by <paramref name="method"/> of round <paramref name="round"/>, and the field, or (null, "").</summary>
    private static (string? Problem, string Field) MethodProblem(string method, JsonElement body, long round)
    {
        try
        {
            switch (method)
            {
                case nameof(IRoundActor.Close) or nameof(IRoundActor.GetStatus):
                    return (null, "");
                case nameof(IRoundActor.Open):
                    // The id first: a whole, valid opening of another round is still refused.
                    var opening = Read<RoundOpening>(body, method);
                    if (opening.Round != round) return ($"RoundOpening.round is {opening.Round}; actor '{RoundActor.IdFor(round)}' opens round {round}.", "round");
                    opening.Validate();
                    return (null, "");
                case nameof(IRoundActor.Arrive):
                    Read<Arrival>(body, method).Validate();
                    return (null, "");
                case nameof(IRoundActor.PartialArrived):
                    Read<PartialClaim>(body, method).Validate(round);
                    return (null, "");
                case nameof(IRoundActor.Claim) or nameof(IRoundActor.Release):
                    Read<AggregatorSlot>(body, method).Validate();
                    return (null, "");
                case nameof(IRoundActor.ConfirmPublished):
                    Read<PublishedModel>(body, method).Validate(round);
                    return (null, "");
                default:
                    return ($"{DaprNames.RoundActorType} has no method '{method}'.", "method");
            }
        }
        catch (ArgumentException e)
        {
            return (e.Message, e.ParamName is { Length: > 0 } name ? char.ToLowerInvariant(name[0]) + name[1..] : "body");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Reading and checking are pure: whatever fails here (a field of the wrong JSON type, a layout's shape missing) is the body's fault.
            return ($"The body of {method} is not a valid call: {e.Message}", "body");
        }
    }

    private static T Read<T>(JsonElement body, string method) where T : class =>
        body.ValueKind == JsonValueKind.Object
            ? body.Deserialize<T>(EventJson.Options) ?? throw new ArgumentException($"The body of {method} is empty.", "body")
            : throw new ArgumentException($"{method} takes a JSON object ({typeof(T).Name}); the body is {(body.ValueKind == JsonValueKind.Undefined ? "missing" : $"a JSON {body.ValueKind}")}.", "body");
}

namespace Offload.Cli.Deployment;

/// <summary>Something in a rendered overlay an operator would be bitten by.</summary>
/// <param name="Rule">The check that found it (for example <c>scaling</c>, <c>containers</c>).</param>
/// <param name="Subject">The object, <c>Kind/name</c>, and where in it (a container, a trigger).</param>
/// <param name="Message">What is wrong and what it breaks.</param>
public sealed record DeploymentFinding(string Rule, string Subject, string Message)
{
    /// <inheritdoc />
    public override string ToString() => $"[{Rule}] {Subject}: {Message}";
}

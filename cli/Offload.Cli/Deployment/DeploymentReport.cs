namespace Offload.Cli.Deployment;

/// <summary>What <see cref="DeploymentCheck"/> found in one overlay.</summary>
/// <param name="Overlay">The overlay's name.</param>
/// <param name="Objects">Objects rendered, by kind.</param>
/// <param name="Findings">What is wrong; empty when the overlay passes.</param>
/// <param name="ExternalSecrets">Secrets the overlay names but does not render: the operator creates them before applying it.</param>
/// <param name="Rules">The checks that ran.</param>
public sealed record DeploymentReport(
    string Overlay,
    IReadOnlyDictionary<string, int> Objects,
    IReadOnlyList<DeploymentFinding> Findings,
    IReadOnlyList<string> ExternalSecrets,
    IReadOnlyList<string> Rules)
{
    /// <summary>Whether nothing was found.</summary>
    public bool Passed => Findings.Count == 0;
}

namespace Offload.Client.Inversion;

/// <summary>The outcome of one gradient-inversion correction.</summary>
/// <param name="FreshUpdate">The estimated update of the client's data on the current model.</param>
/// <param name="RelativeError">
/// The quality gate's measure, needing no client data: ||stale - c * U(w_base; D̂)|| / ||stale|| over the
/// matched entries, how well the recovered data reproduces the stale update from the base model.
/// </param>
/// <param name="Scale">The least-squares scale c applied to what the recovered data gives.</param>
/// <param name="Iterations">Optimisation iterations run.</param>
/// <param name="WarmStarted">Whether the dummy data started from a previous inversion.</param>
/// <param name="FinalLoss">The matching loss at the last iteration.</param>
/// <param name="Recovered">The recovered dummy data (the next warm start).</param>
public sealed record InversionResult(float[] FreshUpdate, double RelativeError, double Scale, int Iterations,
    bool WarmStarted, double FinalLoss, RecoveredData Recovered);

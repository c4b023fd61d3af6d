namespace Offload.Cli.Simulation;

/// <summary>One row of <c>rounds.csv</c>: what a round cost and what the new global model scores.</summary>
/// <param name="Round">1-based round number.</param>
/// <param name="Accuracy">Test accuracy of the global model after the round.</param>
/// <param name="Loss">Mean test cross-entropy after the round.</param>
/// <param name="BytesUp">Bytes the round's clients sent (real payload sizes).</param>
/// <param name="BytesDown">Bytes the round's clients received.</param>
/// <param name="Seconds">Wall time of the round, evaluation included.</param>
/// <param name="TrainSeconds">Wall time of the concurrent local-training phase.</param>
/// <param name="AggregateSeconds">Time spent folding updates and applying the server step (folding overlaps training).</param>
/// <param name="EvaluateSeconds">Wall time of the test-set evaluation.</param>
/// <param name="Clients">Clients whose updates were folded in.</param>
/// <param name="Rejected">Updates refused by validation (for example a diverged client's NaN).</param>
/// <param name="TrainLoss">Mean local training loss over the round's clients.</param>
/// <param name="UpdateNorm">L2 norm of the round's aggregated update.</param>
/// <param name="StepNorm">L2 norm of the change the server step made to the model.</param>
/// <param name="Placement">The round's tree placed on the simulated nodes (<c>--nodes</c> above 1), or null.</param>
public sealed record RoundRecord(
    int Round, double Accuracy, double Loss, long BytesUp, long BytesDown, double Seconds,
    double TrainSeconds, double AggregateSeconds, double EvaluateSeconds, int Clients, int Rejected, double TrainLoss,
    double UpdateNorm = 0, double StepNorm = 0, RoundPlacement? Placement = null);

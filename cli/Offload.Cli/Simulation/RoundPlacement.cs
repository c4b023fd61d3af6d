namespace Offload.Cli.Simulation;

/// <summary>
/// One round's tree placed on the simulated nodes (<c>simulate --nodes</c>), by the locality-aware
/// planner and by LIFL's round-robin pairing, over the round's real updates (their landing nodes and
/// mean payload size) and dense partials of the model's size.
/// </summary>
/// <param name="PlannedLocal">Share of the hop bytes that stay on their node, planned.</param>
/// <param name="RoundRobinLocal">The same, round-robin.</param>
/// <param name="PlannedCrossBytes">Bytes that cross nodes, planned.</param>
/// <param name="RoundRobinCrossBytes">Bytes that cross nodes, round-robin.</param>
/// <param name="Aggregators">Aggregators in the planned tree.</param>
/// <param name="Overcommitted">Aggregators the plan put past a node's capacity (0 when the cluster fits the round).</param>
public sealed record RoundPlacement(double PlannedLocal, double RoundRobinLocal, long PlannedCrossBytes, long RoundRobinCrossBytes, int Aggregators, int Overcommitted);

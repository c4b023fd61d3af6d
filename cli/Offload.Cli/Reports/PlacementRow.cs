namespace Offload.Cli.Reports;

/// <summary>One configuration of <c>offload bench placement</c>: the planner against round-robin.</summary>
public sealed record PlacementRow(int Nodes, int Updates, double PlannedLocal, double RoundRobinLocal, long PlannedCross, long RoundRobinCross,
    double PlannerMilliseconds, int PlannedAggregators, int RoundRobinAggregators, int Overcommitted);

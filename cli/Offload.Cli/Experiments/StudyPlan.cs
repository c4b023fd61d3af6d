using Offload.Cli.Simulation;

namespace Offload.Cli.Experiments;

/// <summary>One planned run of a study: its folder name, its settings, and who attacks (null: nobody).</summary>
/// <param name="Name">The run's folder under the study's output.</param>
/// <param name="Options">The simulation's settings (strategy included).</param>
/// <param name="Attack">The Byzantine clients, or null.</param>
/// <param name="AttackName">How the attack is reported ("none" without one).</param>
public sealed record StudyPlan(string Name, SimulationOptions Options, ByzantineClients? Attack = null, string AttackName = "none");

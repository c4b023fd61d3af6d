using Offload.Core.Model;

namespace Offload.Cli.Simulation.Asynchronous;

/// <summary>One client's update reaching the server.</summary>
/// <param name="Client">The client's index.</param>
/// <param name="BaseVersion">The global version the client trained from.</param>
/// <param name="Time">Virtual time of the arrival (seconds for device heterogeneity, rounds for a fixed delay).</param>
public readonly record struct Arrival(int Client, ModelVersion BaseVersion, double Time);

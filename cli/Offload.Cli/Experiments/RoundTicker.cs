using Offload.Cli.Simulation;
using Spectre.Console;

namespace Offload.Cli.Experiments;

/// <summary>Advances a progress bar by one per round (the studies' runs).</summary>
internal sealed class RoundTicker(ProgressTask task) : ISimulationObserver
{
    public void RoundStarted(int round, int selected) { }

    public void ClientFinished(int round, int finished, int selected) { }

    public void RoundFinished(RoundRecord record) => task.Increment(1);
}

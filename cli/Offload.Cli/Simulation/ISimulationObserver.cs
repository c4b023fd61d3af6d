namespace Offload.Cli.Simulation;

/// <summary>Hears a simulation's progress; the simulator itself never writes to the console.</summary>
public interface ISimulationObserver
{
    /// <summary>A round began with <paramref name="selected"/> clients.</summary>
    void RoundStarted(int round, int selected);

    /// <summary>A client of the current round finished training.</summary>
    void ClientFinished(int round, int finished, int selected);

    /// <summary>A round ended and the new global model was evaluated.</summary>
    void RoundFinished(RoundRecord record);
}

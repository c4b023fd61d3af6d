namespace Offload.Cli.Simulation.Asynchronous;

/// <summary>Hears an asynchronous run's progress; the simulator itself never writes to the console.</summary>
public interface IAsyncSimulationObserver
{
    /// <summary>A version was published (and evaluated when its accuracy is not NaN).</summary>
    void VersionPublished(VersionRecord record);
}

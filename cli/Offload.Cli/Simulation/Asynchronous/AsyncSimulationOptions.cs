using Offload.Core.Federation;
using Offload.Aggregator.Buffered;
using Offload.Client.Training;

namespace Offload.Cli.Simulation.Asynchronous;

/// <summary>Settings of a buffered asynchronous (FedBuff) simulation; immutable, checked by <see cref="Validate"/>.</summary>
public sealed record AsyncSimulationOptions
{
    /// <summary>Model versions to produce (each one buffer of arrivals).</summary>
    public int Versions { get; init; } = 50;

    /// <summary>The server's buffer, step and window of past models.</summary>
    public FedBuffOptions Server { get; init; } = new();

    /// <summary>Each client's local training.</summary>
    public TrainingOptions Training { get; init; } = new(1, 50, 0.05);

    /// <summary>Evaluate the global model on the test set every this many versions (and always after the last).</summary>
    public int EvaluateEvery { get; init; } = 1;

    /// <summary>Test samples evaluated (the first ones); 0 means the whole test set.</summary>
    public int EvaluationSamples { get; init; }

    /// <summary>Clients trained at once (each worker holds one model copy).</summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    /// <summary>Stale updates that may wait for the corrector before ingest is pushed back.</summary>
    public int CorrectionQueueCapacity { get; init; } = 4;

    /// <summary>
    /// Diagnostic: for every stale update, also train the client from the current model (what it would
    /// have sent without staleness) and record how far the folded and the raw stale updates are from it.
    /// Costs one extra local training per stale update and does not change the run.
    /// </summary>
    public bool MeasureAgainstFresh { get; init; }

    /// <summary>
    /// How updates travel, as in the synchronous simulation: null for raw float32 through the identity
    /// codec (exact), or FedZip with each client's error feedback. The server sees the decoded payload.
    /// </summary>
    public Offload.Core.Codec.FedZipOptions? FedZip { get; init; }

    /// <summary>Seeds local shuffling (the model's initialisation comes with the trainer factory).</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Throws when a setting is out of range; returns this for chaining.</summary>
    /// <exception cref="InvalidOptionException">The message names the setting and its allowed range.</exception>
    public AsyncSimulationOptions Validate()
    {
        if (Versions < 1) throw new InvalidOptionException($"--rounds must be at least 1 (got {Versions}).");
        if (EvaluateEvery < 1) throw new InvalidOptionException($"--eval-every must be at least 1 (got {EvaluateEvery}).");
        if (EvaluationSamples < 0) throw new InvalidOptionException($"--eval-samples must not be negative (got {EvaluationSamples}).");
        if (Workers < 1) throw new InvalidOptionException($"--workers must be at least 1 (got {Workers}).");
        if (CorrectionQueueCapacity < 1) throw new InvalidOptionException($"--queue must be at least 1 (got {CorrectionQueueCapacity}).");
        ArgumentNullException.ThrowIfNull(Training);
        try
        {
            ArgumentNullException.ThrowIfNull(Server);
            Server.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new InvalidOptionException($"{e.Message.Split('\n')[0].Trim()} (got {e.ActualValue}).");
        }
        return this;
    }
}

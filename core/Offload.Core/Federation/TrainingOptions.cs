namespace Offload.Core.Federation;

/// <summary>Hyper-parameters of one client's local training (what a round's task asks a device to train with), validated at construction.</summary>
public sealed record TrainingOptions
{
    /// <summary>Creates options.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A count is not positive or the learning rate is not a positive finite number.</exception>
    public TrainingOptions(int localEpochs = 1, int batchSize = 32, double learningRate = 0.05)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(localEpochs);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        if (!double.IsFinite(learningRate) || learningRate <= 0)
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The learning rate must be a positive finite number.");
        LocalEpochs = localEpochs;
        BatchSize = batchSize;
        LearningRate = learningRate;
    }

    /// <summary>Passes over the client's data per round (E in the FedAvg paper).</summary>
    public int LocalEpochs { get; }

    /// <summary>Samples per SGD step (B in the FedAvg paper).</summary>
    public int BatchSize { get; }

    /// <summary>SGD step size.</summary>
    public double LearningRate { get; }
}

namespace Offload.Core.Federation;

/// <summary>The hyper-parameters a round's task asks a device to train with, validated at construction.</summary>
public sealed record TrainingPlan
{
    /// <summary>Creates a plan.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A count is not positive or the learning rate is not a positive finite number.</exception>
    public TrainingPlan(int localEpochs, int batchSize, double learningRate)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(localEpochs);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        if (!double.IsFinite(learningRate) || learningRate <= 0)
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The learning rate must be a positive finite number.");
        LocalEpochs = localEpochs;
        BatchSize = batchSize;
        LearningRate = learningRate;
    }

    /// <summary>Passes over the device's data (E).</summary>
    public int LocalEpochs { get; }

    /// <summary>Samples per SGD step (B).</summary>
    public int BatchSize { get; }

    /// <summary>Local SGD step size.</summary>
    public double LearningRate { get; }
}

namespace Offload.Client.Training;

/// <summary>Loss and accuracy of a model on a set of samples, kept as sums so parts can be merged.</summary>
/// <param name="SampleCount">Samples evaluated.</param>
/// <param name="Correct">Samples whose arg-max prediction matched the label.</param>
/// <param name="LossSum">Sum of per-sample cross-entropy losses.</param>
public sealed record EvaluationResult(int SampleCount, int Correct, double LossSum)
{
    /// <summary>Fraction of samples predicted correctly.</summary>
    public double Accuracy => SampleCount == 0 ? 0 : (double)Correct / SampleCount;

    /// <summary>Mean cross-entropy loss.</summary>
    public double MeanLoss => SampleCount == 0 ? 0 : LossSum / SampleCount;

    /// <summary>The result over both sample sets.</summary>
    public EvaluationResult Merge(EvaluationResult other) =>
        new(SampleCount + other.SampleCount, Correct + other.Correct, LossSum + other.LossSum);
}

using Offload.Client.Training;
using Offload.Core.Data;

namespace Offload.Cli.Simulation;

/// <summary>Evaluates a model on the first samples of a test set, one contiguous slice per trainer, in parallel.</summary>
public static class SplitEvaluation
{
    /// <summary>Loss and accuracy of <paramref name="weights"/> on samples [0, <paramref name="samples"/>) of <paramref name="test"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="samples"/> is negative or beyond the test set.</exception>
    public static EvaluationResult Run(IReadOnlyList<ITrainer> trainers, ReadOnlySpan<float> weights, ImageDataset test, int samples)
    {
        ArgumentNullException.ThrowIfNull(trainers);
        ArgumentNullException.ThrowIfNull(test);
        ArgumentOutOfRangeException.ThrowIfNegative(samples);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(samples, test.Count);
        int parts = trainers.Count;
        int size = (samples + parts - 1) / parts;
        var results = new EvaluationResult[parts];
        var copy = weights.ToArray(); // A span cannot cross into the parallel lambdas.
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, p =>
        {
            int start = Math.Min(p * size, samples);
            results[p] = trainers[p].Evaluate(copy, test, start, Math.Min(size, samples - start));
        });
        var total = results[0];
        for (int p = 1; p < parts; p++) total = total.Merge(results[p]);
        return total;
    }
}

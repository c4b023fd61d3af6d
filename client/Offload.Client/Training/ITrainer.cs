using Offload.Core.Federation;
using Offload.Core.Data;
using Offload.Core.Model;

namespace Offload.Client.Training;

/// <summary>
/// Local training of one model on a client's data. Weights and updates cross this seam as flat
/// <see cref="float"/> buffers laid out by <see cref="Layout"/>, so codecs and aggregators never see
/// a tensor library's types, and a device app can bring another model or framework.
/// An instance is not thread-safe: one trainer per concurrently training client.
/// </summary>
public interface ITrainer : IDisposable
{
    /// <summary>The layout of the model's parameters.</summary>
    TensorLayout Layout { get; }

    /// <summary>Copies the model's current weights into <paramref name="destination"/>.</summary>
    void ExportWeights(Span<float> destination);

    /// <summary>
    /// Loads <paramref name="startWeights"/>, trains on the samples of <paramref name="data"/> named by
    /// <paramref name="indices"/>, and writes the update (new weights minus start weights) into
    /// <paramref name="update"/>. <paramref name="seed"/> fixes the order of samples.
    /// </summary>
    /// <exception cref="ArgumentException">A buffer does not match the layout, an index is out of range, or the data's image size differs from the model's input.</exception>
    /// <exception cref="TrainingDivergedException">Training diverged (a non-finite loss or update); <see cref="Federation.FederatedClient.ParticipateAsync"/> skips the round.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; trainers should observe it between batches.</exception>
    TrainingResult Train(ReadOnlySpan<float> startWeights, ImageDataset data, ReadOnlySpan<int> indices,
        TrainingOptions options, int seed, Span<float> update, CancellationToken cancellationToken = default);

    /// <summary>Evaluates <paramref name="weights"/> on samples [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>) of <paramref name="data"/>.</summary>
    /// <exception cref="ArgumentException">The weights do not match the layout or the range is outside the data.</exception>
    EvaluationResult Evaluate(ReadOnlySpan<float> weights, ImageDataset data, int start, int count);

    /// <summary>Evaluates <paramref name="weights"/> on the samples of <paramref name="data"/> named by <paramref name="indices"/> (a client's own data: federated evaluation).</summary>
    /// <exception cref="ArgumentException">The weights do not match the layout or an index is outside the data.</exception>
    EvaluationResult Evaluate(ReadOnlySpan<float> weights, ImageDataset data, ReadOnlySpan<int> indices);
}

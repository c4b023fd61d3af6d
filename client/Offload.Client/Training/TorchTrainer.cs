using Offload.Core.Federation;
using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Offload.Core.Data;
using Offload.Core.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Offload.Client.Training;

/// <summary>
/// <see cref="ITrainer"/> over a TorchSharp image classifier on the CPU, trained with plain SGD
/// (no momentum, so no optimiser state survives between rounds, as FedAvg assumes).
/// Weights move in and out through views of the parameters' native memory: no per-round tensor
/// allocation beyond what autograd needs. Every batch runs inside a dispose scope.
/// </summary>
public sealed class TorchTrainer : ITrainer
{
    /// <summary>Mean of Fashion-MNIST's training pixels scaled to [0, 1].</summary>
    public const float FashionMnistPixelMean = 0.2860f;

    /// <summary>Standard deviation of Fashion-MNIST's training pixels scaled to [0, 1].</summary>
    public const float FashionMnistPixelStd = 0.3530f;

    private const int EvaluationBatch = 500;

    private readonly nn.Module<Tensor, Tensor> _model;
    private readonly Parameter[] _parameters;
    private readonly int _rows;
    private readonly int _columns;
    private readonly int _classCount;
    private readonly float _scale;
    private readonly float _shift;
    private bool _disposed;

    /// <summary>Creates a trainer over <paramref name="model"/>, which it owns and disposes.</summary>
    /// <param name="model">A classifier taking [batch, 1, rows, columns] standardised pixels and returning [batch, classes] logits.</param>
    /// <param name="rows">Input image height.</param>
    /// <param name="columns">Input image width.</param>
    /// <param name="classCount">Number of classes the model predicts.</param>
    /// <param name="pixelMean">Mean of pixels scaled to [0, 1]; inputs are standardised with it (Fashion-MNIST's by default).</param>
    /// <param name="pixelStd">Standard deviation of pixels scaled to [0, 1].</param>
    public TorchTrainer(nn.Module<Tensor, Tensor> model, int rows, int columns, int classCount,
        float pixelMean = FashionMnistPixelMean, float pixelStd = FashionMnistPixelStd)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!float.IsFinite(pixelMean) || !float.IsFinite(pixelStd) || pixelStd <= 0)
            throw new ArgumentOutOfRangeException(nameof(pixelStd), pixelStd, "Pixel mean must be finite and the standard deviation positive.");
        // Standardising (x/255 - mean)/std conditions SGD far better than raw [0, 1] inputs.
        _scale = 1f / (255f * pixelStd);
        _shift = -pixelMean / pixelStd;
        _model = model;
        _rows = rows;
        _columns = columns;
        _classCount = classCount;
        var specs = new List<(string, int[])>();
        var parameters = new List<Parameter>();
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (parameter.dtype != ScalarType.Float32 || !parameter.is_contiguous())
                throw new ArgumentException($"Parameter '{name}' must be a contiguous float32 tensor.", nameof(model));
            specs.Add((name, Array.ConvertAll(parameter.shape, d => checked((int)d))));
            parameters.Add(parameter);
        }
        _parameters = parameters.ToArray();
        Layout = TensorLayout.Create(specs);
    }

    /// <summary>A trainer over the default <see cref="ImageClassifier"/>, initialised from <paramref name="seed"/>.</summary>
    /// <param name="seed">Seed of the initial weights.</param>
    /// <param name="rows">Input image height.</param>
    /// <param name="columns">Input image width.</param>
    /// <param name="classCount">Number of classes.</param>
    /// <param name="hidden">
    /// Width of the dense layer fc1, which holds most of the parameters: 64 gives about 46k (28x28
    /// inputs), 22,000 about 11.5M (46 MB of float32), a model size worth measuring transport with.
    /// </param>
    /// <remarks>
    /// Seeding goes through libtorch's default generator, of which a process has one: creation holds
    /// a process-wide lock from seeding to the last initialised parameter, so trainers made on
    /// concurrent threads (a host running several devices, parallel tests) still get exactly their
    /// seed's weights.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range (see <see cref="ImageClassifier.Create"/>).</exception>
    public static TorchTrainer CreateDefault(int seed, int rows = 28, int columns = 28, int classCount = 10, int hidden = 64)
    {
        lock (DefaultGeneratorGate)
        {
            torch.manual_seed(seed);
            return new TorchTrainer(ImageClassifier.Create(rows, columns, classCount, hidden: hidden), rows, columns, classCount);
        }
    }

    /// <summary>Guards libtorch's process-wide default generator between seeding and initialisation.</summary>
    private static readonly object DefaultGeneratorGate = new();

    /// <inheritdoc/>
    public TensorLayout Layout { get; }

    /// <inheritdoc/>
    public void ExportWeights(Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Layout.EnsureMatches(destination, nameof(destination));
        for (int i = 0; i < _parameters.Length; i++)
            ParameterView(i).CopyTo(Layout.Slice(destination, i));
    }

    /// <summary>Loads <paramref name="weights"/> into the model.</summary>
    /// <exception cref="ArgumentException">The buffer does not match the layout.</exception>
    public void ImportWeights(ReadOnlySpan<float> weights)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Layout.EnsureMatches(weights, nameof(weights));
        for (int i = 0; i < _parameters.Length; i++)
        {
            var t = Layout.Tensors[i];
            weights.Slice(t.Offset, t.Length).CopyTo(ParameterView(i));
        }
    }

    /// <inheritdoc/>
    /// <exception cref="TrainingDivergedException">A loss or the update is not finite.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (observed between batches).</exception>
    public TrainingResult Train(ReadOnlySpan<float> startWeights, ImageDataset data, ReadOnlySpan<int> indices,
        TrainingOptions options, int seed, Span<float> update, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        Layout.EnsureMatches(update, nameof(update));
        EnsureCompatible(data);
        if (indices.IsEmpty) throw new ArgumentException("A client needs at least one sample to train.", nameof(indices));
        foreach (int index in indices)
            if ((uint)index >= (uint)data.Count)
                throw new ArgumentException($"Sample index {index} is outside the data set of {data.Count}.", nameof(indices));

        ImportWeights(startWeights);
        int[] order = ArrayPool<int>.Shared.Rent(indices.Length);
        torch.Tensor[]? anchors = null;
        int steps = 0;
        double lossSum = 0;
        int lossSteps = 0;
        try
        {
            indices.CopyTo(order);
            var random = new Random(seed);
            _model.train();
            using var optimizer = torch.optim.SGD(_model.parameters(), options.LearningRate);
            // FedProx: the start weights as constants, for the proximal term (mu / 2) * ||w - w_start||^2.
            if (options.ProximalMu > 0) anchors = Anchors();
            for (int epoch = 0; epoch < options.LocalEpochs; epoch++)
            {
                random.Shuffle(order.AsSpan(0, indices.Length));
                lossSum = 0;
                lossSteps = 0;
                for (int start = 0; start < indices.Length; start += options.BatchSize)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    int count = Math.Min(options.BatchSize, indices.Length - start);
                    using var scope = torch.NewDisposeScope();
                    var (input, target) = Batch(data, order.AsSpan(start, count));
                    optimizer.zero_grad();
                    var loss = nn.functional.cross_entropy(_model.forward(input), target);
                    float value = loss.item<float>();
                    // Stepping on a NaN or infinite loss only spreads it: stop here, the update is garbage.
                    if (!float.IsFinite(value))
                        throw new TrainingDivergedException($"Training diverged: the loss of step {steps + 1} (epoch {epoch + 1}) is {value}.");
                    lossSum += value;
                    if (anchors is not null) loss = loss + ProximalTerm(anchors, options.ProximalMu);
                    loss.backward();
                    optimizer.step();
                    lossSteps++;
                    steps++;
                }
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(order);
            if (anchors is not null)
                foreach (var anchor in anchors) anchor.Dispose();
        }

        ExportWeights(update);
        TensorPrimitives.Subtract(update, startWeights, update);
        // The last step can overflow the weights even after a finite loss.
        int bad = ModelUpdate.FirstNonFinite(update);
        if (bad >= 0) throw new TrainingDivergedException($"Training diverged: after {steps} steps update value {bad} is {update[bad]}.");
        return new TrainingResult(indices.Length, steps, lossSteps == 0 ? 0 : lossSum / lossSteps);
    }

    /// <inheritdoc/>
    public EvaluationResult Evaluate(ReadOnlySpan<float> weights, ImageDataset data, int start, int count)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(data);
        EnsureCompatible(data);
        if (start < 0 || count < 0 || (long)start + count > data.Count)
            throw new ArgumentException($"Range [{start}, {(long)start + count}) is outside the data set of {data.Count}.", nameof(count));
        int[] all = ArrayPool<int>.Shared.Rent(Math.Max(count, 1));
        try
        {
            for (int i = 0; i < count; i++) all[i] = start + i;
            return Evaluate(weights, data, all.AsSpan(0, count));
        }
        finally
        {
            ArrayPool<int>.Shared.Return(all);
        }
    }

    /// <inheritdoc/>
    public EvaluationResult Evaluate(ReadOnlySpan<float> weights, ImageDataset data, ReadOnlySpan<int> indices)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(data);
        EnsureCompatible(data);
        foreach (int index in indices)
            if ((uint)index >= (uint)data.Count)
                throw new ArgumentException($"Sample index {index} is outside the data set of {data.Count}.", nameof(indices));
        ImportWeights(weights);
        _model.eval();
        int count = indices.Length;
        int batch = Math.Min(EvaluationBatch, Math.Max(count, 1));
        int[] order = ArrayPool<int>.Shared.Rent(batch);
        int correct = 0;
        double lossSum = 0;
        try
        {
            using var noGrad = torch.no_grad();
            for (int offset = 0; offset < count; offset += batch)
            {
                int n = Math.Min(batch, count - offset);
                indices.Slice(offset, n).CopyTo(order);
                using var scope = torch.NewDisposeScope();
                var (input, target) = Batch(data, order.AsSpan(0, n));
                var logits = _model.forward(input);
                lossSum += nn.functional.cross_entropy(logits, target, reduction: nn.Reduction.Sum).item<float>();
                correct += (int)logits.argmax(1).eq(target).sum().item<long>();
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(order);
        }
        return new EvaluationResult(count, correct, lossSum);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _model.Dispose();
    }

    /// <summary>Detached copies of the parameters: the start weights the proximal term pulls towards.</summary>
    private torch.Tensor[] Anchors()
    {
        var anchors = new torch.Tensor[_parameters.Length];
        using var noGrad = torch.no_grad();
        for (int i = 0; i < anchors.Length; i++) anchors[i] = _parameters[i].detach().clone().DetachFromDisposeScope();
        return anchors;
    }

    /// <summary>(mu / 2) * sum over parameters of ||w - w_start||^2, differentiable in w.</summary>
    private torch.Tensor ProximalTerm(torch.Tensor[] anchors, double mu)
    {
        var total = (_parameters[0] - anchors[0]).square().sum();
        for (int i = 1; i < anchors.Length; i++) total = total + (_parameters[i] - anchors[i]).square().sum();
        return total * (mu / 2);
    }

    private Span<float> ParameterView(int i) => MemoryMarshal.Cast<byte, float>(_parameters[i].bytes);

    private void EnsureCompatible(ImageDataset data)
    {
        if (data.Rows != _rows || data.Columns != _columns)
            throw new ArgumentException($"Images are {data.Rows}x{data.Columns}; the model takes {_rows}x{_columns}.", nameof(data));
        if (data.ClassCount > _classCount)
            throw new ArgumentException($"The data has {data.ClassCount} classes; the model predicts {_classCount}.", nameof(data));
    }

    /// <summary>
    /// Builds input and label tensors for the samples in <paramref name="batch"/>, standardising
    /// pixels. Written straight into views of fresh native tensors: no managed copy per batch.
    /// </summary>
    private (Tensor Input, Tensor Target) Batch(ImageDataset data, ReadOnlySpan<int> batch)
    {
        int size = data.ImageSize;
        var input = torch.empty(batch.Length, 1, _rows, _columns, ScalarType.Float32);
        var target = torch.empty(batch.Length, ScalarType.Int64);
        var pixels = MemoryMarshal.Cast<byte, float>(input.bytes);
        var labels = MemoryMarshal.Cast<byte, long>(target.bytes);
        for (int i = 0; i < batch.Length; i++)
        {
            TensorPrimitives.ConvertTruncating(data.Image(batch[i]), pixels.Slice(i * size, size));
            labels[i] = data.Labels[batch[i]];
        }
        TensorPrimitives.Multiply(pixels, _scale, pixels);
        TensorPrimitives.Add(pixels, _shift, pixels);
        return (input, target);
    }
}

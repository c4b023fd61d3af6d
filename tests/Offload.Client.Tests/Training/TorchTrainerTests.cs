using Offload.Core.Federation;
using Offload.Client.Training;
using Offload.Core.Data;

namespace Offload.Client.Tests.Training;

public class TorchTrainerTests
{
    /// <summary>Ten classes, each a bright 6x6 block at its own place plus seeded noise: learnable in a few steps.</summary>
    internal static ImageDataset Blocks(int perClass, int seed)
    {
        var random = new Random(seed);
        int n = perClass * 10;
        var pixels = new byte[n * 784];
        var labels = new byte[n];
        for (int i = 0; i < n; i++)
        {
            int label = i % 10;
            labels[i] = (byte)label;
            var image = pixels.AsSpan(i * 784, 784);
            for (int p = 0; p < 784; p++) image[p] = (byte)random.Next(0, 60);
            int top = 2 + (label / 5) * 12, left = 1 + (label % 5) * 5;
            for (int r = 0; r < 6; r++)
                for (int c = 0; c < 5; c++)
                    image[(top + r) * 28 + left + c] = 255;
        }
        return new ImageDataset(pixels, labels, 28, 28, 10);
    }

    private static int[] Range(int n) => Enumerable.Range(0, n).ToArray();

    [Fact]
    public void Trains_a_step_with_TorchSharp_so_the_native_library_loads()
    {
        // Fails with a DllNotFoundException/TypeInitializationException when the GLIBCXX build fix is broken.
        using var trainer = TorchTrainer.CreateDefault(seed: 1);
        var data = Blocks(4, 1);
        var start = new float[trainer.Layout.TotalLength];
        trainer.ExportWeights(start);
        var update = new float[start.Length];
        var result = trainer.Train(start, data, Range(8), new TrainingOptions(1, 8, 0.1), seed: 3, update);
        Assert.Equal(1, result.Steps);
        Assert.Equal(8, result.SampleCount);
        Assert.Contains(update, v => v != 0);
        Assert.All(update, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void The_FedProx_term_pulls_towards_the_start_weights_from_the_second_step_on()
    {
        using var trainer = TorchTrainer.CreateDefault(seed: 4);
        var data = Blocks(4, 4);
        var start = new float[trainer.Layout.TotalLength];
        trainer.ExportWeights(start);
        float[] Train(double mu, int samples)
        {
            var update = new float[start.Length];
            trainer.Train(start, data, Range(samples), new TrainingOptions(1, 8, 0.1) { ProximalMu = mu }, seed: 9, update);
            return update;
        }
        // One step: w equals w_start, so the term's gradient is zero and the step is plain SGD's.
        Assert.Equal(Train(0, 8), Train(5, 8));
        // Five steps: each pulls the weights back by lr * mu = 50% of their distance from the start.
        double plain = Norm(Train(0, 40)), proximal = Norm(Train(5, 40));
        Assert.True(proximal < 0.9 * plain, $"proximal update norm {proximal}, plain {plain}");
    }

    [Fact]
    public void Evaluating_by_indices_matches_the_range_and_names_a_bad_index()
    {
        using var trainer = TorchTrainer.CreateDefault(seed: 5);
        var data = Blocks(3, 5);
        var weights = new float[trainer.Layout.TotalLength];
        trainer.ExportWeights(weights);
        var range = trainer.Evaluate(weights, data, 4, 17);
        var byIndex = trainer.Evaluate(weights, data, Enumerable.Range(4, 17).Reverse().ToArray());
        Assert.Equal(range.SampleCount, byIndex.SampleCount);
        Assert.Equal(range.Correct, byIndex.Correct);
        Assert.Equal(range.LossSum, byIndex.LossSum, 3);
        Assert.Throws<ArgumentException>(() => trainer.Evaluate(weights, data, new[] { 0, 30 }));
    }

    private static double Norm(float[] values) => Math.Sqrt(values.Sum(v => (double)v * v));

    [Fact]
    public void Update_is_new_weights_minus_start_weights()
    {
        using var trainer = TorchTrainer.CreateDefault(seed: 2);
        var start = new float[trainer.Layout.TotalLength];
        trainer.ExportWeights(start);
        var update = new float[start.Length];
        trainer.Train(start, Blocks(2, 2), Range(20), new TrainingOptions(1, 10, 0.1), 5, update);
        var after = new float[start.Length];
        trainer.ExportWeights(after);
        for (int i = 0; i < start.Length; i++) Assert.Equal(after[i] - start[i], update[i], 6);
    }

    [Fact]
    public void Import_then_export_round_trips_through_the_layout()
    {
        using var trainer = TorchTrainer.CreateDefault(seed: 3);
        var weights = new float[trainer.Layout.TotalLength];
        for (int i = 0; i < weights.Length; i++) weights[i] = (i % 97) * 0.001f - 0.05f;
        trainer.ImportWeights(weights);
        var back = new float[weights.Length];
        trainer.ExportWeights(back);
        Assert.Equal(weights, back);
        Assert.Equal(new[] { "conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias" },
            trainer.Layout.Tensors.Select(t => t.Name));
        Assert.Equal(new[] { 16, 1, 5, 5 }, trainer.Layout.Tensors[0].Shape);
    }

    [Fact]
    public void Training_is_deterministic_by_seed_and_learns()
    {
        var data = Blocks(20, 4);
        float[] Run(int seed)
        {
            using var trainer = TorchTrainer.CreateDefault(seed: 7);
            var start = new float[trainer.Layout.TotalLength];
            trainer.ExportWeights(start);
            var update = new float[start.Length];
            trainer.Train(start, data, Range(data.Count), new TrainingOptions(8, 10, 0.1), seed, update);
            return update;
        }
        Assert.Equal(Run(11), Run(11));
        Assert.NotEqual(Run(11), Run(12));

        using var t = TorchTrainer.CreateDefault(seed: 7);
        var w = new float[t.Layout.TotalLength];
        t.ExportWeights(w);
        var before = t.Evaluate(w, data, 0, data.Count);
        var u = Run(11);
        for (int i = 0; i < w.Length; i++) w[i] += u[i];
        var after = t.Evaluate(w, data, 0, data.Count);
        Assert.True(after.Accuracy > 0.9 && after.MeanLoss < before.MeanLoss, $"accuracy {before.Accuracy} -> {after.Accuracy}, loss {before.MeanLoss} -> {after.MeanLoss}");
    }

    [Fact]
    public void Bad_inputs_are_refused_before_they_reach_libtorch()
    {
        using var trainer = TorchTrainer.CreateDefault(seed: 1);
        var data = Blocks(1, 1);
        var w = new float[trainer.Layout.TotalLength];
        trainer.ExportWeights(w);
        var opts = new TrainingOptions();
        Assert.Throws<ArgumentException>(() => trainer.Train(w, data, new[] { 0, 10 }, opts, 1, new float[w.Length]));
        Assert.Throws<ArgumentException>(() => trainer.Train(w, data, new[] { -1 }, opts, 1, new float[w.Length]));
        Assert.Throws<ArgumentException>(() => trainer.Train(w, data, Array.Empty<int>(), opts, 1, new float[w.Length]));
        Assert.Throws<ArgumentException>(() => trainer.Train(w.AsSpan(1), data, new[] { 0 }, opts, 1, new float[w.Length]));
        Assert.Throws<ArgumentException>(() => trainer.Train(w, data, new[] { 0 }, opts, 1, new float[3]));
        var small = new ImageDataset(new byte[4 * 14 * 14], new byte[4], 14, 14, 10);
        Assert.Throws<ArgumentException>(() => trainer.Train(w, small, new[] { 0 }, opts, 1, new float[w.Length]));
        Assert.Throws<ArgumentException>(() => trainer.Evaluate(w, data, 5, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingOptions(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingOptions(1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingOptions(1, 1, double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingOptions(1, 1, -0.1));
    }

    [Fact]
    public void Evaluation_parts_merge_to_the_whole()
    {
        using var trainer = TorchTrainer.CreateDefault(seed: 5);
        var data = Blocks(5, 9);
        var w = new float[trainer.Layout.TotalLength];
        trainer.ExportWeights(w);
        var whole = trainer.Evaluate(w, data, 0, 50);
        var merged = trainer.Evaluate(w, data, 0, 17).Merge(trainer.Evaluate(w, data, 17, 33));
        Assert.Equal(whole.Correct, merged.Correct);
        Assert.Equal(whole.LossSum, merged.LossSum, 3);
    }

    [Fact]
    public void Training_from_a_non_finite_model_stops_at_the_first_step_as_diverged()
    {
        using var trainer = TorchTrainer.CreateDefault(seed: 5);
        var data = Blocks(4, 5);
        var start = new float[trainer.Layout.TotalLength];
        trainer.ExportWeights(start);
        start[17] = float.NaN;
        var update = new float[start.Length];
        var e = Assert.Throws<TrainingDivergedException>(() => trainer.Train(start, data, Range(16), new TrainingOptions(1, 8, 0.1), seed: 2, update));
        Assert.Contains("loss of step 1", e.Message);
    }

    [Fact]
    public void Training_from_a_model_scaled_by_a_poisoned_update_diverges_and_says_so()
    {
        // The failure seen in the field: a x1e6 update folded into the global model; the next round's
        // training overflows. Old TorchTrainer returned a NaN update as if all were well.
        using var trainer = TorchTrainer.CreateDefault(seed: 6);
        var data = Blocks(4, 6);
        var start = new float[trainer.Layout.TotalLength];
        trainer.ExportWeights(start);
        for (int i = 0; i < start.Length; i++) start[i] *= 1e6f;
        var update = new float[start.Length];
        var e = Assert.Throws<TrainingDivergedException>(() => trainer.Train(start, data, Range(40), new TrainingOptions(1, 8, 0.1), seed: 2, update));
        Assert.Contains("Training diverged", e.Message);
    }

    [Fact]
    public void Training_observes_cancellation_between_batches()
    {
        using var trainer = TorchTrainer.CreateDefault(seed: 7);
        var data = Blocks(4, 7);
        var start = new float[trainer.Layout.TotalLength];
        trainer.ExportWeights(start);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => trainer.Train(start, data, Range(16), new TrainingOptions(1, 8, 0.1), seed: 2, new float[start.Length], cancelled.Token));
    }
}

using Offload.Core.Federation;
using Offload.Client.Inversion;
using Offload.Client.Training;
using Offload.Core.Model;

namespace Offload.Client.Tests.Inversion;

public class GradientInversionTests
{
    private static double RelativeError(float[] reference, float[] estimate)
    {
        double d = 0, n = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            d += Math.Pow(reference[i] - estimate[i], 2);
            n += (double)reference[i] * reference[i];
        }
        return Math.Sqrt(d / n);
    }

    private static InversionOptions Options(int unrolled) => new InversionOptions
    {
        DummySamples = 8,
        ColdStartIterations = 200,
        WarmStartIterations = 30,
        UnrolledSteps = unrolled,
    }.ForClient(new TrainingOptions(TinyTask.Steps, 8, TinyTask.LearningRate), 8);

    [Fact]
    public void Unrolled_forward_model_reproduces_local_training_on_the_same_data()
    {
        using var task = new TinyTask();
        // The client's own images with (almost) hard labels: the forward model must give its update.
        var pixels = new float[task.Client.Count * TinyTask.Side * TinyTask.Side];
        for (int i = 0; i < pixels.Length; i++)
            pixels[i] = (task.Client.Pixels[i] / 255f - TorchTrainer.FashionMnistPixelMean) / TorchTrainer.FashionMnistPixelStd;
        var logits = new float[task.Client.Count * 10];
        for (int s = 0; s < task.Client.Count; s++) logits[s * 10 + 3] = 40;
        var inversion = new GradientInversion(task.Trainer.Layout, TinyTask.Side, TinyTask.Side, 10, Options(unrolled: TinyTask.Steps));
        var reproduced = inversion.Reproduce(task.Base, new RecoveredData(task.Client.Count, pixels, logits));
        Assert.True(RelativeError(task.Stale, reproduced) < 1e-4, $"relative error {RelativeError(task.Stale, reproduced):E2}");
    }

    [Theory]
    [InlineData(TinyTask.Steps)] // Faithful: unrolls every local step.
    [InlineData(1)]              // The cheap one-step surrogate.
    public void Inversion_brings_the_stale_update_closer_to_the_true_fresh_one(int unrolled)
    {
        using var task = new TinyTask();
        double staleError = RelativeError(task.Fresh, task.Stale);
        Assert.True(staleError > 0.2, $"the setup must make staleness matter (stale vs fresh {staleError:F3})");

        var inversion = new GradientInversion(task.Trainer.Layout, TinyTask.Side, TinyTask.Side, 10, Options(unrolled));
        var result = inversion.Correct(task.Stale, task.Base, task.Current, warmStart: null, seed: 5);
        double correctedError = RelativeError(task.Fresh, result.FreshUpdate);
        Assert.True(correctedError < staleError, $"corrected {correctedError:F3} vs stale {staleError:F3}");
        Assert.True(result.RelativeError < 0.3, $"gate error {result.RelativeError:F3}");
        Assert.False(result.WarmStarted);
        Assert.Equal(200, result.Iterations);
    }

    [Fact]
    public void Correction_is_deterministic_by_seed_and_warm_starts_from_the_recovered_data()
    {
        using var task = new TinyTask();
        var inversion = new GradientInversion(task.Trainer.Layout, TinyTask.Side, TinyTask.Side, 10, Options(1) with { ColdStartIterations = 20 });
        var first = inversion.Correct(task.Stale, task.Base, task.Current, null, seed: 9);
        var again = inversion.Correct(task.Stale, task.Base, task.Current, null, seed: 9);
        // Same seed, same result; libtorch's multi-threaded backward may reorder float sums, so up to rounding.
        for (int i = 0; i < first.FreshUpdate.Length; i++) Assert.Equal(first.FreshUpdate[i], again.FreshUpdate[i], 1e-6f);
        for (int i = 0; i < first.Recovered.Pixels.Length; i++) Assert.Equal(first.Recovered.Pixels[i], again.Recovered.Pixels[i], 1e-4f);
        var other = inversion.Correct(task.Stale, task.Base, task.Current, null, seed: 10);
        Assert.NotEqual(first.Recovered.Pixels[0], other.Recovered.Pixels[0]);

        var warm = inversion.Correct(task.Stale, task.Base, task.Current, first.Recovered, seed: 9);
        Assert.True(warm.WarmStarted);
        Assert.Equal(30, warm.Iterations);
        Assert.True(warm.RelativeError <= first.RelativeError + 0.05);

        var misfit = new RecoveredData(3, new float[3 * 256], new float[30]); // Wrong sample count: ignored.
        Assert.False(inversion.Correct(task.Stale, task.Base, task.Current, misfit, seed: 9).WarmStarted);
    }

    [Fact]
    public void Sparse_update_is_matched_and_corrected_only_on_its_kept_entries()
    {
        using var task = new TinyTask();
        var sparse = (float[])task.Stale.Clone();
        var threshold = sparse.Select(MathF.Abs).Order().ElementAt(sparse.Length * 3 / 4); // Keep the top quarter.
        for (int i = 0; i < sparse.Length; i++) if (MathF.Abs(sparse[i]) < threshold) sparse[i] = 0;
        var inversion = new GradientInversion(task.Trainer.Layout, TinyTask.Side, TinyTask.Side, 10, Options(1) with { ColdStartIterations = 30 });
        var result = inversion.Correct(sparse, task.Base, task.Current, null, seed: 1);
        for (int i = 0; i < sparse.Length; i++)
            if (sparse[i] == 0) Assert.Equal(0f, result.FreshUpdate[i]);
        Assert.Contains(result.FreshUpdate, v => v != 0);
    }

    [Fact]
    public void Unsupported_models_and_bad_inputs_are_refused_before_reaching_libtorch()
    {
        using var task = new TinyTask();
        var layout = task.Trainer.Layout;
        var options = Options(1);
        var odd = TensorLayout.Create([("w", new[] { 2, 2, 2 }), ("b", new[] { 2 })]);
        Assert.Throws<ArgumentException>(() => new GradientInversion(odd, 16, 16, 10, options));
        Assert.Throws<ArgumentException>(() => new GradientInversion(layout, 28, 28, 10, options)); // fc1 would not fit.
        Assert.Throws<ArgumentException>(() => new GradientInversion(layout, 16, 16, 7, options));  // Wrong class count.
        Assert.Throws<ArgumentOutOfRangeException>(() => new GradientInversion(layout, 16, 16, 10, options with { UnrolledSteps = 99 }));
        var inversion = new GradientInversion(layout, 16, 16, 10, options);
        var bad = (float[])task.Stale.Clone();
        bad[5] = float.NaN;
        Assert.Throws<ArgumentException>(() => inversion.Correct(bad, task.Base, task.Current, null, 0));
        Assert.Throws<ArgumentException>(() => inversion.Correct(task.Stale, new float[3], task.Current, null, 0));
    }
}

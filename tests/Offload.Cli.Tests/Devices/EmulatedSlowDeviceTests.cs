using Offload.Cli.Devices;
using Offload.Client.Training;
using Offload.Core.Data;
using Offload.Core.Federation;

namespace Offload.Cli.Tests.Devices;

public class EmulatedSlowDeviceTests
{
    private static ImageDataset Data()
    {
        var random = new Random(3);
        var pixels = new byte[8 * 28 * 28];
        random.NextBytes(pixels);
        return new ImageDataset(pixels, [0, 1, 2, 3, 4, 5, 6, 7], 28, 28, 10);
    }

    [Fact]
    public void The_update_is_the_real_one_only_later()
    {
        var data = Data();
        int[] indices = [0, 1, 2, 3, 4, 5, 6, 7];
        var options = new TrainingOptions(1, 4, 0.1);
        using var plain = TorchTrainer.CreateDefault(1, hidden: 4);
        using var slow = new EmulatedSlowDevice(TorchTrainer.CreateDefault(1, hidden: 4), slowdown: 2, uploadDelay: TimeSpan.FromMilliseconds(20));
        var start = new float[plain.Layout.TotalLength];
        plain.ExportWeights(start);
        var expected = new float[start.Length];
        var actual = new float[start.Length];
        plain.Train(start, data, indices, options, seed: 5, expected);
        slow.Train(start, data, indices, options, seed: 5, actual);

        Assert.Equal(expected, actual);
        Assert.True(slow.Waited >= TimeSpan.FromMilliseconds(20), $"waited {slow.Waited}");
        Assert.Equal(plain.Layout, slow.Layout);
    }

    [Fact]
    public async Task A_stop_ends_the_wait()
    {
        var data = Data();
        using var slow = new EmulatedSlowDevice(TorchTrainer.CreateDefault(1, hidden: 4), slowdown: 1, uploadDelay: TimeSpan.FromHours(1));
        var start = new float[slow.Layout.TotalLength];
        slow.ExportWeights(start);
        using var stop = new CancellationTokenSource();
        var training = Task.Run(() => slow.Train(start, data, [0, 1], new TrainingOptions(1, 2, 0.1), 5, new float[start.Length], stop.Token));
        stop.CancelAfter(TimeSpan.FromMilliseconds(50));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => training.WaitAsync(TimeSpan.FromSeconds(60)));
    }

    [Theory]
    [InlineData(0.5, 0)]
    [InlineData(double.NaN, 0)]
    [InlineData(2, -1)]
    public void Settings_out_of_range_are_refused(double slowdown, double delaySeconds)
    {
        using var inner = TorchTrainer.CreateDefault(1, hidden: 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => new EmulatedSlowDevice(inner, slowdown, TimeSpan.FromSeconds(delaySeconds)));
    }
}

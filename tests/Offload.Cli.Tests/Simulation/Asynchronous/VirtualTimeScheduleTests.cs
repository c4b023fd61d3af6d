using Offload.Cli.Simulation.Asynchronous;
using Offload.Core.Model;

namespace Offload.Cli.Tests.Simulation.Asynchronous;

public class VirtualTimeScheduleTests
{
    private static List<(Arrival Arrival, long Staleness)> Drive(IArrivalSchedule schedule, int versions)
    {
        var all = new List<(Arrival, long)>();
        var current = ModelVersion.Initial;
        for (int v = 0; v < versions; v++)
        {
            foreach (var a in schedule.NextBuffer(current)) all.Add((a, a.BaseVersion.StalenessAt(current)));
            current = current.Next();
        }
        return all;
    }

    [Fact]
    public void A_device_ten_times_slower_arrives_nine_versions_stale()
    {
        // Client 0 finishes a task every second, client 1 every ten; both run at once; K = 1.
        var profiles = new[] { new DeviceProfile(100, 1e12), new DeviceProfile(10, 1e12) };
        var schedule = new VirtualTimeSchedule(profiles, concurrency: 2, sampleCounts: [100, 100], localEpochs: 1, modelBytes: 0, bufferSize: 1, seed: 1);
        var arrivals = Drive(schedule, 12);
        // The fast client is never stale; the slow one, dispatched at v0, arrives when v9 is current.
        var slow = arrivals.First(a => a.Arrival.Client == 1);
        Assert.Equal(9, slow.Staleness);
        Assert.Equal(10.0, slow.Arrival.Time, 9);
        Assert.All(arrivals.Where(a => a.Arrival.Client == 0), a => Assert.True(a.Staleness <= 1));
        Assert.Equal(arrivals.Select(a => a.Arrival.Time).Order(), arrivals.Select(a => a.Arrival.Time)); // Virtual-time order.
    }

    [Fact]
    public void Equal_devices_one_at_a_time_are_never_stale()
    {
        var profiles = Enumerable.Repeat(new DeviceProfile(50, 1e6), 5).ToArray();
        var schedule = new VirtualTimeSchedule(profiles, 1, [10, 10, 10, 10, 10], 1, 1000, 1, seed: 3);
        Assert.All(Drive(schedule, 20), a => Assert.Equal(0, a.Staleness));
    }

    [Fact]
    public void Buffer_of_k_with_more_devices_in_flight_gives_the_expected_mean_staleness()
    {
        // M identical devices in flight, K per version: in steady state an update waits about M/K - 1 versions.
        int m = 8, k = 2;
        var profiles = Enumerable.Repeat(new DeviceProfile(100, 1e12), 40).ToArray();
        var schedule = new VirtualTimeSchedule(profiles, m, Enumerable.Repeat(100, 40).ToArray(), 1, 0, k, seed: 5);
        var steady = Drive(schedule, 200).Skip(100).ToList();
        Assert.InRange(steady.Average(a => a.Staleness), m / (double)k - 1 - 0.5, m / (double)k - 1 + 0.5);
    }

    [Fact]
    public void Log_normal_profiles_are_drawn_by_seed_around_their_medians_and_staleness_emerges()
    {
        var options = new DeviceHeterogeneityOptions { MedianSamplesPerSecond = 100, SpeedSigma = 1, MedianBytesPerSecond = 1e6, BandwidthSigma = 0.5, Concurrency = 10 };
        int[] samples = Enumerable.Repeat(50, 400).ToArray();
        var a = new VirtualTimeSchedule(options, samples, 1, 200_000, 5, seed: 7);
        var b = new VirtualTimeSchedule(options, samples, 1, 200_000, 5, seed: 7);
        var c = new VirtualTimeSchedule(options, samples, 1, 200_000, 5, seed: 8);
        Assert.Equal(a.Profiles, b.Profiles);
        Assert.NotEqual(a.Profiles, c.Profiles);
        var speeds = a.Profiles.Select(p => p.SamplesPerSecond).Order().ToArray();
        Assert.InRange(speeds[speeds.Length / 2], 80, 125);           // Median near 100.
        Assert.InRange(speeds[speeds.Length * 9 / 10] / speeds[speeds.Length / 2], 2.5, 5.5); // e^(1.28 sigma) ~ 3.6.
        var runA = Drive(a, 50);
        Assert.Equal(runA, Drive(b, 50));                             // Deterministic by seed.
        Assert.True(runA.Max(x => x.Staleness) >= 2, "slow devices must come back stale");
    }

    [Fact]
    public void Versions_must_come_in_order_and_profiles_must_be_valid()
    {
        var schedule = new VirtualTimeSchedule([new DeviceProfile(1, 1)], 1, [1], 1, 0, 1, 0);
        Assert.Throws<ArgumentException>(() => schedule.NextBuffer(new ModelVersion(3)));
        Assert.Throws<ArgumentException>(() => new VirtualTimeSchedule([new DeviceProfile(0, 1)], 1, [1], 1, 0, 1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DeviceHeterogeneityOptions { SpeedSigma = -1 }.Validate());
    }
}

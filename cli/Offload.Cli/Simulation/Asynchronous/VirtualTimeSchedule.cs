using Offload.Core.Federation;
using MathNet.Numerics.Distributions;
using Offload.Core.Model;

namespace Offload.Cli.Simulation.Asynchronous;

/// <summary>
/// Asynchronous training in virtual time: <see cref="DeviceHeterogeneityOptions.Concurrency"/>
/// clients train at once, each finishing after its own download + compute + upload time; an event
/// queue ordered by virtual completion time (ties by dispatch order) decides who arrives next. When a
/// client arrives a random idle client is dispatched with the model current at that moment; the
/// server publishes a version every K arrivals. Staleness is not set but emerges from slow devices.
/// No sleeping: a thousand-second run is computed in microseconds.
/// </summary>
public sealed class VirtualTimeSchedule : IArrivalSchedule
{
    private readonly DeviceProfile[] _profiles;
    private readonly double[] _taskSeconds;
    private readonly PriorityQueue<(int Client, ModelVersion Base), (double Time, long Order)> _events = new();
    private readonly List<int> _idle;
    private readonly Random _random;
    private long _dispatched;
    private long _expected;

    /// <summary>Draws each client's profile from <paramref name="options"/> (MathNet log-normal, seeded) and starts the first clients at time 0.</summary>
    /// <param name="options">Device distributions and concurrency.</param>
    /// <param name="sampleCounts">Each client's sample count.</param>
    /// <param name="localEpochs">Epochs per task.</param>
    /// <param name="modelBytes">Bytes of the model (downloaded) and of the update (uploaded).</param>
    /// <param name="bufferSize">Arrivals per version (K).</param>
    /// <param name="seed">Seeds the profiles and the choice of idle clients.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option or count is out of range.</exception>
    public VirtualTimeSchedule(DeviceHeterogeneityOptions options, IReadOnlyList<int> sampleCounts, int localEpochs, long modelBytes, int bufferSize, int seed)
        : this(DrawProfiles(options, sampleCounts?.Count ?? 0, seed), options.Concurrency, sampleCounts!, localEpochs, modelBytes, bufferSize, seed)
    {
    }

    /// <summary>A schedule over given device profiles (tests and replays).</summary>
    /// <exception cref="ArgumentException">Profiles and sample counts differ in number, or a profile is not positive.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range.</exception>
    public VirtualTimeSchedule(IReadOnlyList<DeviceProfile> profiles, int concurrency, IReadOnlyList<int> sampleCounts, int localEpochs, long modelBytes, int bufferSize, int seed)
    {
        ArgumentNullException.ThrowIfNull(profiles);
        ArgumentNullException.ThrowIfNull(sampleCounts);
        if (profiles.Count != sampleCounts.Count || profiles.Count == 0)
            throw new ArgumentException($"{profiles.Count} profiles for {sampleCounts.Count} clients; both must be equal and positive.", nameof(profiles));
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(localEpochs, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(modelBytes);
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferSize, 1);
        _profiles = profiles.ToArray();
        _taskSeconds = new double[_profiles.Length];
        for (int c = 0; c < _profiles.Length; c++)
        {
            var p = _profiles[c];
            if (!(p.SamplesPerSecond > 0) || !(p.BytesPerSecond > 0) || !double.IsFinite(p.SamplesPerSecond) || !double.IsFinite(p.BytesPerSecond))
                throw new ArgumentException($"Client {c}'s profile {p} must have positive finite speed and bandwidth.", nameof(profiles));
            _taskSeconds[c] = p.TaskSeconds(sampleCounts[c], localEpochs, modelBytes);
        }
        BufferSize = bufferSize;
        _random = new Random(ClientSeed.For(seed, 0, ClientSeed.DeviceSchedule));
        _idle = Enumerable.Range(0, _profiles.Length).ToList();
        int start = Math.Min(concurrency, _profiles.Length);
        for (int i = 0; i < start; i++) Dispatch(0, ModelVersion.Initial);
    }

    /// <inheritdoc/>
    public int BufferSize { get; }

    /// <summary>The device of each client.</summary>
    public IReadOnlyList<DeviceProfile> Profiles => _profiles;

    /// <summary>Virtual seconds of one task of client <paramref name="client"/>.</summary>
    public double TaskSeconds(int client) => _taskSeconds[client];

    /// <inheritdoc/>
    public IReadOnlyList<Arrival> NextBuffer(ModelVersion current)
    {
        if (current.Value != _expected) throw new ArgumentException($"Expected version v{_expected}, got {current}.", nameof(current));
        _expected++;
        var arrivals = new Arrival[BufferSize];
        for (int j = 0; j < BufferSize; j++)
        {
            _events.TryDequeue(out var task, out var when);
            arrivals[j] = new Arrival(task.Client, task.Base, when.Time);
            _idle.Add(task.Client);
            // The K-th arrival publishes the next version before anyone is dispatched again.
            Dispatch(when.Time, j == BufferSize - 1 ? current.Next() : current);
        }
        return arrivals;
    }

    private void Dispatch(double now, ModelVersion version)
    {
        int pick = _random.Next(_idle.Count);
        int client = _idle[pick];
        _idle[pick] = _idle[^1];
        _idle.RemoveAt(_idle.Count - 1);
        _events.Enqueue((client, version), (now + _taskSeconds[client], _dispatched++));
    }

    private static DeviceProfile[] DrawProfiles(DeviceHeterogeneityOptions options, int clients, int seed)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(clients, 1);
        var random = new Random(ClientSeed.For(seed, 0, ClientSeed.DeviceProfiles));
        var speed = new LogNormal(Math.Log(options.MedianSamplesPerSecond), options.SpeedSigma, random);
        var bandwidth = new LogNormal(Math.Log(options.MedianBytesPerSecond), options.BandwidthSigma, random);
        var profiles = new DeviceProfile[clients];
        for (int c = 0; c < clients; c++) profiles[c] = new DeviceProfile(speed.Sample(), bandwidth.Sample());
        return profiles;
    }
}

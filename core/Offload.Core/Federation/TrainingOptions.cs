namespace Offload.Core.Federation;

/// <summary>Hyper-parameters of one client's local training (what a round's task asks a device to train with), validated at construction.</summary>
public sealed record TrainingOptions
{
    /// <summary>Creates options.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A count is not positive or the learning rate is not a positive finite number.</exception>
    public TrainingOptions(int localEpochs = 1, int batchSize = 32, double learningRate = 0.05)
    {
        LocalEpochs = localEpochs;
        BatchSize = batchSize;
        LearningRate = learningRate;
    }

    /// <summary>Passes over the client's data per round (E in the FedAvg paper); a strategy may change it with <c>with</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not positive.</exception>
    public int LocalEpochs
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value, "localEpochs");
            field = value;
        }
    }

    /// <summary>Samples per SGD step (B in the FedAvg paper).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not positive.</exception>
    public int BatchSize
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value, "batchSize");
            field = value;
        }
    }

    /// <summary>SGD step size.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a positive finite number.</exception>
    public double LearningRate
    {
        get;
        init
        {
            if (!double.IsFinite(value) || value <= 0)
                throw new ArgumentOutOfRangeException("learningRate", value, "The learning rate must be a positive finite number.");
            field = value;
        }
    }

    /// <summary>
    /// FedProx's proximal weight mu (Li et al. 2020): the client minimises its loss plus
    /// (mu / 2) * ||w - w_start||^2. Zero (the default) is plain local SGD.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative or not finite.</exception>
    public double ProximalMu
    {
        get;
        init
        {
            if (!(value >= 0) || !double.IsFinite(value))
                throw new ArgumentOutOfRangeException(nameof(ProximalMu), value, "The proximal weight must be zero or positive, and finite.");
            field = value;
        }
    }

    /// <summary>
    /// Federated evaluation: the client scores the model it was sent on its own data before training
    /// and reports the score with its update (the strategy combines the scores by examples).
    /// </summary>
    public bool Evaluate { get; init; }

    /// <summary>Free settings a strategy sends its clients (key to value), for learners that read them; empty by default.</summary>
    /// <exception cref="ArgumentException">More than 64 settings, or an empty or over-long key or value.</exception>
    public IReadOnlyDictionary<string, string> Settings
    {
        get;
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            if (value.Count > MaxSettings) throw new ArgumentException($"At most {MaxSettings} settings travel with a task; got {value.Count}.", nameof(Settings));
            foreach (var (k, v) in value)
                if (string.IsNullOrEmpty(k) || k.Length > MaxSettingLength || v is null || v.Length > MaxSettingLength)
                    throw new ArgumentException($"A setting's key must be 1 to {MaxSettingLength} characters and its value at most {MaxSettingLength}; '{k}' is not.", nameof(Settings));
            field = new SortedDictionary<string, string>(value.ToDictionary(p => p.Key, p => p.Value), StringComparer.Ordinal);
        }
    } = new SortedDictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Value equality, settings compared by content.</summary>
    public bool Equals(TrainingOptions? other)
    {
        if (other is null) return false;
        if (ReferenceEquals(this, other)) return true;
        if (LocalEpochs != other.LocalEpochs || BatchSize != other.BatchSize || !LearningRate.Equals(other.LearningRate)
            || !ProximalMu.Equals(other.ProximalMu) || Evaluate != other.Evaluate || Settings.Count != other.Settings.Count) return false;
        foreach (var (k, v) in Settings)
            if (!other.Settings.TryGetValue(k, out var w) || w != v) return false;
        return true;
    }

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(LocalEpochs, BatchSize, LearningRate, ProximalMu, Settings.Count);

    /// <summary>Most free settings a task carries.</summary>
    public const int MaxSettings = 64;

    /// <summary>Longest key or value of a free setting, in characters.</summary>
    public const int MaxSettingLength = 256;
}

namespace Offload.Aggregator.Buffered;

/// <summary>Settings of the buffered asynchronous aggregator; immutable, checked by <see cref="Validate"/>.</summary>
public sealed record FedBuffOptions
{
    /// <summary>Arrivals folded into each new model version (K).</summary>
    public int BufferSize { get; init; } = 10;

    /// <summary>Scale of the server step along the mean update.</summary>
    public double ServerLearningRate { get; init; } = 1.0;

    /// <summary>
    /// Global models kept, the current one included. Updates whose base version has left the window
    /// are dropped (and counted), so this bounds the staleness the server accepts: W - 1.
    /// </summary>
    public int HistoryWindow { get; init; } = 16;

    /// <summary>Throws when a setting is out of range; returns this for chaining.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The message names the setting and its allowed range.</exception>
    public FedBuffOptions Validate()
    {
        if (BufferSize < 1) throw new ArgumentOutOfRangeException(nameof(BufferSize), BufferSize, "The buffer size K must be at least 1.");
        if (HistoryWindow < 1) throw new ArgumentOutOfRangeException(nameof(HistoryWindow), HistoryWindow, "The history window must hold at least the current model.");
        if (!(ServerLearningRate > 0) || !double.IsFinite(ServerLearningRate))
            throw new ArgumentOutOfRangeException(nameof(ServerLearningRate), ServerLearningRate, "The server learning rate must be positive and finite.");
        return this;
    }
}

namespace Offload.Client.Training;

/// <summary>
/// Local training diverged: a loss or a weight became NaN or infinite (too large a learning rate, or a
/// global model too large to train from). The update is garbage; the round should be skipped, not sent.
/// </summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>Creates the exception with its reason.</summary>
    public TrainingDivergedException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with its reason and cause.</summary>
    public TrainingDivergedException(string message, Exception innerException) : base(message, innerException)
    {
    }
}

namespace Offload.Aggregator.Rounds;

/// <summary>The answer to a client asking for work.</summary>
/// <param name="Kind">Assigned, wait, or done.</param>
/// <param name="Task">The task when <paramref name="Kind"/> is <see cref="TaskOfferKind.Assigned"/>.</param>
/// <param name="RetryAfter">With <see cref="TaskOfferKind.Wait"/>: when to ask again.</param>
public sealed record TaskOffer(TaskOfferKind Kind, RoundTask? Task, TimeSpan RetryAfter)
{
    /// <summary>An offer of <paramref name="task"/>.</summary>
    public static TaskOffer Assigned(RoundTask task) => new(TaskOfferKind.Assigned, task ?? throw new ArgumentNullException(nameof(task)), TimeSpan.Zero);

    /// <summary>Ask again after <paramref name="retryAfter"/>.</summary>
    public static TaskOffer Wait(TimeSpan retryAfter) => new(TaskOfferKind.Wait, null, retryAfter);

    /// <summary>No more work.</summary>
    public static TaskOffer Done { get; } = new(TaskOfferKind.Done, null, TimeSpan.Zero);
}

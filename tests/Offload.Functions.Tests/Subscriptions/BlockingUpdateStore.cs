using Offload.Aggregator.Storage;

namespace Offload.Functions.Tests.Subscriptions;

/// <summary>An in-memory store whose reads wait for <see cref="Release"/> while <see cref="Blocking"/> is set: a fold held in flight.</summary>
internal sealed class BlockingUpdateStore : IUpdateStore
{
    private readonly InMemoryUpdateStore _inner = new();
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool Blocking { get; set; }

    /// <summary>Completes when a read has started waiting.</summary>
    public Task Entered => _entered.Task;

    public void Release() => _released.TrySetResult();

    public ValueTask<IUpdateWriter> OpenWriteAsync(UpdateReference reference, CancellationToken cancellationToken = default) => _inner.OpenWriteAsync(reference, cancellationToken);

    public async ValueTask<long> GetLengthAsync(UpdateReference reference, CancellationToken cancellationToken = default)
    {
        await WaitAsync().ConfigureAwait(false);
        return await _inner.GetLengthAsync(reference, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<Stream> OpenReadAsync(UpdateReference reference, CancellationToken cancellationToken = default)
    {
        await WaitAsync().ConfigureAwait(false);
        return await _inner.OpenReadAsync(reference, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask<bool> DeleteAsync(UpdateReference reference, CancellationToken cancellationToken = default) => _inner.DeleteAsync(reference, cancellationToken);

    private async Task WaitAsync()
    {
        if (!Blocking) return;
        _entered.TrySetResult();
        await _released.Task.ConfigureAwait(false);
    }
}

using Microsoft.Extensions.Hosting;
using Offload.Aggregator.Events;
using Offload.Gateway.Ingest;

namespace Offload.Gateway.Hosting;

/// <summary>Listens for <see cref="RoundClosed"/> and drops the partial uploads of closed rounds.</summary>
internal sealed class UploadSweepService(RoundEvents roundEvents, UploadLedger ledger) : IHostedService
{
    private IAsyncDisposable? _subscription;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _subscription = roundEvents.Bus.Subscribe<RoundClosed>((closed, _) => new ValueTask(ledger.SweepBeforeAsync(closed.Round + 1)));
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_subscription is not null) await _subscription.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>The in-process bus the coordinator announces <see cref="RoundClosed"/> on (a deployment may publish updates on another).</summary>
internal sealed record RoundEvents(IEventBus Bus);

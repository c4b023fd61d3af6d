using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Offload.Aggregator.Events;

/// <summary>
/// <see cref="IEventBus"/> inside one process: every subscription owns an unbounded
/// <see cref="Channel{T}"/> and one pump task that calls its handler, so a slow subscriber never
/// blocks a publisher or another subscriber, and one subscriber sees its events in order.
/// A handler that throws is logged and the pump goes on with the next event.
/// </summary>
public sealed class InProcessEventBus : IEventBus, IAsyncDisposable
{
    private readonly ConcurrentDictionary<Type, ImmutableArray<ISubscription>> _subscriptions = new();
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private volatile bool _disposed;

    /// <summary>Creates a bus with no subscribers.</summary>
    public InProcessEventBus(ILogger<InProcessEventBus>? logger = null)
    {
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <inheritdoc/>
    public ValueTask PublishAsync<TEvent>(TEvent @event, CancellationToken cancellationToken = default) where TEvent : class
    {
        ArgumentNullException.ThrowIfNull(@event);
        ObjectDisposedException.ThrowIf(_disposed, this);
        cancellationToken.ThrowIfCancellationRequested();
        if (_subscriptions.TryGetValue(typeof(TEvent), out var subscribers))
            foreach (var subscriber in subscribers) ((Subscription<TEvent>)subscriber).Deliver(@event);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public IAsyncDisposable Subscribe<TEvent>(Func<TEvent, CancellationToken, ValueTask> handler) where TEvent : class
    {
        ArgumentNullException.ThrowIfNull(handler);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var subscription = new Subscription<TEvent>(this, handler);
        _subscriptions.AddOrUpdate(typeof(TEvent), _ => [subscription], (_, list) => list.Add(subscription));
        return subscription;
    }

    /// <summary>Stops every subscription after the events already queued have been handled.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var list in _subscriptions.Values)
            foreach (var subscription in list) await subscription.DisposeAsync().ConfigureAwait(false);
        _subscriptions.Clear();
        _stopping.Dispose();
    }

    private void Remove(ISubscription subscription, Type type) =>
        _subscriptions.AddOrUpdate(type, _ => [], (_, list) => list.Remove(subscription));

    private interface ISubscription : IAsyncDisposable;

    private sealed class Subscription<TEvent> : ISubscription where TEvent : class
    {
        private readonly InProcessEventBus _bus;
        private readonly Func<TEvent, CancellationToken, ValueTask> _handler;
        private readonly Channel<TEvent> _queue = Channel.CreateUnbounded<TEvent>(new UnboundedChannelOptions { SingleReader = true });
        private readonly Task _pump;
        private int _disposed;

        public Subscription(InProcessEventBus bus, Func<TEvent, CancellationToken, ValueTask> handler)
        {
            _bus = bus;
            _handler = handler;
            _pump = Task.Run(PumpAsync);
        }

        public void Deliver(TEvent @event) => _queue.Writer.TryWrite(@event);

        private async Task PumpAsync()
        {
            var token = _bus._stopping.Token;
            await foreach (var @event in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
            {
                try
                {
                    await _handler(@event, token).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    _bus._logger.LogError(e, "A handler of {Event} failed; the event was dropped for this subscriber.", typeof(TEvent).Name);
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            _bus.Remove(this, typeof(TEvent));
            _queue.Writer.TryComplete();
            await _pump.ConfigureAwait(false);
        }
    }
}

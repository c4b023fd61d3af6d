using Microsoft.Extensions.Logging;
using Offload.Aggregator.Events;
using Offload.Aggregator.Storage;
using Offload.Functions.Events;
using Offload.Functions.Storage;

namespace Offload.Functions.Aggregation;

/// <summary>
/// The gateway's side of <see cref="ModelPublished"/>: reads the new model from the store and hands
/// it to every <see cref="IModelPublishedObserver"/> (the gateway serves the next round's tasks from it).
/// </summary>
public sealed class GatewayModelFunction
{
    private readonly IUpdateStore _store;
    private readonly IEnumerable<IModelPublishedObserver> _observers;
    private readonly ILogger _logger;

    /// <summary>Creates the function.</summary>
    public GatewayModelFunction(IUpdateStore store, IEnumerable<IModelPublishedObserver> observers, ILogger<GatewayModelFunction> logger)
    {
        _store = store;
        _observers = observers;
        _logger = logger;
    }

    /// <summary>Handles one delivery.</summary>
    public async Task<Delivery> HandleAsync(ModelPublished published, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(published);
        // The gateway serves the model it names, and later deletes it: it must be a model of the version it names.
        if (MalformedEvent.ReasonFor(published) is { } malformed) return Delivery.Drop(malformed);
        try
        {
            var bytes = await _store.TryReadAllAsync(published.Reference, cancellationToken).ConfigureAwait(false);
            if (bytes is null) return Delivery.Drop($"No model is stored under '{published.Reference}'.");
            if (bytes.Length % sizeof(float) != 0) return Delivery.Drop($"'{published.Reference}' holds {bytes.Length} bytes, not a whole number of floats.");
            var weights = ModelWeightsFormat.Decode(bytes, bytes.Length / sizeof(float));
            foreach (var observer in _observers)
                await observer.OnModelPublishedAsync(published, weights, cancellationToken).ConfigureAwait(false);
            _logger.LogInformation("Model {Version} of round {Round} received ({Updates} updates).", published.Version, published.Round, published.Updates);
            return Delivery.Success;
        }
        catch (Exception e) when (TransientFailure.Is(e))
        {
            return Delivery.Retry($"{e.GetType().Name}: {e.Message}");
        }
        catch (Exception e) when (e is InvalidDataException || TransientFailure.IsPermanentSidecarError(e))
        {
            return Delivery.Drop($"Model {published.Version} of round {published.Round} was refused: {e.Message}");
        }
    }
}

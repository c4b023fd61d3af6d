using System.Buffers;
using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Offload.Aggregator.Events;
using Offload.Aggregator.Staleness;
using Offload.Aggregator.Storage;
using Offload.Core.Codec;
using Offload.Core.Model;
using Offload.Functions.Aggregation;
using Offload.Functions.Events;
using Offload.Functions.Storage;

namespace Offload.Functions.Correction;

/// <summary>
/// The corrector app's function, triggered by <see cref="StaleUpdateArrived"/>: reads the stale update
/// and the two models it names from the store, runs the staleness corrector (gradient inversion, or
/// DC-ASGD) on a <see cref="CorrectionQueue"/>, and stores what the leaves are to fold under a key of
/// its own (<see cref="StoreKeys.CorrectedTask"/>), its scale applied: the corrected update, or, when
/// the correction falls back or a model is gone, the original weighted by the fall-back. It reports
/// the outcome to the gateway (<see cref="CorrectionReported"/>), deletes the original and announces
/// the stored update to the leaves as an <see cref="UpdateArrived"/> with scale 1. This is the only
/// app that needs TorchSharp: the corrector is handed in by the host.
/// </summary>
/// <remarks>
/// At least once, counted once, whatever the outcome: the original is deleted only after the update
/// to fold is stored and reported, and announced only after that. A redelivered event therefore
/// either finds the original and does it all again (the stored update is kept,
/// <see cref="UpdateStoreBytes.WriteAllAsync"/>, and the gateway counts a second report once), or finds
/// it gone and announces the stored update again, which the round's actor counts once, or finds
/// neither, when the leaves folded it already. The original is never announced: a redelivery could
/// then fold it beside its correction.
/// </remarks>
public sealed class CorrectorFunction : IDisposable
{
    private readonly IUpdateStore _store;
    private readonly IEventBus _bus;
    private readonly CorrectionQueue _queue;
    private readonly IStalenessWeighting _fallback;
    private readonly TensorLayout _layout;
    private readonly ILogger _logger;

    /// <summary>Creates the function; it owns the correction queue's worker thread (dispose to stop it).</summary>
    /// <param name="store">The deployment's shared store.</param>
    /// <param name="bus">Where corrected updates and reports go.</param>
    /// <param name="corrector">Runs one update at a time on the queue's worker.</param>
    /// <param name="fallback">Weights an update that cannot be corrected (a model is gone, the correction failed).</param>
    /// <param name="layout">The model's tensors.</param>
    /// <param name="queueCapacity">Updates that may wait for the worker; a delivery past it waits for room.</param>
    /// <param name="logger">Logs outcomes.</param>
    public CorrectorFunction(IUpdateStore store, IEventBus bus, IStalenessCorrector corrector, IStalenessWeighting fallback, TensorLayout layout,
        int queueCapacity, ILogger<CorrectorFunction> logger)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(fallback);
        ArgumentNullException.ThrowIfNull(layout);
        _store = store;
        _bus = bus;
        _fallback = fallback;
        _layout = layout;
        _logger = logger;
        _queue = new CorrectionQueue(corrector, queueCapacity);
    }

    /// <summary>The corrector's name.</summary>
    public string Corrector => _queue.Corrector.Name;

    /// <summary>Handles one delivery.</summary>
    public async Task<Delivery> HandleAsync(StaleUpdateArrived stale, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stale);
        if (MalformedEvent.ReasonFor(stale) is { } malformed) return Delivery.Drop(malformed);
        var update = stale.Update;
        long staleness = stale.TargetVersion - update.BaseVersion.Value;
        int length = _layout.TotalLength;
        float[] delta = ArrayPool<float>.Shared.Rent(length);
        try
        {
            using (var lease = await _store.TryLeaseAsync(update.Reference, update.Node, cancellationToken).ConfigureAwait(false))
            {
                if (lease is null) return await AnnounceStoredAsync(stale, cancellationToken).ConfigureAwait(false);
                if (lease.Memory.Length != update.PayloadBytes)
                    return Delivery.Drop($"'{update.Reference}' holds {lease.Memory.Length} bytes; the event announced {update.PayloadBytes}.");
                try
                {
                    UpdatePayload.CodecFor(lease.Memory.Span).Decode(lease.Memory.Span, _layout, delta.AsSpan(0, length));
                }
                catch (Exception e) when (e is InvalidPayloadException or ArgumentException)
                {
                    // The gateway checked it before acknowledging, so this is a corrupted store: nothing is folded, and the round's
                    // actor closes the version at its deadline without it.
                    await ReportAsync(stale, "refused", staleness, 0, cancellationToken).ConfigureAwait(false);
                    await _store.DeleteFromAsync(update.Reference, update.Node, cancellationToken).ConfigureAwait(false);
                    return Delivery.Drop($"'{update.Reference}' does not decode for the model: {e.Message}");
                }
            }
            var raw = delta.AsMemory(0, length);
            var baseWeights = await ReadModelAsync(stale.BaseModel, cancellationToken).ConfigureAwait(false);
            var target = await ReadModelAsync(stale.Target, cancellationToken).ConfigureAwait(false);
            if (baseWeights is null || target is null)
            {
                _logger.LogWarning("Update {Reference}: model {Model} is no longer stored; the fall-back weights it.", update.Reference, baseWeights is null ? stale.BaseModel : stale.Target);
                return await StoreAndAnnounceAsync(stale, raw, _fallback.WeightOf(staleness), "fell-back", staleness, 0, cancellationToken).ConfigureAwait(false);
            }
            var job = new StaleUpdate(StaleUpdate.ClientIndexOf(update.ClientId), _layout, raw, update.SampleCount,
                update.BaseVersion, baseWeights, new ModelVersion(stale.TargetVersion), target);
            CorrectedUpdate done;
            try
            {
                done = await (await _queue.EnqueueAsync(job, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException and not ObjectDisposedException)
            {
                _logger.LogWarning(e, "Correcting update {Reference} failed; the fall-back weights it.", update.Reference);
                return await StoreAndAnnounceAsync(stale, raw, _fallback.WeightOf(staleness), "fell-back", staleness, 0, cancellationToken).ConfigureAwait(false);
            }
            var c = done.Correction;
            if (!(c.Scale is > 0 and <= 1) || c.Delta.Length != length || ModelUpdate.FirstNonFinite(c.Delta.Span) >= 0)
            {
                _logger.LogWarning("The correction of update {Reference} is not a finite update with a scale in (0, 1]; the fall-back weights the update as it came.", update.Reference);
                return await StoreAndAnnounceAsync(stale, raw, _fallback.WeightOf(staleness), "fell-back", staleness, done.CpuSeconds, cancellationToken).ConfigureAwait(false);
            }
            return await StoreAndAnnounceAsync(stale, c.Delta, c.Scale, OutcomeName(c.Outcome), staleness, done.CpuSeconds, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (TransientFailure.Is(e))
        {
            _logger.LogWarning(e, "Stale update {Reference}: transient failure, asking for redelivery.", update.Reference);
            return Delivery.Retry($"{e.GetType().Name}: {e.Message}");
        }
        catch (Exception e) when (e is InvalidDataException || TransientFailure.IsPermanentSidecarError(e))
        {
            return Delivery.Drop($"Stale update {update.Reference}: {e.Message}");
        }
        finally
        {
            ArrayPool<float>.Shared.Return(delta);
        }
    }

    /// <summary>Stores <paramref name="values"/> x <paramref name="scale"/> under the corrected key, reports, deletes the original, then announces the stored update.</summary>
    private async Task<Delivery> StoreAndAnnounceAsync(StaleUpdateArrived stale, ReadOnlyMemory<float> values, double scale, string outcome, long staleness,
        double cpuSeconds, CancellationToken cancellationToken)
    {
        var update = stale.Update;
        int length = _layout.TotalLength;
        float[] scaled = ArrayPool<float>.Shared.Rent(length);
        byte[] payload;
        try
        {
            TensorPrimitives.Multiply(values.Span[..length], (float)scale, scaled.AsSpan(0, length));
            payload = IdentityCodec.Instance.Encode(scaled.AsSpan(0, length), _layout);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scaled);
        }
        var stored = Stored(stale, payload.Length);
        await _store.WriteAllAsync(stored.Reference, payload, cancellationToken).ConfigureAwait(false);
        await ReportAsync(stale, outcome, staleness, cpuSeconds, cancellationToken).ConfigureAwait(false);
        await _store.DeleteFromAsync(update.Reference, update.Node, cancellationToken).ConfigureAwait(false);
        await _bus.PublishAsync(stored, cancellationToken).ConfigureAwait(false);
        _logger.LogInformation("Update {Reference} ({Staleness} versions old) {Outcome} towards model {Version} (scale {Scale:G3}, {Cpu:F2} CPU s).",
            update.Reference, staleness, outcome, stale.TargetVersion, scale, cpuSeconds);
        return Delivery.Success;
    }

    /// <summary>
    /// A redelivery whose original is gone: the update to fold was stored and reported (the original
    /// is deleted only after that) and is announced again if it is still there; if not, the leaves folded it already.
    /// </summary>
    private async Task<Delivery> AnnounceStoredAsync(StaleUpdateArrived stale, CancellationToken cancellationToken)
    {
        var key = Stored(stale, 0).Reference;
        long length = await _store.GetLengthAsync(key, cancellationToken).ConfigureAwait(false);
        if (length <= 0)
        {
            _logger.LogInformation("Stale update {Reference} is neither stored nor corrected: it was folded already.", stale.Update.Reference);
            return Delivery.Success;
        }
        await _bus.PublishAsync(Stored(stale, length), cancellationToken).ConfigureAwait(false);
        return Delivery.Success;
    }

    /// <summary>The announcement of the stored update to fold: for the target model, its scale already applied.</summary>
    private static UpdateArrived Stored(StaleUpdateArrived stale, long payloadBytes)
    {
        var update = stale.Update;
        string task = StoreKeys.CorrectedTask(update.TaskId);
        return update with
        {
            Reference = UpdateReference.ForTask(update.ClientId, task),
            TaskId = task,
            BaseVersion = new ModelVersion(stale.TargetVersion),
            PayloadBytes = payloadBytes,
            Scale = 1.0,
        };
    }

    private Task ReportAsync(StaleUpdateArrived stale, string outcome, long staleness, double cpuSeconds, CancellationToken cancellationToken) =>
        _bus.PublishAsync(new CorrectionReported(stale.Update.ClientId, stale.Update.TaskId, outcome, staleness, cpuSeconds), cancellationToken).AsTask();

    /// <summary>A stored model's weights, or null when it is gone (the gateway's window moved past it).</summary>
    private async Task<float[]?> ReadModelAsync(UpdateReference model, CancellationToken cancellationToken)
    {
        var bytes = await _store.TryReadAllAsync(model, cancellationToken).ConfigureAwait(false);
        return bytes is null ? null : ModelWeightsFormat.Decode(bytes, _layout.TotalLength);
    }

    private static string OutcomeName(CorrectionOutcome outcome) => outcome switch
    {
        CorrectionOutcome.Corrected => "corrected",
        CorrectionOutcome.FellBack => "fell-back",
        CorrectionOutcome.Weighted => "weighted",
        _ => "unchanged",
    };

    /// <summary>Stops the correction worker.</summary>
    public void Dispose() => _queue.Dispose();
}

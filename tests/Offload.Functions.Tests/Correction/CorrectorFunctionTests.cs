using Microsoft.Extensions.Logging.Abstractions;
using Offload.Aggregator.Events;
using Offload.Aggregator.Staleness;
using Offload.Aggregator.Storage;
using Offload.Core.Codec;
using Offload.Core.Model;
using Offload.Functions.Aggregation;
using Offload.Functions.Correction;
using Offload.Functions.Storage;

namespace Offload.Functions.Tests.Correction;

/// <summary>The corrector app's function against a real store and bus: correction, fall-backs, redelivery, hostile events.</summary>
public sealed class CorrectorFunctionTests
{
    private const int Parameters = 8;
    private const string Client = "device-0001";
    private const string TaskId = "v0-abc";
    private static readonly TensorLayout Layout = TestFederation.FlatLayout(Parameters);
    private static readonly UpdateReference Base = StoreKeys.InitialModel(0);
    private static readonly UpdateReference Target = StoreKeys.Model(2, "attempt1");

    private readonly InMemoryUpdateStore _store = new();
    private readonly RecordingBus _bus = new();
    private List<UpdateArrived> Announced => _bus.Of<UpdateArrived>();
    private List<CorrectionReported> Reports => _bus.Of<CorrectionReported>();

    private CorrectorFunction Function(IStalenessCorrector corrector) =>
        new(_store, _bus, corrector, new PolynomialStalenessWeighting(0.5), Layout, 4, NullLogger<CorrectorFunction>.Instance);

    private async Task<StaleUpdateArrived> StoreAsync(bool models = true)
    {
        var payload = IdentityCodec.Instance.Encode(Enumerable.Repeat(0.5f, Parameters).ToArray(), Layout);
        var reference = UpdateReference.ForTask(Client, TaskId);
        await _store.WriteAllAsync(reference, payload);
        if (models)
        {
            await _store.WriteAllAsync(Base, ModelWeightsFormat.Encode(new float[Parameters]));
            await _store.WriteAllAsync(Target, ModelWeightsFormat.Encode(Enumerable.Repeat(1f, Parameters).ToArray()));
        }
        var update = new UpdateArrived(reference, Client, TaskId, 3, ModelVersion.Initial, 20, payload.Length, "node-a");
        return new StaleUpdateArrived(update, Base, Target, 2);
    }

    [Fact]
    public async Task A_corrected_update_is_stored_under_its_own_key_the_original_deleted_and_bothAnnounced_and_reported()
    {
        using var function = Function(new DcAsgdCorrector(1.0));
        var stale = await StoreAsync();

        var delivery = await function.HandleAsync(stale, default);

        Assert.Equal(DeliveryStatus.Success, delivery.Status);
        var corrected = Assert.Single(Announced);
        Assert.Equal(UpdateReference.ForTask(Client, TaskId + StoreKeys.CorrectedSuffix), corrected.Reference);
        Assert.Equal((3L, 2L, 1.0, 20L), (corrected.Round, corrected.BaseVersion.Value, corrected.Scale!.Value, corrected.SampleCount));
        Assert.Null(Functions.Events.MalformedEvent.ReasonFor(corrected)); // The leaves take it.
        Assert.Equal(-1, await _store.GetLengthAsync(stale.Update.Reference));
        // DC-ASGD: 0.5 - 1.0 * 0.5 * 0.5 * (1 - 0) = 0.25 per coordinate.
        var bytes = await _store.ReadAllAsync(corrected.Reference);
        var delta = new float[Parameters];
        IdentityCodec.Instance.Decode(bytes, Layout, delta);
        Assert.All(delta, d => Assert.Equal(0.25f, d, 1e-6f));
        Assert.Equal(("corrected", 2L), (Assert.Single(Reports).Outcome, Reports[0].Staleness));
    }

    [Fact]
    public async Task A_redelivery_after_the_correction_announces_the_stored_correction_again_and_corrects_nothing_twice()
    {
        var corrector = new CountingCorrector(new DcAsgdCorrector(1.0));
        using var function = Function(corrector);
        var stale = await StoreAsync();
        await function.HandleAsync(stale, default);

        var again = await function.HandleAsync(stale, default);

        Assert.Equal(DeliveryStatus.Success, again.Status);
        Assert.Equal(1, corrector.Calls);
        Assert.Equal(2, Announced.Count);
        Assert.Equal(Announced[0], Announced[1]); // Same key and size: the round's actor counts it once.
        Assert.Single(Reports);
    }

    [Fact]
    public async Task When_a_model_is_gone_the_original_is_weighted_by_the_fall_back_and_stored_for_the_leaves_in_its_place()
    {
        using var function = Function(new DcAsgdCorrector(1.0));
        var stale = await StoreAsync(models: false);

        Assert.Equal(DeliveryStatus.Success, (await function.HandleAsync(stale, default)).Status);

        await AssertWeightedByTheFallBackAsync(Assert.Single(Announced), stale);
        Assert.Equal("fell-back", Assert.Single(Reports).Outcome);
    }

    [Fact]
    public async Task A_corrector_that_throws_or_returns_a_non_finite_update_falls_back()
    {
        var first = await StoreAsync();
        using (var throwing = Function(new BrokenCorrector(throws: true)))
            Assert.Equal(DeliveryStatus.Success, (await throwing.HandleAsync(first, default)).Status);
        await AssertWeightedByTheFallBackAsync(Assert.Single(Announced), first);
        await _store.DeleteAsync(Announced[0].Reference); // Folded by the leaves.

        var second = await StoreAsync();
        using (var nonFinite = Function(new BrokenCorrector(throws: false)))
            Assert.Equal(DeliveryStatus.Success, (await nonFinite.HandleAsync(second, default)).Status);
        await AssertWeightedByTheFallBackAsync(Announced[1], second);
        Assert.All(Reports, r => Assert.Equal("fell-back", r.Outcome));
    }

    /// <summary>
    /// What folds is the original times the fall-back's weight, under the corrected key, never the
    /// original itself (a redelivery could then fold both); the original is deleted.
    /// </summary>
    private async Task AssertWeightedByTheFallBackAsync(UpdateArrived announced, StaleUpdateArrived stale)
    {
        Assert.Equal(UpdateReference.ForTask(Client, TaskId + StoreKeys.CorrectedSuffix), announced.Reference);
        Assert.Equal(1.0, announced.Scale);
        var delta = new float[Parameters];
        IdentityCodec.Instance.Decode(await _store.ReadAllAsync(announced.Reference), Layout, delta);
        float expected = (float)(0.5 * new PolynomialStalenessWeighting(0.5).WeightOf(2));
        Assert.All(delta, d => Assert.Equal(expected, d, 1e-6f));
        Assert.Equal(-1, await _store.GetLengthAsync(stale.Update.Reference));
    }

    [Fact]
    public async Task A_forged_event_is_dropped_with_the_field_it_got_wrong_and_nothing_is_read_or_deleted()
    {
        using var function = Function(new DcAsgdCorrector(1.0));
        var stale = await StoreAsync();
        (StaleUpdateArrived Event, string Field)[] forged =
        [
            (stale with { TargetVersion = 5 }, "targetVersion"),
            (stale with { BaseModel = StoreKeys.Model(1, "x") }, "baseModel"),
            (stale with { Target = UpdateReference.ForTask(Client, "other") }, "target"),
            (stale with { Update = stale.Update with { Reference = UpdateReference.ForTask("device-0002", TaskId) } }, "reference"),
            (stale with { Update = stale.Update with { Scale = 0.5 } }, "scale"),
        ];
        foreach (var (e, field) in forged)
        {
            var delivery = await function.HandleAsync(e, default);
            Assert.Equal(DeliveryStatus.Drop, delivery.Status);
            Assert.Contains(field, delivery.Reason, StringComparison.Ordinal);
        }
        Assert.Empty(Announced);
        Assert.True(await _store.GetLengthAsync(stale.Update.Reference) > 0);
    }

    /// <summary>Records what is published, in order, as the sidecar's publish API would take it.</summary>
    private sealed class RecordingBus : IEventBus
    {
        private readonly List<object> _published = [];

        public List<T> Of<T>()
        {
            lock (_published) return _published.OfType<T>().ToList();
        }

        public ValueTask PublishAsync<TEvent>(TEvent @event, CancellationToken cancellationToken = default) where TEvent : class
        {
            lock (_published) _published.Add(@event);
            return ValueTask.CompletedTask;
        }

        public IAsyncDisposable Subscribe<TEvent>(Func<TEvent, CancellationToken, ValueTask> handler) where TEvent : class =>
            throw new NotSupportedException("Events leave through the sidecar; nothing subscribes in the corrector app.");
    }

    private sealed class CountingCorrector(IStalenessCorrector inner) : IStalenessCorrector
    {
        public int Calls;

        public string Name => inner.Name;

        public StalenessCorrection Correct(StaleUpdate update, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref Calls);
            return inner.Correct(update, cancellationToken);
        }
    }

    private sealed class BrokenCorrector(bool throws) : IStalenessCorrector
    {
        public string Name => "broken";

        public StalenessCorrection Correct(StaleUpdate update, CancellationToken cancellationToken = default)
        {
            if (throws) throw new InvalidOperationException("the inversion diverged");
            var delta = new float[update.Delta.Length];
            delta[3] = float.NaN;
            return StalenessCorrection.Corrected(delta);
        }
    }
}

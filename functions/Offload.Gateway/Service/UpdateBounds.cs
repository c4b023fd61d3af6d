using System.Globalization;
using Offload.Aggregator.Rounds;
using Offload.Gateway.Ingest;

namespace Offload.Gateway.Service;

/// <summary>
/// The bounds on an update's L2 norm and on its weight (declared sample count): fixed by the operator,
/// or derived as a multiple of the median over the last accepted updates (this and earlier rounds);
/// before enough are known, the norm bound is a multiple of the global model's norm and the weight cap
/// is its floor, so the first update is bounded too. Thread-safe.
/// </summary>
internal sealed class UpdateBounds(GatewayOptions options)
{
    private readonly RecentValues _norms = new(options.BoundWindow);
    private readonly RecentValues _samples = new(options.BoundWindow);
    private ModelNorm? _model;

    /// <summary>The largest norm accepted as is now, and where it comes from (for messages); +infinity when nothing bounds it yet.</summary>
    public (double Bound, string Basis) NormBound(GlobalModel model)
    {
        if (options.MaxUpdateNorm is { } fixedBound) return (fixedBound, "the configured maximum");
        if (_norms.Count >= options.BoundMinimumHistory)
        {
            double median = _norms.Median();
            return (options.NormMultiple * median, Invariant($"{options.NormMultiple} x the median norm {median:G4} of the last {_norms.Count} accepted updates"));
        }
        double modelNorm = NormOf(model);
        // An all-zero model gives nothing to scale by: the first updates then go unbounded until the window fills.
        return modelNorm > 0
            ? (options.NormMultiple * modelNorm, Invariant($"{options.NormMultiple} x the global model's norm {modelNorm:G4}"))
            : (double.PositiveInfinity, "no bound yet");
    }

    /// <summary>The largest sample count an update is weighted by now, and where it comes from.</summary>
    public (long Cap, string Basis) SampleCap()
    {
        if (options.MaxSampleCount is { } fixedCap) return (fixedCap, "the configured maximum");
        if (_samples.Count < options.BoundMinimumHistory) return (options.SampleCountFloor, "the floor");
        double derived = options.SampleCountMultiple * _samples.Median();
        return derived <= options.SampleCountFloor ? (options.SampleCountFloor, "the floor")
            : (derived >= long.MaxValue ? long.MaxValue : (long)derived, Invariant($"{options.SampleCountMultiple} x the median of the last {_samples.Count} accepted updates"));
    }

    /// <summary>
    /// Remembers the weights of updates a journal acknowledged before a restart (as they were capped;
    /// the declared counts are not kept), so a restarted gateway caps by the federation's history and
    /// not by the floor. Their norms are not kept either: the norm bound starts again from the model's.
    /// </summary>
    public void Restore(IEnumerable<AcceptedUpdate> acknowledged)
    {
        foreach (var update in acknowledged) _samples.Add(update.Arrived.SampleCount);
    }

    /// <summary>Remembers an accepted update: its norm (after any clipping) and the sample count it declared.</summary>
    public void Record(double norm, long declaredSamples)
    {
        _norms.Add(norm);
        _samples.Add(declaredSamples);
    }

    private double NormOf(GlobalModel model)
    {
        var known = Volatile.Read(ref _model);
        if (known is not null && known.Version == model.Version.Value) return known.Norm;
        var computed = new ModelNorm(model.Version.Value, Offload.Core.Model.ModelUpdate.L2Norm(model.Weights.Span));
        Volatile.Write(ref _model, computed);
        return computed.Norm;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private sealed record ModelNorm(long Version, double Norm);
}

using Offload.Aggregator.Staleness;
using Offload.Client.Inversion;

namespace Offload.Aggregator.Inversion;

/// <summary>
/// Staleness correction by gradient inversion (Wang and Gao, 2023) behind the
/// <see cref="IStalenessCorrector"/> seam: recovers a client's data from its stale update, computes
/// the update that data gives on the current model, and checks the result with a quality gate that
/// needs no client data. When the recovered data reproduces the stale update from its base model
/// with a relative error above <see cref="GateThreshold"/>, the fall-back corrector (usually FedAsync
/// weighting) answers instead, and the fall-back is counted.
/// </summary>
/// <remarks>
/// Keeps each client's recovered data as the warm start of its next inversion (a few kilobytes per
/// client, see <see cref="WarmStartBytes"/>); data that failed the gate is forgotten. Not
/// thread-safe: run it behind a <see cref="CorrectionQueue"/>, which calls it from one thread.
/// </remarks>
public sealed class InversionCorrector : IStalenessCorrector
{
    private readonly GradientInversion _inversion;
    private readonly IStalenessCorrector _fallback;
    private readonly Dictionary<int, RecoveredData> _warmStarts = new();
    private readonly int _seed;

    /// <summary>Creates the corrector.</summary>
    /// <param name="inversion">The TorchSharp inversion engine for the model's layout.</param>
    /// <param name="gateThreshold">Largest accepted relative error of the reproduced stale update, in (0, infinity).</param>
    /// <param name="fallback">Answers when the gate fails.</param>
    /// <param name="seed">Seeds cold starts (mixed with the client and base version).</param>
    /// <exception cref="ArgumentOutOfRangeException">The threshold is not positive.</exception>
    public InversionCorrector(GradientInversion inversion, double gateThreshold, IStalenessCorrector fallback, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(inversion);
        ArgumentNullException.ThrowIfNull(fallback);
        if (!(gateThreshold > 0) || double.IsNaN(gateThreshold))
            throw new ArgumentOutOfRangeException(nameof(gateThreshold), gateThreshold, "The gate threshold must be positive.");
        _inversion = inversion;
        _fallback = fallback;
        GateThreshold = gateThreshold;
        _seed = seed;
        Name = inversion.Options.UnrolledSteps == 1 ? "inversion" : $"inversion-unrolled{inversion.Options.UnrolledSteps}";
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary>Largest accepted relative error between the stale update and the one the recovered data reproduces.</summary>
    public double GateThreshold { get; }

    /// <summary>The corrector used when the gate fails.</summary>
    public IStalenessCorrector Fallback => _fallback;

    /// <summary>Stale updates the inversion ran on.</summary>
    public long Attempts { get; private set; }

    /// <summary>Stale updates replaced by a corrected one.</summary>
    public long Corrections { get; private set; }

    /// <summary>Stale updates that failed the gate and went to the fall-back.</summary>
    public long FallBacks { get; private set; }

    /// <summary>Inversions that started from the client's previous recovered data.</summary>
    public long WarmStarts { get; private set; }

    /// <summary>Fraction of attempts that fell back; 0 before any attempt.</summary>
    public double FallBackRate => Attempts == 0 ? 0 : (double)FallBacks / Attempts;

    /// <summary>Bytes of recovered data kept for warm starts.</summary>
    public long WarmStartBytes => _warmStarts.Values.Sum(d => d.Bytes);

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The update's layout differs from the inversion engine's.</exception>
    public StalenessCorrection Correct(StaleUpdate update, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(update);
        if (!update.Layout.Equals(_inversion.Layout))
            throw new ArgumentException($"The update's layout ({update.Layout}) differs from the inversion's ({_inversion.Layout}).", nameof(update));
        if (update.Staleness == 0) return StalenessCorrection.Unchanged(update.Delta);

        Attempts++;
        _warmStarts.TryGetValue(update.ClientId, out var warm);
        var result = _inversion.Correct(update.Delta.Span, update.BaseWeights.Span, update.CurrentWeights.Span, warm,
            Seed(update), cancellationToken);
        if (result.WarmStarted) WarmStarts++;
        if (result.RelativeError <= GateThreshold)
        {
            _warmStarts[update.ClientId] = result.Recovered;
            Corrections++;
            return StalenessCorrection.Corrected(result.FreshUpdate, result.RelativeError);
        }
        _warmStarts.Remove(update.ClientId);
        FallBacks++;
        return StalenessCorrection.FellBack(_fallback.Correct(update, cancellationToken), result.RelativeError);
    }

    /// <summary>A seed that is stable across processes (unlike <see cref="HashCode"/>).</summary>
    private int Seed(StaleUpdate update)
    {
        ulong x = (ulong)(uint)_seed * 0x9E3779B97F4A7C15UL ^ (ulong)(uint)update.ClientId * 0xBF58476D1CE4E5B9UL ^ (ulong)update.BaseVersion.Value * 0x94D049BB133111EBUL;
        x ^= x >> 31;
        return (int)(x & 0x7FFFFFFF);
    }
}

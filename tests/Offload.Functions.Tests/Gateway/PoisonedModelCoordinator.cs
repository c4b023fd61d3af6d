using Offload.Aggregator.Rounds;

namespace Offload.Functions.Tests.Gateway;

/// <summary>
/// Serves what the inner coordinator serves, except that while <see cref="Poison"/> is set the served
/// weights pass through it first, as full weights with a matching CRC: the bytes arrive intact but the
/// model is one no device can train from, as after a poisoned update was folded.
/// </summary>
internal sealed class PoisonedModelCoordinator(IRoundCoordinator inner) : DelegatingCoordinator(inner)
{
    private volatile Func<float[], float[]>? _poison;

    /// <summary>Turns the served weights into the bad model; null serves the real one.</summary>
    public Func<float[], float[]>? Poison
    {
        get => _poison;
        set => _poison = value;
    }

    public override GlobalModel Broadcast
    {
        get
        {
            var served = Inner.Broadcast;
            return Poison is { } poison ? new GlobalModel(served.Layout, served.Version, poison(served.Weights.ToArray())) : served;
        }
    }
}

using System.Numerics.Tensors;
using Offload.Core.Federation;

namespace Offload.Cli.Simulation;

/// <summary>
/// Clients that lie: after training honestly they replace their update, before it is encoded, by
/// the update scaled by <see cref="Scale"/> (a sign-flip and boost, -10 in the robustness table), or
/// by Gaussian noise whose norm is <see cref="NoiseMultiple"/> times their honest update's. Seeded per
/// round and client (<see cref="ClientSeed"/>), so a run is reproducible.
/// </summary>
public sealed class ByzantineClients
{
    private readonly HashSet<int> _attackers;

    private ByzantineClients(IEnumerable<int> attackers, double scale, double noiseMultiple, int seed)
    {
        _attackers = [.. attackers];
        Scale = scale;
        NoiseMultiple = noiseMultiple;
        Seed = seed;
    }

    /// <summary>Attackers that send their update times <paramref name="scale"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The scale is not finite.</exception>
    public static ByzantineClients Scaled(IEnumerable<int> attackers, double scale)
    {
        if (!double.IsFinite(scale)) throw new ArgumentOutOfRangeException(nameof(scale), scale, "The scale must be finite.");
        return new ByzantineClients(attackers, scale, 0, 0);
    }

    /// <summary>Attackers that send Gaussian noise of <paramref name="multiple"/> times their honest update's norm.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The multiple is not positive and finite.</exception>
    public static ByzantineClients Noise(IEnumerable<int> attackers, double multiple, int seed)
    {
        if (!(multiple > 0) || !double.IsFinite(multiple)) throw new ArgumentOutOfRangeException(nameof(multiple), multiple, "The noise multiple must be positive and finite.");
        return new ByzantineClients(attackers, 0, multiple, seed);
    }

    /// <summary>The factor a scaling attacker multiplies its update by (0 for noise).</summary>
    public double Scale { get; }

    /// <summary>The noise norm over the honest norm (0 for scaling).</summary>
    public double NoiseMultiple { get; }

    /// <summary>Seeds the noise.</summary>
    public int Seed { get; }

    /// <summary>Whether <paramref name="client"/> attacks.</summary>
    public bool Attacks(int client) => _attackers.Contains(client);

    /// <summary>Replaces <paramref name="update"/> in place if <paramref name="client"/> is an attacker.</summary>
    public void Tamper(int round, int client, Span<float> update)
    {
        if (!Attacks(client)) return;
        if (NoiseMultiple == 0)
        {
            TensorPrimitives.Multiply(update, (float)Scale, update);
            return;
        }
        float honest = TensorPrimitives.Norm(update);
        var random = new Random(ClientSeed.For(Seed, round, client) ^ 0x5A5A5A5A);
        for (int i = 0; i < update.Length; i++)
        {
            // Box-Muller: one standard normal per coordinate.
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
            update[i] = (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        float norm = TensorPrimitives.Norm(update);
        if (norm > 0) TensorPrimitives.Multiply(update, (float)(NoiseMultiple * honest / norm), update);
    }
}

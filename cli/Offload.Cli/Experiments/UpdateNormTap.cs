using System.Numerics.Tensors;
using Offload.Cli.Simulation;

namespace Offload.Cli.Experiments;

/// <summary>Records the L2 norm of every update a run's clients send, to size a norm-clipping bound from an honest run.</summary>
public sealed class UpdateNormTap : IUpdateTap
{
    private readonly List<double> _norms = [];

    /// <inheritdoc/>
    public void Encoded(int round, int client, ReadOnlySpan<float> update, ReadOnlySpan<byte> payload)
    {
        double norm = TensorPrimitives.Norm(update);
        lock (_norms) _norms.Add(norm);
    }

    /// <summary>The median norm seen, or NaN before any update.</summary>
    public double MedianNorm
    {
        get
        {
            lock (_norms)
            {
                if (_norms.Count == 0) return double.NaN;
                var sorted = _norms.ToArray();
                Array.Sort(sorted);
                int half = sorted.Length / 2;
                return sorted.Length % 2 == 1 ? sorted[half] : (sorted[half - 1] + sorted[half]) / 2;
            }
        }
    }
}

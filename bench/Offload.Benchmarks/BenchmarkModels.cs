using Offload.Core.Model;

namespace Offload.Benchmarks;

/// <summary>Model layouts and synthetic updates shared by the suites, so every figure uses the same inputs.</summary>
public static class BenchmarkModels
{
    /// <summary>
    /// A 4-layer transformer encoder (d = 384, FFN 1536, vocabulary 8000, 512 positions, 10-class
    /// head): 52 tensors, 10,370,314 parameters, from 10-element biases to a 3.07M-element embedding.
    /// </summary>
    public static TensorLayout Transformer10M()
    {
        var tensors = new List<(string, int[])> { ("embed.weight", [8000, 384]), ("pos.weight", [512, 384]) };
        for (int l = 0; l < 4; l++)
        {
            tensors.Add(($"layers.{l}.attn.qkv.weight", [1152, 384]));
            tensors.Add(($"layers.{l}.attn.qkv.bias", [1152]));
            tensors.Add(($"layers.{l}.attn.out.weight", [384, 384]));
            tensors.Add(($"layers.{l}.attn.out.bias", [384]));
            tensors.Add(($"layers.{l}.norm1.weight", [384]));
            tensors.Add(($"layers.{l}.norm1.bias", [384]));
            tensors.Add(($"layers.{l}.ffn.up.weight", [1536, 384]));
            tensors.Add(($"layers.{l}.ffn.up.bias", [1536]));
            tensors.Add(($"layers.{l}.ffn.down.weight", [384, 1536]));
            tensors.Add(($"layers.{l}.ffn.down.bias", [384]));
            tensors.Add(($"layers.{l}.norm2.weight", [384]));
            tensors.Add(($"layers.{l}.norm2.bias", [384]));
        }
        tensors.Add(("head.weight", [10, 384]));
        tensors.Add(("head.bias", [10]));
        return TensorLayout.Create(tensors);
    }

    /// <summary>Shapes of synthetic update values: light, medium and heavy tails.</summary>
    public enum Tail { Normal, Laplace, StudentT3 }

    /// <summary><paramref name="n"/> values with scale 0.01 (standard deviation for the normal), from a fixed seed.</summary>
    public static float[] Update(int n, Tail tail = Tail.Normal, int seed = 1)
    {
        var random = new Random(seed);
        var values = new float[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = tail switch
            {
                Tail.Normal => (float)(0.01 * Gaussian(random)),
                Tail.Laplace => (float)(0.01 * Laplace(random)),
                _ => (float)(0.01 * Gaussian(random) / Math.Sqrt((Square(Gaussian(random)) + Square(Gaussian(random)) + Square(Gaussian(random))) / 3)),
            };
        }
        return values;
    }

    private static double Square(double x) => x * x;

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static double Laplace(Random random)
    {
        double u = random.NextDouble() - 0.5;
        return -Math.Sign(u) * Math.Log(1 - 2 * Math.Abs(u));
    }
}

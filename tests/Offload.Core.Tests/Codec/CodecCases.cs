using CsCheck;
using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Core.Tests.Codec;

/// <summary>Random layouts, updates and options for the codec properties.</summary>
internal static class CodecCases
{
    /// <summary>One generated case: a layout, an update with zeros, ties and outliers, and codec options.</summary>
    public sealed record Case(TensorLayout Layout, float[] Delta, FedZipOptions Options)
    {
        public override string ToString() =>
            $"{Layout} [{string.Join(", ", Layout.Tensors)}]; {Options}";
    }

    private static readonly Gen<int[]> Shape =
        Gen.OneOf<int[]>(
            Gen.Int[1, 300].Select(n => new[] { n }),
            Gen.Select(Gen.Int[1, 40], Gen.Int[1, 40], (a, b) => new[] { a, b }),
            Gen.Select(Gen.Int[1, 8], Gen.Int[1, 8], Gen.Int[1, 20], (a, b, c) => new[] { a, b, c }));

    public static readonly Gen<TensorLayout> Layout =
        Shape.Array[1, 5].Select(shapes => TensorLayout.Create(shapes.Select((s, i) => ($"t{i}.weight", s))));

    public static readonly Gen<FedZipOptions> Options =
        Gen.Select(
            Gen.OneOf(0.001, 0.01, 0.05, 0.1, 0.3, 0.5, 1.0),
            Gen.OneOf(1, 2, 3, 4, 8, 16, 256),
            Gen.Enum<FedZipEncoding>(),
            Gen.OneOf(0, 16, 256),
            Gen.Bool,
            (z, k, e, d, embed) => new FedZipOptions { TopZ = z, Clusters = k, Encoding = e, DenseThreshold = d, EmbedLayout = embed });

    public static Gen<Case> For(Gen<FedZipOptions> options) =>
        Gen.Select(Layout, Gen.Int, options, (layout, seed, o) => new Case(layout, Values(layout.TotalLength, seed), o));

    public static readonly Gen<Case> Any = For(Options);

    /// <summary>Values ~N(0, 0.01) with runs of zeros, repeated values and a few outliers, from a seed.</summary>
    public static float[] Values(int n, int seed)
    {
        var random = new Random(seed);
        var values = new float[n];
        int style = random.Next(4);
        for (int i = 0; i < n; i++)
        {
            double g = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            values[i] = style switch
            {
                0 => (float)(0.01 * g),
                1 => random.Next(3) == 0 ? 0f : (float)(0.01 * g),
                2 => random.Next(5) switch { 0 => 0.02f, 1 => -0.02f, 2 => 0f, _ => (float)(0.001 * g) },
                _ => random.Next(50) == 0 ? (float)(10 * g) : (float)(1e-6 * g),
            };
        }
        return values;
    }
}

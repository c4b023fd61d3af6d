using System.Globalization;
using Offload.Core.Codec;

namespace Offload.Benchmarks;

/// <summary>
/// Payload size against reconstruction error for cluster counts and top-z values, on the
/// <see cref="BenchmarkModels.Transformer10M"/> layout with light-, medium- and heavy-tailed updates:
/// the measurement behind the default <see cref="FedZipOptions.Clusters"/>. Not a timing benchmark;
/// run with <c>dotnet run -c Release --project bench/Offload.Benchmarks -- fedzip-rate-distortion</c>.
/// </summary>
public static class FedZipRateDistortion
{
    public static void Run(TextWriter output)
    {
        var layout = BenchmarkModels.Transformer10M();
        var c = CultureInfo.InvariantCulture;
        output.WriteLine("| tails | z | k | payload bytes | bits per kept entry | relative error (all) | quantization error / kept energy |");
        output.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var tail in Enum.GetValues<BenchmarkModels.Tail>())
        {
            float[] delta = BenchmarkModels.Update(layout.TotalLength, tail);
            double energy = 0;
            foreach (float v in delta) energy += (double)v * v;
            var reconstruction = new float[delta.Length];
            foreach (double z in new[] { 0.01, 0.012 })
                foreach (int k in new[] { 2, 3, 4, 8, 16 })
                {
                    var options = FedZipOptions.Default with { TopZ = z, Clusters = k };
                    byte[] payload = new FedZipCodec(options).Encode(delta, layout, reconstruction);
                    double error = 0, quantization = 0, kept = 0;
                    long keptCount = 0;
                    var description = UpdatePayload.Describe(payload);
                    for (int i = 0; i < delta.Length; i++)
                    {
                        double d = (double)delta[i] - reconstruction[i];
                        error += d * d;
                        if (reconstruction[i] != 0)
                        {
                            quantization += d * d;
                            kept += (double)delta[i] * delta[i];
                        }
                    }
                    foreach (var t in description.Tensors) keptCount += t.Mode == TensorSectionMode.Dense ? 0 : t.Kept;
                    output.WriteLine(string.Format(c, "| {0} | {1} | {2} | {3} | {4:0.00} | {5:0.0000} | {6:0.00000} |",
                        tail, z, k, payload.Length, payload.Length * 8.0 / keptCount, error / energy, quantization / kept));
                }
        }
    }
}

using BenchmarkDotNet.Running;

// Every suite in this assembly: `dotnet run -c Release --project bench/Offload.Benchmarks -- --filter '*Accumulate*'`.
// `-- fedzip-rate-distortion` prints the FedZip size/error table instead (docs/fedzip-format.md).
if (args is ["fedzip-rate-distortion", ..])
{
    Offload.Benchmarks.FedZipRateDistortion.Run(Console.Out);
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(Offload.Benchmarks.AssemblyMarker).Assembly).Run(args);

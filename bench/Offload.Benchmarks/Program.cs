using BenchmarkDotNet.Running;

// Every suite in this assembly: `dotnet run -c Release --project bench/Offload.Benchmarks -- --filter '*Accumulate*'`.
BenchmarkSwitcher.FromAssembly(typeof(Offload.Benchmarks.AssemblyMarker).Assembly).Run(args);

namespace Offload.Benchmarks;

/// <summary>Anchors <see cref="BenchmarkDotNet.Running.BenchmarkSwitcher"/> to this assembly.</summary>
public sealed class AssemblyMarker;

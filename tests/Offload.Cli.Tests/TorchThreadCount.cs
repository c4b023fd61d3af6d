namespace Offload.Cli.Tests;

/// <summary>
/// Tests that compare trained models to the bit or to float tolerance: a simulation sets TorchSharp's
/// process-wide intra-op thread count from its worker count, and a test running beside it with
/// another count changes the reduction order of the training under it (one CI run saw a 2e-5
/// relative gap between the flat and tree models from that alone). They run alone, one after another.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchThreadCount
{
    public const string Name = "torch thread count";
}

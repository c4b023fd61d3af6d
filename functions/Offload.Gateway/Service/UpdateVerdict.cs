namespace Offload.Gateway.Service;

/// <summary>What checking a stored update decided: its norm as accepted, whether it was clipped, and the sample count it is weighted by.</summary>
internal sealed record UpdateVerdict(double Norm, bool Clipped, long SampleCount);

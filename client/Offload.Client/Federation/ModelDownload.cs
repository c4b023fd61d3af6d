namespace Offload.Client.Federation;

/// <summary>A downloaded global model and how it came.</summary>
/// <param name="Weights">The model's weights, laid out by the task's layout; the caller owns the array.</param>
/// <param name="Version">The model's version.</param>
/// <param name="Delta">Whether it came as an encoded change applied to the model this client held (else full weights).</param>
/// <param name="Bytes">Model bytes received, every try included (a failed change and the full download after it).</param>
/// <param name="FellBack">Whether a change could not be applied (its result did not match the gateway's checksum) and full weights were downloaded instead.</param>
public sealed record ModelDownload(float[] Weights, long Version, bool Delta, long Bytes, bool FellBack);

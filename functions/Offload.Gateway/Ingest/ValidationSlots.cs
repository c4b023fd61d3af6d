namespace Offload.Gateway.Ingest;

/// <summary>
/// How many stored payloads are read back and decoded at once: each holds its payload and a
/// model-sized buffer while it is checked, so this bounds the memory validation takes.
/// </summary>
internal sealed class ValidationSlots(int count)
{
    public SemaphoreSlim Gate { get; } = new(count, count);
}

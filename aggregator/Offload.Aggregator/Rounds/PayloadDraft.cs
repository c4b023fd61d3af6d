namespace Offload.Aggregator.Rounds;

/// <summary>
/// Room a durable journal set aside for an upload's payload, written chunk by chunk as the upload
/// streams (<see cref="IFederationJournal.BeginPayload"/>), so that the disk takes a round's payloads
/// while later ones still arrive rather than all at the moment they are acknowledged. Nothing in it is
/// durable or read back until <see cref="IFederationJournal.RecordAcceptedAsync"/> names it.
/// </summary>
/// <remarks>
/// A draft is an optimisation only: one that failed (a full disk, a closed round's file) says so in
/// <see cref="Failed"/>, and the journal then writes the payload it is given at acceptance instead.
/// </remarks>
public abstract class PayloadDraft
{
    /// <summary>Creates a draft for a payload of <paramref name="length"/> bytes.</summary>
    protected PayloadDraft(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Length = length;
    }

    /// <summary>The payload's declared length: every write lies inside it.</summary>
    public long Length { get; }

    /// <summary>Whether a write failed, so that the draft cannot stand for the payload.</summary>
    public bool Failed { get; protected set; }

    /// <summary>Writes <paramref name="data"/> at <paramref name="position"/> of the payload; a failure sets <see cref="Failed"/> instead of throwing.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range passes <see cref="Length"/>.</exception>
    public void Write(long position, ReadOnlySpan<byte> data)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(data.Length, Length - position, nameof(data));
        if (!Failed) WriteCore(position, data);
    }

    /// <summary>Writes a range already checked to lie inside the payload.</summary>
    protected abstract void WriteCore(long position, ReadOnlySpan<byte> data);
}

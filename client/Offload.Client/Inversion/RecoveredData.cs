namespace Offload.Client.Inversion;

/// <summary>
/// Dummy samples recovered by gradient inversion: standardised pixels and soft-label logits. Kept
/// per client as the warm start of its next inversion (the client's data does not change between
/// rounds, so last round's estimate is a far better start than noise).
/// </summary>
/// <param name="Count">Number of dummy samples.</param>
/// <param name="Pixels">Count x rows x columns standardised pixels.</param>
/// <param name="LabelLogits">Count x classes logits; softmax gives the soft labels.</param>
public sealed record RecoveredData(int Count, float[] Pixels, float[] LabelLogits)
{
    /// <summary>Whether this fits <paramref name="count"/> samples of <paramref name="imageSize"/> pixels and <paramref name="classCount"/> classes, and is finite.</summary>
    public bool Fits(int count, int imageSize, int classCount) =>
        Count == count && Pixels.Length == (long)count * imageSize && LabelLogits.Length == (long)count * classCount
        && Offload.Core.Model.ModelUpdate.FirstNonFinite(Pixels) < 0 && Offload.Core.Model.ModelUpdate.FirstNonFinite(LabelLogits) < 0;

    /// <summary>Bytes held by the two buffers.</summary>
    public long Bytes => ((long)Pixels.Length + LabelLogits.Length) * sizeof(float);
}

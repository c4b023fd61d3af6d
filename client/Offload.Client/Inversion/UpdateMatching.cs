namespace Offload.Client.Inversion;

/// <summary>How gradient inversion scores a reproduced update against the stale one.</summary>
public enum UpdateMatching
{
    /// <summary>1 - cosine similarity: matches the direction; the scale is fitted afterwards by least squares.</summary>
    Cosine,

    /// <summary>||reproduced - stale||_1 / ||stale||_1: matches direction and scale.</summary>
    L1,
}

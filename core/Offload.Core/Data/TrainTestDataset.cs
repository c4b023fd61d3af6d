namespace Offload.Core.Data;

/// <summary>
/// A data set's training and test splits with the source they were loaded from. The source is
/// kept with the data because results on the bundled subset are not comparable with results on
/// the full set, and a run's report must say which one it used.
/// </summary>
/// <param name="Train">The split clients partition and train on.</param>
/// <param name="Test">The held-out split the global model is evaluated on.</param>
/// <param name="Origin">Which kind of source was used.</param>
/// <param name="Source">A human-readable description, for example "bundled subset (4,000 train / 1,000 test images of Fashion-MNIST)".</param>
public sealed record TrainTestDataset(ImageDataset Train, ImageDataset Test, DatasetOrigin Origin, string Source)
{
    /// <summary>True when the bundled subset was used, usually because the full set was not found.</summary>
    public bool IsBundled => Origin == DatasetOrigin.Bundled;
}

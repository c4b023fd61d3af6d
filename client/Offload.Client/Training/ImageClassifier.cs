using TorchSharp;
using static TorchSharp.torch;

namespace Offload.Client.Training;

/// <summary>
/// The default model for 28x28 single-channel images: two 5x5 convolutions with max-pooling and a
/// small dense head, the shape of the FedAvg paper's CNN (McMahan et al., 2017) at a width that
/// trains a round of Fashion-MNIST in seconds on two cores (about 46k parameters).
/// </summary>
public static class ImageClassifier
{
    /// <summary>Builds the network with freshly initialised weights (libtorch's default init, seeded by the caller).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The image is too small for two conv-pool stages or a size is not positive.</exception>
    public static nn.Module<Tensor, Tensor> Create(int rows = 28, int columns = 28, int classCount = 10,
        int conv1Channels = 16, int conv2Channels = 32, int hidden = 64)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 12);
        ArgumentOutOfRangeException.ThrowIfLessThan(columns, 12);
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 2);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(conv1Channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(conv2Channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hidden);
        // 5x5 valid convolutions and 2x2 pools: 28 -> 24 -> 12 -> 8 -> 4.
        int h = ((rows - 4) / 2 - 4) / 2, w = ((columns - 4) / 2 - 4) / 2;
        return nn.Sequential(
            ("conv1", nn.Conv2d(1, conv1Channels, 5)),
            ("relu1", nn.ReLU()),
            ("pool1", nn.MaxPool2d(2)),
            ("conv2", nn.Conv2d(conv1Channels, conv2Channels, 5)),
            ("relu2", nn.ReLU()),
            ("pool2", nn.MaxPool2d(2)),
            ("flatten", nn.Flatten()),
            ("fc1", nn.Linear(conv2Channels * h * w, hidden)),
            ("relu3", nn.ReLU()),
            ("fc2", nn.Linear(hidden, classCount)));
    }
}

using Offload.Core.Model;
using static TorchSharp.torch;

namespace Offload.Client.Inversion;

/// <summary>
/// The <see cref="Training.ImageClassifier"/> family as a function of its parameters, so that a
/// forward pass can run on tensors that are themselves results of autograd (the weights after an
/// unrolled SGD step). Read from a layout of (weight, bias) pairs: 4-D weights are 'valid'
/// convolutions, each followed by ReLU and 2x2 max-pooling; 2-D weights are linear layers, each but
/// the last followed by ReLU. The layout is checked here, before any tensor reaches libtorch, since a
/// shape error inside libtorch can abort the process.
/// </summary>
internal sealed class FunctionalClassifier
{
    private readonly bool[] _isConvolution;

    private FunctionalClassifier(bool[] isConvolution) => _isConvolution = isConvolution;

    /// <summary>Number of parameter tensors the function takes, in layout order.</summary>
    public int TensorCount => _isConvolution.Length * 2;

    /// <summary>Checks that <paramref name="layout"/> describes a supported classifier for single-channel <paramref name="rows"/>x<paramref name="columns"/> images.</summary>
    /// <exception cref="ArgumentException">The layout is not a conv/pool stack followed by linear layers with consistent shapes.</exception>
    public static FunctionalClassifier Create(TensorLayout layout, int rows, int columns, int classCount)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var tensors = layout.Tensors;
        if (tensors.Count == 0 || tensors.Count % 2 != 0)
            throw new ArgumentException($"Layout has {tensors.Count} tensors; gradient inversion needs (weight, bias) pairs.", nameof(layout));
        int layers = tensors.Count / 2;
        var isConvolution = new bool[layers];
        long channels = 1, height = rows, width = columns, features = -1;
        for (int l = 0; l < layers; l++)
        {
            var weight = tensors[2 * l];
            var bias = tensors[2 * l + 1];
            if (bias.Shape.Count != 1 || bias.Shape[0] != weight.Shape[0])
                throw new ArgumentException($"Tensor '{bias.Name}' must be a bias of length {weight.Shape[0]} for '{weight.Name}'.", nameof(layout));
            if (weight.Shape.Count == 4)
            {
                if (features >= 0) throw new ArgumentException($"Convolution '{weight.Name}' follows a linear layer; only conv stacks followed by linear layers are supported.", nameof(layout));
                if (weight.Shape[1] != channels || weight.Shape[2] != weight.Shape[3])
                    throw new ArgumentException($"Convolution '{weight.Name}' has shape [{string.Join(',', weight.Shape)}]; expected [*, {channels}, k, k].", nameof(layout));
                int k = weight.Shape[2];
                height = (height - k + 1) / 2;
                width = (width - k + 1) / 2;
                if (height < 1 || width < 1) throw new ArgumentException($"Images of {rows}x{columns} are too small for convolution '{weight.Name}'.", nameof(layout));
                channels = weight.Shape[0];
                isConvolution[l] = true;
            }
            else if (weight.Shape.Count == 2)
            {
                long expected = features >= 0 ? features : channels * height * width;
                if (weight.Shape[1] != expected)
                    throw new ArgumentException($"Linear layer '{weight.Name}' takes {weight.Shape[1]} features; the layer before gives {expected}.", nameof(layout));
                features = weight.Shape[0];
            }
            else
            {
                throw new ArgumentException($"Tensor '{weight.Name}' has {weight.Shape.Count} dimensions; only 4-D convolutions and 2-D linear weights are supported.", nameof(layout));
            }
        }
        if (features != classCount)
            throw new ArgumentException($"The last layer gives {features} outputs; the data has {classCount} classes (the model must end with a linear layer).", nameof(layout));
        return new FunctionalClassifier(isConvolution);
    }

    /// <summary>Logits of <paramref name="input"/> ([batch, 1, rows, columns]) under <paramref name="parameters"/> (layout order).</summary>
    public Tensor Forward(IList<Tensor> parameters, Tensor input)
    {
        var x = input;
        int last = _isConvolution.Length - 1;
        for (int l = 0; l < _isConvolution.Length; l++)
        {
            var w = parameters[2 * l];
            var b = parameters[2 * l + 1];
            if (_isConvolution[l])
            {
                x = nn.functional.max_pool2d(nn.functional.relu(nn.functional.conv2d(x, w, b)), 2);
                if (!_isConvolution[l + 1]) x = x.flatten(1);
            }
            else
            {
                x = nn.functional.linear(x, w, b);
                if (l < last) x = nn.functional.relu(x);
            }
        }
        return x;
    }
}

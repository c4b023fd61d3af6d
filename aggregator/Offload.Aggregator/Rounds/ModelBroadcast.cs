using System.Numerics.Tensors;
using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Aggregator.Rounds;

/// <summary>
/// The model devices download and train from, per published version. With
/// <see cref="DownstreamMode.Full"/> it is the global model itself. With <see cref="DownstreamMode.FedZip"/>
/// it is the clients' view: each new version's change (global minus view) is FedZip-encoded, the view
/// moves by exactly what the payload decodes to, and the payload is kept as the version's
/// <see cref="GlobalModel.Change"/>. What compression drops stays in the next change (downlink error
/// feedback), as in the simulator's <c>--downstream fedzip</c>. A device that downloads full weights
/// and one that applies the change hold the same bits, so every device trains from the same model;
/// aggregation keeps applying to the true global model.
/// </summary>
/// <remarks>Thread-safe: <see cref="Publish"/> is serialised, <see cref="Current"/> may be read at any time.</remarks>
public sealed class ModelBroadcast
{
    private readonly object _gate = new();
    private readonly FedZipCodec? _codec;
    private readonly float[]? _view;
    private readonly float[]? _change;
    private volatile GlobalModel _current;

    /// <summary>Starts from <paramref name="initial"/>, which every device downloads in full.</summary>
    /// <param name="initial">The first global model.</param>
    /// <param name="mode">Full weights only, or FedZip-encoded changes as well.</param>
    /// <param name="fedZip">The encoder's settings with <see cref="DownstreamMode.FedZip"/> (default: <see cref="FedZipOptions.Default"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="mode"/> is not defined.</exception>
    public ModelBroadcast(GlobalModel initial, DownstreamMode mode, FedZipOptions? fedZip = null)
    {
        ArgumentNullException.ThrowIfNull(initial);
        if (!Enum.IsDefined(mode)) throw new ArgumentOutOfRangeException(nameof(mode), mode, "The downstream mode must be Full or FedZip.");
        Mode = mode;
        _current = initial;
        if (mode == DownstreamMode.FedZip)
        {
            _codec = new FedZipCodec(fedZip ?? FedZipOptions.Default);
            _view = initial.Weights.ToArray();
            _change = new float[_view.Length];
        }
    }

    /// <summary>Full weights only, or FedZip-encoded changes as well.</summary>
    public DownstreamMode Mode { get; }

    /// <summary>The model devices download and train from now.</summary>
    public GlobalModel Current => _current;

    /// <summary>
    /// Publishes the next global model and returns what devices download from now on: <paramref name="global"/>
    /// itself with <see cref="DownstreamMode.Full"/>; else the view moved by the encoded change, which it carries.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="global"/> has another layout than the broadcast.</exception>
    public GlobalModel Publish(GlobalModel global)
    {
        ArgumentNullException.ThrowIfNull(global);
        lock (_gate)
        {
            var previous = _current;
            if (!global.Layout.Equals(previous.Layout))
                throw new ArgumentException($"The model's layout ({global.Layout}) is not the broadcast's ({previous.Layout}).", nameof(global));
            if (_codec is null)
            {
                _current = global;
                return global;
            }
            var view = _view!;
            var change = _change!;
            TensorPrimitives.Subtract(global.Weights.Span, view, change);
            byte[] payload;
            try
            {
                // The reconstruction overwrites the change: the view moves by what a device decodes.
                payload = _codec.Encode(change, global.Layout, change);
            }
            catch (ArgumentException)
            {
                // A change that cannot be encoded (not finite): devices get this version in full.
                global.Weights.Span.CopyTo(view);
                _current = new GlobalModel(global.Layout, global.Version, view);
                return _current;
            }
            TensorPrimitives.Add(view, change, view);
            _current = new GlobalModel(global.Layout, global.Version, view,
                new ModelChange(previous.Version, PayloadCodec.FedZip, payload, Core.Checksums.Crc32C.HashToUInt32(payload)));
            return _current;
        }
    }
}

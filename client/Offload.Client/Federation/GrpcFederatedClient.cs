using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Offload.Core.Federation;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Offload.Client.Training;
using Offload.Core.Checksums;
using Offload.Core.Codec;
using Offload.Core.Model;
using Offload.Core.Protos;
using Offload.Core.Wire;

namespace Offload.Client.Federation;

/// <summary><see cref="FederatedClient"/> over a Grpc.Net.Client channel.</summary>
internal sealed class GrpcFederatedClient : FederatedClient
{
    private readonly FederatedClientOptions _options;
    private readonly GrpcChannel _channel;
    private readonly Core.Protos.Federation.FederationClient _grpc;
    private readonly ILogger _logger;
    private readonly Random _jitter;
    private readonly SemaphoreSlim _enrollment = new(1, 1);
    private volatile string? _token;
    private volatile string? _clientId;
    private volatile HeldModel? _held;

    public GrpcFederatedClient(FederatedClientOptions options, ILogger logger)
    {
        _options = options.Validate();
        _logger = logger;
        _jitter = new Random();
        _token = options.Token;
        var handler = options.HttpHandler ?? new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(20),
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
        };
        _channel = GrpcChannel.ForAddress(options.Server!, new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = 8 * 1024 * 1024,
            MaxSendMessageSize = options.ChunkBytes + 1024,
            MaxRetryAttempts = 0,
        });
        _grpc = new Core.Protos.Federation.FederationClient(_channel);
    }

    /// <inheritdoc/>
    public override string? ClientId => _clientId;

    /// <inheritdoc/>
    protected override ILogger Logger => _logger;

    /// <inheritdoc/>
    public override FederatedClientOptions Options => _options;

    /// <inheritdoc/>
    public override async Task<string> EnrollAsync(string enrollmentCode, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(enrollmentCode);
        var reply = await RetryAsync("Enroll", (options, attempt) =>
            _grpc.EnrollAsync(new EnrollRequest { EnrollmentCode = enrollmentCode, DeviceName = _options.DeviceName }, options).ResponseAsync,
            authenticated: false, cancellationToken).ConfigureAwait(false);
        _token = reply.Token;
        _clientId = reply.ClientId;
        _logger.LogInformation("Enrolled as {Client}.", reply.ClientId);
        return reply.ClientId;
    }

    /// <inheritdoc/>
    public override async Task<FederatedTask> GetTaskAsync(CancellationToken cancellationToken = default)
    {
        var reply = await RetryAsync("GetTask", (options, attempt) =>
            _grpc.GetTaskAsync(new GetTaskRequest { ClientId = _clientId ?? "", Capabilities = new ClientCapabilities { Device = _options.DeviceName, Codecs = { UpdateCodec.Fedzip, UpdateCodec.Identity } } }, options).ResponseAsync,
            authenticated: true, cancellationToken).ConfigureAwait(false);
        var state = reply.State switch
        {
            TaskState.Assigned => FederatedTaskState.Assigned,
            TaskState.Wait => FederatedTaskState.Wait,
            TaskState.Done => FederatedTaskState.Done,
            _ => throw new InvalidDataException($"The gateway answered GetTask with state {reply.State}."),
        };
        TrainingOptions? training = null;
        var codec = PayloadCodec.Identity;
        if (state == FederatedTaskState.Assigned)
        {
            if (!WireCodec.TryFromWire(reply.Codec, out codec)) throw new InvalidDataException($"The gateway asked for codec {reply.Codec}, which this client does not know.");
            if (reply.Plan is null || string.IsNullOrEmpty(reply.TaskId)) throw new InvalidDataException("The gateway assigned a task without an id or training plan.");
            try
            {
                training = new TrainingOptions(reply.Plan.LocalEpochs, reply.Plan.BatchSize, reply.Plan.LearningRate)
                {
                    ProximalMu = reply.Plan.ProximalMu,
                    Settings = reply.Plan.Settings,
                    Evaluate = reply.Plan.Evaluate,
                };
            }
            catch (ArgumentException e)
            {
                throw new InvalidDataException($"The gateway's training plan is out of range: {e.Message}", e);
            }
        }
        return new FederatedTask(state, reply.TaskId, reply.Round, reply.ModelVersion, training,
            reply.Deadline?.ToDateTimeOffset() ?? DateTimeOffset.MaxValue, reply.RetryAfter?.ToTimeSpan() ?? TimeSpan.Zero,
            reply.TotalRounds, reply.LayoutHash, reply.ParameterCount, reply.MaxUpdateBytes, codec);
    }

    /// <inheritdoc/>
    public override async Task<ModelDownload> DownloadModelAsync(FederatedTask task, TensorLayout? layout, CancellationToken cancellationToken = default)
    {
        EnsureAssigned(task);
        if (layout is not null && (layout.Hash != task.LayoutHash || layout.TotalLength != task.ParameterCount))
            throw new ArgumentException($"The layout ({layout}, {layout.Hash:X16}) is not the task's model ({task.ParameterCount} parameters, {task.LayoutHash:X16}).", nameof(layout));
        var held = _held;
        // A change can be applied only to a held model of this layout, and decoded only with the layout.
        var basis = layout is not null && held is not null && held.LayoutHash == task.LayoutHash && held.Weights.Length == task.ParameterCount ? held : null;
        var received = new StrongBox<long>();
        ModelDownload download;
        try
        {
            download = await ReceiveAsync(task, layout, basis, received, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException e) when (basis is not null)
        {
            _logger.LogWarning("The model change to version {Version} could not be applied to the held version {Held} ({Problem}); downloading full weights.",
                task.ModelVersion, basis.Version, e.Message);
            _held = null;
            download = await ReceiveAsync(task, layout, null, received, cancellationToken).ConfigureAwait(false) with { FellBack = true };
        }
        // Intact bytes can still hold a model nobody can train from (a poisoned update folded on the
        // server); it is refused, and not kept, so the next download is not a change applied to it.
        int bad = ModelUpdate.FirstNonFinite(download.Weights);
        if (bad >= 0)
        {
            _held = null;
            int tensor = layout is null ? -1 : TensorAt(layout, bad);
            throw new InvalidModelException($"Model version {task.ModelVersion} has weight {bad}{(tensor >= 0 ? $" (in '{layout!.Tensors[tensor].Name}')" : "")} = {download.Weights[bad]}; a model must be finite.");
        }
        // The caller owns the returned array; the client keeps its own copy as the next change's base.
        _held = new HeldModel(task.ModelVersion, task.LayoutHash, (float[])download.Weights.Clone());
        return download with { Bytes = received.Value };
    }

    private static int TensorAt(TensorLayout layout, int index)
    {
        for (int i = 0; i < layout.Tensors.Count; i++)
            if (index < layout.Tensors[i].Offset + layout.Tensors[i].Length) return i;
        return -1;
    }

    /// <summary>
    /// One download (with transient retries): full weights, or the change from <paramref name="basis"/>
    /// applied to it. A retry after the stream dropped resumes from the bytes already received, if the
    /// gateway describes the same bytes again (else it starts over).
    /// </summary>
    private async Task<ModelDownload> ReceiveAsync(FederatedTask task, TensorLayout? layout, HeldModel? basis, StrongBox<long> received, CancellationToken cancellationToken)
    {
        byte[]? bytes = null;
        ModelDescriptor? kept = null;
        long length = 0;
        return await RetryAsync("DownloadModel", async (options, attempt) =>
        {
            long resumeAt = kept is null ? 0 : length;
            var request = new DownloadModelRequest { TaskId = task.TaskId, ModelVersion = task.ModelVersion, HaveVersion = basis?.Version ?? -1, Offset = resumeAt };
            using var call = _grpc.DownloadModel(request, options);
            bool first = true;
            await foreach (var chunk in call.ResponseStream.ReadAllAsync(options.CancellationToken).ConfigureAwait(false))
            {
                if (first)
                {
                    first = false;
                    var descriptor = chunk.Descriptor_ ?? throw new InvalidDataException("The model download did not start with a descriptor.");
                    if (kept is null || !descriptor.Equals(kept) || chunk.Offset != resumeAt)
                    {
                        CheckDescriptor(descriptor, task, layout, basis);
                        if (chunk.Offset != 0) throw new InvalidDataException($"The model download started at byte {chunk.Offset}, not 0.");
                        kept = descriptor;
                        bytes = new byte[descriptor.TotalLength];
                        length = 0;
                    }
                }
                if (chunk.Offset != length || length + chunk.Data.Length > bytes!.Length)
                    throw new InvalidDataException($"A model chunk at offset {chunk.Offset} ({chunk.Data.Length} bytes) does not follow the {length} bytes received.");
                chunk.Data.Span.CopyTo(bytes.AsSpan((int)length));
                length += chunk.Data.Length;
                received.Value += chunk.Data.Length;
            }
            if (kept is null || length != bytes!.Length)
                throw new InvalidDataException($"The model download ended after {length} of {kept?.TotalLength ?? 0} bytes.");
            uint crc = Crc32C.HashToUInt32(bytes);
            if (crc != kept.Crc32C)
                throw new InvalidDataException($"The model download's CRC-32C is {crc:X8}; the gateway declared {kept.Crc32C:X8}.");
            var weights = new float[task.ParameterCount];
            if (kept.Encoding == ModelEncoding.FullWeights)
            {
                WeightBytes.Read(bytes, weights);
                return new ModelDownload(weights, task.ModelVersion, Delta: false, 0, FellBack: false);
            }
            ApplyChange(bytes, layout!, basis!, weights, kept.WeightsCrc32C);
            return new ModelDownload(weights, task.ModelVersion, Delta: true, 0, FellBack: false);
        }, authenticated: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Checks the first chunk's descriptor against the task and what was asked for, before any allocation.</summary>
    private static void CheckDescriptor(ModelDescriptor descriptor, FederatedTask task, TensorLayout? layout, HeldModel? basis)
    {
        if (descriptor.ModelVersion != task.ModelVersion || descriptor.LayoutHash != task.LayoutHash || descriptor.ParameterCount != task.ParameterCount)
            throw new InvalidDataException($"The gateway sent model {descriptor.ModelVersion} (layout {descriptor.LayoutHash:X16}, {descriptor.ParameterCount} parameters); task {task.TaskId} needs version {task.ModelVersion} (layout {task.LayoutHash:X16}, {task.ParameterCount} parameters).");
        switch (descriptor.Encoding)
        {
            case ModelEncoding.FullWeights:
                if (descriptor.TotalLength != 4L * task.ParameterCount)
                    throw new InvalidDataException($"The gateway sent {descriptor.TotalLength} bytes of full weights; task {task.TaskId} needs {4L * task.ParameterCount}.");
                return;
            case ModelEncoding.Delta when basis is not null && layout is not null:
                if (descriptor.BaseVersion != basis.Version)
                    throw new InvalidDataException($"The gateway sent a change from version {descriptor.BaseVersion}; this client holds version {basis.Version}.");
                if (!WireCodec.TryFromWire(descriptor.Codec, out _))
                    throw new InvalidDataException($"The gateway sent a change encoded with {descriptor.Codec}, which this client does not know.");
                // Bounds the allocation: no codec's change is larger than twice the raw weights plus framing.
                long limit = 2L * IdentityCodec.Instance.GetMaxEncodedLength(layout) + 64 * 1024;
                if (descriptor.TotalLength < UpdatePayload.HeaderLength || descriptor.TotalLength > limit)
                    throw new InvalidDataException($"The gateway declared a change of {descriptor.TotalLength} bytes, outside {UpdatePayload.HeaderLength}..{limit}.");
                return;
            default:
                throw new InvalidDataException($"The gateway sent a model encoded as {descriptor.Encoding}{(descriptor.Encoding == ModelEncoding.Delta ? " though this client asked for full weights" : "")}.");
        }
    }

    /// <summary>
    /// Decodes the change into <paramref name="weights"/>, adds the held weights element by element in
    /// float (the order and arithmetic of the gateway's <c>ModelBroadcast</c>, so the sum is bit-exact),
    /// and checks the result's CRC-32C.
    /// </summary>
    private static void ApplyChange(byte[] payload, TensorLayout layout, HeldModel basis, float[] weights, uint expectedCrc)
    {
        try
        {
            UpdatePayload.CodecFor(payload).Decode(payload, layout, weights);
        }
        catch (InvalidPayloadException e)
        {
            throw new InvalidDataException($"The model change does not decode: {e.Message}", e);
        }
        TensorPrimitives.Add(basis.Weights, weights, weights);
        var bytes = new byte[4L * weights.Length];
        WeightBytes.Write(weights, bytes);
        uint crc = Crc32C.HashToUInt32(bytes);
        if (crc != expectedCrc)
            throw new InvalidDataException($"The held weights plus the change hash to {crc:X8}; the gateway's model hashes to {expectedCrc:X8}.");
    }

    /// <inheritdoc/>
    public override async Task<UploadReceipt> SubmitUpdateAsync(FederatedTask task, ReadOnlyMemory<byte> payload, long sampleCount,
        IProgress<UploadProgress>? progress = null, CancellationToken cancellationToken = default, EvaluationResult? evaluation = null)
    {
        EnsureAssigned(task);
        if (UpdatePayload.TryReadHeader(payload.Span, out var framed) != System.Buffers.OperationStatus.Done || framed.PayloadLength != payload.Length)
            throw new ArgumentException("The payload is not an encoded update (IUpdateCodec's format) of its own length.", nameof(payload));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sampleCount);
        uint crc = Crc32C.HashToUInt32(payload.Span);
        var header = new UpdateHeader
        {
            TaskId = task.TaskId,
            // The same update always gets the same key, so even a restarted device's retry counts once.
            IdempotencyKey = $"{task.TaskId}/{crc:x8}/{payload.Length}",
            SampleCount = sampleCount,
            BaseModelVersion = task.ModelVersion,
            Codec = WireCodec.ToWire(framed.Codec),
            TotalLength = payload.Length,
            Crc32C = crc,
            LayoutHash = task.LayoutHash,
        };
        if (evaluation is { SampleCount: > 0 })
            header.Evaluation = new LocalEvaluation { Examples = evaluation.SampleCount, Loss = evaluation.MeanLoss, Accuracy = evaluation.Accuracy };
        long sent = 0;
        int attempts = 0;
        var reply = await RetryAsync("SubmitUpdate", async (options, attempt) =>
        {
            attempts = attempt;
            long offset = 0;
            {
                // Ask what the gateway already holds (an earlier attempt, even by an earlier run of
                // this app, may have sent part or all of it), and send only the rest.
                var held = await _grpc.GetUploadOffsetAsync(new GetUploadOffsetRequest { TaskId = task.TaskId, IdempotencyKey = header.IdempotencyKey }, options).ResponseAsync.ConfigureAwait(false);
                offset = held.State switch
                {
                    UploadState.Partial when held.Offset <= payload.Length => held.Offset,
                    UploadState.Accepted => payload.Length, // The header alone fetches the earlier acknowledgement.
                    _ => 0,
                };
                if (offset > 0) _logger.LogInformation("Resuming the upload for task {Task} at byte {Offset} of {Total}.", task.TaskId, offset, payload.Length);
            }
            var attemptHeader = header.Clone();
            attemptHeader.Offset = offset;
            using var call = _grpc.SubmitUpdate(options);
            try
            {
                await call.RequestStream.WriteAsync(new SubmitUpdateRequest { Header = attemptHeader }, options.CancellationToken).ConfigureAwait(false);
                for (long at = offset; at < payload.Length; at += _options.ChunkBytes)
                {
                    int n = (int)Math.Min(_options.ChunkBytes, payload.Length - at);
                    await call.RequestStream.WriteAsync(new SubmitUpdateRequest { Chunk = UnsafeByteOperations.UnsafeWrap(payload.Slice((int)at, n)) }, options.CancellationToken).ConfigureAwait(false);
                    sent += n;
                    progress?.Report(new UploadProgress(at + n, payload.Length, attempt, offset));
                }
                await call.RequestStream.CompleteAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (!options.CancellationToken.IsCancellationRequested)
            {
                // A write fails (often as CANCELLED) when the gateway ended the call early, e.g. to
                // refuse it: the response carries the gateway's real status.
                _logger.LogDebug(e, "Writing the upload failed; reading the call's status.");
            }
            return await call.ResponseAsync.ConfigureAwait(false);
        }, authenticated: true, cancellationToken, upload: true).ConfigureAwait(false);
        return new UploadReceipt(reply.UpdateId, reply.Round, reply.Outcome == SubmitOutcome.Duplicate, attempts, sent);
    }

    /// <inheritdoc/>
    public override async Task<FederationStatus> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        var reply = await RetryAsync("GetStatus", (options, attempt) => _grpc.GetStatusAsync(new GetStatusRequest(), options).ResponseAsync,
            authenticated: true, cancellationToken).ConfigureAwait(false);
        return new FederationStatus(reply.State == FederationState.Done, reply.Round, reply.ModelVersion, reply.TotalRounds,
            reply.RoundUpdates, reply.MinClients, reply.UpdatesAccepted);
    }

    private async Task<T> RetryAsync<T>(string operation, Func<CallOptions, int, Task<T>> call, bool authenticated,
        CancellationToken cancellationToken, bool upload = false)
    {
        for (int attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (authenticated && _token is null) await EnsureEnrolledAsync(cancellationToken).ConfigureAwait(false);
            var headers = new Metadata();
            if (authenticated) headers.Add("authorization", "Bearer " + _token);
            var options = new CallOptions(headers, DateTime.UtcNow + _options.CallTimeout, cancellationToken);
            try
            {
                return await call(options, attempt).ConfigureAwait(false);
            }
            catch (RpcException e) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException($"{operation} was cancelled.", e, cancellationToken);
            }
            catch (RpcException e) when (TransientFailures.IsTransient(e, upload) && attempt < _options.MaxAttempts)
            {
                var wait = TransientFailures.Backoff(attempt, _options.InitialBackoff, _options.MaxBackoff, e, _jitter);
                _logger.LogWarning("{Operation} failed with {Status} ({Detail}); try {Next} of {Max} in {Wait} ms.",
                    operation, e.StatusCode, e.Status.Detail, attempt + 1, _options.MaxAttempts, (long)wait.TotalMilliseconds);
                await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task EnsureEnrolledAsync(CancellationToken cancellationToken)
    {
        await _enrollment.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_token is null) await EnrollAsync(_options.EnrollmentCode!, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _enrollment.Release();
        }
    }

    private static void EnsureAssigned(FederatedTask task)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (task.State != FederatedTaskState.Assigned || string.IsNullOrEmpty(task.TaskId))
            throw new ArgumentException($"The task is in state {task.State}; only an assigned task has a model and takes an update.", nameof(task));
    }

    /// <summary>The last model this client received: the base a change from the gateway applies to.</summary>
    private sealed class HeldModel(long version, ulong layoutHash, float[] weights)
    {
        public long Version { get; } = version;
        public ulong LayoutHash { get; } = layoutHash;
        public float[] Weights { get; } = weights;
    }

    protected override void Dispose(bool disposing)
    {
        if (!disposing) return;
        _channel.Dispose();
        _enrollment.Dispose();
    }
}

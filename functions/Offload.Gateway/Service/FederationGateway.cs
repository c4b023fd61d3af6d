using Offload.Core.Federation;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Offload.Aggregator.Events;
using Offload.Aggregator.Rounds;
using Offload.Aggregator.Storage;
using Offload.Core.Codec;
using Offload.Core.Model;
using Offload.Core.Protos;
using Offload.Core.Wire;
using Offload.Gateway.Authentication;
using Offload.Gateway.Ingest;

namespace Offload.Gateway.Service;

/// <summary>
/// The <c>Federation</c> gRPC service: hands out the coordinator's tasks, streams the global model,
/// and ingests updates. An upload is checked in this order, each failure ending the call before
/// anything is counted: the caller holds the task (PERMISSION_DENIED), an update for it was already
/// accepted (the same key: a DUPLICATE answer; another key: ALREADY_EXISTS), the declared size is
/// within the limit (RESOURCE_EXHAUSTED), the header fits the task and model and the declared length
/// that of a valid payload of its codec for this model (INVALID_ARGUMENT), the round still takes
/// updates (FAILED_PRECONDITION). Then, fairly: a second stream for the same task, or one more than the
/// client's share, is refused at once (RESOURCE_EXHAUSTED with retry-after-ms), before a gateway-wide
/// slot is taken. Chunks stream into the <see cref="IUpdateStore"/> one at a time (never more than one
/// chunk in the gateway's hands); reading stops as soon as the bytes pass the declared length or the
/// limit, and a stream idle or too slow is ended (DEADLINE_EXCEEDED) with its bytes deleted. The CRC-32C
/// is checked at the end, then the stored payload is read back and decoded once (every check a fold
/// makes, finite values included; INVALID_ARGUMENT), its L2 norm bounded (refused with FAILED_PRECONDITION
/// or clipped) and its weight capped. Only then is the update reserved with the coordinator, committed,
/// recorded and announced with <see cref="UpdateArrived"/>.
/// </summary>
internal sealed class FederationGateway(
    IRoundCoordinator coordinator,
    IUpdateStore store,
    IEventBus bus,
    ClientTokens tokens,
    UploadLedger ledger,
    GatewayOptions options,
    GatewayMetrics metrics,
    TimeProvider time,
    EnrollmentThrottle enrollments,
    ClientUploadCounts clientUploads,
    ValidationSlots validations,
    UpdateBounds bounds,
    ILogger<FederationGateway> logger) : Federation.FederationBase
{
    /// <summary>Trailer on a RESOURCE_EXHAUSTED that is worth retrying: milliseconds to wait.</summary>
    public const string RetryAfterTrailer = "retry-after-ms";

    /// <summary>How long a device pushed back by a full correction queue waits: a correction takes about a second, and the device sends its whole update again.</summary>
    public static readonly TimeSpan CorrectionRetryAfter = TimeSpan.FromSeconds(1);

    /// <summary>Trailer on an ABORTED resume: the offset the gateway holds.</summary>
    public const string UploadOffsetTrailer = "upload-offset";

    public override Task<EnrollReply> Enroll(EnrollRequest request, ServerCallContext context)
    {
        string peer = EnrollmentThrottle.AddressOf(context.Peer);
        // A peer backing off is refused before its code is looked at, so guessing gains nothing by hurrying.
        if (enrollments.Wait(peer) is { } wait)
        {
            metrics.CountThrottledEnrollment();
            throw Fail(StatusCode.ResourceExhausted, $"Enrollment from {peer} failed recently; try again in {Milliseconds(wait)} ms.", RetryAfter(wait));
        }
        if (!tokens.TryEnroll(request.EnrollmentCode, out var identity, out string? token))
        {
            var delay = enrollments.Failed(peer);
            throw new RpcException(new Status(StatusCode.Unauthenticated, $"The enrollment code is unknown or already used; {peer} may try again in {Milliseconds(delay)} ms."));
        }
        logger.LogInformation("Client {Client} enrolled ({Device}).", identity!.ClientId, request.DeviceName);
        return Task.FromResult(new EnrollReply { ClientId = identity.ClientId, Token = token });
    }

    public override async Task<GetTaskReply> GetTask(GetTaskRequest request, ServerCallContext context)
    {
        var client = Caller(context);
        var offer = coordinator.RequestTask(client.ClientId);
        // A task is handed out once the journal says it may be: at once where records are durable in
        // queue order (SQLite: every acceptance of the task is queued after it and its model), after the
        // save where the task book must survive a restart (the Dapr journal).
        if (offer.Kind == TaskOfferKind.Assigned && ledger.Journal is { } journal)
        {
            try
            {
                await journal.ReadyToOfferAsync(context.CancellationToken).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                logger.LogError(e, "The task book could not be recorded.");
                throw Fail(StatusCode.Unavailable, "The gateway cannot record tasks right now; ask again later.");
            }
        }
        var layout = coordinator.Layout;
        var codec = ChooseCodec(request.Capabilities);
        WireCodec.TryFromWire(codec, out var payloadCodec);
        var reply = new GetTaskReply
        {
            TotalRounds = coordinator.Options.Rounds,
            Codec = codec,
            MaxUpdateBytes = Math.Min(options.MaxUpdateBytes, UpdatePayload.GetMaxValidLength(layout, payloadCodec)),
            LayoutHash = layout.Hash,
            ParameterCount = layout.TotalLength,
        };
        switch (offer.Kind)
        {
            case TaskOfferKind.Assigned:
                var task = offer.Task!;
                reply.State = TaskState.Assigned;
                reply.TaskId = task.TaskId;
                reply.Round = task.Round;
                reply.ModelVersion = task.BaseVersion.Value;
                reply.Plan = new Core.Protos.TrainingPlan
                {
                    LocalEpochs = task.Plan.LocalEpochs,
                    BatchSize = task.Plan.BatchSize,
                    LearningRate = task.Plan.LearningRate,
                    ProximalMu = task.Plan.ProximalMu,
                    Evaluate = task.Plan.Evaluate,
                };
                foreach (var (key, value) in task.Plan.Settings) reply.Plan.Settings[key] = value;
                reply.Deadline = Timestamp.FromDateTimeOffset(task.Deadline);
                break;
            case TaskOfferKind.Wait:
                reply.State = TaskState.Wait;
                reply.RetryAfter = Duration.FromTimeSpan(offer.RetryAfter);
                break;
            default:
                reply.State = TaskState.Done;
                break;
        }
        return reply;
    }

    public override async Task DownloadModel(DownloadModelRequest request, IServerStreamWriter<ModelChunk> responseStream, ServerCallContext context)
    {
        Caller(context);
        var model = coordinator.ServedModel(new ModelVersion(request.ModelVersion))
            ?? throw new RpcException(new Status(StatusCode.FailedPrecondition,
                $"Model version {request.ModelVersion} is no longer served (current: {coordinator.Broadcast.Version.Value}); ask for a new task."));
        // A delta only for a device that holds exactly the change's base; any other have_version
        // (-1, unknown, negative, stale) gets full weights.
        var change = model.Change is { } c && request.HaveVersion >= 0 && request.HaveVersion == c.BaseVersion.Value ? c : null;
        var bytes = change?.Payload ?? model.Bytes;
        var descriptor = new ModelDescriptor
        {
            ModelVersion = model.Version.Value,
            Encoding = change is null ? ModelEncoding.FullWeights : ModelEncoding.Delta,
            BaseVersion = change?.BaseVersion.Value ?? -1,
            Codec = change is null ? UpdateCodec.Unspecified : WireCodec.ToWire(change.Codec),
            TotalLength = bytes.Length,
            Crc32C = change?.Crc32C ?? model.Crc32C,
            LayoutHash = model.Layout.Hash,
            ParameterCount = model.Layout.TotalLength,
            WeightsCrc32C = model.Crc32C,
        };
        if (request.Offset < 0 || request.Offset > bytes.Length)
            throw new RpcException(new Status(StatusCode.OutOfRange,
                $"A download cannot resume at byte {request.Offset} of {bytes.Length}."));
        int chunk = options.DownloadChunkBytes;
        int start = (int)request.Offset;
        for (int offset = start; offset < bytes.Length || offset == start; offset += chunk)
        {
            int n = Math.Min(chunk, bytes.Length - offset);
            var message = new ModelChunk { Offset = offset, Data = UnsafeByteOperations.UnsafeWrap(bytes.Slice(offset, n)) };
            if (offset == start) message.Descriptor_ = descriptor; // Resumed or not, the device checks what it receives.
            await responseStream.WriteAsync(message, context.CancellationToken).ConfigureAwait(false);
            metrics.CountBytesSent(n);
            if (n == 0) break;
        }
        if (change is null) metrics.CountFullDownload();
        else metrics.CountDeltaDownload();
    }

    public override Task<GetUploadOffsetReply> GetUploadOffset(GetUploadOffsetRequest request, ServerCallContext context)
    {
        var client = Caller(context);
        var session = ledger.Find(client.ClientId, request.TaskId);
        var reply = new GetUploadOffsetReply { State = UploadState.None, Offset = 0 };
        if (session?.Accepted is not null) reply.State = UploadState.Accepted;
        else if (session?.Header is { } header && header.IdempotencyKey == request.IdempotencyKey && session.Offset > 0)
        {
            reply.State = UploadState.Partial;
            reply.Offset = session.Offset;
        }
        return Task.FromResult(reply);
    }

    public override Task<GetStatusReply> GetStatus(GetStatusRequest request, ServerCallContext context)
    {
        Caller(context);
        var status = coordinator.Status;
        return Task.FromResult(new GetStatusReply
        {
            State = status.Done ? FederationState.Done : FederationState.Running,
            Round = status.Round,
            ModelVersion = status.Version.Value,
            TotalRounds = status.TotalRounds,
            RoundUpdates = status.RoundUpdates,
            MinClients = status.MinClients,
            UpdatesAccepted = metrics.Accepted,
        });
    }

    public override async Task<SubmitUpdateReply> SubmitUpdate(IAsyncStreamReader<SubmitUpdateRequest> requestStream, ServerCallContext context)
    {
        var client = Caller(context);
        try
        {
            return await IngestAsync(client, requestStream, context).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode != StatusCode.OK)
        {
            metrics.CountRejected();
            logger.LogDebug("Upload from {Client} refused: {Status} {Detail}", client.ClientId, e.StatusCode, e.Status.Detail);
            throw;
        }
    }

    private async Task<SubmitUpdateReply> IngestAsync(ClientIdentity client, IAsyncStreamReader<SubmitUpdateRequest> requestStream, ServerCallContext context)
    {
        using var pacing = new UploadPacing(time, options.UploadIdleTimeout, options.MinUploadBytesPerSecond, options.UploadRateGrace, context.CancellationToken);
        if (!await NextAsync(requestStream, pacing, session: null).ConfigureAwait(false))
            throw Fail(StatusCode.InvalidArgument, "The upload stream is empty; it must start with an UpdateHeader.");
        if (requestStream.Current.PartCase != SubmitUpdateRequest.PartOneofCase.Header)
            throw Fail(StatusCode.InvalidArgument, "The first message of an upload must be an UpdateHeader.");
        var header = requestStream.Current.Header;

        var check = coordinator.CheckSubmission(client.ClientId, header.TaskId, out var task);
        if (check == SubmissionCheck.NotHeld)
            throw Fail(StatusCode.PermissionDenied, $"Task '{header.TaskId}' is not held by client '{client.ClientId}'.");
        if (ledger.Find(client.ClientId, header.TaskId)?.Accepted is { } earlier)
            return Duplicate(earlier, header, ledger.Find(client.ClientId, header.TaskId)!);
        if (header.TotalLength > options.MaxUpdateBytes)
            throw Fail(StatusCode.ResourceExhausted, $"The update declares {header.TotalLength} bytes; this gateway accepts at most {options.MaxUpdateBytes}.");
        if (UpdateHeaderValidation.Problem(header, task!, coordinator.Layout) is { } problem)
            throw Fail(StatusCode.InvalidArgument, problem);
        WireCodec.TryFromWire(header.Codec, out var codec);
        long largest = UpdatePayload.GetMaxValidLength(coordinator.Layout, codec);
        if (header.TotalLength > largest)
            throw Fail(StatusCode.InvalidArgument, $"total_length is {header.TotalLength}; no valid {codec} payload for this model is longer than {largest} bytes.");
        if (check == SubmissionCheck.RoundClosed)
            throw Fail(StatusCode.FailedPrecondition, $"Round {task!.Round} no longer takes updates; ask for a new task.");
        if (check == SubmissionCheck.Busy) throw CorrectionQueueFull(); // Before a byte is sent, not after the whole upload.

        // One stream per (client, task), refused rather than queued, then a per-client share, and only then a gateway-wide slot.
        var session = ledger.GetOrAdd(client.ClientId, header.TaskId, task!.Round);
        if (!session.Gate.Wait(0))
        {
            metrics.CountConcurrentStreamRefusal();
            throw Fail(StatusCode.ResourceExhausted, $"Another upload for task '{header.TaskId}' from client '{client.ClientId}' is streaming; this one is refused, not queued. End the other stream or try again shortly.", Busy());
        }
        try
        {
            if (!clientUploads.TryEnter(client.ClientId, options.MaxUploadsPerClient))
            {
                metrics.CountConcurrentStreamRefusal();
                throw Fail(StatusCode.ResourceExhausted, $"Client '{client.ClientId}' is already streaming {options.MaxUploadsPerClient} uploads, the most one client may; try again shortly.", Busy());
            }
            try
            {
                if (!metrics.TryEnterUpload(options.MaxConcurrentUploads))
                    throw Fail(StatusCode.ResourceExhausted, $"The gateway is streaming {options.MaxConcurrentUploads} uploads; try again shortly.", Busy());
                try
                {
                    if (session.Accepted is { } accepted) return Duplicate(accepted, header, session);
                    await PrepareAsync(session, header, pacing.Token).ConfigureAwait(false);
                    await ReceiveAsync(session, header, requestStream, pacing).ConfigureAwait(false);
                    var (verdict, payload) = await VerifyAsync(session, header, context.CancellationToken).ConfigureAwait(false);
                    // The validated bytes are what the journal keeps: the store is not read a second time.
                    using (payload) return await AcceptAsync(client, session, header, task, verdict, payload.Bytes).ConfigureAwait(false);
                }
                finally
                {
                    metrics.ExitUpload();
                }
            }
            finally
            {
                clientUploads.Exit(client.ClientId);
            }
        }
        finally
        {
            // Bytes of an upload nobody can finish any more (its round moved on while it streamed) go now, not at the next sweep.
            if (session.Accepted is null && session.Header is not null && coordinator.CheckSubmission(client.ClientId, header.TaskId, out _) is not (SubmissionCheck.Open or SubmissionCheck.Busy))
                await DiscardAsync(session).ConfigureAwait(false);
            session.Gate.Release();
        }
    }

    /// <summary>The next message, or false at the end; a stream idle past the timeout is ended and its bytes deleted.</summary>
    private async Task<bool> NextAsync(IAsyncStreamReader<SubmitUpdateRequest> requestStream, UploadPacing pacing, UploadSession? session)
    {
        try
        {
            return await requestStream.MoveNext(pacing.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (pacing.IdleExpired && e is OperationCanceledException or IOException or RpcException)
        {
            if (session is not null) await DiscardAsync(session).ConfigureAwait(false);
            metrics.CountTimedOut();
            throw Fail(StatusCode.DeadlineExceeded, $"No message arrived for {pacing.IdleTimeout.TotalSeconds:0.###} s; the gateway ended the upload and dropped its bytes. Send it again from byte 0.");
        }
    }

    /// <summary>Starts a new upload, or checks that a resumed one continues where the store stands.</summary>
    private async Task PrepareAsync(UploadSession session, UpdateHeader header, CancellationToken cancellationToken)
    {
        if (session.Continues(header))
        {
            if (header.Offset != session.Offset)
                throw Fail(StatusCode.Aborted, $"The upload resumes at byte {header.Offset}, but the gateway holds {session.Offset}; ask GetUploadOffset and resume from there.",
                    new Metadata { { UploadOffsetTrailer, session.Offset.ToString(System.Globalization.CultureInfo.InvariantCulture) } });
            session.Header = header;
            return;
        }
        if (header.Offset != 0)
            throw Fail(StatusCode.Aborted, $"The upload resumes at byte {header.Offset}, but the gateway holds nothing of it; start at 0.",
                new Metadata { { UploadOffsetTrailer, "0" } });
        if (session.Header is not null) await DiscardAsync(session).ConfigureAwait(false);
        try
        {
            // The declared length lets a contiguous store (the node's shared memory) reserve the room once.
            session.Writer = await store.OpenWriteAsync(session.Reference, header.TotalLength, cancellationToken).ConfigureAwait(false);
            if (session.Writer.Length != 0)
            {
                // Bytes left by an earlier gateway instance whose running checksum is gone: start over.
                await store.DeleteAsync(session.Reference, cancellationToken).ConfigureAwait(false);
                session.Writer = await store.OpenWriteAsync(session.Reference, header.TotalLength, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (UpdateStoreFullException e)
        {
            // Push-back: nothing of this upload is held, and the device retries after the delay.
            throw StoreFull(e);
        }
        session.Header = header;
        session.Draft = ledger.Journal?.BeginPayload(session.Round, header.TotalLength);
    }

    /// <summary>Streams chunks into the store, one at a time, stopping at the first byte past the declared length or the limit.</summary>
    private async Task ReceiveAsync(UploadSession session, UpdateHeader header, IAsyncStreamReader<SubmitUpdateRequest> requestStream, UploadPacing pacing)
    {
        var writer = session.Writer!;
        var cancellationToken = pacing.Token;
        while (await NextAsync(requestStream, pacing, session).ConfigureAwait(false))
        {
            var part = requestStream.Current;
            if (part.PartCase != SubmitUpdateRequest.PartOneofCase.Chunk)
                throw Fail(StatusCode.InvalidArgument, "Only payload chunks may follow the UpdateHeader.");
            var data = part.Chunk.Memory;
            long after = writer.Length + data.Length;
            if (after > options.MaxUpdateBytes)
            {
                await DiscardAsync(session).ConfigureAwait(false);
                throw Fail(StatusCode.ResourceExhausted, $"The upload passed {options.MaxUpdateBytes} bytes, the most this gateway accepts; reading stopped.");
            }
            if (after > header.TotalLength)
            {
                await DiscardAsync(session).ConfigureAwait(false);
                throw Fail(StatusCode.InvalidArgument, $"The upload sent more than the {header.TotalLength} bytes its header declared.");
            }
            if (!session.PrefixChecked && CheckPrefix(session, header, writer.Length, data.Span) is { } problem)
            {
                await DiscardAsync(session).ConfigureAwait(false);
                throw Fail(StatusCode.InvalidArgument, problem);
            }
            long position = writer.Length;
            try
            {
                await writer.WriteAsync(data, cancellationToken).ConfigureAwait(false);
            }
            catch (UpdateStoreFullException e)
            {
                await DiscardAsync(session).ConfigureAwait(false);
                throw StoreFull(e);
            }
            // The journal's copy goes to disk as it streams, not all at the round's end.
            session.Draft?.Write(position, data.Span);
            session.Checksum.Append(data.Span);
            metrics.CountBytes(data.Length);
            if (pacing.Received(data.Length) is { } tooSlow)
            {
                await DiscardAsync(session).ConfigureAwait(false);
                metrics.CountTimedOut();
                throw Fail(StatusCode.DeadlineExceeded, tooSlow);
            }
        }
        if (writer.Length < header.TotalLength)
            throw Fail(StatusCode.FailedPrecondition, $"The upload ended at byte {writer.Length} of {header.TotalLength}; resume from there.",
                new Metadata { { UploadOffsetTrailer, writer.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) } });
        uint crc = session.Checksum.GetCurrentHashAsUInt32();
        if (crc != header.Crc32C)
        {
            await DiscardAsync(session).ConfigureAwait(false);
            throw Fail(StatusCode.InvalidArgument, $"The payload's CRC-32C is {crc:X8}; the header declared {header.Crc32C:X8}. Send it again from byte 0.");
        }
    }

    /// <summary>Collects the payload's first bytes and, once its fixed header is complete, checks it before reading on; null when fine so far.</summary>
    private string? CheckPrefix(UploadSession session, UpdateHeader header, long offset, ReadOnlySpan<byte> data)
    {
        int wanted = session.Prefix.Length;
        if (offset < wanted) data[..(int)Math.Min(wanted - offset, data.Length)].CopyTo(session.Prefix.AsSpan((int)offset));
        if (offset + data.Length < wanted) return null;
        string? problem = UpdateHeaderValidation.PayloadProblem(session.Prefix, header, coordinator.Layout);
        session.PrefixChecked = problem is null;
        return problem;
    }

    /// <summary>
    /// Reads the complete, checksummed payload back from the store and decodes it once: refuses what no
    /// aggregator could fold (INVALID_ARGUMENT), bounds its L2 norm (refused with FAILED_PRECONDITION, or
    /// clipped by rewriting the stored payload scaled) and caps the weight it declared. The caller disposes
    /// the inspection, which holds the payload as stored.
    /// </summary>
    private async Task<(UpdateVerdict, PayloadInspection)> VerifyAsync(UploadSession session, UpdateHeader header, CancellationToken cancellationToken)
    {
        // Committing makes the bytes readable; nothing announces them before AcceptAsync, and a refusal deletes them.
        await session.Writer!.CommitAsync(CancellationToken.None).ConfigureAwait(false);
        await validations.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var layout = coordinator.Layout;
            PayloadInspection inspection;
            try
            {
                inspection = await PayloadInspection.ReadAsync(store, session.Reference, (int)header.TotalLength, layout, CancellationToken.None).ConfigureAwait(false);
            }
            catch (InvalidPayloadException e)
            {
                await DiscardAsync(session).ConfigureAwait(false);
                metrics.CountRefusedByValidation();
                throw Fail(StatusCode.InvalidArgument, $"The payload cannot be folded: {e.Message}");
            }
            try
            {
                double norm = inspection.Norm;
                var (bound, basis) = bounds.NormBound(coordinator.Model);
                bool clipped = false;
                if (!(norm <= bound))
                {
                    if (options.NormPolicy == UpdateNormPolicy.Refuse)
                    {
                        await DiscardAsync(session).ConfigureAwait(false);
                        metrics.CountRefusedByNorm();
                        throw Fail(StatusCode.FailedPrecondition, string.Create(System.Globalization.CultureInfo.InvariantCulture,
                            $"The update's L2 norm is {norm:G4}, above this gateway's bound of {bound:G4} ({basis}); it was refused. Ask for a new task."));
                    }
                    double factor = Math.Min(1.0, bound / norm);
                    // A factor below float's normal range is applied as two square roots, so it never rounds to zero.
                    if (factor >= 1e-30) inspection.Scale(layout, (float)factor);
                    else
                    {
                        inspection.Scale(layout, (float)Math.Sqrt(factor));
                        inspection.Scale(layout, (float)Math.Sqrt(factor));
                    }
                    // The stored bytes are replaced by the scaled payload: same codec and length, so every aggregator folds it unchanged.
                    await store.DeleteAsync(session.Reference, CancellationToken.None).ConfigureAwait(false);
                    try
                    {
                        // The inspection still borrows the original, so a node store needs room for a second copy here.
                        session.Writer = await store.OpenWriteAsync(session.Reference, inspection.Length, CancellationToken.None).ConfigureAwait(false);
                        await session.Writer.WriteAsync(inspection.Bytes, CancellationToken.None).ConfigureAwait(false);
                    }
                    catch (UpdateStoreFullException e)
                    {
                        await DiscardAsync(session).ConfigureAwait(false);
                        throw StoreFull(e);
                    }
                    session.Draft?.Write(0, inspection.Bytes.Span);
                    logger.LogInformation("Update {Reference} clipped from norm {Norm:G4} to {Bound:G4} ({Basis}).", session.Reference, norm, bound, basis);
                    norm = bound;
                    clipped = true;
                }
                var (cap, capBasis) = bounds.SampleCap();
                long samples = Math.Min(header.SampleCount, cap);
                if (samples < header.SampleCount)
                    logger.LogInformation("Update {Reference} declared {Declared} samples; weighted by {Cap} ({Basis}).", session.Reference, header.SampleCount, cap, capBasis);
                return (new UpdateVerdict(norm, clipped, samples), inspection);
            }
            catch
            {
                inspection.Dispose();
                throw;
            }
        }
        finally
        {
            validations.Gate.Release();
        }
    }

    private UpdateCodec ChooseCodec(ClientCapabilities? capabilities)
    {
        var preferred = WireCodec.ToWire(options.Codec);
        // A device that cannot encode the preferred codec is asked for the identity codec, which every device has.
        return capabilities is null || capabilities.Codecs.Count == 0 || capabilities.Codecs.Contains(preferred) ? preferred : UpdateCodec.Identity;
    }

    private async Task<SubmitUpdateReply> AcceptAsync(ClientIdentity client, UploadSession session, UpdateHeader header, RoundTask task, UpdateVerdict verdict, ReadOnlyMemory<byte> payload)
    {
        switch (coordinator.TryReserve(client.ClientId, header.TaskId, UpdateHeaderValidation.EvaluationOf(header)))
        {
            case SubmissionCheck.Open:
                break;
            case SubmissionCheck.RoundClosed:
                await DiscardAsync(session).ConfigureAwait(false);
                throw Fail(StatusCode.FailedPrecondition, $"Round {task.Round} closed while the update was streaming; ask for a new task.");
            case SubmissionCheck.AlreadySubmitted:
                throw Fail(StatusCode.AlreadyExists, $"Task '{task.TaskId}' already has an update.");
            case SubmissionCheck.Busy:
                // The queue filled while the update streamed. Nothing was acknowledged: the device sends it again after the delay.
                await DiscardAsync(session).ConfigureAwait(false);
                throw CorrectionQueueFull();
            default:
                throw Fail(StatusCode.PermissionDenied, $"Task '{header.TaskId}' is not held by client '{client.ClientId}'.");
        }
        var reply = new SubmitUpdateReply
        {
            Outcome = SubmitOutcome.Accepted,
            UpdateId = session.Reference.Key,
            Round = task.Round,
            ReceivedBytes = header.TotalLength,
        };
        try
        {
            // Past this point nothing is awaited that the client's cancellation could interrupt.
            await session.Writer!.CommitAsync(CancellationToken.None).ConfigureAwait(false);
            var arrived = new UpdateArrived(session.Reference, client.ClientId, task.TaskId, task.Round, task.BaseVersion,
                verdict.SampleCount, header.TotalLength, options.Node);
            // Durable before it is acknowledged or announced: a crash from here on loses nothing the device hears ACCEPTED for.
            if (ledger.Journal is { } journal)
                await journal.RecordAcceptedAsync(new AcceptedUpdate(arrived, header.IdempotencyKey, UpdateHeaderValidation.EvaluationOf(header)),
                    payload, session.Draft, CancellationToken.None).ConfigureAwait(false);
            await bus.PublishAsync(arrived, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            coordinator.CancelReservation(client.ClientId, header.TaskId);
            await DiscardAsync(session).ConfigureAwait(false);
            if (e is IOException) logger.LogError("Update {Reference} could not be recorded: {Reason}", session.Reference, e.Message);
            else logger.LogError(e, "Update {Reference} could not be stored or announced.", session.Reference);
            throw Fail(StatusCode.Unavailable, "The update could not be stored; send it again.");
        }
        session.Accepted = reply;
        session.Writer = null;
        metrics.CountAccepted();
        bounds.Record(verdict.Norm, header.SampleCount);
        if (verdict.Clipped) metrics.CountClippedByNorm();
        if (verdict.SampleCount < header.SampleCount) metrics.CountCappedWeight();
        return reply;
    }

    private SubmitUpdateReply Duplicate(SubmitUpdateReply accepted, UpdateHeader header, UploadSession session)
    {
        if (session.Header?.IdempotencyKey != header.IdempotencyKey)
            throw Fail(StatusCode.AlreadyExists, $"Task '{header.TaskId}' already has an accepted update under another idempotency key.");
        metrics.CountDuplicate();
        var reply = accepted.Clone();
        reply.Outcome = SubmitOutcome.Duplicate;
        return reply;
    }

    private Task DiscardAsync(UploadSession session) => ledger.DiscardAsync(session);

    private ClientIdentity Caller(ServerCallContext context)
    {
        var identity = context.UserState.TryGetValue(BearerTokenInterceptor.IdentityKey, out var value) && value is ClientIdentity id
            ? id
            : throw new RpcException(new Status(StatusCode.Unauthenticated, "The call carries no authenticated client."));
        if (!coordinator.Ready)
            throw Fail(StatusCode.Unavailable, "The gateway is starting or stopping its rounds; try again shortly.",
                new Metadata { { RetryAfterTrailer, "1000" } });
        return identity;
    }

    private Metadata Busy() => RetryAfter(options.BusyRetryAfter);

    /// <summary>Push-back from the aggregator's full correction queue: RESOURCE_EXHAUSTED with a retry delay, counted.</summary>
    private RpcException CorrectionQueueFull()
    {
        metrics.CountCorrectionQueueFull();
        return Fail(StatusCode.ResourceExhausted, "The aggregator's correction queue is full; send the update again shortly.", RetryAfter(CorrectionRetryAfter));
    }

    /// <summary>Push-back from a full update store: RESOURCE_EXHAUSTED with the store's retry delay, counted.</summary>
    private RpcException StoreFull(UpdateStoreFullException e)
    {
        metrics.CountStoreFull();
        return Fail(StatusCode.ResourceExhausted, e.Message, RetryAfter(e.RetryAfter));
    }

    private static Metadata RetryAfter(TimeSpan wait) => new() { { RetryAfterTrailer, Milliseconds(wait) } };

    private static string Milliseconds(TimeSpan wait) =>
        ((long)Math.Ceiling(wait.TotalMilliseconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static RpcException Fail(StatusCode code, string detail, Metadata? trailers = null) =>
        trailers is null ? new RpcException(new Status(code, detail)) : new RpcException(new Status(code, detail), trailers);
}

using System.Diagnostics;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Offload.Client.Training;
using Offload.Core.Data;
using Offload.Core.Federation;
using Offload.Core.Codec;
using Offload.Core.Model;

namespace Offload.Client.Federation;

/// <summary>
/// A device's connection to an Offload gateway: ask for a task, download the global model, submit the
/// trained update; <see cref="ParticipateAsync"/> loops over rounds until the federation is done.
/// Every call retries transient failures (UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, INTERNAL, and
/// RESOURCE_EXHAUSTED when the gateway says to come back) with exponential backoff and jitter, and an
/// upload that drops resumes from what the gateway already holds. Nothing is written to the console;
/// logs go to the <see cref="ILogger"/> given to <see cref="FederatedClientBuilder"/>.
/// Build one with <see cref="FederatedClientBuilder"/> or <c>services.AddOffloadClient(...)</c>.
/// Thread-safe; dispose it to close its connection.
/// </summary>
public abstract class FederatedClient : IDisposable
{
    /// <summary>The client id the gateway knows this device by, once enrolled or after the first task; else null.</summary>
    public abstract string? ClientId { get; }

    /// <summary>Exchanges a one-time enrollment code for a token, which later calls use; returns the client id.</summary>
    /// <exception cref="RpcException">UNAUTHENTICATED: the code is unknown or spent; or a transient failure persisted past the retries.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public abstract Task<string> EnrollAsync(string enrollmentCode, CancellationToken cancellationToken = default);

    /// <summary>Asks for work: a task, a wait, or done.</summary>
    /// <exception cref="RpcException">UNAUTHENTICATED: the token is not accepted; or a transient failure persisted past the retries.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public abstract Task<FederatedTask> GetTaskAsync(CancellationToken cancellationToken = default);

    /// <summary>Downloads the global model <paramref name="task"/> starts from in full, checked against its CRC-32C.</summary>
    /// <exception cref="ArgumentException"><paramref name="task"/> is not an assigned task.</exception>
    /// <exception cref="RpcException">FAILED_PRECONDITION: the round moved on (ask for a new task); or another refusal.</exception>
    /// <exception cref="InvalidDataException">The bytes do not match their checksum or the task's model.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<float[]> DownloadModelAsync(FederatedTask task, CancellationToken cancellationToken = default) =>
        (await DownloadModelAsync(task, null, cancellationToken).ConfigureAwait(false)).Weights;

    /// <summary>
    /// Downloads the global model <paramref name="task"/> starts from. The client keeps the last model it
    /// received; given the <paramref name="layout"/> to decode with, it tells the gateway which version it
    /// holds, and when the gateway answers with the encoded change from that version it decodes it, adds it
    /// to the held weights and checks the result against the gateway's CRC-32C of the full weights. A change
    /// that cannot be decoded or whose result does not match is discarded (logged as a warning) and the full
    /// weights are downloaded once instead.
    /// </summary>
    /// <param name="task">The assigned task.</param>
    /// <param name="layout">The model's layout (the trainer's), needed to decode a change; null downloads full weights.</param>
    /// <param name="cancellationToken">Stops the download.</param>
    /// <exception cref="ArgumentException"><paramref name="task"/> is not an assigned task, or <paramref name="layout"/> is not the task's model.</exception>
    /// <exception cref="RpcException">FAILED_PRECONDITION: the round moved on (ask for a new task); or another refusal.</exception>
    /// <exception cref="InvalidDataException">The full weights do not match their checksum or the task's model.</exception>
    /// <exception cref="InvalidModelException">The model arrived intact but a weight is not finite (it is not kept as the next change's base).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public abstract Task<ModelDownload> DownloadModelAsync(FederatedTask task, TensorLayout? layout, CancellationToken cancellationToken = default);

    /// <summary>
    /// Uploads an encoded update for <paramref name="task"/>, resuming after dropped connections, and
    /// returns the gateway's acknowledgement. However often it retries, the gateway counts it once.
    /// </summary>
    /// <param name="task">The assigned task the update answers.</param>
    /// <param name="payload">The update as an <see cref="Core.Codec.IUpdateCodec"/> encoded it (identity or FedZip).</param>
    /// <param name="sampleCount">Samples it was trained on.</param>
    /// <param name="progress">Told after each chunk.</param>
    /// <param name="cancellationToken">Stops the upload; what was sent stays resumable until the round closes.</param>
    /// <exception cref="ArgumentException"><paramref name="task"/> is not an assigned task, the payload is not an encoded update, or the sample count is not positive.</exception>
    /// <exception cref="RpcException">PERMISSION_DENIED, RESOURCE_EXHAUSTED (too large), INVALID_ARGUMENT, FAILED_PRECONDITION (round closed), ALREADY_EXISTS; or a transient failure persisted past the retries.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public abstract Task<UploadReceipt> SubmitUpdateAsync(FederatedTask task, ReadOnlyMemory<byte> payload, long sampleCount,
        IProgress<UploadProgress>? progress = null, CancellationToken cancellationToken = default, EvaluationResult? evaluation = null);

    /// <summary>Where the federation stands.</summary>
    /// <exception cref="RpcException">UNAUTHENTICATED, or a transient failure persisted past the retries.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public abstract Task<FederationStatus> GetStatusAsync(CancellationToken cancellationToken = default);

    /// <summary>The settings the client was built with.</summary>
    public abstract FederatedClientOptions Options { get; }

    /// <summary>The logger the client writes to.</summary>
    protected abstract ILogger Logger { get; }

    /// <summary>
    /// Takes part until the federation is done: per round, get a task, download the model, train
    /// <paramref name="trainer"/> on samples <paramref name="indices"/> of <paramref name="data"/> with the
    /// seed <see cref="ClientSeed.For"/>(<paramref name="runSeed"/>, round, <paramref name="clientIndex"/>)
    /// (the in-process simulator's), encode the update with the codec the task names (FedZip with
    /// this client's error-feedback residual carried across rounds, or the identity codec), and submit
    /// it. A task whose round moved on is dropped and a new one asked for, as is one the gateway
    /// refuses as not held because it restarted (up to <see cref="MaxRefusedTasks"/> in a row).
    /// A round whose model is unusable (not finite, or not what the task names), whose training
    /// diverges or whose update cannot be encoded is skipped without an upload: logged as a warning,
    /// reported as <see cref="ParticipationStage.Skipped"/> with a <see cref="SkippedRound"/>, and the
    /// next task asked for after a backoff that doubles per skip in a row up to
    /// <see cref="FederatedClientOptions.MaxBackoff"/>, so a server that keeps serving a bad model is
    /// asked at a bounded rate until it says done or <paramref name="cancellationToken"/> is cancelled.
    /// A gateway that cannot be reached past a call's own tries (restarting, say) is asked again with a
    /// backoff for up to <see cref="FederatedClientOptions.MaxOutage"/>; an upload is resent for the same task.
    /// Cancellation stops at the next safe point: between training batches, or by aborting an upload
    /// (the gateway keeps what it acknowledged, and a later run resumes it).
    /// </summary>
    /// <exception cref="ArgumentException">No indices, or the trainer's model is not the gateway's (layout hash differs).</exception>
    /// <exception cref="RpcException">A refusal that asking again cannot fix (authentication included), or a transient failure past the retries.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<IReadOnlyList<RoundParticipation>> ParticipateAsync(ITrainer trainer, ImageDataset data, int[] indices,
        int clientIndex, int runSeed, IProgress<ParticipationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(indices);
        if (indices.Length == 0) throw new ArgumentException("A client needs at least one sample to train.", nameof(indices));
        var rounds = new List<RoundParticipation>();
        var update = new float[trainer.Layout.TotalLength];
        ErrorFeedback? feedback = null;
        int refusedTasks = 0;
        int skippedInARow = 0;
        while (true)
        {
            progress?.Report(new ParticipationProgress(ParticipationStage.WaitingForTask, rounds.Count == 0 ? 0 : rounds[^1].Round));
            var task = await ThroughOutagesAsync(() => GetTaskAsync(cancellationToken), upload: false, cancellationToken).ConfigureAwait(false);
            if (task.State == FederatedTaskState.Done)
            {
                progress?.Report(new ParticipationProgress(ParticipationStage.Done, task.Round));
                Logger.LogInformation("The federation is done after {Rounds} rounds of this client's.", rounds.Count);
                return rounds;
            }
            if (task.State == FederatedTaskState.Wait)
            {
                await Task.Delay(Clamp(task.RetryAfter), cancellationToken).ConfigureAwait(false);
                continue;
            }
            if (task.LayoutHash != trainer.Layout.Hash || task.ParameterCount != trainer.Layout.TotalLength)
                throw new ArgumentException($"The gateway's model ({task.ParameterCount} parameters, layout {task.LayoutHash:X16}) is not this trainer's ({trainer.Layout}, layout {trainer.Layout.Hash:X16}).", nameof(trainer));

            (SkipReason Reason, string Detail)? skip = null;
            try
            {
                progress?.Report(new ParticipationProgress(ParticipationStage.Downloading, task.Round));
                var download = await ThroughOutagesAsync(() => DownloadModelAsync(task, trainer.Layout, cancellationToken), upload: false, cancellationToken).ConfigureAwait(false);
                float[] weights = download.Weights;

                progress?.Report(new ParticipationProgress(ParticipationStage.Training, task.Round));
                var clock = Stopwatch.StartNew();
                int seed = ClientSeed.For(runSeed, task.Round, clientIndex);
                var training = task.Training!;
                // Federated evaluation: the model as sent, scored on this device's own data before it trains.
                var evaluation = training.Evaluate ? await Task.Run(() => trainer.Evaluate(weights, data, indices), cancellationToken).ConfigureAwait(false) : null;
                if (evaluation is not null && !double.IsFinite(evaluation.MeanLoss))
                {
                    Logger.LogWarning("Round {Round}: the model's loss on this device's data is {Loss}; the evaluation is not reported.", task.Round, evaluation.MeanLoss);
                    evaluation = null;
                }
                var result = await Task.Run(() => trainer.Train(weights, data, indices, training, seed, update, cancellationToken), cancellationToken).ConfigureAwait(false);
                double trainSeconds = clock.Elapsed.TotalSeconds;
                // Any trainer's output is checked, not only TorchTrainer's: a non-finite update is never sent.
                int bad = ModelUpdate.FirstNonFinite(update);
                if (bad >= 0 || !double.IsFinite(result.MeanLoss))
                    throw new TrainingDivergedException(bad >= 0 ? $"Training diverged: update value {bad} is {update[bad]}." : $"Training diverged: the mean loss is {result.MeanLoss}.");
                byte[] payload;
                try
                {
                    if (task.Codec == PayloadCodec.FedZip)
                    {
                        feedback ??= ErrorFeedback.For(new FedZipCodec(Options.FedZip), trainer.Layout);
                        payload = feedback.Encode(update);
                    }
                    else payload = IdentityCodec.Instance.Encode(update, trainer.Layout);
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException or InvalidPayloadException)
                {
                    throw new EncodingFailedException(e);
                }

                var uploadProgress = progress is null ? null : new Progress<UploadProgress>(p => progress.Report(new ParticipationProgress(ParticipationStage.Uploading, task.Round, p)));
                var receipt = await ThroughOutagesAsync(() => SubmitUpdateAsync(task, payload, result.SampleCount, uploadProgress, cancellationToken, evaluation),
                    upload: true, cancellationToken).ConfigureAwait(false);
                var done = new RoundParticipation(task.Round, task.ModelVersion, result.SampleCount, result.MeanLoss, receipt, trainSeconds,
                    download.Bytes, download.Delta, evaluation);
                rounds.Add(done);
                refusedTasks = 0;
                skippedInARow = 0;
                progress?.Report(new ParticipationProgress(ParticipationStage.Submitted, task.Round, Completed: done));
                Logger.LogInformation("Round {Round}: trained on {Samples} samples (loss {Loss:F4}), update {Outcome}.", task.Round, result.SampleCount, result.MeanLoss, receipt.Duplicate ? "already counted" : "accepted");
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.FailedPrecondition)
            {
                Logger.LogInformation("Round {Round} moved on before this client finished ({Detail}); asking for a new task.", task.Round, e.Status.Detail);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.PermissionDenied && ++refusedTasks <= MaxRefusedTasks)
            {
                // The gateway no longer knows the task it handed out: it restarted (it resumes its
                // rounds, not the tasks in flight). A new task is the way on; a gateway that keeps
                // refusing is a real refusal, reported after MaxRefusedTasks tries.
                Logger.LogWarning("The gateway refused task {Task} of round {Round} ({Detail}); asking for a new task.", task.TaskId, task.Round, e.Status.Detail);
            }
            // The server's model or this round's local work is at fault, not the caller: the next
            // round may be fine (a robust strategy, a rolled-back model), so the device stays in.
            catch (Exception e) when (e is InvalidDataException or InvalidModelException && !cancellationToken.IsCancellationRequested)
            {
                skip = (SkipReason.InvalidModel, e.Message);
            }
            catch (TrainingDivergedException e) when (!cancellationToken.IsCancellationRequested)
            {
                skip = (SkipReason.TrainingDiverged, e.Message);
            }
            catch (EncodingFailedException e) when (!cancellationToken.IsCancellationRequested)
            {
                skip = (SkipReason.EncodingFailed, e.InnerException!.Message);
            }

            if (skip is { } s)
            {
                var wait = Clamp(TransientFailures.Backoff(++skippedInARow, Options.InitialBackoff, Options.MaxBackoff, null, Random.Shared));
                var skipped = new SkippedRound(task.Round, task.ModelVersion, s.Reason, s.Detail, wait);
                Logger.LogWarning("Round {Round} skipped without an upload ({Reason}: {Detail}); asking for the next task in {Wait} ms.",
                    task.Round, s.Reason, s.Detail, (long)wait.TotalMilliseconds);
                progress?.Report(new ParticipationProgress(ParticipationStage.Skipped, task.Round, Skipped: skipped));
                await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="call"/> again, with a backoff, while it fails transiently past its own tries
    /// (the gateway restarting), for up to <see cref="FederatedClientOptions.MaxOutage"/> in a row. An
    /// upload is the same task's and idempotency key's, so the gateway counts it once whatever got through.
    /// </summary>
    private async Task<T> ThroughOutagesAsync<T>(Func<Task<T>> call, bool upload, CancellationToken cancellationToken)
    {
        long? since = null;
        int attempt = 0;
        while (true)
        {
            try
            {
                return await call().ConfigureAwait(false);
            }
            catch (RpcException e) when (TransientFailures.IsTransient(e, upload) && !cancellationToken.IsCancellationRequested
                && (since is null || Stopwatch.GetElapsedTime(since.Value) < Options.MaxOutage))
            {
                since ??= Stopwatch.GetTimestamp();
                var wait = Clamp(TransientFailures.Backoff(++attempt, Options.InitialBackoff, Options.MaxBackoff, e, Random.Shared));
                Logger.LogWarning("The gateway cannot be reached ({Status}: {Detail}); {Call} again in {Wait} ms (outage so far {Seconds:F0} s).",
                    e.StatusCode, e.Status.Detail, upload ? "uploading" : "asking for a task", (long)wait.TotalMilliseconds, Stopwatch.GetElapsedTime(since.Value).TotalSeconds);
                await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Carries an encoder's failure out of the round to the one place that turns it into a skip.</summary>
    private sealed class EncodingFailedException(Exception inner) : Exception(inner.Message, inner);

    /// <summary>Tasks in a row the gateway may refuse as not held (after a restart) before <see cref="ParticipateAsync"/> gives up.</summary>
    public const int MaxRefusedTasks = 3;

    private static TimeSpan Clamp(TimeSpan wait) =>
        wait < TimeSpan.FromMilliseconds(20) ? TimeSpan.FromMilliseconds(20) : wait > TimeSpan.FromSeconds(30) ? TimeSpan.FromSeconds(30) : wait;

    /// <summary>Closes the connection.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the transport.</summary>
    protected abstract void Dispose(bool disposing);
}

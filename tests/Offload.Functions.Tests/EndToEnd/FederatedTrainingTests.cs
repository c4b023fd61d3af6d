using Offload.Aggregator.Rounds;
using Offload.Aggregator.Strategies;
using Offload.Cli.Simulation;
using Offload.Client.Federation;
using Offload.Client.Training;
using Offload.Core.Codec;
using Offload.Core.Data;
using Offload.Core.Federation;
using Offload.Core.Model;
using Offload.Gateway.Service;

namespace Offload.Functions.Tests.EndToEnd;

/// <summary>
/// Real federated learning across a real gRPC gateway: devices train the CNN on their partitions and
/// the gateway's FedAvg rounds must reach the same model as the in-process simulator with the same
/// seed. The simulator folds in client order and the gateway in arrival order, so the two agree up to
/// float rounding: compared with a relative tolerance.
/// </summary>
/// <remarks>
/// Gentle local training (B = 50, lr = 0.02) keeps rounding differences at rounding size (about 2e-8
/// relative after three rounds). At the simulator's defaults (B = 16, lr = 0.1) one round still
/// agrees to 2e-8, but max-pooling and ReLU are not smooth: a last-bit difference can flip which input
/// a pool picks, and over three rounds the two runs drift apart by about 5e-3 relative, as any two
/// fold orders would.
/// </remarks>
public class FederatedTrainingTests
{
    private const int Seed = 7;

    private static async Task<TestFederation> StartAsync(TrainTestDataset data, SimulationOptions options, GatewayOptions? gateway = null,
        DownstreamMode downstream = DownstreamMode.Full, Func<IRoundCoordinator, IRoundCoordinator>? serve = null)
    {
        using var initial = TorchTrainer.CreateDefault(options.Seed, data.Train.Rows, data.Train.Columns, data.Train.ClassCount);
        var weights = new float[initial.Layout.TotalLength];
        initial.ExportWeights(weights);
        var rounds = new RoundOptions
        {
            MinClients = options.Clients,
            Rounds = options.Rounds,
            RoundDeadline = TimeSpan.FromHours(1),
            WaitRetry = TimeSpan.FromMilliseconds(50),
            Plan = new TrainingOptions(options.LocalEpochs, options.BatchSize, options.LearningRate),
            Downstream = downstream,
        };
        return await TestFederation.StartAsync(initial.Layout, weights, rounds, options.Clients, gateway, serve);
    }

    [Fact]
    public async Task Ten_clients_in_separate_tasks_train_three_rounds_to_the_simulators_model()
    {
        var data = ReferenceTraining.Data();
        var options = ReferenceTraining.Options(clients: 10, rounds: 3, Seed);
        await using var federation = await StartAsync(data, options);
        var participations = await ReferenceTraining.ParticipateAllAsync(data, options, i => federation.Client(i));

        Assert.All(participations, p => Assert.Equal(Enumerable.Range(1, options.Rounds).Select(r => (long)r), p.Select(r => r.Round)));
        Assert.All(participations.SelectMany(p => p), r => Assert.False(r.Receipt.Duplicate));
        Assert.Equal(10 * options.Rounds, federation.Server.Metrics.Accepted);
        Assert.All(federation.Coordinator.Rounds, r => Assert.Equal(10, r.Updates));
        Assert.Equal(options.Rounds, federation.Coordinator.Model.Version.Value);
        ReferenceTraining.AssertClose(ReferenceTraining.Simulate(data, options), federation.Coordinator.Model.Weights.Span);
    }

    [Fact]
    public async Task A_device_whose_task_the_gateway_forgot_asks_for_a_new_one_and_gives_up_only_when_refused_again_and_again()
    {
        var data = ReferenceTraining.Data();
        var options = ReferenceTraining.Options(clients: 2, rounds: 1, Seed);
        Gateway.ForgetfulCoordinator? forgetful = null;
        await using var federation = await StartAsync(data, options, serve: c => forgetful = new Gateway.ForgetfulCoordinator(c));
        forgetful!.Forget = 2; // Both devices' first submissions.
        var participations = await ReferenceTraining.ParticipateAllAsync(data, options, i => federation.Client(i));
        Assert.All(participations, p => Assert.Equal(1, Assert.Single(p).Round));
        Assert.Equal(2, federation.Server.Metrics.Accepted);
        Assert.Equal(options.Rounds, federation.Coordinator.Model.Version.Value);

        // A gateway that keeps refusing is reported, not retried for ever.
        await using var refusing = await StartAsync(data, options, serve: c => forgetful = new Gateway.ForgetfulCoordinator(c));
        forgetful!.Forget = int.MaxValue;
        var error = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => ReferenceTraining.ParticipateAllAsync(data, options with { Clients = 1 }, i => refusing.Client(i)));
        Assert.Equal(Grpc.Core.StatusCode.PermissionDenied, error.StatusCode);
    }

    [Fact]
    public async Task Client_processes_train_to_the_simulators_model()
    {
        var data = ReferenceTraining.Data();
        var options = ReferenceTraining.Options(clients: 3, rounds: 2, Seed);
        await using var federation = await StartAsync(data, options);
        using var processes = new OffloadProcesses();
        var clients = Enumerable.Range(0, options.Clients).Select(i => processes.Start(["client", "--server", federation.Server.Address.ToString(),
            "--token", TestFederation.TokenOf(i), "--partition", $"{i}/{options.Clients}", "--data", "bundled",
            "--seed", Seed.ToString(System.Globalization.CultureInfo.InvariantCulture), "--threads", "1"])).ToArray();
        var outputs = await Task.WhenAll(clients.Select(c => c.ExitAsync(TimeSpan.FromMinutes(3))));
        Assert.All(outputs, o => Assert.True(o.ExitCode == 0, $"exit {o.ExitCode}: {o.Err}\n{o.Out}"));
        Assert.All(outputs, o => Assert.Contains("done after 2 rounds", o.Out));
        await federation.Coordinator.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(6, federation.Server.Metrics.Accepted);
        ReferenceTraining.AssertClose(ReferenceTraining.Simulate(data, options), federation.Coordinator.Model.Weights.Span);
    }

    [Fact]
    public async Task FedZip_updates_travel_compressed_and_the_rounds_complete()
    {
        var data = ReferenceTraining.Data();
        var options = ReferenceTraining.Options(clients: 3, rounds: 2, Seed);
        await using var federation = await StartAsync(data, options, new GatewayOptions { Codec = PayloadCodec.FedZip });
        await ReferenceTraining.ParticipateAllAsync(data, options, i => federation.Client(i));
        var rounds = federation.Coordinator.Rounds;
        Assert.Equal(2, rounds.Count);
        Assert.All(rounds, r => Assert.Equal((3, 0), (r.Updates, r.Rejected)));
        long identityBytes = IdentityCodec.Instance.GetMaxEncodedLength(federation.Layout);
        Assert.All(rounds, r => Assert.True(r.PayloadBytes < r.Updates * identityBytes / 4, $"{r.PayloadBytes} bytes for {r.Updates} updates"));
        Assert.Equal(-1, ModelUpdateFirstNonFinite(federation.Coordinator.Model.Weights.Span));
    }

    [Fact]
    public async Task FedZip_downstream_over_three_rounds_every_client_trains_from_exactly_the_servers_view()
    {
        var data = ReferenceTraining.Data();
        var options = ReferenceTraining.Options(clients: 3, rounds: 3, Seed);
        var partitions = ClientPartitions.Create(data.Train, options);
        await using var federation = await StartAsync(data, options, new GatewayOptions { Codec = PayloadCodec.FedZip }, DownstreamMode.FedZip);
        var trainers = Enumerable.Range(0, options.Clients)
            .Select(_ => new ViewRecordingTrainer(TorchTrainer.CreateDefault(options.Seed, data.Train.Rows, data.Train.Columns, data.Train.ClassCount), federation.Coordinator)).ToArray();
        try
        {
            var participations = await Task.WhenAll(Enumerable.Range(0, options.Clients).Select(i => Task.Run(() =>
                federation.Client(i).ParticipateAsync(trainers[i], data.Train, partitions[i].Indices, i, Seed))));

            Assert.Equal(3, federation.Coordinator.Rounds.Count);
            // A round closes only when all three have submitted, so the served model cannot move while a
            // client trains: what each client trained from must be the served view, bit for bit.
            Assert.All(trainers, t =>
            {
                Assert.Equal(3, t.Starts.Count);
                Assert.All(t.Starts, s => Assert.Equal(s.Served.Weights.ToArray(), s.Weights));
                Assert.Equal(new long[] { 0, 1, 2 }, t.Starts.Select(s => s.Served.Version.Value));
            });
            long full = 4L * federation.Layout.TotalLength;
            Assert.All(participations, p =>
            {
                Assert.Equal(new[] { false, true, true }, p.Select(r => r.DownloadedDelta));
                Assert.Equal(full, p[0].DownloadBytes);
                Assert.All(p.Skip(1), r => Assert.True(r.DownloadBytes * 10 < full, $"round {r.Round}: {r.DownloadBytes} bytes"));
            });
            Assert.Equal((6L, 3L), (federation.Server.Metrics.DeltaDownloads, federation.Server.Metrics.FullDownloads));
            // The clients' view trails the true model by what compression dropped.
            Assert.NotEqual(federation.Coordinator.Model.Weights.ToArray(), federation.Coordinator.Broadcast.Weights.ToArray());
        }
        finally
        {
            foreach (var t in trainers) t.Dispose();
        }
    }

    /// <summary>Trains with the inner trainer and records the start weights next to the model the gateway serves at that moment.</summary>
    private sealed class ViewRecordingTrainer(ITrainer inner, IRoundCoordinator coordinator) : ITrainer
    {
        public List<(float[] Weights, GlobalModel Served)> Starts { get; } = [];

        public TensorLayout Layout => inner.Layout;

        public void ExportWeights(Span<float> destination) => inner.ExportWeights(destination);

        public TrainingResult Train(ReadOnlySpan<float> startWeights, ImageDataset data, ReadOnlySpan<int> indices,
            TrainingOptions options, int seed, Span<float> update, CancellationToken cancellationToken = default)
        {
            Starts.Add((startWeights.ToArray(), coordinator.Broadcast));
            return inner.Train(startWeights, data, indices, options, seed, update, cancellationToken);
        }

        public EvaluationResult Evaluate(ReadOnlySpan<float> weights, ImageDataset data, int start, int count) => inner.Evaluate(weights, data, start, count);

        public EvaluationResult Evaluate(ReadOnlySpan<float> weights, ImageDataset data, ReadOnlySpan<int> indices) => inner.Evaluate(weights, data, indices);

        public void Dispose() => inner.Dispose();
    }

    private static int ModelUpdateFirstNonFinite(ReadOnlySpan<float> values) => Core.Model.ModelUpdate.FirstNonFinite(values);
}

using Grpc.Core;
using Offload.Aggregator.Rounds;
using Offload.Aggregator.Strategies;
using Offload.Client.Federation;
using Offload.Client.Training;
using Offload.Core.Codec;
using Offload.Core.Federation;
using Offload.Core.Protos;

namespace Offload.Functions.Tests.Gateway;

/// <summary>The strategy's hooks over real gRPC: what it configures reaches devices, what devices score reaches the summary, and a robust rule holds against a device that lies.</summary>
public class StrategyOverGrpcTests
{
    private const int Parameters = 64;

    [Fact]
    public async Task FedProx_and_federated_evaluation_reach_devices_and_the_round_summary()
    {
        var layout = TestFederation.FlatLayout(Parameters);
        var rounds = new RoundOptions
        {
            MinClients = 2, Rounds = 1, RoundDeadline = TimeSpan.FromHours(1),
            Strategy = new FedProx(proximalMu: 0.25), Plan = new TrainingOptions(2, 8, 0.05) { Evaluate = true },
        };
        await using var federation = await TestFederation.StartAsync(layout, new float[Parameters], rounds, clients: 2);
        var scores = new[] { new EvaluationResult(100, 80, 50.0), new EvaluationResult(300, 120, 300.0) };
        for (int i = 0; i < 2; i++)
        {
            var client = federation.Client(i);
            var task = await client.GetTaskAsync();
            Assert.Equal(0.25, task.Training!.ProximalMu);
            Assert.True(task.Training.Evaluate);
            Assert.Equal(2, task.Training.LocalEpochs);
            await client.SubmitUpdateAsync(task, IdentityCodec.Instance.Encode(new float[Parameters], layout), 10, evaluation: scores[i]);
        }
        await federation.Coordinator.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        var evaluation = Assert.Single(federation.Coordinator.Rounds).Evaluation;
        Assert.NotNull(evaluation);
        Assert.Equal(2, evaluation.Clients);
        Assert.Equal(400, evaluation.Examples);
        Assert.Equal((80 + 120) / 400.0, evaluation.Accuracy, 9); // Weighted by examples: 0.8 * 100 + 0.4 * 300.
        Assert.Equal((50.0 + 300.0) / 400.0, evaluation.Loss, 9);
    }

    /// <summary>A strategy written by overriding one member: a learning-rate warm-up with a free setting, per round.</summary>
    private sealed class WarmUp : FedAvg
    {
        public override string Name => "warmup";

        public override TrainingOptions Configure(long round, TrainingOptions defaults) => defaults with
        {
            LearningRate = defaults.LearningRate * Math.Min(1.0, round / 2.0),
            Settings = new Dictionary<string, string> { ["phase"] = round < 2 ? "warm-up" : "steady" },
        };
    }

    [Fact]
    public async Task A_strategy_that_overrides_Configure_reaches_devices_each_round()
    {
        var layout = TestFederation.FlatLayout(Parameters);
        await using var federation = await TestFederation.StartAsync(layout, new float[Parameters],
            new RoundOptions { MinClients = 1, Rounds = 2, RoundDeadline = TimeSpan.FromHours(1), Strategy = new WarmUp(), Plan = new TrainingOptions(1, 16, 0.2) }, clients: 1);
        var client = federation.Client(0);
        var seen = new List<TrainingOptions>();
        for (int round = 1; round <= 2; round++)
        {
            var task = await client.GetTaskAsync();
            while (task.State == FederatedTaskState.Wait || task.Round != round)
            {
                await Task.Delay(20);
                task = await client.GetTaskAsync();
            }
            seen.Add(task.Training!);
            await client.SubmitUpdateAsync(task, IdentityCodec.Instance.Encode(new float[Parameters], layout), 10);
        }
        Assert.Equal([0.1, 0.2], seen.Select(t => t.LearningRate));
        Assert.Equal(["warm-up", "steady"], seen.Select(t => t.Settings["phase"]));
    }

    [Theory]
    [InlineData(0, 0.1, 0.5, "evaluation.examples")]
    [InlineData(10, double.NaN, 0.5, "evaluation.loss")]
    [InlineData(10, -1, 0.5, "evaluation.loss")]
    [InlineData(10, 0.1, 1.5, "evaluation.accuracy")]
    [InlineData(10, 0.1, double.PositiveInfinity, "evaluation.accuracy")]
    public async Task An_absurd_evaluation_is_refused_with_the_field_it_names(long examples, double loss, double accuracy, string field)
    {
        var layout = TestFederation.FlatLayout(Parameters);
        await using var federation = await TestFederation.StartAsync(layout, new float[Parameters],
            new RoundOptions { MinClients = 1, Rounds = 1, Plan = new TrainingOptions() { Evaluate = true } }, clients: 1);
        var task = await federation.Client(0).GetTaskAsync();
        var payload = IdentityCodec.Instance.Encode(new float[Parameters], layout);
        var header = UploadFaultTests.Header(task, payload);
        header.Evaluation = new LocalEvaluation { Examples = examples, Loss = loss, Accuracy = accuracy };
        var e = await Assert.ThrowsAsync<RpcException>(() => UploadFaultTests.SendAsync(federation.Raw(), 0, header, payload));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains(field, e.Status.Detail);
        Assert.Equal(0, federation.Server.Metrics.Accepted);
    }

    [Fact]
    public async Task A_median_round_ignores_one_device_that_sends_a_huge_update_and_claims_many_samples()
    {
        var layout = TestFederation.FlatLayout(Parameters);
        await using var federation = await TestFederation.StartAsync(layout, new float[Parameters],
            new RoundOptions { MinClients = 3, Rounds = 1, RoundDeadline = TimeSpan.FromHours(1), Strategy = new CoordinateMedian() }, clients: 3);
        float[] sent = [1f, 2f, -1e6f];
        long[] claimed = [10, 10, 1_000_000];
        await Task.WhenAll(Enumerable.Range(0, 3).Select(async i =>
        {
            var client = federation.Client(i);
            var task = await client.GetTaskAsync();
            var update = new float[Parameters];
            Array.Fill(update, sent[i]);
            await client.SubmitUpdateAsync(task, IdentityCodec.Instance.Encode(update, layout), claimed[i]);
        }));
        await federation.Coordinator.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        // The median of {1, 2, -1e6} is 1; FedAvg would have moved every weight to about -1e6.
        Assert.All(federation.Coordinator.Model.Weights.ToArray(), w => Assert.Equal(1f, w));
        Assert.Equal("median", federation.Coordinator.Strategy.Name);
    }
}

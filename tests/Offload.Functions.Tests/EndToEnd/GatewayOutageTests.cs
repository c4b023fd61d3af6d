using Microsoft.Extensions.Logging;
using Offload.Aggregator.Rounds;
using Offload.Client.Federation;
using Offload.Client.Training;
using Offload.Core.Federation;

namespace Offload.Functions.Tests.EndToEnd;

/// <summary>
/// A device whose gateway is down for longer than one call's tries (a restart, a rollout) keeps
/// asking for up to <see cref="FederatedClientOptions.MaxOutage"/>, where it used to give up and end
/// its process after about 20 s.
/// </summary>
public class GatewayOutageTests
{
    [Fact]
    public async Task A_device_rides_out_a_gateway_that_is_down_past_its_retries_and_takes_part_once_it_is_up()
    {
        var data = ReferenceTraining.Data();
        using var trainer = TorchTrainer.CreateDefault(7, data.Train.Rows, data.Train.Columns, data.Train.ClassCount);
        var weights = new float[trainer.Layout.TotalLength];
        trainer.ExportWeights(weights);
        int port = DaprDeploymentTests.FreePort();

        var warnings = new List<string>();
        var outage = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var loggers = new LoggerFactory([new WarningCapture(warnings, w => { if (w.Contains("cannot be reached", StringComparison.Ordinal)) outage.TrySetResult(); })]);
        using var client = new FederatedClientBuilder(new Uri($"http://127.0.0.1:{port}")).WithToken(TestFederation.TokenOf(0)).WithLoggerFactory(loggers)
            .Configure(o => o with { MaxAttempts = 2, InitialBackoff = TimeSpan.FromMilliseconds(20), MaxBackoff = TimeSpan.FromMilliseconds(200) })
            .Build();
        var participation = client.ParticipateAsync(trainer, data.Train, [.. Enumerable.Range(0, 200)], 0, 7);

        // The gateway comes up only once the device has used up a call's own tries: the outage is longer than they are.
        await outage.Task.WaitAsync(TimeSpan.FromMinutes(2));
        Assert.False(participation.IsCompleted);
        var rounds = new RoundOptions { MinClients = 1, Rounds = 1, RoundDeadline = TimeSpan.FromHours(1), Plan = new TrainingOptions(1, 50, 0.1) };
        await using var federation = await TestFederation.StartAsync(trainer.Layout, weights, rounds, clients: 1, port: port);

        var done = await participation.WaitAsync(TimeSpan.FromMinutes(3));
        Assert.Single(done);
        Assert.Equal(1, federation.Server.Metrics.Accepted);
    }
}

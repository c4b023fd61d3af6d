using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Offload.Aggregator.Events;
using Offload.Functions.Aggregation;
using Offload.Functions.Names;
using Offload.Functions.Rounds;
using Offload.Functions.Storage;
using Offload.Functions.Subscriptions;

namespace Offload.Functions.Tests.Aggregation;

/// <summary>
/// The round's actor hands an aggregator out again when the first function's lease ran out while it
/// was merely slow, so two functions may emit the same aggregator. Neither may overwrite the other's
/// output, and the round must count every update once.
/// </summary>
public sealed class RepeatedEmitTests
{
    private static async Task<(RoundScenario Round, FoldTicket Leaf, UpdateArrived[] Updates)> DueLeafAsync(FunctionsApp app)
    {
        var round = new RoundScenario(app);
        await round.OpenAsync(expected: 2, maxFanIn: 2);
        var a = await round.StoreUpdateAsync("c0", [1, 1, 1, 1], 1);
        var b = await round.StoreUpdateAsync("c1", [3, 3, 3, 3], 1);
        await round.CallActorAsync("Arrive", new Arrival(a.Reference.Key, a.ClientId, a.SampleCount, 0));
        var ticket = (await round.CallActorAsync("Arrive", new Arrival(b.Reference.Key, b.ClientId, b.SampleCount, 0))).Deserialize<FoldTicket>(EventJson.Options)!;
        Assert.True(ticket.Complete);
        Assert.Equal(0, ticket.Level);
        return (round, ticket, [a, b]);
    }

    [Fact]
    public async Task A_second_attempt_that_finds_its_inputs_deleted_stands_down_without_publishing()
    {
        await using var app = await FunctionsApp.StartAsync();
        var (_, leaf, _) = await DueLeafAsync(app);
        var step = app.Services.GetRequiredService<AggregatorStep>();

        Assert.IsType<PartialReady>(await step.EmitAsync(leaf, CancellationToken.None));
        Assert.Null(await step.EmitAsync(leaf, CancellationToken.None));
        Assert.Single(app.Sidecar.Published, p => p.Topic == DaprNames.PartialReadyTopic);
    }

    [Fact]
    public async Task Two_completed_attempts_keep_separate_outputs_and_the_parent_folds_the_first_once()
    {
        await using var app = await FunctionsApp.StartAsync();
        var (round, leaf, updates) = await DueLeafAsync(app);
        var step = app.Services.GetRequiredService<AggregatorStep>();
        var payloads = new List<byte[]>();
        foreach (var u in updates) payloads.Add(await round.Store.ReadAllAsync(u.Reference));

        var first = Assert.IsType<PartialReady>(await step.EmitAsync(leaf, CancellationToken.None));
        // The slow attempt read its inputs before the first one deleted them.
        for (int i = 0; i < updates.Length; i++) await round.Store.WriteAllAsync(updates[i].Reference, payloads[i]);
        var second = Assert.IsType<PartialReady>(await step.EmitAsync(leaf, CancellationToken.None));
        Assert.NotEqual(first.Reference, second.Reference);

        await app.Sidecar.DeliverPendingAsync();
        Assert.Equal(RoundScenario.Initial.Select(w => w + 2f), await round.ModelAsync(1));
        Assert.Equal(2, round.PublishedModel(1).Updates);
        // The losing output is deleted; the winner is deleted by its parent after folding.
        Assert.Equal(-1, await round.Store.GetLengthAsync(second.Reference));
        Assert.Equal(-1, await round.Store.GetLengthAsync(first.Reference));
    }
}

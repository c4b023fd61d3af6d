using Offload.Aggregator.Events;
using Offload.Core.Codec;
using Offload.Functions.Names;
using Offload.Functions.Storage;

namespace Offload.Functions.Events;

/// <summary>
/// Why an event cannot be acted on, from its fields alone, or null when every field is in range. The
/// functions trust nothing an event names: each reference must be the store key its own fields say it
/// is (<see cref="StoreKeys"/>), so a forged or corrupted event can never make a function read or delete
/// outside the round's own updates and partials. Each reason names the field that is wrong.
/// </summary>
public static class MalformedEvent
{
    /// <summary>The highest round an event may name (rounds are counted from 1; far above any real run).</summary>
    public const long MaxRound = int.MaxValue;

    /// <summary>The deepest level an aggregator may have (a tree of fan-in 2 over 2^31 updates has 32).</summary>
    public const int MaxLevel = 64;

    /// <summary>The most samples one update may claim: more is a corrupted count, and it would weigh like the whole federation.</summary>
    public const long MaxSampleCount = int.MaxValue;

    /// <summary>The smallest stored update: its fixed header and trailing CRC.</summary>
    public const long MinPayloadBytes = UpdatePayload.HeaderLength + 4;

    /// <summary>Longest client, task or node id accepted.</summary>
    public const int MaxIdLength = 128;

    /// <summary>Why <paramref name="arrived"/> cannot be folded, or null.</summary>
    public static string? ReasonFor(UpdateArrived arrived)
    {
        ArgumentNullException.ThrowIfNull(arrived);
        const string e = nameof(UpdateArrived);
        if (IdProblem(arrived.ClientId, $"{e}.clientId") is { } client) return client;
        if (IdProblem(arrived.TaskId, $"{e}.taskId") is { } task) return task;
        if (StoreKeys.UpdateProblem(arrived.Reference.Key, arrived.ClientId, arrived.TaskId, $"{e}.reference") is { } reference) return reference;
        if (RoundProblem(arrived.Round, e) is { } round) return round;
        if (arrived.BaseVersion.Value < 0 || arrived.BaseVersion.Value >= arrived.Round)
            return $"{e}.baseVersion is {arrived.BaseVersion.Value}; round {arrived.Round} trains from a version in [0, {arrived.Round - 1}].";
        if (arrived.SampleCount is < 1 or > MaxSampleCount)
            return $"{e}.sampleCount is {arrived.SampleCount}; an update comes from 1 to {MaxSampleCount} samples.";
        if (arrived.PayloadBytes is < MinPayloadBytes or > int.MaxValue)
            return $"{e}.payloadBytes is {arrived.PayloadBytes}; a stored update holds {MinPayloadBytes} to {int.MaxValue} bytes.";
        if (NodeTopics.NodeProblem(arrived.Node, $"{e}.node") is { } node) return node;
        return ScaleProblem(arrived.Scale, $"{e}.scale");
    }

    /// <summary>Null when <paramref name="scale"/> is absent or a staleness scale in (0, 1], else why not, naming <paramref name="field"/>.</summary>
    public static string? ScaleProblem(double? scale, string field) =>
        scale is { } s && !(s > 0 && s <= 1) ? $"{field} is {s}; a staleness scale is in (0, 1]." : null;

    /// <summary>Why <paramref name="stale"/> cannot be corrected, or null: its update must be a valid one, and its models the versions it names.</summary>
    public static string? ReasonFor(StaleUpdateArrived stale)
    {
        ArgumentNullException.ThrowIfNull(stale);
        const string e = nameof(StaleUpdateArrived);
        if (stale.Update is null) return $"{e}.update is missing.";
        if (ReasonFor(stale.Update) is { } update) return update;
        if (stale.Update.Scale is not null) return $"{e}.update.scale is set; a stale update's scale is the corrector's to choose.";
        if (stale.TargetVersion <= stale.Update.BaseVersion.Value || stale.TargetVersion != stale.Update.Round - 1)
            return $"{e}.targetVersion is {stale.TargetVersion}; it must be newer than the update's base ({stale.Update.BaseVersion.Value}) and the version its round {stale.Update.Round} trains from.";
        if (ModelProblem(stale.BaseModel.Key, stale.Update.BaseVersion.Value, $"{e}.baseModel") is { } baseModel) return baseModel;
        return ModelProblem(stale.Target.Key, stale.TargetVersion, $"{e}.target");
    }

    /// <summary>Why <paramref name="report"/> cannot be counted, or null.</summary>
    public static string? ReasonFor(CorrectionReported report)
    {
        ArgumentNullException.ThrowIfNull(report);
        const string e = nameof(CorrectionReported);
        if (IdProblem(report.ClientId, $"{e}.clientId") is { } client) return client;
        if (IdProblem(report.TaskId, $"{e}.taskId") is { } task) return task;
        if (!CorrectionReported.Outcomes.Contains(report.Outcome)) return $"{e}.outcome is '{report.Outcome}'; it is one of {string.Join(", ", CorrectionReported.Outcomes)}.";
        if (report.Staleness < 1) return $"{e}.staleness is {report.Staleness}; a corrected update is at least 1 version old.";
        if (!double.IsFinite(report.CpuSeconds) || report.CpuSeconds < 0) return $"{e}.cpuSeconds is {report.CpuSeconds}; it must be finite and not negative.";
        return null;
    }

    /// <summary>Null when <paramref name="key"/> is where model <paramref name="version"/> is stored (<c>model/v0</c>, or a published attempt), else why not.</summary>
    private static string? ModelProblem(string? key, long version, string field) =>
        version == 0 && key == StoreKeys.InitialModel(0).Key ? null : StoreKeys.PublishedModelProblem(key, version, field);

    /// <summary>Why <paramref name="ready"/> cannot be folded, or null.</summary>
    public static string? ReasonFor(PartialReady ready)
    {
        ArgumentNullException.ThrowIfNull(ready);
        const string e = nameof(PartialReady);
        if (RoundProblem(ready.Round, e) is { } round) return round;
        if (ready.Level is < 0 or > MaxLevel) return $"{e}.level is {ready.Level}; levels run from 0 (leaves) to {MaxLevel}.";
        if (ready.Index < 0) return $"{e}.index is {ready.Index}; indexes start at 0.";
        if (StoreKeys.PartialProblem(ready.Reference.Key, ready.Round, ready.Level, ready.Index, $"{e}.reference") is { } reference) return reference;
        if (ready.UpdateCount < 0) return $"{e}.updateCount is {ready.UpdateCount}; it must not be negative.";
        if (!double.IsFinite(ready.TotalWeight) || ready.TotalWeight < 0) return $"{e}.totalWeight is {ready.TotalWeight}; it must be finite and not negative.";
        if (ready.UpdateCount == 0 && ready.TotalWeight != 0) return $"{e}.totalWeight is {ready.TotalWeight} over 0 updates; an empty partial weighs 0.";
        if (ready.Node is not null && NodeTopics.NodeProblem(ready.Node, $"{e}.node") is { } node) return node;
        return null;
    }

    /// <summary>Why <paramref name="due"/> cannot be claimed, or null.</summary>
    public static string? ReasonFor(AggregatorDue due)
    {
        ArgumentNullException.ThrowIfNull(due);
        const string e = nameof(AggregatorDue);
        if (RoundProblem(due.Round, e) is { } round) return round;
        // The round's actor announces only leaves: a parent becomes due when its children's partials arrive.
        if (due.Level != 0) return $"{e}.level is {due.Level}; only leaves (level 0) are announced due.";
        if (due.Index < 0) return $"{e}.index is {due.Index}; indexes start at 0.";
        if (due.Node is not null && NodeTopics.NodeProblem(due.Node, $"{e}.node") is { } node) return node;
        return null;
    }

    /// <summary>Why <paramref name="opened"/> names no round that can exist, or null.</summary>
    public static string? ReasonFor(RoundOpened opened)
    {
        ArgumentNullException.ThrowIfNull(opened);
        const string e = nameof(RoundOpened);
        if (RoundProblem(opened.Round, e) is { } round) return round;
        if (opened.ExpectedUpdates < 1) return $"{e}.expected_updates is {opened.ExpectedUpdates}; a round waits for at least 1.";
        return null;
    }

    /// <summary>Why <paramref name="published"/> cannot be served, or null.</summary>
    public static string? ReasonFor(ModelPublished published)
    {
        ArgumentNullException.ThrowIfNull(published);
        const string e = nameof(ModelPublished);
        if (RoundProblem(published.Round, e) is { } round) return round;
        if (published.Version.Value < 1 || published.Version.Value > published.Round)
            return $"{e}.version is {published.Version.Value}; round {published.Round} publishes a version in [1, {published.Round}].";
        if (published.Updates < 0) return $"{e}.updates is {published.Updates}; it must not be negative.";
        return StoreKeys.PublishedModelProblem(published.Reference.Key, published.Version.Value, $"{e}.reference");
    }

    private static string? RoundProblem(long round, string e) =>
        round is < 1 or > MaxRound ? $"{e}.round is {round}; rounds run from 1 to {MaxRound}." : null;

    private static string? IdProblem(string? id, string field)
    {
        if (string.IsNullOrEmpty(id)) return $"{field} is missing.";
        if (id.Length > MaxIdLength) return $"{field} holds {id.Length} characters; at most {MaxIdLength}.";
        foreach (char c in id)
            if (c <= ' ' || c > '~' || c == '/') return $"{field} '{id}' must be printable ASCII without spaces or '/'.";
        return null;
    }
}

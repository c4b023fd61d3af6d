using Offload.Aggregator.Rounds;

namespace Offload.Functions.Journal;

/// <summary>One round's part of the gateway's journal in the state store: the tasks handed out in it and the updates acknowledged for them.</summary>
internal sealed class RoundDocument
{
    public List<JournaledTask> Tasks { get; set; } = [];

    public List<AcceptedUpdate> Accepted { get; set; } = [];
}

using Offload.Aggregator.Journal;

namespace Offload.Gateway.Service;

/// <summary>
/// Durable ingest (<c>serve --state</c>): the journal every accepted update is recorded in before it is
/// acknowledged, and the updates it acknowledged before a restart, whose retries are answered from it.
/// </summary>
/// <param name="Journal">Where acceptances are recorded.</param>
/// <param name="Acknowledged">What the journal held at startup (<see cref="FederationRecord.Accepted"/>).</param>
public sealed record IngestJournal(IFederationJournal Journal, IReadOnlyList<AcceptedUpdate> Acknowledged);

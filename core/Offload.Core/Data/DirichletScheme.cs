using System.Globalization;
using DirichletDistribution = MathNet.Numerics.Distributions.Dirichlet;

namespace Offload.Core.Data;

/// <summary>
/// Label skew by Dirichlet(alpha) (Hsu et al. 2019, "Measuring the effects of non-identical data
/// distribution for federated visual classification"): for each class, draw the share of that
/// class each client receives from a symmetric Dirichlet(alpha) over clients, and cut the class's
/// shuffled samples by those shares. alpha = 0.1 gives most clients one or two dominant labels;
/// alpha = 100 is close to IID.
/// </summary>
/// <remarks>
/// Shares are cut at floor(cumulative share x class size), the last client of each class taking
/// the rest, so every sample is assigned. Small alpha can leave a client with nothing; each such
/// client then takes one sample, chosen at random, from the client holding the most (which has at
/// least two, since there are at least as many samples as clients). This bounded repair changes
/// the drawn proportions by one sample per empty client, unlike redrawing, which may never end
/// for small alpha and many clients. If every gamma draw underflows to zero (alpha far below 0.01)
/// the class goes wholly to one client chosen at random, the limit of the distribution as alpha
/// tends to zero.
/// </remarks>
public sealed class DirichletScheme : PartitionScheme
{
    internal DirichletScheme(double alpha)
    {
        if (!double.IsFinite(alpha) || alpha <= 0)
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "Dirichlet alpha must be positive and finite (0.1 is very non-IID, 100 nearly IID).");
        Alpha = alpha;
    }

    /// <summary>The concentration; smaller is more skewed.</summary>
    public double Alpha { get; }

    /// <inheritdoc/>
    protected override int[][] Assign(ReadOnlySpan<byte> labels, int classCount, int clientCount, Random random)
    {
        int[] order = SortByLabel(labels, classCount, out int[] classStart);
        var dirichlet = new DirichletDistribution(Alpha, clientCount, random);
        var clients = new List<int>[clientCount];
        for (int k = 0; k < clientCount; k++) clients[k] = [];

        for (int c = 0; c < classCount; c++)
        {
            Span<int> members = order.AsSpan(classStart[c], classStart[c + 1] - classStart[c]);
            if (members.IsEmpty) continue;
            Shuffle(members, random);
            double[] share = dirichlet.Sample();
            if (!AllFinite(share))
            {
                Array.Clear(share);
                share[random.Next(clientCount)] = 1;
            }
            double cumulative = 0;
            int start = 0;
            for (int k = 0; k < clientCount; k++)
            {
                cumulative += share[k];
                int end = k == clientCount - 1 ? members.Length : Math.Clamp((int)Math.Floor(cumulative * members.Length), start, members.Length);
                for (int i = start; i < end; i++) clients[k].Add(members[i]);
                start = end;
            }
        }

        RepairEmptyClients(clients, random);

        var result = new int[clientCount][];
        for (int k = 0; k < clientCount; k++) result[k] = clients[k].ToArray();
        return result;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"dirichlet(alpha={Alpha})");

    private static bool AllFinite(ReadOnlySpan<double> values)
    {
        foreach (double v in values)
            if (!double.IsFinite(v)) return false;
        return true;
    }

    /// <summary>Gives each empty client one random sample of the currently largest client (ties: lowest id).</summary>
    private static void RepairEmptyClients(List<int>[] clients, Random random)
    {
        // A max-heap by size keeps this O(K log K) even when most of K clients start empty.
        var largest = new PriorityQueue<int, (int NegativeSize, int Client)>();
        for (int k = 0; k < clients.Length; k++)
            if (clients[k].Count > 0) largest.Enqueue(k, (-clients[k].Count, k));
        for (int k = 0; k < clients.Length; k++)
        {
            if (clients[k].Count > 0) continue;
            // Some client holds two or more: at least as many samples as clients, and this one has none.
            int donorId = largest.Dequeue();
            List<int> donor = clients[donorId];
            int pick = random.Next(donor.Count);
            clients[k].Add(donor[pick]);
            donor[pick] = donor[^1];
            donor.RemoveAt(donor.Count - 1);
            largest.Enqueue(donorId, (-donor.Count, donorId));
        }
    }
}

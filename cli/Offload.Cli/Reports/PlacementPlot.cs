
namespace Offload.Cli.Reports;

/// <summary>The share of hop bytes that stay on their node, planner and round-robin, one point per configuration.</summary>
public static class PlacementPlot
{
    /// <summary>Saves the plot of <paramref name="rows"/> to <paramref name="path"/>.</summary>
    public static void Save(string path, IReadOnlyList<PlacementRow> rows)
    {
        var plot = new ScottPlot.Plot();
        var xs = new double[rows.Count];
        var planned = new double[rows.Count];
        var baseline = new double[rows.Count];
        for (int i = 0; i < rows.Count; i++)
        {
            xs[i] = i + 1;
            planned[i] = rows[i].PlannedLocal * 100;
            baseline[i] = rows[i].RoundRobinLocal * 100;
            plot.Add.Text($"{rows[i].Nodes}n/{rows[i].Updates}u", xs[i], Math.Max(planned[i], baseline[i]) + 3);
        }
        plot.Add.Scatter(xs, planned).LegendText = "locality-aware planner";
        plot.Add.Scatter(xs, baseline).LegendText = "round-robin pairing (LIFL's code)";
        plot.Title("Hop bytes that stay on their node (nodes n / updates u)");
        plot.XLabel("configuration");
        plot.YLabel("local bytes (%)");
        plot.Axes.SetLimitsY(0, 110);
        plot.Axes.SetLimitsX(0.5, rows.Count + 1);
        plot.ShowLegend(ScottPlot.Alignment.LowerLeft);
        plot.SavePng(path, 1000, 560);
    }
}

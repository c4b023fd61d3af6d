namespace Offload.Cli.Experiments.Staleness;

/// <summary>Test accuracy per round, one line per strategy (ScottPlot PNG).</summary>
public static class StalenessPlot
{
    /// <summary>Saves the plot of <paramref name="outcomes"/> (one staleness) to <paramref name="path"/>.</summary>
    public static void Save(string path, IReadOnlyList<StrategyOutcome> outcomes, string title)
    {
        ArgumentNullException.ThrowIfNull(outcomes);
        var plot = new ScottPlot.Plot();
        foreach (var o in outcomes)
        {
            var points = o.Result.Versions.Where(v => !double.IsNaN(v.Accuracy)).ToArray();
            var line = plot.Add.Scatter(points.Select(v => (double)v.Version).ToArray(), points.Select(v => v.Accuracy * 100).ToArray());
            line.LegendText = o.Strategy;
            line.MarkerSize = 0;
            line.LineWidth = o.Strategy.StartsWith("inversion", StringComparison.Ordinal) ? 2.5f : 1.5f;
        }
        plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        plot.Title(title);
        plot.XLabel("round (model version)");
        plot.YLabel("test accuracy (%)");
        plot.Axes.SetLimitsY(0, 100);
        plot.SavePng(path, 900, 560);
    }
}

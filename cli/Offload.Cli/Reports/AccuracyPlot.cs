using Offload.Cli.Simulation;

namespace Offload.Cli.Reports;

/// <summary>Test accuracy per round as a PNG line plot (ScottPlot).</summary>
public static class AccuracyPlot
{
    /// <summary>Saves the plot of <paramref name="rounds"/> to <paramref name="path"/>.</summary>
    public static void Save(string path, IReadOnlyList<RoundRecord> rounds, string title = "Test accuracy per round")
    {
        var xs = new double[rounds.Count];
        var ys = new double[rounds.Count];
        for (int i = 0; i < rounds.Count; i++)
        {
            xs[i] = rounds[i].Round;
            ys[i] = rounds[i].Accuracy * 100;
        }
        var plot = new ScottPlot.Plot();
        var line = plot.Add.Scatter(xs, ys);
        line.LegendText = "global model";
        plot.Title(title);
        plot.XLabel("round");
        plot.YLabel("test accuracy (%)");
        plot.Axes.SetLimitsY(0, 100);
        plot.SavePng(path, 800, 500);
    }
}

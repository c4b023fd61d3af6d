namespace Offload.Cli.Reports;

/// <summary>Test accuracy per round, one line per run of a strategy study.</summary>
public static class StrategyPlot
{
    /// <summary>Saves the curves of <paramref name="runs"/> to <paramref name="path"/>, titled <paramref name="title"/>.</summary>
    public static void Save(string path, string title, IEnumerable<StrategyRun> runs)
    {
        var plot = new ScottPlot.Plot();
        foreach (var run in runs)
        {
            var xs = new double[run.Accuracy.Count];
            var ys = new double[run.Accuracy.Count];
            for (int i = 0; i < xs.Length; i++)
            {
                xs[i] = i + 1;
                ys[i] = run.Accuracy[i] * 100;
            }
            var line = plot.Add.Scatter(xs, ys);
            line.LegendText = run.Attack == "none" ? run.Strategy : $"{run.Strategy} ({run.Attack})";
            line.MarkerSize = 3;
        }
        plot.Title(title);
        plot.XLabel("round");
        plot.YLabel("test accuracy (%)");
        plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        plot.SavePng(path, 1000, 620);
    }
}

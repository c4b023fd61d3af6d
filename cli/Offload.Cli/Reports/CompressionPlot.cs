namespace Offload.Cli.Reports;

/// <summary>Final test accuracy against compression ratio (log scale), one point per run, labelled.</summary>
public static class CompressionPlot
{
    /// <summary>Saves the plot of <paramref name="runs"/> to <paramref name="path"/>.</summary>
    public static void Save(string path, IReadOnlyList<CompressionRun> runs)
    {
        var plot = new ScottPlot.Plot();
        foreach (var feedback in new[] { true, false })
        {
            var xs = new List<double>();
            var ys = new List<double>();
            foreach (var r in runs)
            {
                if (r.TopZ is null || r.ErrorFeedback != feedback) continue;
                xs.Add(Math.Log10(r.Ratio));
                ys.Add(r.FinalAccuracy * 100);
            }
            if (xs.Count == 0) continue;
            var series = plot.Add.Scatter(xs.ToArray(), ys.ToArray());
            series.LegendText = feedback ? "FedZip, error feedback" : "FedZip, no error feedback";
        }
        var baseline = runs.FirstOrDefault(r => r.TopZ is null);
        if (baseline is not null)
        {
            var line = plot.Add.HorizontalLine(baseline.FinalAccuracy * 100);
            line.LegendText = "uncompressed FedAvg";
            line.LinePattern = ScottPlot.LinePattern.Dashed;
        }
        foreach (var r in runs)
            if (r.TopZ is not null)
                plot.Add.Text($"z={r.TopZ}", Math.Log10(r.Ratio), r.FinalAccuracy * 100);
        plot.Title("Accuracy against upload compression (raw float32 / bytes sent)");
        plot.XLabel("compression ratio (log10)");
        plot.YLabel("final test accuracy (%)");
        plot.ShowLegend();
        plot.SavePng(path, 900, 560);
    }
}

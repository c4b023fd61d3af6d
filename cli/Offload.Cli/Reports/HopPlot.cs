namespace Offload.Cli.Reports;

/// <summary>Median hop time per variant, one group of bars per update size, on a log scale (the variants span five orders of magnitude).</summary>
public static class HopPlot
{
    /// <summary>Saves the plot of <paramref name="rows"/> to <paramref name="path"/>.</summary>
    public static void Save(string path, IReadOnlyList<HopRow> rows)
    {
        var plot = new ScottPlot.Plot();
        var sizes = rows.Select(r => r.Megabytes).Distinct().ToList();
        var variants = rows.Select(r => r.Variant).Distinct().ToList();
        var palette = new ScottPlot.Palettes.Category10();
        for (int v = 0; v < variants.Count; v++)
        {
            var bars = new List<ScottPlot.Bar>();
            foreach (var row in rows.Where(r => r.Variant == variants[v]))
            {
                double position = sizes.IndexOf(row.Megabytes) * (variants.Count + 1) + v;
                bars.Add(new ScottPlot.Bar { Position = position, Value = Math.Log10(Math.Max(row.MedianMilliseconds, 1e-4)), ValueBase = -4, FillColor = palette.GetColor(v) });
            }
            var series = plot.Add.Bars(bars);
            series.LegendText = variants[v];
        }
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        for (int s = 0; s < sizes.Count; s++) ticks.AddMajor(s * (variants.Count + 1) + (variants.Count - 1) / 2.0, $"{sizes[s]} MiB");
        plot.Axes.Bottom.TickGenerator = ticks;
        var logTicks = new ScottPlot.TickGenerators.NumericManual();
        for (int e = -4; e <= 4; e++) logTicks.AddMajor(e, Math.Pow(10, e).ToString("G", System.Globalization.CultureInfo.InvariantCulture));
        plot.Axes.Left.TickGenerator = logTicks;
        plot.Title("One hop between aggregators (median)");
        plot.YLabel("milliseconds (log scale)");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        plot.SavePng(path, 1000, 560);
    }
}

using Offload.Core.Data;
using Spectre.Console;

namespace Offload.Cli.Options;

/// <summary>
/// <c>--data</c>, shared by <c>simulate</c>, <c>serve</c>, <c>client</c> and the experiments: which
/// Fashion-MNIST to load (a folder, the bundled subset, or the default search).
/// </summary>
public static class DataOption
{
    /// <summary>Loads the data (see <see cref="LoadData"/>), says which on the first line, and checks there is a sample per client.</summary>
    public static TrainTestDataset AnnouncedData(IAnsiConsole console, string? dataDirectory, int clients)
    {
        var dataset = LoadData(dataDirectory);
        if (dataset.IsBundled && dataDirectory is null)
            console.MarkupLine($"[yellow]Using the {Markup.Escape(dataset.Source)}: no full data set found. For the full set: {FashionMnistCatalog.InstallCommand}, or --data DIR.[/]");
        else
            console.MarkupLine($"Data: {Markup.Escape(dataset.Source)}");
        if (clients > dataset.Train.Count)
            throw new InvalidOptionException($"--clients {clients} exceeds the {dataset.Train.Count} training samples.");
        return dataset;
    }

    /// <summary>The word that picks the bundled subset explicitly.</summary>
    public const string BundledData = "bundled";

    /// <summary>
    /// <c>--data DIR</c> must hold the files; <c>--data bundled</c> picks the embedded subset; no option
    /// searches $OFFLOAD_DATA and the Debian package, then falls back to the bundled subset.
    /// </summary>
    public static TrainTestDataset LoadData(string? dataDirectory) => dataDirectory switch
    {
        null => FashionMnistCatalog.FromEnvironment().ResolveOrBundled(),
        BundledData => FashionMnistCatalog.LoadBundled(),
        _ => FashionMnistCatalog.FromEnvironment().Resolve(dataDirectory),
    };
}

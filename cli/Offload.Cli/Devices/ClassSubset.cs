using System.Globalization;
using Offload.Core.Data;

namespace Offload.Cli.Devices;

/// <summary>
/// <c>offload client --classes LIST</c>: a device whose data holds only some classes (the intertwined
/// data and device heterogeneity of Wang and Gao 2023, where the slow devices hold classes the
/// others lack). The device's partition i/n is then taken of those classes' samples.
/// </summary>
public static class ClassSubset
{
    /// <summary>Parses <c>0-7</c>, <c>8,9</c> or a mix (<c>0-3,8</c>) into the classes named, each below <paramref name="classCount"/>.</summary>
    /// <exception cref="InvalidOptionException">The list is empty, malformed, or names a class outside 0..classCount-1.</exception>
    public static IReadOnlySet<int> Parse(string value, int classCount)
    {
        ArgumentNullException.ThrowIfNull(value);
        var classes = new SortedSet<int>();
        foreach (string part in value.Split(','))
        {
            string[] range = part.Trim().Split('-');
            if (range.Length is < 1 or > 2 || !TryClass(range[0], classCount, out int first) || !TryClass(range[^1], classCount, out int last) || last < first)
                throw new InvalidOptionException($"--classes must list classes 0-{classCount - 1} as ranges or single classes, e.g. 0-7 or 8,9 (got '{value}').");
            for (int c = first; c <= last; c++) classes.Add(c);
        }
        return classes;
    }

    /// <summary>A new data set of the samples of <paramref name="data"/> whose label is in <paramref name="classes"/>, in their order.</summary>
    /// <exception cref="InvalidOptionException">No sample has one of the classes.</exception>
    public static ImageDataset Of(ImageDataset data, IReadOnlySet<int> classes)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(classes);
        int kept = 0;
        foreach (byte label in data.Labels)
            if (classes.Contains(label)) kept++;
        if (kept == 0) throw new InvalidOptionException($"--classes {string.Join(',', classes)}: the data holds no sample of these classes.");
        var pixels = new byte[kept * data.ImageSize];
        var labels = new byte[kept];
        int next = 0;
        for (int i = 0; i < data.Count; i++)
        {
            if (!classes.Contains(data.Labels[i])) continue;
            data.Image(i).CopyTo(pixels.AsSpan(next * data.ImageSize));
            labels[next++] = data.Labels[i];
        }
        return new ImageDataset(pixels, labels, data.Rows, data.Columns, data.ClassCount);
    }

    private static bool TryClass(string text, int classCount, out int value) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value < classCount;
}

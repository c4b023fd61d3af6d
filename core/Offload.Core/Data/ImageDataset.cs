namespace Offload.Core.Data;

/// <summary>
/// A labelled set of single-channel images held as raw bytes (one byte per pixel, row-major,
/// image after image), as IDX files store them. Training code converts batches to tensors on
/// demand, so a 60,000-image set costs 47 MB and is shared by every simulated client.
/// </summary>
public sealed class ImageDataset
{
    /// <summary>Creates a data set after checking that pixels and labels agree.</summary>
    /// <exception cref="ArgumentException">Sizes disagree or a label is not below <paramref name="classCount"/>.</exception>
    public ImageDataset(byte[] pixels, byte[] labels, int rows, int columns, int classCount)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classCount);
        if ((long)labels.Length * rows * columns != pixels.Length)
            throw new ArgumentException($"{labels.Length} labels need {(long)labels.Length * rows * columns} pixels of {rows}x{columns}; got {pixels.Length}.", nameof(pixels));
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] >= classCount)
                throw new ArgumentException($"Label {labels[i]} at index {i} is not below the class count {classCount}.", nameof(labels));
        Pixels = pixels;
        Labels = labels;
        Rows = rows;
        Columns = columns;
        ClassCount = classCount;
    }

    /// <summary>All pixels, image after image.</summary>
    public byte[] Pixels { get; }

    /// <summary>One class index per image.</summary>
    public byte[] Labels { get; }

    /// <summary>Image height.</summary>
    public int Rows { get; }

    /// <summary>Image width.</summary>
    public int Columns { get; }

    /// <summary>Number of classes; every label is below it.</summary>
    public int ClassCount { get; }

    /// <summary>Number of images.</summary>
    public int Count => Labels.Length;

    /// <summary>Pixels per image.</summary>
    public int ImageSize => Rows * Columns;

    /// <summary>The pixels of image <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> Image(int index) => Pixels.AsSpan(index * ImageSize, ImageSize);
}

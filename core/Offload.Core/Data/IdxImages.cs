namespace Offload.Core.Data;

/// <summary>The contents of an IDX images file: <see cref="Count"/> images of <see cref="Rows"/> x <see cref="Columns"/> bytes.</summary>
/// <param name="Pixels">All pixels, image after image, row-major.</param>
/// <param name="Count">Number of images.</param>
/// <param name="Rows">Image height.</param>
/// <param name="Columns">Image width.</param>
public sealed record IdxImages(byte[] Pixels, int Count, int Rows, int Columns);

using Offload.Core.Data;

namespace Offload.Core.Tests.Data;

public sealed class IdxReaderTests : IDisposable
{
    public enum Encoding { Raw, Gzip, RawForwardOnly, GzipForwardOnly }

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "offload-idx-" + Guid.NewGuid().ToString("N"));

    public IdxReaderTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Stream Open(byte[] raw, Encoding encoding) => encoding switch
    {
        Encoding.Raw => new MemoryStream(raw),
        Encoding.Gzip => new MemoryStream(IdxBytes.Gzip(raw)),
        Encoding.RawForwardOnly => new ForwardOnlyStream(raw),
        _ => new ForwardOnlyStream(IdxBytes.Gzip(raw)),
    };

    [Theory]
    [InlineData(Encoding.Raw)]
    [InlineData(Encoding.Gzip)]
    [InlineData(Encoding.RawForwardOnly)]
    [InlineData(Encoding.GzipForwardOnly)]
    public void Round_trips_images_and_labels(Encoding encoding)
    {
        var (images, labels, pixels, labelValues) = IdxBytes.Sample(37, seed: 5);

        ImageDataset data = IdxReader.ReadDataset(Open(images, encoding), "img", Open(labels, encoding), "lbl");

        Assert.Equal(37, data.Count);
        Assert.Equal(4, data.Rows);
        Assert.Equal(3, data.Columns);
        Assert.Equal(10, data.ClassCount);
        Assert.Equal(pixels, data.Pixels);
        Assert.Equal(labelValues, data.Labels);
    }

    [Fact]
    public void Reads_a_body_larger_than_the_first_chunk_from_a_forward_only_gzip_stream()
    {
        // 3 MB crosses the reader's 1 MiB first buffer and two doublings.
        var pixels = new byte[3_000 * 1_000];
        new Random(1).NextBytes(pixels);
        IdxImages read = IdxReader.ReadImages(new ForwardOnlyStream(IdxBytes.Gzip(IdxBytes.Images(3_000, 1_000, 1, pixels))), "big");
        Assert.Equal(3_000, read.Count);
        Assert.Equal(pixels, read.Pixels);
    }

    [Fact]
    public void Reads_from_paths_gzip_or_raw()
    {
        var (images, labels, pixels, labelValues) = IdxBytes.Sample(8, seed: 2);
        string imagesPath = Path.Combine(_dir, "images.gz"), labelsPath = Path.Combine(_dir, "labels");
        File.WriteAllBytes(imagesPath, IdxBytes.Gzip(images));
        File.WriteAllBytes(labelsPath, labels);

        ImageDataset data = IdxReader.ReadDataset(imagesPath, labelsPath);

        Assert.Equal(pixels, data.Pixels);
        Assert.Equal(labelValues, data.Labels);
    }

    [Fact]
    public void A_zero_image_file_is_valid()
    {
        IdxImages read = IdxReader.ReadImages(new MemoryStream(IdxBytes.Images(0, 28, 28, [])), "empty");
        Assert.Equal(0, read.Count);
        Assert.Empty(read.Pixels);
    }

    [Theory]
    [InlineData(Encoding.Raw)]
    [InlineData(Encoding.Gzip)]
    [InlineData(Encoding.RawForwardOnly)]
    [InlineData(Encoding.GzipForwardOnly)]
    public void Truncated_body_names_the_file_and_the_shortfall(Encoding encoding)
    {
        byte[] whole = IdxBytes.Sample(10, seed: 3).Images;
        byte[] cut = whole[..^5];

        var e = Assert.Throws<DatasetFormatException>(() => IdxReader.ReadImages(Open(cut, encoding), "train-images"));

        Assert.Contains("train-images", e.Message);
        Assert.Contains("truncated", e.Message);
        Assert.Contains("120 data bytes but only 115", e.Message);
    }

    [Fact]
    public void Truncated_gzip_container_is_a_format_error()
    {
        byte[] gz = IdxBytes.Gzip(IdxBytes.Sample(200, seed: 4).Images);
        var e = Assert.Throws<DatasetFormatException>(() => IdxReader.ReadImages(new MemoryStream(gz[..(gz.Length / 2)]), "half.gz"));
        Assert.Contains("half.gz", e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(9)]
    public void Truncated_header_is_a_format_error(int length)
    {
        byte[] cut = IdxBytes.Images(1, 2, 2, [1, 2, 3, 4])[..length];
        var e = Assert.Throws<DatasetFormatException>(() => IdxReader.ReadImages(new MemoryStream(cut), "stub"));
        Assert.StartsWith("stub", e.Message);
    }

    [Fact]
    public void Labels_file_read_as_images_reports_the_dimension_count()
    {
        var e = Assert.Throws<DatasetFormatException>(() => IdxReader.ReadImages(new MemoryStream(IdxBytes.Labels([1, 2])), "labels-as-images"));
        Assert.Contains("labels-as-images", e.Message);
        Assert.Contains("1 dimension(s)", e.Message);
    }

    [Theory]
    [InlineData(0x12345678, "not an IDX header")]
    [InlineData(0x00000D03, "element type 0x0D")]
    [InlineData(0x00000801, "1 dimension(s)")]
    public void Wrong_magic_is_explained(int magic, string expected)
    {
        byte[] file = IdxBytes.File(magic, [1, 1, 1], [0]);
        var e = Assert.Throws<DatasetFormatException>(() => IdxReader.ReadImages(new MemoryStream(file), "x.idx"));
        Assert.Contains(expected, e.Message);
        Assert.Contains("0x00000803", e.Message);
    }

    [Theory]
    [InlineData(0x7FFF_FFFFu, "more than any array can hold")]
    [InlineData(0xFFFF_FFFFu, "more than any array can hold")]
    public void Absurd_declared_sizes_are_rejected_from_the_header(uint count, string expected)
    {
        byte[] file = IdxBytes.File(0x803, [count, 28, 28], [1, 2, 3]);
        foreach (Encoding encoding in Enum.GetValues<Encoding>())
        {
            var e = Assert.Throws<DatasetFormatException>(() => IdxReader.ReadImages(Open(file, encoding), "hostile"));
            Assert.Contains(expected, e.Message);
        }
    }

    [Theory]
    [InlineData(Encoding.Raw)]
    [InlineData(Encoding.Gzip)]
    [InlineData(Encoding.RawForwardOnly)]
    [InlineData(Encoding.GzipForwardOnly)]
    public void A_large_claim_over_little_data_fails_without_allocating_the_claim(Encoding encoding)
    {
        // 2,000,000 images of 28x28 = 1.57 GB claimed, fits an array, 1 KB present.
        byte[] file = IdxBytes.File(0x803, [2_000_000, 28, 28], new byte[1024]);
        Stream stream = Open(file, encoding);
        long before = GC.GetAllocatedBytesForCurrentThread();

        var e = Assert.Throws<DatasetFormatException>(() => IdxReader.ReadImages(stream, "claims-a-lot"));

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("claims-a-lot", e.Message);
        Assert.True(allocated < 8 << 20, $"Reading allocated {allocated:N0} bytes.");
    }

    [Fact]
    public void A_huge_label_count_fails_on_the_labels_file()
    {
        byte[] labels = IdxBytes.File(0x801, [0x8000_0000u], [1, 2, 3]);
        var e = Assert.Throws<DatasetFormatException>(() => IdxReader.ReadLabels(new MemoryStream(labels), "labels"));
        Assert.Contains("2,147,483,648", e.Message);
    }

    [Theory]
    [InlineData(Encoding.Raw)]
    [InlineData(Encoding.Gzip)]
    [InlineData(Encoding.RawForwardOnly)]
    [InlineData(Encoding.GzipForwardOnly)]
    public void Trailing_garbage_is_rejected(Encoding encoding)
    {
        byte[] file = [.. IdxBytes.Labels([1, 2, 3]), 9, 9];
        var e = Assert.Throws<DatasetFormatException>(() => IdxReader.ReadLabels(Open(file, encoding), "padded"));
        Assert.Contains("padded", e.Message);
        Assert.Contains("2 trailing byte(s)", e.Message);
    }

    [Theory]
    [InlineData(new byte[] { 9, 9, 9 })]
    [InlineData(new byte[] { 0x1f, 0x8b, 8, 0 })]
    public void Garbage_after_the_gzip_member_is_rejected(byte[] garbage)
    {
        byte[] file = [.. IdxBytes.Gzip(IdxBytes.Labels([1, 2, 3])), .. garbage];
        var e = Assert.Throws<DatasetFormatException>(() => IdxReader.ReadLabels(new MemoryStream(file), "after.gz"));
        Assert.Contains("after.gz", e.Message);
    }

    [Fact]
    public void Concatenated_gzip_members_are_one_file()
    {
        byte[] raw = IdxBytes.Labels([1, 2, 3, 4]);
        byte[] file = [.. IdxBytes.Gzip(raw[..6]), .. IdxBytes.Gzip(raw[6..])];
        Assert.Equal([1, 2, 3, 4], IdxReader.ReadLabels(new MemoryStream(file), "multi.gz"));
    }

    [Fact]
    public void Zero_sized_images_are_rejected()
    {
        var e = Assert.Throws<DatasetFormatException>(() => IdxReader.ReadImages(new MemoryStream(IdxBytes.Images(3, 0, 28, [])), "flat"));
        Assert.Contains("dimension 1 is 0", e.Message);
    }

    [Fact]
    public void Image_and_label_counts_must_agree()
    {
        byte[] images = IdxBytes.Sample(5, seed: 1).Images;
        byte[] labels = IdxBytes.Labels([1, 2, 3, 4]);

        var e = Assert.Throws<DatasetFormatException>(() =>
            IdxReader.ReadDataset(new MemoryStream(images), "imgs", new MemoryStream(labels), "lbls"));

        Assert.Contains("imgs holds 5 images but lbls holds 4 labels", e.Message);
    }

    [Fact]
    public void Labels_must_be_below_the_class_count()
    {
        var (images, labels, _, _) = IdxBytes.Sample(5, seed: 1);
        var e = Assert.Throws<DatasetFormatException>(() =>
            IdxReader.ReadDataset(new MemoryStream(images), "imgs", new MemoryStream(labels), "lbls", classCount: 1));
        Assert.Contains("lbls", e.Message);
        Assert.Contains("class count 1", e.Message);
    }

    [Fact]
    public void A_bad_file_on_disk_is_named_by_its_path()
    {
        string path = Path.Combine(_dir, "broken-labels");
        File.WriteAllBytes(path, [0, 0, 8, 1, 0, 0]);
        var e = Assert.Throws<DatasetFormatException>(() => IdxReader.ReadLabels(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void A_missing_path_is_file_not_found()
    {
        Assert.Throws<FileNotFoundException>(() => IdxReader.ReadLabels(Path.Combine(_dir, "nope")));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(257)]
    public void Class_count_is_validated(int classCount)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            IdxReader.ReadDataset(new MemoryStream(), "i", new MemoryStream(), "l", classCount));
        Assert.Equal("classCount", e.ParamName);
    }
}

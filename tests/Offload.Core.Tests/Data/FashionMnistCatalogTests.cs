using Offload.Core.Data;

namespace Offload.Core.Tests.Data;

public sealed class FashionMnistCatalogTests : IDisposable
{
    private static readonly Lazy<TrainTestDataset> Bundled = new(FashionMnistCatalog.LoadBundled);

    private readonly string _root = Path.Combine(Path.GetTempPath(), "offload-catalog-" + Guid.NewGuid().ToString("N"));

    public FashionMnistCatalogTests() => Directory.CreateDirectory(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Missing => Path.Combine(_root, "does-not-exist");

    /// <summary>A directory with a tiny but well-formed set: 12 train and 5 test images.</summary>
    private string TinySet(string name, bool gzip = true, string? omit = null)
    {
        string dir = Path.Combine(_root, name);
        Directory.CreateDirectory(dir);
        var train = IdxBytes.Sample(12, seed: 1);
        var test = IdxBytes.Sample(5, seed: 2);
        Write(FashionMnistCatalog.TrainImagesFile, train.Images);
        Write(FashionMnistCatalog.TrainLabelsFile, train.Labels);
        Write(FashionMnistCatalog.TestImagesFile, test.Images);
        Write(FashionMnistCatalog.TestLabelsFile, test.Labels);
        return dir;

        void Write(string file, byte[] raw)
        {
            if (file == omit) return;
            if (gzip) File.WriteAllBytes(Path.Combine(dir, file + ".gz"), IdxBytes.Gzip(raw));
            else File.WriteAllBytes(Path.Combine(dir, file), raw);
        }
    }

    [Fact]
    public void Bundled_subset_has_400_train_and_100_test_images_per_class()
    {
        TrainTestDataset data = Bundled.Value;

        Assert.Equal(4_000, data.Train.Count);
        Assert.Equal(1_000, data.Test.Count);
        Assert.Equal((28, 28, 10), (data.Train.Rows, data.Train.Columns, data.Train.ClassCount));
        Assert.Equal((28, 28, 10), (data.Test.Rows, data.Test.Columns, data.Test.ClassCount));
        Assert.All(Histogram(data.Train.Labels), count => Assert.Equal(400, count));
        Assert.All(Histogram(data.Test.Labels), count => Assert.Equal(100, count));
        Assert.True(data.IsBundled);
        Assert.Equal("bundled subset (4,000 train / 1,000 test images of Fashion-MNIST)", data.Source);
    }

    [Fact]
    public void Bundled_subset_holds_real_images()
    {
        // Fashion-MNIST's first training image is an ankle boot (class 9) on a black border.
        ImageDataset train = Bundled.Value.Train;
        Assert.Equal(9, train.Labels[0]);
        Assert.Equal(0, train.Image(0)[0]);
        int lit = 0;
        foreach (byte pixel in train.Image(0)) if (pixel > 0) lit++;
        Assert.InRange(lit, 200, 600);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Explicit_directory_loads_gzip_or_raw_files(bool gzip)
    {
        string dir = TinySet("explicit", gzip);
        TrainTestDataset data = FashionMnistCatalog.Load(dir);
        Assert.Equal((12, 5), (data.Train.Count, data.Test.Count));
        Assert.Equal(DatasetOrigin.Explicit, data.Origin);
        Assert.Equal($"Fashion-MNIST from {dir} (12 train / 5 test images)", data.Source);
    }

    [Theory]
    [InlineData(FashionMnistCatalog.TrainImagesFile)]
    [InlineData(FashionMnistCatalog.TrainLabelsFile)]
    [InlineData(FashionMnistCatalog.TestImagesFile)]
    [InlineData(FashionMnistCatalog.TestLabelsFile)]
    public void Explicit_directory_missing_a_file_names_that_file(string omitted)
    {
        string dir = TinySet("partial", omit: omitted);

        var e = Assert.Throws<DatasetNotFoundException>(() => new FashionMnistCatalog(null, Missing).ResolveOrBundled(dir));

        Assert.Contains(omitted, e.Message);
        Assert.Equal(Path.Combine(dir, omitted), e.MissingFile);
        Assert.Contains(FashionMnistCatalog.InstallCommand, e.Message);
    }

    [Fact]
    public void Explicit_directory_that_does_not_exist_is_not_replaced_by_the_bundled_subset()
    {
        var e = Assert.Throws<DatasetNotFoundException>(() => new FashionMnistCatalog(null, Missing).ResolveOrBundled(Missing));
        Assert.Contains(Missing, e.Message);
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public void Offload_data_is_used_when_no_directory_is_given()
    {
        string dir = TinySet("env");
        TrainTestDataset data = new FashionMnistCatalog(dir, Missing).Resolve();
        Assert.Equal(DatasetOrigin.Environment, data.Origin);
        Assert.Contains("OFFLOAD_DATA", data.Source);
        Assert.Equal(12, data.Train.Count);
    }

    [Fact]
    public void Explicit_directory_wins_over_offload_data_and_the_system_directory()
    {
        string explicitDir = TinySet("explicit");
        TrainTestDataset data = new FashionMnistCatalog(TinySet("env"), TinySet("system")).Resolve(explicitDir);
        Assert.Equal(DatasetOrigin.Explicit, data.Origin);
        Assert.Contains(explicitDir, data.Source);
    }

    [Fact]
    public void Offload_data_pointing_nowhere_is_an_error_not_a_fallback()
    {
        var e = Assert.Throws<DatasetNotFoundException>(() => new FashionMnistCatalog(Missing, TinySet("system")).ResolveOrBundled());
        Assert.Contains("OFFLOAD_DATA", e.Message);
        Assert.Contains(Missing, e.Message);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    public void System_directory_is_used_when_offload_data_is_unset(string? environment)
    {
        string system = TinySet("system");
        TrainTestDataset data = new FashionMnistCatalog(environment, system).Resolve(environment);
        Assert.Equal(DatasetOrigin.System, data.Origin);
        Assert.Contains("dataset-fashion-mnist", data.Source);
    }

    [Fact]
    public void Nothing_found_says_where_it_looked_and_how_to_install()
    {
        var e = Assert.Throws<DatasetNotFoundException>(() => new FashionMnistCatalog(null, Missing).Resolve());

        Assert.Contains("OFFLOAD_DATA (not set)", e.Message);
        Assert.Contains(Missing, e.Message);
        Assert.Contains("sudo apt-get install dataset-fashion-mnist", e.Message);
        Assert.Contains("--data DIR", e.Message);
        Assert.Equal(2, e.Searched.Count);
        Assert.Null(e.MissingFile);
    }

    [Fact]
    public void Nothing_found_falls_back_to_the_bundled_subset()
    {
        TrainTestDataset data = new FashionMnistCatalog(null, Missing).ResolveOrBundled();
        Assert.True(data.IsBundled);
        Assert.Equal(4_000, data.Train.Count);
    }

    [Fact]
    public void A_malformed_file_names_its_path()
    {
        string dir = TinySet("bad");
        string labels = Path.Combine(dir, FashionMnistCatalog.TestLabelsFile + ".gz");
        File.WriteAllBytes(labels, IdxBytes.Gzip(IdxBytes.Labels([1, 2, 3])));

        var e = Assert.Throws<DatasetFormatException>(() => FashionMnistCatalog.Load(dir));

        Assert.Contains(labels, e.Message);
        Assert.Contains("5 images", e.Message);
    }

    [Fact]
    public void The_installed_debian_package_loads_when_present()
    {
        // Exercises the real files where dataset-fashion-mnist is installed; nothing to check elsewhere.
        if (!Directory.Exists(FashionMnistCatalog.SystemDirectory)) return;
        TrainTestDataset data = new FashionMnistCatalog(null).Resolve();
        Assert.Equal((60_000, 10_000), (data.Train.Count, data.Test.Count));
        Assert.All(Histogram(data.Train.Labels), count => Assert.Equal(6_000, count));
        Assert.Equal(
            "Fashion-MNIST from /usr/share/datasets/fashion-mnist (60,000 train / 10,000 test images, Debian package dataset-fashion-mnist)",
            data.Source);
    }

    private static int[] Histogram(byte[] labels)
    {
        var counts = new int[10];
        foreach (byte label in labels) counts[label]++;
        return counts;
    }
}

using System.Globalization;
using System.Reflection;

namespace Offload.Core.Data;

/// <summary>
/// Finds and loads Fashion-MNIST (Xiao et al. 2017, https://github.com/zalandoresearch/fashion-mnist).
/// Search order: a directory the caller names, else the OFFLOAD_DATA directory, else the Debian
/// package's <see cref="SystemDirectory"/>; <see cref="ResolveOrBundled"/> then falls back to a
/// small embedded subset so that a fresh checkout runs, while <see cref="Resolve"/> fails with a
/// message that says how to install the real data.
/// </summary>
/// <remarks>
/// The environment value is a constructor argument rather than read inside the search, so tests
/// (which run in parallel) never have to mutate the process environment. A directory that is
/// named (explicitly or by OFFLOAD_DATA) or that exists at the system path must hold all four
/// files: a half-installed data set is reported, not silently replaced by the bundled subset.
/// </remarks>
public sealed class FashionMnistCatalog
{
    /// <summary>Environment variable naming a directory that holds the four files.</summary>
    public const string EnvironmentVariable = "OFFLOAD_DATA";

    /// <summary>Where Debian's dataset-fashion-mnist package installs the files.</summary>
    public const string SystemDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>The command that installs the full data set on Debian.</summary>
    public const string InstallCommand = "sudo apt-get install dataset-fashion-mnist";

    /// <summary>Base name of the training images file; every file may also carry a ".gz" suffix.</summary>
    public const string TrainImagesFile = "train-images-idx3-ubyte";

    /// <summary>Base name of the training labels file.</summary>
    public const string TrainLabelsFile = "train-labels-idx1-ubyte";

    /// <summary>Base name of the test images file.</summary>
    public const string TestImagesFile = "t10k-images-idx3-ubyte";

    /// <summary>Base name of the test labels file.</summary>
    public const string TestLabelsFile = "t10k-labels-idx1-ubyte";

    /// <summary>Fashion-MNIST's number of classes.</summary>
    public const int ClassCount = 10;

    private const string ResourcePrefix = "Offload.Core.Data.Bundled.";

    private static readonly string[] FileNames = [TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile];

    private readonly string? _environmentDirectory;
    private readonly string _systemDirectory;

    /// <summary>Creates a catalog with the given OFFLOAD_DATA value (null or empty when unset) and system directory.</summary>
    public FashionMnistCatalog(string? environmentDirectory, string systemDirectory = SystemDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(systemDirectory);
        _environmentDirectory = string.IsNullOrWhiteSpace(environmentDirectory) ? null : environmentDirectory;
        _systemDirectory = systemDirectory;
    }

    /// <summary>A catalog that reads OFFLOAD_DATA from this process's environment and searches the Debian path.</summary>
    public static FashionMnistCatalog FromEnvironment() =>
        new(System.Environment.GetEnvironmentVariable(EnvironmentVariable));

    /// <summary>
    /// Loads from <paramref name="explicitDirectory"/> when given, else from OFFLOAD_DATA, else from
    /// the system directory.
    /// </summary>
    /// <exception cref="DatasetNotFoundException">The named directory or a file in it is missing, or nothing was found at all.</exception>
    /// <exception cref="DatasetFormatException">A file was found but is malformed.</exception>
    public TrainTestDataset Resolve(string? explicitDirectory = null) =>
        TryResolve(explicitDirectory) ?? throw NothingFound();

    /// <summary>
    /// Like <see cref="Resolve"/>, but when no directory was named and nothing is installed, loads
    /// the bundled subset; the result's <see cref="TrainTestDataset.IsBundled"/> says it fell back.
    /// </summary>
    /// <exception cref="DatasetNotFoundException">A named directory (explicit or OFFLOAD_DATA) or a file in it is missing.</exception>
    /// <exception cref="DatasetFormatException">A file was found but is malformed.</exception>
    public TrainTestDataset ResolveOrBundled(string? explicitDirectory = null) =>
        TryResolve(explicitDirectory) ?? LoadBundled();

    /// <summary>Loads the four files from <paramref name="directory"/>, each raw or gzip.</summary>
    /// <exception cref="DatasetNotFoundException">The directory or one of the files does not exist.</exception>
    /// <exception cref="DatasetFormatException">A file is malformed or the counts disagree.</exception>
    public static TrainTestDataset Load(string directory) =>
        Load(directory, DatasetOrigin.Explicit, $"the directory {directory}");

    /// <summary>
    /// Loads the subset embedded in Offload.Core: the first 400 training and first 100 test images
    /// of each class, in file order (see Data/Bundled/LICENSE.md).
    /// </summary>
    /// <exception cref="InvalidOperationException">The assembly was built without the resources.</exception>
    public static TrainTestDataset LoadBundled()
    {
        ImageDataset train = LoadBundledSplit(TrainImagesFile, TrainLabelsFile);
        ImageDataset test = LoadBundledSplit(TestImagesFile, TestLabelsFile);
        string source = string.Create(CultureInfo.InvariantCulture,
            $"bundled subset ({train.Count:N0} train / {test.Count:N0} test images of Fashion-MNIST)");
        return new TrainTestDataset(train, test, DatasetOrigin.Bundled, source);
    }

    private TrainTestDataset? TryResolve(string? explicitDirectory)
    {
        if (!string.IsNullOrWhiteSpace(explicitDirectory))
            return Load(explicitDirectory);
        if (_environmentDirectory is not null)
            return Load(_environmentDirectory, DatasetOrigin.Environment, $"the directory {_environmentDirectory} named by {EnvironmentVariable}");
        if (Directory.Exists(_systemDirectory))
            return Load(_systemDirectory, DatasetOrigin.System, $"the directory {_systemDirectory}");
        return null;
    }

    private static TrainTestDataset Load(string directory, DatasetOrigin origin, string described)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        if (!Directory.Exists(directory))
            throw new DatasetNotFoundException(
                $"Fashion-MNIST: {described} does not exist. {HowToGet()}", [directory], null);
        var paths = new string[FileNames.Length];
        for (int i = 0; i < FileNames.Length; i++)
        {
            string? path = FindFile(directory, FileNames[i]);
            if (path is null)
            {
                string missing = Path.Combine(directory, FileNames[i]);
                throw new DatasetNotFoundException(
                    $"Fashion-MNIST: {described} has no {FileNames[i]}.gz or {FileNames[i]} (looked for {missing}[.gz]). {HowToGet()}",
                    [directory], missing);
            }
            paths[i] = path;
        }
        ImageDataset train = IdxReader.ReadDataset(paths[0], paths[1], ClassCount);
        ImageDataset test = IdxReader.ReadDataset(paths[2], paths[3], ClassCount);
        string note = origin switch
        {
            DatasetOrigin.Environment => $", from {EnvironmentVariable}",
            DatasetOrigin.System => ", Debian package dataset-fashion-mnist",
            _ => "",
        };
        string source = string.Create(CultureInfo.InvariantCulture,
            $"Fashion-MNIST from {directory} ({train.Count:N0} train / {test.Count:N0} test images{note})");
        return new TrainTestDataset(train, test, origin, source);
    }

    private static string? FindFile(string directory, string baseName)
    {
        string gz = Path.Combine(directory, baseName + ".gz");
        if (File.Exists(gz)) return gz;
        string raw = Path.Combine(directory, baseName);
        return File.Exists(raw) ? raw : null;
    }

    private DatasetNotFoundException NothingFound()
    {
        string env = _environmentDirectory is null ? $"{EnvironmentVariable} (not set)" : $"{EnvironmentVariable}={_environmentDirectory}";
        return new DatasetNotFoundException(
            $"Fashion-MNIST was not found. Looked in: {env}; {_systemDirectory} (does not exist). {HowToGet()}",
            [_environmentDirectory ?? $"{EnvironmentVariable} (not set)", _systemDirectory], null);
    }

    private static string HowToGet() =>
        $"Install it with `{InstallCommand}`, or pass --data DIR / set {EnvironmentVariable}=DIR to a directory holding " +
        $"{TrainImagesFile}, {TrainLabelsFile}, {TestImagesFile} and {TestLabelsFile} (each raw or .gz).";

    private static ImageDataset LoadBundledSplit(string imagesFile, string labelsFile)
    {
        using Stream images = OpenResource(imagesFile + ".gz");
        using Stream labels = OpenResource(labelsFile + ".gz");
        return IdxReader.ReadDataset(images, $"bundled {imagesFile}.gz", labels, $"bundled {labelsFile}.gz", ClassCount);
    }

    private static Stream OpenResource(string fileName) =>
        Assembly.GetExecutingAssembly().GetManifestResourceStream(ResourcePrefix + fileName)
        ?? throw new InvalidOperationException($"Embedded resource {ResourcePrefix}{fileName} is missing from Offload.Core; the bundled Fashion-MNIST subset was not built in.");
}

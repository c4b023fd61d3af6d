using Offload.Core.Federation;
using Offload.Client.Training;
using Offload.Core.Data;

namespace Offload.Client.Tests.Inversion;

/// <summary>
/// A tiny classifier on 16x16 images (about 1,200 parameters) and a client whose stale and fresh
/// updates are known exactly: the client takes <see cref="Steps"/> full-batch SGD steps on its 8
/// images of one class, from the base model (stale) or from a model that moved on (fresh). The global
/// model moves about 18% of its norm in between: stale and fresh updates then differ by about 0.3.
/// </summary>
internal sealed class TinyTask : IDisposable
{
    public const int Side = 16;
    public const int Steps = 3;
    public const double LearningRate = 0.05;

    public TinyTask(int seed = 11)
    {
        // One intra-op thread: libtorch's multi-threaded reductions would make double backward
        // differ in the last bits from run to run (global, but only ever made more deterministic here).
        TorchSharp.torch.set_num_threads(1);
        TorchSharp.torch.manual_seed(seed);
        Trainer = new TorchTrainer(ImageClassifier.Create(Side, Side, 10, conv1Channels: 4, conv2Channels: 8, hidden: 16), Side, Side, 10);
        Base = new float[Trainer.Layout.TotalLength];
        Trainer.ExportWeights(Base);
        Client = Images(8, seed, label: 3);
        // The global model moves on: training on every class for a while.
        var others = Images(40, seed + 1, label: null);
        Current = new float[Base.Length];
        var step = new float[Base.Length];
        Array.Copy(Base, Current, Base.Length);
        Trainer.Train(Current, others, Enumerable.Range(0, others.Count).ToArray(), new TrainingOptions(10, 10, 0.1), seed, step);
        for (int i = 0; i < Current.Length; i++) Current[i] += step[i];
        Stale = TrainClient(Base);
        Fresh = TrainClient(Current);
    }

    public TorchTrainer Trainer { get; }
    public float[] Base { get; }
    public float[] Current { get; }
    public ImageDataset Client { get; }
    public float[] Stale { get; }
    public float[] Fresh { get; }

    public TrainingOptions ClientTraining => new(Steps, Client.Count, LearningRate);

    public float[] TrainClient(float[] start)
    {
        var update = new float[start.Length];
        Trainer.Train(start, Client, Enumerable.Range(0, Client.Count).ToArray(), ClientTraining, 1, update);
        return update;
    }

    /// <summary>Class c: a bright 4x4 block at a class-specific place, plus seeded noise.</summary>
    public static ImageDataset Images(int count, int seed, int? label)
    {
        var random = new Random(seed);
        var pixels = new byte[count * Side * Side];
        var labels = new byte[count];
        for (int i = 0; i < count; i++)
        {
            int c = label ?? i % 10;
            labels[i] = (byte)c;
            var image = pixels.AsSpan(i * Side * Side, Side * Side);
            for (int p = 0; p < image.Length; p++) image[p] = (byte)random.Next(0, 80);
            int top = 1 + (c / 5) * 8, left = 1 + (c % 5) * 3;
            for (int r = 0; r < 4; r++)
                for (int col = 0; col < 3; col++)
                    image[(top + r) * Side + left + col] = 255;
        }
        return new ImageDataset(pixels, labels, Side, Side, 10);
    }

    public void Dispose() => Trainer.Dispose();
}

using Offload.Core.Model;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Offload.Client.Inversion;

/// <summary>
/// Staleness correction by gradient inversion, after Wang and Gao ("Tackling the Unlimited Staleness
/// in Federated Learning with Intertwined Data and Device Heterogeneities", 2023): from a stale update
/// and the model it was computed from, optimise dummy inputs and soft labels so that local training
/// on them from that model reproduces the update; then train on the recovered data from the current
/// model to estimate the update the client would send now.
/// </summary>
/// <remarks>
/// <para>
/// Local training is modelled as <see cref="InversionOptions.UnrolledSteps"/> full-batch SGD steps on
/// the dummy data, of size eta * S / U each; differentiating the reproduced update with respect to the
/// dummy data needs second derivatives (torch.autograd.grad with create_graph and retain_graph, both
/// set explicitly since TorchSharp's retain_graph does not follow create_graph). The dummy data is
/// updated with Adam written out here, so that only the dummy data, not the model, receives gradients.
/// </para>
/// <para>
/// Everything is checked before it reaches libtorch. All tensors live in dispose scopes; randomness
/// comes from a seeded <see cref="Random"/>, so a correction is deterministic for its inputs and seed
/// (with libtorch on one intra-op thread). An instance holds no native state and is not thread-safe
/// only in that libtorch's thread settings are global.
/// </para>
/// </remarks>
public sealed class GradientInversion
{
    private const double Beta1 = 0.9;
    private const double Beta2 = 0.999;
    private const double AdamEpsilon = 1e-8;

    private readonly FunctionalClassifier _network;
    private readonly int _rows;
    private readonly int _columns;
    private readonly int _classCount;
    private readonly long[][] _shapes;

    /// <summary>Creates the corrector for models laid out by <paramref name="layout"/> on single-channel <paramref name="rows"/>x<paramref name="columns"/> images.</summary>
    /// <exception cref="ArgumentException">The layout is not a supported classifier (see <see cref="Training.ImageClassifier"/>).</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public GradientInversion(TensorLayout layout, int rows, int columns, int classCount, InversionOptions options)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 2);
        Options = options.Validate();
        _network = FunctionalClassifier.Create(layout, rows, columns, classCount);
        Layout = layout;
        _rows = rows;
        _columns = columns;
        _classCount = classCount;
        _shapes = layout.Tensors.Select(t => t.Shape.Select(d => (long)d).ToArray()).ToArray();
    }

    /// <summary>The settings.</summary>
    public InversionOptions Options { get; }

    /// <summary>The layout of models and updates.</summary>
    public TensorLayout Layout { get; }

    /// <summary>
    /// Recovers dummy data from <paramref name="staleUpdate"/> (computed from <paramref name="baseWeights"/>)
    /// and returns the update that data gives on <paramref name="currentWeights"/>.
    /// </summary>
    /// <param name="staleUpdate">The client's update.</param>
    /// <param name="baseWeights">The global model the client started from.</param>
    /// <param name="currentWeights">The current global model.</param>
    /// <param name="warmStart">The client's previous recovered data, or null; ignored when it does not fit.</param>
    /// <param name="seed">Seeds the cold-start dummy data.</param>
    /// <param name="cancellationToken">Checked between iterations.</param>
    /// <exception cref="ArgumentException">A buffer does not match the layout or holds a NaN or infinity.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public InversionResult Correct(ReadOnlySpan<float> staleUpdate, ReadOnlySpan<float> baseWeights, ReadOnlySpan<float> currentWeights,
        RecoveredData? warmStart, int seed, CancellationToken cancellationToken = default)
    {
        EnsureUsable(staleUpdate, nameof(staleUpdate));
        EnsureUsable(baseWeights, nameof(baseWeights));
        EnsureUsable(currentWeights, nameof(currentWeights));
        var o = Options;
        int n = o.DummySamples, imageSize = _rows * _columns;
        bool warm = warmStart is not null && warmStart.Fits(n, imageSize, _classCount);
        var (pixels, logits) = warm ? ((float[])warmStart!.Pixels.Clone(), (float[])warmStart.LabelLogits.Clone()) : ColdStart(staleUpdate, seed);
        int iterations = warm ? o.WarmStartIterations : o.ColdStartIterations;

        var stale = staleUpdate.ToArray();
        int zeros = 0;
        foreach (float v in stale) if (v == 0) zeros++;
        bool sparse = zeros >= o.SparseFraction * stale.Length;

        using var scope = torch.NewDisposeScope();
        var baseParameters = Parameters(baseWeights);
        var target = torch.tensor(stale);
        var mask = sparse ? target.ne(0).to_type(ScalarType.Float32) : null;
        var x = torch.tensor(pixels, [n, 1, _rows, _columns]).requires_grad_(true);
        var z = torch.tensor(logits, [n, _classCount]).requires_grad_(true);
        var moments = new[] { torch.zeros_like(x), torch.zeros_like(x), torch.zeros_like(z), torch.zeros_like(z) };

        double lastLoss = double.NaN;
        for (int t = 1; t <= iterations; t++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var step = torch.NewDisposeScope();
            var reproduced = Simulate(baseParameters, x, z, createGraph: true);
            var loss = Match(reproduced, target, mask);
            var grads = torch.autograd.grad([loss], [x, z]);
            lastLoss = loss.item<float>();
            if (!double.IsFinite(lastLoss)) break; // Keep the last finite dummy data.
            using (torch.no_grad())
            {
                AdamStep(x, grads[0], moments[0], moments[1], t);
                x.clamp_(o.PixelMin, o.PixelMax);
                AdamStep(z, grads[1], moments[2], moments[3], t);
            }
        }

        var xd = x.detach();
        var zd = z.detach();
        float[] atBase = Flatten(Simulate(baseParameters, xd, zd, createGraph: false));
        float[] atCurrent = Flatten(Simulate(Parameters(currentWeights), xd, zd, createGraph: false));
        var recovered = new RecoveredData(n, xd.data<float>().ToArray(), zd.data<float>().ToArray());
        var (scale, relativeError) = FitScale(stale, atBase, sparse);
        var fresh = new float[stale.Length];
        for (int i = 0; i < fresh.Length; i++)
        {
            if (sparse && stale[i] == 0) continue; // Only the entries the client kept.
            fresh[i] = o.Form == FreshUpdateForm.Replace
                ? (float)(scale * atCurrent[i])
                : (float)(stale[i] + scale * (atCurrent[i] - atBase[i]));
        }
        if (ModelUpdate.FirstNonFinite(fresh) >= 0 || !double.IsFinite(relativeError))
        {
            Array.Copy(stale, fresh, stale.Length);
            relativeError = double.PositiveInfinity; // Fails any gate.
        }
        return new InversionResult(fresh, relativeError, scale, iterations, warm, lastLoss, recovered);
    }

    /// <summary>
    /// The update <paramref name="data"/> gives from <paramref name="weights"/> under this corrector's
    /// model of local training (no inversion): what the corrector believes the client would send.
    /// </summary>
    /// <exception cref="ArgumentException">The weights do not match the layout or the data does not fit.</exception>
    public float[] Reproduce(ReadOnlySpan<float> weights, RecoveredData data)
    {
        EnsureUsable(weights, nameof(weights));
        ArgumentNullException.ThrowIfNull(data);
        if (!data.Fits(data.Count, _rows * _columns, _classCount) || data.Count < 1)
            throw new ArgumentException("The recovered data does not fit this model's image size and classes.", nameof(data));
        using var scope = torch.NewDisposeScope();
        var x = torch.tensor(data.Pixels, [data.Count, 1, _rows, _columns]);
        var z = torch.tensor(data.LabelLogits, [data.Count, _classCount]);
        return Flatten(Simulate(Parameters(weights), x, z, createGraph: false));
    }

    /// <summary>Local training on the dummy data as U full-batch SGD steps; returns the flat update (new minus start weights).</summary>
    private Tensor Simulate(IList<Tensor> start, Tensor x, Tensor z, bool createGraph)
    {
        var o = Options;
        double stepSize = o.LearningRate * o.LocalSteps / o.UnrolledSteps;
        var labels = nn.functional.softmax(z, 1);
        IList<Tensor> w = start;
        for (int k = 0; k < o.UnrolledSteps; k++)
        {
            var logProbabilities = nn.functional.log_softmax(_network.Forward(w, x), 1);
            var loss = -(labels * logProbabilities).sum(1).mean();
            var g = torch.autograd.grad([loss], w, retain_graph: createGraph, create_graph: createGraph);
            var next = new Tensor[w.Count];
            for (int i = 0; i < next.Length; i++)
            {
                next[i] = w[i] - stepSize * g[i];
                if (!createGraph) next[i] = next[i].detach().requires_grad_(true);
            }
            w = next;
        }
        var parts = new Tensor[w.Count];
        for (int i = 0; i < parts.Length; i++) parts[i] = (w[i] - start[i]).flatten();
        return torch.cat(parts);
    }

    private Tensor Match(Tensor reproduced, Tensor target, Tensor? mask)
    {
        // Under a mask the target's zero entries are exactly the unkept ones, so only the reproduction needs masking.
        var p = mask is null ? reproduced : reproduced * mask;
        return Options.Matching == UpdateMatching.Cosine
            ? 1 - p.dot(target) / (p.norm() * target.norm() + 1e-12)
            : (p - target).abs().sum() / (target.abs().sum() + 1e-12);
    }

    private void AdamStep(Tensor parameter, Tensor grad, Tensor m, Tensor v, int t)
    {
        double lr = Options.StepSize;
        m.mul_(Beta1).add_(grad, alpha: 1 - Beta1);
        v.mul_(Beta2).addcmul_(grad, grad, value: 1 - Beta2);
        double c1 = 1 - Math.Pow(Beta1, t), c2 = 1 - Math.Pow(Beta2, t);
        var denominator = (v / c2).sqrt_().add_(AdamEpsilon);
        parameter.addcdiv_(m, denominator, value: -lr / c1);
    }

    private List<Tensor> Parameters(ReadOnlySpan<float> flat)
    {
        var list = new List<Tensor>(_shapes.Length);
        for (int i = 0; i < _shapes.Length; i++)
        {
            var spec = Layout.Tensors[i];
            list.Add(torch.tensor(flat.Slice(spec.Offset, spec.Length).ToArray(), _shapes[i]).requires_grad_(true));
        }
        return list;
    }

    private static float[] Flatten(Tensor flat) => flat.detach().contiguous().data<float>().ToArray();

    /// <summary>Least-squares c minimising ||stale - c * reproduced|| (c >= 0) and the relative error it leaves.</summary>
    private static (double Scale, double RelativeError) FitScale(float[] stale, float[] reproduced, bool sparse)
    {
        double dot = 0, pp = 0, ss = 0;
        for (int i = 0; i < stale.Length; i++)
        {
            if (sparse && stale[i] == 0) continue;
            dot += (double)stale[i] * reproduced[i];
            pp += (double)reproduced[i] * reproduced[i];
            ss += (double)stale[i] * stale[i];
        }
        if (ss == 0) return (0, 0);
        double c = pp > 0 ? Math.Max(0, dot / pp) : 0;
        double residual = ss - 2 * c * dot + c * c * pp;
        return (c, Math.Sqrt(Math.Max(0, residual) / ss));
    }

    /// <summary>Cold start: Gaussian pixels, and label logits read off the last bias update (its positive entries are the client's classes).</summary>
    private (float[] Pixels, float[] Logits) ColdStart(ReadOnlySpan<float> staleUpdate, int seed)
    {
        int n = Options.DummySamples;
        var random = new Random(seed);
        var pixels = new float[n * _rows * _columns];
        float mid = (float)((Options.PixelMin + Options.PixelMax) / 2), spread = (float)((Options.PixelMax - Options.PixelMin) / 6);
        for (int i = 0; i < pixels.Length; i++) pixels[i] = Math.Clamp(mid + spread * (float)Gaussian(random), (float)Options.PixelMin, (float)Options.PixelMax);
        var lastBias = Layout.Tensors[^1];
        var bias = staleUpdate.Slice(lastBias.Offset, lastBias.Length);
        float largest = 0;
        foreach (float b in bias) largest = Math.Max(largest, Math.Abs(b));
        var logits = new float[n * _classCount];
        for (int s = 0; s < n; s++)
            for (int c = 0; c < _classCount; c++)
                logits[s * _classCount + c] = (float)((largest > 0 ? Options.LabelPrior * bias[c] / largest : 0) + 0.1 * Gaussian(random));
        return (pixels, logits);
    }

    private static double Gaussian(Random random)
    {
        double u = 1 - random.NextDouble(), v = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u)) * Math.Cos(2 * Math.PI * v);
    }

    private void EnsureUsable(ReadOnlySpan<float> buffer, string name)
    {
        Layout.EnsureMatches(buffer, name);
        int bad = ModelUpdate.FirstNonFinite(buffer);
        if (bad >= 0) throw new ArgumentException($"{name}[{bad}] is {buffer[bad]}; gradient inversion needs finite values.", name);
    }
}

using Offload.Aggregator.Strategies;

namespace Offload.Aggregator.Tests.Strategies;

/// <summary>
/// Each server optimiser against its paper's update equations, computed here in double precision
/// element by element, over several rounds so the carried state (momentum, moments) is exercised.
/// </summary>
public class ServerOptimizerTests
{
    private static readonly float[][] Deltas =
    [
        [0.5f, -1.0f, 0.0f, 2.0f],
        [0.25f, 0.5f, -0.75f, 2.0f],
        [-1.0f, 0.1f, 0.3f, -0.5f],
        [0.0f, 0.0f, 0.0f, 0.0f],
    ];

    private static readonly float[] Start = [1f, -2f, 0.5f, 0f];

    [Fact]
    public void FedAvgM_follows_Hsu_et_al()
    {
        const double eta = 0.5, beta = 0.9;
        var x = Start.Select(v => (double)v).ToArray();
        var m = new double[4];
        var got = Run(new FedAvgM(eta, beta), (delta, _) =>
        {
            for (int i = 0; i < 4; i++)
            {
                m[i] = beta * m[i] + delta[i];
                x[i] += eta * m[i];
            }
            return x;
        });
        // Round 1 by hand: m = delta, x = start + 0.5 * delta.
        Assert.Equal(1.25f, got[0][0], 6);
        Assert.Equal(-2.5f, got[0][1], 6);
    }

    [Fact]
    public void FedAdagrad_follows_Reddi_et_al()
    {
        const double eta = 0.1, beta1 = 0.9, tau = 1e-3;
        var reference = Adaptive(eta, beta1, tau, (v, s) => v + s);
        var got = Run(new FedAdagrad(eta, beta1, tau), reference);
        // Round 1 by hand, coordinate 0: m = 0.05, v = 1e-6 + 0.25, x = 1 + 0.1 * 0.05 / (sqrt(0.250001) + 0.001).
        Assert.Equal(1 + 0.1 * 0.05 / (Math.Sqrt(0.250001) + 0.001), got[0][0], 6);
    }

    [Fact]
    public void FedAdam_follows_Reddi_et_al()
    {
        const double eta = 0.01, beta1 = 0.9, beta2 = 0.99, tau = 1e-3;
        var got = Run(new FedAdam(eta, beta1, beta2, tau), Adaptive(eta, beta1, tau, (v, s) => beta2 * v + (1 - beta2) * s));
        Assert.Equal(1 + 0.01 * 0.05 / (Math.Sqrt(0.99e-6 + 0.0025) + 0.001), got[0][0], 6);
    }

    [Fact]
    public void FedAdam_with_bias_correction_follows_Adam()
    {
        const double eta = 0.01, beta1 = 0.9, beta2 = 0.99, tau = 1e-3;
        var got = Run(new FedAdam(eta, beta1, beta2, tau, biasCorrection: true),
            Adaptive(eta, beta1, tau, (v, s) => beta2 * v + (1 - beta2) * s, biasBeta2: beta2));
        // Round 1, coordinate 0: m / 0.1 = 0.5 and v / 0.01 = 0.99e-4 + 0.25, so the step is about eta itself.
        Assert.Equal(1 + 0.01 * 0.5 / (Math.Sqrt(0.99e-4 + 0.25) + 0.001), got[0][0], 6);
        // Uncorrected, round 1 is the same step; from round 2 on the two differ.
        var plain = Run(new FedAdam(eta, beta1, beta2, tau), Adaptive(eta, beta1, tau, (v, s) => beta2 * v + (1 - beta2) * s));
        Assert.NotEqual(plain[1][0], got[1][0], 4);
    }

    [Fact]
    public void FedYogi_with_bias_correction_follows_its_equations()
    {
        const double eta = 0.01, beta1 = 0.9, beta2 = 0.99, tau = 1e-3;
        Run(new FedYogi(eta, beta1, beta2, tau, biasCorrection: true),
            Adaptive(eta, beta1, tau, (v, s) => v - (1 - beta2) * s * Math.Sign(v - s), biasBeta2: beta2));
    }

    [Fact]
    public void FedYogi_follows_Reddi_et_al()
    {
        const double eta = 0.01, beta1 = 0.9, beta2 = 0.99, tau = 1e-3;
        var got = Run(new FedYogi(eta, beta1, beta2, tau), Adaptive(eta, beta1, tau, (v, s) => v - (1 - beta2) * s * Math.Sign(v - s)));
        // Round 1, coordinate 0: v = 1e-6 - 0.01 * 0.25 * sign(1e-6 - 0.25) = 1e-6 + 0.0025.
        Assert.Equal(1 + 0.01 * 0.05 / (Math.Sqrt(1e-6 + 0.0025) + 0.001), got[0][0], 6);
    }

    [Fact]
    public void The_state_is_carried_in_the_value_not_the_strategy()
    {
        // Two strategies (as on two instances), each round's state passed on through bytes: the same model as one.
        var one = new FedAdam();
        var single = Start.ToArray();
        var state = one.InitialState();
        var split = Start.ToArray();
        byte[] stored = new FedAdam().InitialState().Encode();
        foreach (var delta in Deltas)
        {
            one.Aggregate(delta, 1, single, state);
            var instance = new FedAdam();
            var carried = ServerState.Decode(stored, instance.Name, 4);
            instance.Aggregate(delta, 1, split, carried);
            stored = carried.Encode();
        }
        Assert.Equal(single, split);
        Assert.Equal(Deltas.Length, ServerState.Decode(stored, one.Name, 4).Rounds);
    }

    [Fact]
    public void Settings_are_validated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new FedAvgM(momentum: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FedAdam(serverLearningRate: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FedYogi(tau: double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FedAdagrad(beta1: -0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FedProx(proximalMu: -1));
    }

    [Fact]
    public void A_state_of_another_strategy_is_refused()
    {
        var adam = new FedAdam();
        var state = new FedYogi().InitialState();
        Assert.Throws<ArgumentException>(() => adam.Aggregate(Deltas[0], 1, Start.ToArray(), state));
    }

    /// <summary>Runs the strategy over <see cref="Deltas"/> with one state and compares every round with the reference.</summary>
    private static float[][] Run(AggregationStrategy strategy, Func<float[], int, double[]> reference)
    {
        var weights = Start.ToArray();
        var state = strategy.InitialState();
        var rounds = new List<float[]>();
        for (int t = 0; t < Deltas.Length; t++)
        {
            var metrics = strategy.Aggregate(Deltas[t], 3, weights, state);
            var expected = reference(Deltas[t], t);
            for (int i = 0; i < 4; i++) Assert.Equal(expected[i], weights[i], 1e-5);
            Assert.Equal(t + 1, state.Rounds);
            Assert.Equal(3, metrics.Updates);
            rounds.Add(weights.ToArray());
        }
        return rounds.ToArray();
    }

    /// <summary>Algorithm 2 of Reddi et al. with the given second-moment rule, v starting at tau^2.</summary>
    /// <param name="biasBeta2">With Adam's bias correction: beta2, to divide v by 1 - beta2^t (and m by 1 - beta1^t).</param>
    private static Func<float[], int, double[]> Adaptive(double eta, double beta1, double tau, Func<double, double, double> secondMoment, double? biasBeta2 = null)
    {
        var x = Start.Select(v => (double)v).ToArray();
        var m = new double[4];
        var v = Enumerable.Repeat(tau * tau, 4).ToArray();
        return (delta, round) =>
        {
            int t = round + 1;
            double c1 = biasBeta2 is null ? 1 : 1 - Math.Pow(beta1, t);
            double c2 = biasBeta2 is double b2 ? 1 - Math.Pow(b2, t) : 1;
            for (int i = 0; i < 4; i++)
            {
                m[i] = beta1 * m[i] + (1 - beta1) * delta[i];
                v[i] = secondMoment(v[i], (double)delta[i] * delta[i]);
                x[i] += eta * (m[i] / c1) / (Math.Sqrt(v[i] / c2) + tau);
            }
            return x;
        };
    }
}

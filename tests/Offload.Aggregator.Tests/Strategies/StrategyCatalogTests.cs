using Offload.Aggregator.Strategies;

namespace Offload.Aggregator.Tests.Strategies;

public class StrategyCatalogTests
{
    public static TheoryData<string> Specifications => new()
    {
        "fedavg", "fedavg:eta=0.5", "fedavgm", "fedavgm:beta=0.5", "fedprox:mu=0.1", "fedadagrad", "fedadam:eta=0.03,tau=0.01",
        "fedyogi", "fedbuff:k=5", "fedbuff:k=4,poly=0.5", "fedbuff:k=4,eta=0.5,hinge=10,b=3", "median", "trimmedmean:beta=0.2", "krum:f=2", "multikrum:f=1,m=3", "fedavg:clip=2.5", "fedadam:clip=1,eta=0.1",
    };

    [Theory]
    [MemberData(nameof(Specifications))]
    public void Every_name_parses_back_to_the_same_strategy(string specification)
    {
        var strategy = StrategyCatalog.Parse(specification);
        var again = StrategyCatalog.Parse(strategy.Name);
        Assert.Equal(strategy.Name, again.Name);
        Assert.Equal(strategy.GetType(), again.GetType());
        Assert.Equal(strategy.Kind, again.Kind);
    }

    [Fact]
    public void Keys_reach_the_strategy()
    {
        var adam = Assert.IsType<FedAdam>(StrategyCatalog.Parse("FedAdam: eta=0.03, beta2=0.9"));
        Assert.Equal(0.03, adam.ServerLearningRate);
        Assert.Equal(0.9, adam.Beta2);
        Assert.Equal(0.9, adam.Beta1);
        var clipped = Assert.IsType<NormClipping>(StrategyCatalog.Parse("fedavgm:clip=3"));
        Assert.Equal(3, clipped.MaxNorm);
        Assert.IsType<FedAvgM>(clipped.Inner);
        Assert.Equal(0.25, Assert.IsType<FedProx>(StrategyCatalog.Parse("fedprox:mu=0.25")).ProximalMu);
        Assert.Equal(4, Assert.IsType<Krum>(StrategyCatalog.Parse("multikrum:m=4")).Selected);
        var corrected = Assert.IsType<FedAdam>(StrategyCatalog.Parse("fedadam:bias=1"));
        Assert.True(corrected.BiasCorrection);
        Assert.EndsWith(",bias=1", corrected.Name);
        Assert.True(Assert.IsType<FedAdam>(StrategyCatalog.Parse(corrected.Name)).BiasCorrection);
        // Off by default, and then not in the name, so names (and journals) from before it still match.
        Assert.DoesNotContain("bias", new FedYogi().Name);
    }

    [Theory]
    [InlineData("fedsgd", "Unknown strategy 'fedsgd'")]
    [InlineData("fedadam:lr=0.1", "has no key 'lr'")]
    [InlineData("median:clip=1", "has no key 'clip'")]
    [InlineData("fedavg:eta", "is not key=value")]
    [InlineData("fedavg:eta=abc", "is not a finite number")]
    [InlineData("fedavg:eta=NaN", "is not a finite number")]
    [InlineData("fedavg:eta=0", "eta must be positive")]
    [InlineData("fedavg:eta=1,eta=2", "given twice")]
    [InlineData("krum:f=1.5", "whole number")]
    [InlineData("fedadam:bias=2", "bias must be 0 or 1")]
    [InlineData("trimmedmean:beta=0.5", "beta must be in [0, 0.5)")]
    [InlineData("fedbuff:poly=0.5,hinge=10", "not both")]
    [InlineData("fedbuff:poly=-1", "exponent a must be non-negative")]
    [InlineData("fedbuff:hinge=1,b=-1", "threshold")]
    public void A_bad_specification_says_what_is_wrong(string specification, string expected)
    {
        var e = Assert.Throws<FormatException>(() => StrategyCatalog.Parse(specification));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void An_unknown_name_lists_every_strategy_and_an_unknown_key_the_valid_keys()
    {
        var unknown = Assert.Throws<FormatException>(() => StrategyCatalog.Parse("nope"));
        foreach (var name in StrategyCatalog.Names) Assert.Contains(name, unknown.Message);
        var key = Assert.Throws<FormatException>(() => StrategyCatalog.Parse("fedyogi:eps=1"));
        Assert.Contains("beta2=0.99", key.Message);
        Assert.Contains("clip=C", key.Message);
    }

    [Fact]
    public void FedProx_configures_the_proximal_weight_and_keeps_the_rest()
    {
        var defaults = new Core.Federation.TrainingOptions(2, 32, 0.05);
        var plan = new FedProx(0.1).Configure(3, defaults);
        Assert.Equal(0.1, plan.ProximalMu);
        Assert.Equal(2, plan.LocalEpochs);
        Assert.Equal(0.05, plan.LearningRate);
        Assert.Equal(0.1, new NormClipping(new FedProx(0.1), 1).Configure(1, defaults).ProximalMu);
        Assert.Same(defaults, new FedAvg().Configure(1, defaults));
    }
}

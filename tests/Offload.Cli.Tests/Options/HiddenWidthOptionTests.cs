using Offload.Cli.Options;
using Offload.Cli.Serving;
using Offload.Client.Training;

namespace Offload.Cli.Tests.Options;

public sealed class HiddenWidthOptionTests
{
    /// <summary>
    /// Parameters of the default CNN on 28x28 inputs with fc1 of width <paramref name="hidden"/>:
    /// conv1 1x16x5x5+16, conv2 16x32x5x5+32, fc1 512xH+H (32 channels of 4x4 after two conv-pool
    /// stages), fc2 Hx10+10.
    /// </summary>
    private static long Parameters(long hidden) => (1 * 16 * 25 + 16) + (16 * 32 * 25 + 32) + (512 * hidden + hidden) + (hidden * 10 + 10);

    [Fact]
    public void The_hidden_width_sets_fc1_and_the_parameter_count()
    {
        using var trainer = TorchTrainer.CreateDefault(seed: 4, hidden: 300);
        Assert.Equal(170_158, trainer.Layout.TotalLength);
        Assert.Equal(Parameters(300), trainer.Layout.TotalLength);
        var fc1 = trainer.Layout.Tensors.Single(t => t.Name == "fc1.weight");
        Assert.Equal([300, 512], fc1.Shape);

        using var standard = TorchTrainer.CreateDefault(seed: 4);
        Assert.Equal(Parameters(HiddenWidthOption.Default), standard.Layout.TotalLength);
        // The size the option's help and the README promise for --hidden 22000: 11.5M float32, 46 MB.
        Assert.Equal(11_519_258, Parameters(22_000));
    }

    [Fact]
    public void The_same_seed_and_width_give_the_same_weights()
    {
        using var a = TorchTrainer.CreateDefault(seed: 11, hidden: 300);
        using var b = TorchTrainer.CreateDefault(seed: 11, hidden: 300);
        var wa = new float[a.Layout.TotalLength];
        var wb = new float[b.Layout.TotalLength];
        a.ExportWeights(wa);
        b.ExportWeights(wb);
        Assert.Equal(wa, wb);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-64)]
    [InlineData(HiddenWidthOption.Max + 1)]
    public void Serve_options_refuse_a_width_out_of_range_naming_the_option(int hidden)
    {
        var e = Assert.Throws<InvalidOptionException>(() => new ServeOptions { Hidden = hidden }.Validate());
        Assert.Equal($"--hidden must be 1..100000 (the width of the dense layer fc1) (got {hidden}).", e.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(22_000)]
    [InlineData(HiddenWidthOption.Max)]
    public void Serve_options_take_a_width_in_range(int hidden)
    {
        Assert.Equal(hidden, new ServeOptions { Hidden = hidden }.Validate().Hidden);
        Assert.Equal(hidden, HiddenWidthOption.Validate(hidden));
    }
}

using Offload.Cli.Devices;
using Offload.Core.Data;

namespace Offload.Cli.Tests.Devices;

public class ClassSubsetTests
{
    [Theory]
    [InlineData("0-7", new[] { 0, 1, 2, 3, 4, 5, 6, 7 })]
    [InlineData("8,9", new[] { 8, 9 })]
    [InlineData("0-2,5,9", new[] { 0, 1, 2, 5, 9 })]
    [InlineData("3", new[] { 3 })]
    public void Lists_and_ranges_name_the_classes(string value, int[] expected) => Assert.Equal(expected, ClassSubset.Parse(value, 10));

    [Theory]
    [InlineData("")]
    [InlineData("10")]
    [InlineData("7-3")]
    [InlineData("a")]
    [InlineData("1-2-3")]
    [InlineData("-1")]
    public void A_bad_list_is_refused_naming_the_option(string value) =>
        Assert.StartsWith("--classes", Assert.Throws<InvalidOptionException>(() => ClassSubset.Parse(value, 10)).Message);

    [Fact]
    public void The_subset_keeps_exactly_the_samples_of_the_classes_in_order()
    {
        byte[] labels = [0, 8, 3, 9, 8, 1];
        var pixels = new byte[labels.Length * 4];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)(i / 4); // Image i is all i.
        var subset = ClassSubset.Of(new ImageDataset(pixels, labels, 2, 2, 10), new HashSet<int> { 8, 9 });
        Assert.Equal(new byte[] { 8, 9, 8 }, subset.Labels);
        Assert.Equal(new byte[] { 1, 1, 1, 1, 3, 3, 3, 3, 4, 4, 4, 4 }, subset.Pixels);
        Assert.StartsWith("--classes", Assert.Throws<InvalidOptionException>(() => ClassSubset.Of(subset, new HashSet<int> { 2 })).Message);
    }
}

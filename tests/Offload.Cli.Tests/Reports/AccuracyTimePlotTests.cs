using Offload.Cli.Reports;
using Offload.Cli.Serving;

namespace Offload.Cli.Tests.Reports;

public class AccuracyTimePlotTests
{
    [Fact]
    public void Each_runs_versions_are_read_from_rounds_csv_and_drawn()
    {
        var root = Directory.CreateTempSubdirectory("offload-plot-");
        try
        {
            string a = Path.Combine(root.FullName, "a"), b = Path.Combine(root.FullName, "b");
            Directory.CreateDirectory(a);
            Directory.CreateDirectory(b);
            File.WriteAllText(Path.Combine(a, "rounds.csv"), ServeReport.CsvHeader + "\n1,1,0.5,1,2,0,10,100,1,0.1,buffer,,,,0,0,1.500\n2,2,0.6,1,2,0,10,100,1,0.1,buffer,,,,0,0,3.000\n");
            File.WriteAllText(Path.Combine(b, "rounds.csv"), ServeReport.CsvHeader + "\n1,1,0.7,1,2,0,10,100,1,0.1,quorum,,,,0,0,\n");
            var read = AccuracyTimePlot.Write(root.FullName, [("none", a), ("kept", b)], "t");
            Assert.Equal([(1.5, 0.5), (3.0, 0.6)], read["none"]);
            Assert.Empty(read["kept"]); // A round from before a restart has no time of its own.
            Assert.Equal(AccuracyTimePlot.CsvHeader + "\nnone,1,1.500,0.5000\nnone,2,3.000,0.6000\n", File.ReadAllText(Path.Combine(root.FullName, "accuracy-time.csv")));
            Assert.True(new FileInfo(Path.Combine(root.FullName, "accuracy-time.png")).Length > 0);

            File.WriteAllText(Path.Combine(b, "rounds.csv"), ServeReport.CsvHeader + "\n1,1,lots,1,2,0,10,100,1,0.1,quorum,,,,0,0,2\n");
            Assert.Contains("line 2", Assert.Throws<InvalidOptionException>(() => AccuracyTimePlot.Write(root.FullName, [("b", b)], "t")).Message);
            Assert.Contains("does not exist", Assert.Throws<InvalidOptionException>(() => AccuracyTimePlot.Write(root.FullName, [("c", Path.Combine(root.FullName, "c"))], "t")).Message);
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }
}

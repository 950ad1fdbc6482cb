using Cartan.Engine;

namespace Cartan.Tests.Engine;

public class JobSchedulerTests
{
    /// <summary>Runs seeded random jobs that record how much estimated memory and how many jobs were live at once.</summary>
    private static (int MaxRunning, long MaxBytes, int[] Runs, List<int> Over) Simulate(int count, int parallelism, long? budget, int seed)
    {
        var rng = new Random(seed);
        var bytes = Enumerable.Range(0, count).Select(_ => (long)rng.Next(1, 100)).ToArray();
        var sleeps = Enumerable.Range(0, count).Select(_ => rng.Next(0, 3)).ToArray();
        var runs = new int[count];
        var gate = new object();
        int running = 0, maxRunning = 0;
        long live = 0, maxBytes = 0;
        var over = new List<int>();
        JobScheduler.Run(count, parallelism, i => bytes[i], budget, i =>
        {
            lock (gate)
            {
                running++; live += bytes[i];
                maxRunning = Math.Max(maxRunning, running);
                // An over-budget job must run alone; otherwise the live estimate stays within the budget.
                if (budget is long b && bytes[i] > b) Assert.Equal(1, running);
                else if (budget is long b2 && running > 1) Assert.True(live <= b2, $"live {live} > budget {b2}");
                maxBytes = Math.Max(maxBytes, live);
            }
            Interlocked.Increment(ref runs[i]);
            Thread.Sleep(sleeps[i]);
            lock (gate) { running--; live -= bytes[i]; }
        }, (i, need) => { lock (over) over.Add(i); Assert.Equal(bytes[i], need); });
        return (maxRunning, maxBytes, runs, over);
    }

    [Theory]
    [InlineData(1, 150L)]
    [InlineData(3, 150L)]
    [InlineData(4, 60L)]
    [InlineData(8, 1000L)]
    public void Jobs_run_once_within_the_parallelism_and_the_budget(int parallelism, long budget)
    {
        for (int seed = 0; seed < 5; seed++)
        {
            var (maxRunning, _, runs, over) = Simulate(40, parallelism, budget, seed);
            Assert.All(runs, r => Assert.Equal(1, r));
            Assert.True(maxRunning <= parallelism);
            var rng = new Random(seed);
            var expectedOver = Enumerable.Range(0, 40).Select(i => (i, b: (long)rng.Next(1, 100))).Where(t => t.b > budget).Select(t => t.i).ToList();
            foreach (var _ in Enumerable.Range(0, 40)) rng.Next(0, 3);
            Assert.Equal(expectedOver, over.Order().ToList());
        }
    }

    [Fact]
    public void Without_a_budget_the_parallelism_is_used()
    {
        // 12 jobs of 30 ms on 3 workers: some moment has more than one job live.
        int running = 0, maxRunning = 0;
        var gate = new object();
        JobScheduler.Run(12, 3, _ => 1, null, _ =>
        {
            lock (gate) { running++; maxRunning = Math.Max(maxRunning, running); }
            Thread.Sleep(30);
            lock (gate) running--;
        });
        Assert.InRange(maxRunning, 2, 3);
    }

    [Fact]
    public void A_tiny_budget_serialises_every_job()
    {
        var (maxRunning, _, runs, over) = Simulate(20, 4, 0, 7);
        Assert.Equal(1, maxRunning);
        Assert.Equal(20, over.Count);
        Assert.All(runs, r => Assert.Equal(1, r));
    }

    [Fact]
    public void A_failing_job_surfaces_its_exception_after_the_running_ones_finish()
    {
        int finished = 0;
        var e = Assert.Throws<InvalidOperationException>(() => JobScheduler.Run(10, 2, _ => 1, null, i =>
        {
            if (i == 3) throw new InvalidOperationException("job 3");
            Thread.Sleep(5);
            Interlocked.Increment(ref finished);
        }));
        Assert.Equal("job 3", e.Message);
        Assert.True(finished >= 3);
    }

    [Theory]
    [InlineData("512M", 512L * 1024 * 1024)]
    [InlineData("2G", 2L * 1024 * 1024 * 1024)]
    [InlineData("1.5GiB", 3L * 512 * 1024 * 1024)]
    [InlineData("300MB", 300L * 1024 * 1024)]
    [InlineData("4096", 4096L)]
    [InlineData(" 64 k ", 64L * 1024)]
    public void Sizes_parse(string text, long bytes) => Assert.Equal(bytes, JobScheduler.ParseSize(text));

    [Theory]
    [InlineData("")]
    [InlineData("G")]
    [InlineData("-1G")]
    [InlineData("0")]
    [InlineData("12X")]
    [InlineData("1e400")]
    [InlineData("99999999999T")]
    public void Bad_sizes_are_refused(string text) => Assert.Throws<ArgumentException>(() => JobScheduler.ParseSize(text));
}

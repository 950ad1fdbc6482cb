namespace Cartan.Engine;

/// <summary>
/// Runs a list of independent jobs with a bound on parallelism and on the sum of the jobs' estimated memory.
/// A job starts only when the jobs already running plus this one fit in the budget; a job that alone exceeds the budget
/// runs by itself (nothing else runs beside it) and is reported through <c>overBudget</c>, never skipped. Jobs start in
/// list order, so a large job waiting for room is not overtaken by the smaller jobs behind it. Results do not depend on
/// the schedule: each job is a pure function of its inputs.
/// </summary>
public static class JobScheduler
{
    /// <summary>Runs <paramref name="run"/> for 0..count-1.</summary>
    /// <param name="bytes">estimated peak bytes of job i</param>
    /// <param name="budget">memory budget in bytes (null: no budget)</param>
    /// <param name="overBudget">called (from the scheduling thread) for each job that alone needs more than the budget</param>
    public static void Run(int count, int parallelism, Func<int, long> bytes, long? budget, Action<int> run, Action<int, long>? overBudget = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        parallelism = Math.Max(1, parallelism);
        if (count == 0) return;
        if (budget is null && parallelism == 1)
        {
            for (int i = 0; i < count; i++) run(i);
            return;
        }
        var gate = new object();
        long inUse = 0;
        int running = 0;
        Exception? failure = null;
        var workers = new List<Thread>();
        for (int i = 0; i < count; i++)
        {
            long need = Math.Max(0, bytes(i));
            bool alone = budget is long b0 && need > b0;
            if (alone) overBudget?.Invoke(i, need);
            lock (gate)
            {
                // Wait for a slot and for room; an over-budget job waits until nothing else runs.
                while (failure is null && (running >= parallelism || (budget is long b && running > 0 && (alone || inUse + need > b))))
                    Monitor.Wait(gate);
                if (failure is not null) break;
                running++;
                inUse += need;
            }
            int job = i;
            var t = new Thread(() =>
            {
                try { run(job); }
                catch (Exception e) { lock (gate) failure ??= e; }
                finally
                {
                    lock (gate)
                    {
                        running--;
                        inUse -= need;
                        Monitor.PulseAll(gate);
                    }
                }
            }, 16 * 1024 * 1024) { IsBackground = true, Name = $"cartan-job-{job}" };
            workers.Add(t);
            t.Start();
        }
        foreach (var t in workers) t.Join();
        if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
    }

    /// <summary>Parses a size such as 512M, 2G, 1.5GiB, 300MB or a plain byte count (binary units: K = 1024).</summary>
    public static long ParseSize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var s = text.Trim();
        int end = 0;
        while (end < s.Length && (char.IsDigit(s[end]) || s[end] == '.')) end++;
        if (end == 0 || !double.TryParse(s[..end], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v) || v <= 0)
            throw new ArgumentException($"a memory size looks like 512M, 2G or 1.5GiB, got '{text}'");
        string unit = s[end..].Trim().ToUpperInvariant();
        double mult = unit switch
        {
            "" or "B" => 1,
            "K" or "KB" or "KIB" => 1024d,
            "M" or "MB" or "MIB" => 1024d * 1024,
            "G" or "GB" or "GIB" => 1024d * 1024 * 1024,
            "T" or "TB" or "TIB" => 1024d * 1024 * 1024 * 1024,
            _ => throw new ArgumentException($"unknown memory unit '{s[end..]}' in '{text}' (use K, M, G or T)"),
        };
        double bytes = v * mult;
        if (bytes < 1 || bytes > long.MaxValue / 2) throw new ArgumentException($"memory size out of range: '{text}'");
        return (long)bytes;
    }
}

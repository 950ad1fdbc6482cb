namespace Cartan.Linalg;

/// <summary>
/// Reusable float64 work buffers for the per-layer spectrum path (Gram matrices, bands, LAPACK workspaces).
/// A fresh large array is fresh pages: every job used to fault its Gram in page by page, and BLAS's first read of
/// an untouched page (β = 1 accumulation, dsyevd's workspace) mapped the shared zero page, so the following write
/// took a copy-on-write fault whose TLB shootdown interrupted the other core (about 8 % of all CPU time of a
/// ViT-B/16 spectra run in `perf`). Buffers up to <see cref="MaxPooledLength"/> elements are kept and handed out
/// again, uninitialised: callers never assume zeros. Larger ones are plain allocations (their O(n³) work dwarfs the
/// faults, and keeping them would raise the memory high-water mark).
/// </summary>
internal sealed class Scratch(int capacity)
{
    /// <summary>The pool the linear-algebra engine uses: enough idle buffers for every concurrent job's Gram, band and workspace.</summary>
    public static Scratch Shared { get; } = new(3 * Environment.ProcessorCount + 2);

    /// <summary>Largest pooled buffer: 2²¹ doubles (16 MiB).</summary>
    public const int MaxPooledLength = 1 << 21;

    private readonly object Gate = new();
    private readonly List<double[]> Free = [];

    /// <summary>How many idle buffers are kept.</summary>
    public int Capacity { get; } = Math.Max(1, capacity);

    /// <summary>A buffer of at least <paramref name="length"/> elements, contents undefined. Give it back with <see cref="Return"/>.</summary>
    public double[] Rent(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length > MaxPooledLength) return GC.AllocateUninitializedArray<double>(checked((int)length));
        lock (Gate)
        {
            int best = -1;
            for (int i = 0; i < Free.Count; i++)
                if (Free[i].Length >= length && (best < 0 || Free[i].Length < Free[best].Length)) best = i;
            if (best >= 0)
            {
                var a = Free[best];
                Free[best] = Free[^1];
                Free.RemoveAt(Free.Count - 1);
                return a;
            }
        }
        // Rounded up to a power of two so that buffers of nearby sizes are interchangeable (untouched tail pages of a
        // rounded-up array cost address space, not memory).
        return GC.AllocateUninitializedArray<double>((int)Math.Min(MaxPooledLength, System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)Math.Max(length, 1024))));
    }

    /// <summary>Hands a buffer back (null and oversized ones are ignored; when the pool is full the smallest idle one is dropped).</summary>
    public void Return(double[]? a)
    {
        if (a is null || a.Length > MaxPooledLength) return;
        lock (Gate)
        {
            if (Free.Count < Capacity) { Free.Add(a); return; }
            int smallest = 0;
            for (int i = 1; i < Free.Count; i++) if (Free[i].Length < Free[smallest].Length) smallest = i;
            if (Free[smallest].Length < a.Length) Free[smallest] = a;
        }
    }

    /// <summary>Idle buffers and their total length (for tests).</summary>
    internal (int Count, long Elements) Idle
    {
        get { lock (Gate) return (Free.Count, Free.Sum(a => (long)a.Length)); }
    }
}

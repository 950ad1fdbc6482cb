using Cartan.Linalg;
using static Cartan.Tests.Linalg.LinalgTestKit;

namespace Cartan.Tests.Linalg;

/// <summary>
/// The pooled work buffers of the spectrum path: reuse, bounds, and that results never depend on what a reused
/// buffer held (the pool hands out uninitialised memory).
/// </summary>
public class ScratchTests
{
    [Fact]
    public void A_returned_buffer_is_handed_out_again_and_is_at_least_the_asked_length()
    {
        var pool = new Scratch(4);
        var a = pool.Rent(1000);
        Assert.True(a.Length >= 1000);
        pool.Return(a);
        Assert.Equal(1, pool.Idle.Count);
        var b = pool.Rent(900);
        Assert.Same(a, b);
        Assert.Equal(0, pool.Idle.Count);
        // A longer request than any idle buffer gets a new one.
        pool.Return(b);
        var c = pool.Rent(a.Length + 1);
        Assert.NotSame(a, c);
        Assert.True(c.Length >= a.Length + 1);
    }

    [Fact]
    public void The_smallest_fitting_idle_buffer_is_taken()
    {
        var pool = new Scratch(4);
        var big = pool.Rent(1 << 16);
        var small = pool.Rent(2000);
        pool.Return(big);
        pool.Return(small);
        Assert.Same(small, pool.Rent(1500));
        Assert.Same(big, pool.Rent(1500));
    }

    [Fact]
    public void Oversized_buffers_are_not_kept_and_the_pool_never_exceeds_its_capacity()
    {
        var pool = new Scratch(3);
        var huge = pool.Rent(Scratch.MaxPooledLength + 1L);
        Assert.Equal(Scratch.MaxPooledLength + 1, huge.Length);
        pool.Return(huge);
        Assert.Equal(0, pool.Idle.Count);
        var rented = Enumerable.Range(0, 6).Select(i => pool.Rent(1024 << i)).ToList();
        foreach (var r in rented) pool.Return(r);
        Assert.Equal(3, pool.Idle.Count);
        // When full, the largest buffers are the ones kept (they can serve every smaller request).
        Assert.Equal(rented.Skip(3).Sum(r => (long)r.Length), pool.Idle.Elements);
        pool.Return(null);
        Assert.Equal(3, pool.Idle.Count);
    }

    [Fact]
    public void Spectra_do_not_depend_on_what_the_shared_pool_held()
    {
        // Poison the engine's pool with NaN-filled buffers of every size the computations below rent, then check
        // closed forms: a Gram accumulated into an uncleared buffer, or a workspace read as input, would give NaN.
        void Poison()
        {
            var held = Enumerable.Range(0, Scratch.Shared.Capacity).Select(i => Scratch.Shared.Rent(1024L << (i % 12))).ToList();
            foreach (var h in held) { Array.Fill(h, double.NaN); Scratch.Shared.Return(h); }
        }
        foreach (var (m, n) in new[] { (60, 25), (25, 60), (40, 40), (300, 200) })
        {
            int p = Math.Min(m, n);
            // A slow decay: the Gram route loses absolute accuracy ε·σ₁²/σ on small σ, which is not what is tested here.
            var s = Geometric(p, 10, p > 100 ? 0.98 : 0.9);
            var a = WithSingularValues(77 + m + n, m, n, s);
            Poison();
            Close(s, Lapack.SingularValues(a, m, n), 1e-12, s[0], $"one call {m}×{n}");
            foreach (long band in new long[] { 1, 7L * p, 1 << 20 })
            {
                Poison();
                var got = Lapack.SingularValuesBanded(m, n, (start, count, dst) =>
                {
                    if (m > n) a.AsSpan(start * n, count * n).CopyTo(dst);
                    else for (int i = 0; i < m; i++) a.AsSpan(i * n + start, count).CopyTo(dst.Slice(i * count, count));
                }, band);
                Close(s, got, 1e-12, s[0], $"banded {m}×{n} band {band}");
            }
        }
    }
}

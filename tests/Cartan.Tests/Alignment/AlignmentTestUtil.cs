using Cartan.Alignment;
using Cartan.Linalg;

namespace Cartan.Tests.Alignment;

internal static class AlignmentTestUtil
{
    public static double[] Gaussian(int rows, int cols, Random rng)
    {
        var a = new double[rows * cols];
        for (int i = 0; i < a.Length; i++) a[i] = HeadOverlap.Gaussian(rng);
        return a;
    }

    /// <summary>Square random orthogonal matrix (row-major).</summary>
    public static double[] Orthogonal(int n, Random rng) => HeadOverlap.RandomOrthonormal(n, n, rng);

    /// <summary>U·diag(s)·Vᵀ with U m×k, V n×k (row-major).</summary>
    public static double[] Compose(double[] u, int m, double[] s, double[] v, int n)
    {
        int k = s.Length;
        var us = new double[m * k];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < k; j++) us[i * k + j] = u[i * (u.Length / m) + j] * s[j];
        var vk = new double[n * k];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < k; j++) vk[i * k + j] = v[i * (v.Length / n) + j];
        return Lapack.MatMul(us, m, k, vk, n, transB: true);
    }
}

using Cartan.Linalg;

namespace Cartan.Tests;

/// <summary>
/// Singular values for the golden tests of the readers: the library's LAPACK SVD (dgesdd, accurate to ε·σ₁ for small
/// values too), compared there with numpy's values computed independently by the scripts beside the fixtures.
/// The SVD itself is checked against closed forms and the managed fallback in Cartan.Tests.Linalg.
/// </summary>
internal static class GoldenSvd
{
    public static double[] SingularValues(double[] a, int rows, int cols) => Lapack.Svd(a, rows, cols).S;

    public static double[] TopSingularValues(double[] a, int rows, int cols, int k) => SingularValues(a, rows, cols).Take(k).ToArray();
}

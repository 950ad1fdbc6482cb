namespace Cartan.Linalg;

/// <summary>
/// A linear-algebra operation could not be carried out: LAPACK reported a non-zero <c>info</c>, an iteration
/// did not converge, the input held NaN or infinity, or the problem is too large for 32-bit LAPACK indices.
/// Distinct from <c>CartanFormatException</c>, which is only for malformed input files.
/// </summary>
public sealed class LinalgException : Exception
{
    public LinalgException(string message) : base(message) { }

    public LinalgException(string message, Exception inner) : base(message, inner) { }
}

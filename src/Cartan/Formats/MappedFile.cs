using System.IO.MemoryMappedFiles;

namespace Cartan.Formats;

/// <summary>A read-only memory mapping of a whole file. Slices are bounds-checked; the file is never written.</summary>
public sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile? _mmf;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _ptr;
    private bool _disposed;

    private readonly IDisposable? _keepAlive;

    private MappedFile(string path, long length, MemoryMappedFile? mmf, MemoryMappedViewAccessor? view, byte* ptr, IDisposable? keepAlive = null)
    {
        Path = path; Length = length; _mmf = mmf; _view = view; _ptr = ptr; _keepAlive = keepAlive;
    }

    /// <summary>
    /// Wraps memory that is already mapped (e.g. a manifest resource of a loaded assembly, exposed as an
    /// <see cref="UnmanagedMemoryStream"/>). <paramref name="keepAlive"/> is disposed with this object.
    /// </summary>
    public static MappedFile FromMemory(string name, byte* pointer, long length, IDisposable? keepAlive = null) =>
        new(name, length, null, null, pointer, keepAlive);

    public string Path { get; }
    public long Length { get; }

    public static MappedFile Open(string path)
    {
        FileStream fs;
        try { fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        { throw new CartanFormatException(path, $"cannot open: {e.Message}"); }
        long len = fs.Length;
        if (len == 0) { fs.Dispose(); return new MappedFile(path, 0, null, null, null); }
        var mmf = MemoryMappedFile.CreateFromFile(fs, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
        var view = mmf.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        p += view.PointerOffset;
        return new MappedFile(path, len, mmf, view, p);
    }

    /// <summary>A span over [offset, offset+length). Throws <see cref="CartanFormatException"/> when out of range.</summary>
    public ReadOnlySpan<byte> Span(long offset, long length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (offset < 0 || length < 0 || offset > Length || length > Length - offset)
            throw new CartanFormatException(Path, $"byte range [{offset}, {offset + length}) lies outside the file ({Length} bytes)");
        if (length > int.MaxValue)
            throw new CartanFormatException(Path, $"a single range of {length} bytes at offset {offset} exceeds 2 GiB");
        if (length == 0) return ReadOnlySpan<byte>.Empty;
        return new ReadOnlySpan<byte>(_ptr + offset, (int)length);
    }

    /// <summary>
    /// Tells the kernel that this process is done with the pages of [offset, offset+length) for now (Linux
    /// <c>madvise(MADV_DONTNEED)</c> on the whole pages inside the range): they leave the resident set and are read again
    /// from the page cache if touched later. The mapping is read-only and file-backed, so no data changes. Called by the
    /// readers after a tensor is decoded, so that the resident set follows the tensors in use, not every tensor read so far.
    /// A no-op elsewhere and for in-memory buffers.
    /// </summary>
    public void DropPages(long offset, long length)
    {
        if (_disposed || _view is null || !OperatingSystem.IsLinux() || length <= 0 || offset < 0 || offset > Length - length) return;
        long page = Environment.SystemPageSize;
        long start = (long)(_ptr + offset), end = start + length;
        long first = (start + page - 1) / page * page, last = end / page * page;
        if (last <= first) return;
        _ = NativeMadvise.madvise((IntPtr)first, (UIntPtr)(ulong)(last - first), NativeMadvise.DontNeed);
    }

    private static class NativeMadvise
    {
        public const int DontNeed = 4;

        [System.Runtime.InteropServices.DllImport("libc", SetLastError = false)]
        public static extern int madvise(IntPtr addr, UIntPtr length, int advice);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _mmf?.Dispose();
        _keepAlive?.Dispose();
    }
}

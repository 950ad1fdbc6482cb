using Cartan.Formats;
using Cartan.Tensors;

namespace Cartan.Tests.Formats;

/// <summary>After a tensor is decoded, its mapped file pages leave the resident set (the memory budget counts decoded
/// matrices, not every byte read so far).</summary>
[Collection("timing")]
public class MappedPagesTests
{
    private static long RssFileKiB()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("RssFile:", StringComparison.Ordinal))
                return long.Parse(line[8..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        throw new InvalidOperationException("no RssFile in /proc/self/status");
    }

    [Fact]
    public void Decoding_a_safetensors_tensor_does_not_leave_its_pages_resident()
    {
        if (!OperatingSystem.IsLinux()) return;
        var dir = TestPaths.NewTempDir();
        var path = Path.Combine(dir, "big.safetensors");
        const int rows = 2048, cols = 4096; // 32 MiB of F32 per tensor
        var bytes = new byte[rows * cols * 4];
        new Random(1).NextBytes(bytes);
        for (int i = 0; i < bytes.Length; i += 4) bytes[i + 3] = 0x3f; // finite floats
        SafetensorsWriter.Write(path, new[]
        {
            ("a", new long[] { rows, cols }, DType.F32, (ReadOnlyMemory<byte>)bytes),
            ("b", new long[] { rows, cols }, DType.F32, (ReadOnlyMemory<byte>)bytes),
        });
        using var model = SafetensorsReader.Open(path);
        long before = RssFileKiB();
        double sum = 0;
        foreach (var t in model.Tensors)
        {
            var d = t.ReadDoubles();
            sum += d[^1];
        }
        long grown = RssFileKiB() - before;
        // 64 MiB of tensor bytes were read; without dropping the pages the file-backed resident set grows by about that.
        Assert.True(grown < 8 * 1024, $"file-backed resident set grew by {grown} KiB after decoding 64 MiB");
        Assert.True(double.IsFinite(sum));

        // The data is still there: decoding again gives the same values.
        var again = model.Tensors[0].ReadDoubles();
        Assert.Equal(BitConverter.ToSingle(bytes, bytes.Length - 4), again[^1]);
    }
}

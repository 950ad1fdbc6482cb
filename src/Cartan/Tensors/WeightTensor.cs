namespace Cartan.Tensors;

/// <summary>How a reader believes a tensor's axes are laid out. The graph stage may refine it (e.g. ONNX MatMul vs Gemm transB).</summary>
public enum TensorLayout
{
    /// <summary>No opinion: 2-D tensors are read as [out, in] (PyTorch convention).</summary>
    Unknown,
    /// <summary>[out, in] (PyTorch Linear, ONNX Gemm with transB=1).</summary>
    OutIn,
    /// <summary>[in, out] (Keras/tfjs Dense, ONNX MatMul initializer, paddle, GPT-2 Conv1D).</summary>
    InOut,
    /// <summary>Convolution O×I×kh×kw (PyTorch, ONNX).</summary>
    OIHW,
    /// <summary>Convolution kh×kw×I×O (tfjs/Keras).</summary>
    HWIO,
    /// <summary>Transposed convolution I×O×kh×kw (PyTorch ConvTranspose).</summary>
    IOHW,
}

/// <summary>Decodes the elements [start, start + destination.Length) of a tensor's row-major data into float64.</summary>
public delegate void TensorRangeReader(long start, Span<double> destination);

/// <summary>
/// One tensor of a weight file: name, shape and stored type, with a lazy float64 view of its data.
/// Reading the data touches only this tensor's bytes (files are memory-mapped by the readers).
/// </summary>
public sealed class WeightTensor
{
    private readonly Func<double[]>? _load;

    public WeightTensor(string name, long[] shape, DType dtype, string storedType, Func<double[]>? load,
        TensorLayout layout = TensorLayout.Unknown, string? file = null)
    {
        Name = name;
        Shape = shape;
        DType = dtype;
        StoredType = storedType;
        _load = load;
        Layout = layout;
        File = file;
    }

    /// <summary>Tensor name exactly as stored in the file.</summary>
    public string Name { get; }
    public long[] Shape { get; }
    public DType DType { get; }
    /// <summary>The dtype as the contract prints it (F32, F16, BF16, I8, U8, Q8_0, UINT8-AFFINE…).</summary>
    public string StoredType { get; }
    /// <summary>Layout hint from the reader; the graph stage may override it.</summary>
    public TensorLayout Layout { get; set; }
    /// <summary>The file that holds the bytes (for error messages).</summary>
    public string? File { get; }

    public long ElementCount
    {
        get { long n = 1; foreach (var d in Shape) n *= d; return n; }
    }

    /// <summary>
    /// Reads part of the data without decoding the rest (set by readers whose bytes allow it: safetensors, contiguous
    /// PyTorch storages, GGUF); null when only <see cref="ReadDoubles"/> works. Lets the engine stream a matrix in bands.
    /// </summary>
    public TensorRangeReader? RangeReader { get; init; }

    /// <summary>Releases the mapped pages of this tensor's bytes after range reads (optional; memory only).</summary>
    public Action? ReleasePages { get; init; }

    /// <summary>True when <see cref="ReadRange"/> is available.</summary>
    public bool CanReadRange => RangeReader is not null;

    /// <summary>
    /// The elements [start, start + destination.Length) of the row-major data, dequantised, equal to the same slice of
    /// <see cref="ReadDoubles"/>. Throws <see cref="InvalidOperationException"/> when the reader offers no range reads.
    /// </summary>
    public void ReadRange(long start, Span<double> destination)
    {
        if (RangeReader is null) throw new InvalidOperationException($"tensor '{Name}' offers no range reads");
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        if (start > ElementCount - destination.Length)
            throw new ArgumentOutOfRangeException(nameof(start), $"range [{start}, {start + destination.Length}) outside the {ElementCount} elements of '{Name}'");
        if (destination.Length > 0) RangeReader(start, destination);
    }

    /// <summary>True when the data can be read as numbers (false for string tensors).</summary>
    public bool HasNumericData => _load is not null;

    /// <summary>Row-major float64 copy of the data, dequantised. Throws <see cref="Formats.CartanFormatException"/> when the bytes are bad.</summary>
    public double[] ReadDoubles()
    {
        if (_load is null) throw new InvalidOperationException($"tensor '{Name}' has no numeric data ({StoredType})");
        var data = _load();
        if (data.LongLength != ElementCount)
            throw new Formats.CartanFormatException(File ?? Name, $"tensor '{Name}' decoded to {data.LongLength} values, shape needs {ElementCount}");
        return data;
    }

    public override string ToString() => $"{Name} [{string.Join(",", Shape)}] {StoredType}";
}

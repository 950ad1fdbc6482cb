namespace Cartan.Tensors;

/// <summary>Element types as stored in a weight file. Names follow the safetensors spelling; the output contract prints <see cref="DTypes.Name"/>.</summary>
public enum DType
{
    F64, F32, F16, BF16,
    I8, U8, I16, U16, I32, U32, I64, U64, Bool,
    /// <summary>Affine-quantised bytes (tfjs uint8/uint16 quantisation) or block-quantised formats: the reader supplies the decoder.</summary>
    Quantized,
    /// <summary>String tensors (tfjs): never analysed.</summary>
    String,
}

public static class DTypes
{
    /// <summary>Bytes per element, or 0 where the type has no fixed width.</summary>
    public static int Size(DType t) => t switch
    {
        DType.F64 or DType.I64 or DType.U64 => 8,
        DType.F32 or DType.I32 or DType.U32 => 4,
        DType.F16 or DType.BF16 or DType.I16 or DType.U16 => 2,
        DType.I8 or DType.U8 or DType.Bool => 1,
        _ => 0,
    };

    public static string Name(DType t) => t switch { DType.Bool => "BOOL", _ => t.ToString().ToUpperInvariant() };

    public static bool IsFloat(DType t) => t is DType.F64 or DType.F32 or DType.F16 or DType.BF16;
}

using Cartan.Tensors;

namespace Cartan.Formats.Gguf;

/// <summary>
/// The ggml tensor types Cartan knows: id (as in ggml.h), name, elements per block and bytes per block.
/// Block layouts follow ggml-common.h (block_q4_0 … block_q8_K); the decoders live in <see cref="GgmlDequant"/>.
/// </summary>
public static class GgmlTypes
{
    /// <summary>One ggml type: <paramref name="BlockElements"/> values take <paramref name="BlockBytes"/> bytes.</summary>
    public readonly record struct Info(int Id, string Name, int BlockElements, int BlockBytes, DType DType, bool Decodable);

    private static readonly Dictionary<int, Info> ById = new()
    {
        [0] = new(0, "F32", 1, 4, DType.F32, true),
        [1] = new(1, "F16", 1, 2, DType.F16, true),
        [2] = new(2, "Q4_0", 32, 18, DType.Quantized, true),
        [3] = new(3, "Q4_1", 32, 20, DType.Quantized, true),
        [6] = new(6, "Q5_0", 32, 22, DType.Quantized, true),
        [7] = new(7, "Q5_1", 32, 24, DType.Quantized, true),
        [8] = new(8, "Q8_0", 32, 34, DType.Quantized, true),
        [9] = new(9, "Q8_1", 32, 36, DType.Quantized, false),
        [10] = new(10, "Q2_K", 256, 84, DType.Quantized, true),
        [11] = new(11, "Q3_K", 256, 110, DType.Quantized, true),
        [12] = new(12, "Q4_K", 256, 144, DType.Quantized, true),
        [13] = new(13, "Q5_K", 256, 176, DType.Quantized, true),
        [14] = new(14, "Q6_K", 256, 210, DType.Quantized, true),
        [15] = new(15, "Q8_K", 256, 292, DType.Quantized, true),
        // i-quants: sizes known (so the file can be validated and listed), decoding needs lookup grids we do not carry.
        [16] = new(16, "IQ2_XXS", 256, 66, DType.Quantized, false),
        [17] = new(17, "IQ2_XS", 256, 74, DType.Quantized, false),
        [18] = new(18, "IQ3_XXS", 256, 98, DType.Quantized, false),
        [19] = new(19, "IQ1_S", 256, 50, DType.Quantized, false),
        [20] = new(20, "IQ4_NL", 32, 18, DType.Quantized, false),
        [21] = new(21, "IQ3_S", 256, 110, DType.Quantized, false),
        [22] = new(22, "IQ2_S", 256, 82, DType.Quantized, false),
        [23] = new(23, "IQ4_XS", 256, 136, DType.Quantized, false),
        [24] = new(24, "I8", 1, 1, DType.I8, true),
        [25] = new(25, "I16", 1, 2, DType.I16, true),
        [26] = new(26, "I32", 1, 4, DType.I32, true),
        [27] = new(27, "I64", 1, 8, DType.I64, true),
        [28] = new(28, "F64", 1, 8, DType.F64, true),
        [29] = new(29, "IQ1_M", 256, 56, DType.Quantized, false),
        [30] = new(30, "BF16", 1, 2, DType.BF16, true),
    };

    /// <summary>The type with ggml id <paramref name="id"/>, or false when unknown.</summary>
    public static bool TryGet(uint id, out Info info) => ById.TryGetValue(id > int.MaxValue ? -1 : (int)id, out info);
}

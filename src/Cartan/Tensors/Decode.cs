using System.Buffers.Binary;

namespace Cartan.Tensors;

/// <summary>Little-endian element decoding into float64. No allocation; one pass.</summary>
public static class Decode
{
    /// <summary>Decodes <c>dst.Length</c> elements of <paramref name="type"/> from <paramref name="src"/> into <paramref name="dst"/>.</summary>
    public static void ToDouble(DType type, ReadOnlySpan<byte> src, Span<double> dst)
    {
        int n = dst.Length;
        int size = DTypes.Size(type);
        if (size == 0) throw new ArgumentException($"{type} has no fixed element width");
        if (src.Length < (long)n * size) throw new ArgumentException("source shorter than destination");
        if (BitConverter.IsLittleEndian && type is DType.F32 or DType.F64 or DType.F16)
        {
            // Little-endian host: the bytes are the values; widen in SIMD (exact: every float32/half is a double).
            switch (type)
            {
                case DType.F64: System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(src[..(n * 8)]).CopyTo(dst); return;
                case DType.F32: System.Numerics.Tensors.TensorPrimitives.ConvertChecked<float, double>(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(src[..(n * 4)]), dst); return;
                case DType.F16: System.Numerics.Tensors.TensorPrimitives.ConvertChecked<Half, double>(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(src[..(n * 2)]), dst); return;
            }
        }
        switch (type)
        {
            case DType.F64:
                for (int i = 0; i < n; i++) dst[i] = BinaryPrimitives.ReadDoubleLittleEndian(src.Slice(i * 8));
                break;
            case DType.F32:
                for (int i = 0; i < n; i++) dst[i] = BinaryPrimitives.ReadSingleLittleEndian(src.Slice(i * 4));
                break;
            case DType.F16:
                for (int i = 0; i < n; i++) dst[i] = (double)BinaryPrimitives.ReadHalfLittleEndian(src.Slice(i * 2));
                break;
            case DType.BF16:
                for (int i = 0; i < n; i++)
                    dst[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(src.Slice(i * 2)) << 16);
                break;
            case DType.I8:
                for (int i = 0; i < n; i++) dst[i] = (sbyte)src[i];
                break;
            case DType.U8:
            case DType.Bool:
                for (int i = 0; i < n; i++) dst[i] = src[i];
                break;
            case DType.I16:
                for (int i = 0; i < n; i++) dst[i] = BinaryPrimitives.ReadInt16LittleEndian(src.Slice(i * 2));
                break;
            case DType.U16:
                for (int i = 0; i < n; i++) dst[i] = BinaryPrimitives.ReadUInt16LittleEndian(src.Slice(i * 2));
                break;
            case DType.I32:
                for (int i = 0; i < n; i++) dst[i] = BinaryPrimitives.ReadInt32LittleEndian(src.Slice(i * 4));
                break;
            case DType.U32:
                for (int i = 0; i < n; i++) dst[i] = BinaryPrimitives.ReadUInt32LittleEndian(src.Slice(i * 4));
                break;
            case DType.I64:
                for (int i = 0; i < n; i++) dst[i] = BinaryPrimitives.ReadInt64LittleEndian(src.Slice(i * 8));
                break;
            case DType.U64:
                for (int i = 0; i < n; i++) dst[i] = BinaryPrimitives.ReadUInt64LittleEndian(src.Slice(i * 8));
                break;
            default:
                throw new ArgumentException($"cannot decode {type}");
        }
    }
}

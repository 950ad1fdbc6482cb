#!/usr/bin/python3
"""Generates the small ONNX fixtures for Cartan's ONNX reader tests.

Run with Debian's /usr/bin/python3 (python3-onnx 1.12, python3-numpy). Writes, beside this script:
  dtypes/model.onnx          FLOAT16/DOUBLE/INT8/UINT8/INT16/INT32/INT64/BFLOAT16/BOOL initializers in raw_data and in the
                             typed repeated fields (packed and unpacked), a STRING initializer, a Constant node
  gemm/model.onnx            Gemm transB=1, Gemm transB=0, MatMul with an [in,out] initializer, Conv, ConvTranspose,
                             Transpose([1,0]) -> MatMul and Transpose -> Gemm(transB=1)
  if/model.onnx              If with initializers and Constant nodes in both branches, a Loop body and a Scan body with initializers
  external/model.onnx + external/weights.bin   two tensors whose data lives in a sibling file
  external_escape/model.onnx external location "../outside.bin" (must be rejected)
"""
import os
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto as TP

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20240611)


def out(sub, model):
    d = os.path.join(HERE, sub)
    os.makedirs(d, exist_ok=True)
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(d, "model.onnx"))


def raw(name, arr):
    return numpy_helper.from_array(arr, name)  # raw_data


def vi(name, shape, et=TP.FLOAT):
    return helper.make_tensor_value_info(name, et, shape)


def typed(name, dt, dims, field, values):
    """A TensorProto with its values in the typed repeated field `field` (packed, as protobuf writes proto3 repeated scalars)."""
    t = TP()
    t.name = name
    t.data_type = dt
    t.dims.extend(dims)
    getattr(t, field).extend(values)
    return t


def bf16_raw_tensor(bits):
    t = TP()
    t.name = "bf16_raw"
    t.data_type = TP.BFLOAT16
    t.dims.extend([2, 4])
    t.raw_data = bits.astype("<u2").tobytes()
    return t


def varint(v):
    v &= (1 << 64) - 1
    b = bytearray()
    while True:
        x = v & 0x7F
        v >>= 7
        if v:
            b.append(x | 0x80)
        else:
            b.append(x)
            return bytes(b)


# ---------------------------------------------------------------- dtypes
def dtypes_model():
    inits = []
    f16 = rng.standard_normal((3, 4)).astype(np.float16)
    inits.append(raw("f16_raw", f16))
    inits.append(typed("f16_typed", TP.FLOAT16, [3, 4], "int32_data", f16.view(np.uint16).flatten().astype(np.int32).tolist()))
    f64 = rng.standard_normal((4, 5))
    inits.append(raw("f64_raw", f64))
    inits.append(typed("f64_typed", TP.DOUBLE, [4, 5], "double_data", f64.flatten().tolist()))
    i8 = rng.integers(-128, 128, (6, 3), dtype=np.int8)
    inits.append(raw("i8_raw", i8))
    inits.append(typed("i8_typed", TP.INT8, [6, 3], "int32_data", i8.flatten().astype(np.int32).tolist()))
    u8 = rng.integers(0, 256, (2, 7), dtype=np.uint8)
    inits.append(raw("u8_raw", u8))
    inits.append(typed("u8_typed", TP.UINT8, [2, 7], "int32_data", u8.flatten().astype(np.int32).tolist()))
    i16 = rng.integers(-30000, 30000, (5,), dtype=np.int16)
    inits.append(typed("i16_typed", TP.INT16, [5], "int32_data", i16.astype(np.int32).tolist()))
    i32 = rng.integers(-2**31, 2**31 - 1, (2, 3), dtype=np.int32)
    inits.append(raw("i32_raw", i32))
    inits.append(typed("i32_typed", TP.INT32, [2, 3], "int32_data", i32.flatten().tolist()))
    i64 = rng.integers(-2**40, 2**40, (3, 2), dtype=np.int64)
    inits.append(raw("i64_raw", i64))
    inits.append(typed("i64_typed", TP.INT64, [3, 2], "int64_data", i64.flatten().tolist()))
    f32 = rng.standard_normal((5, 4)).astype(np.float32)
    inits.append(raw("f32_raw", f32))
    inits.append(typed("f32_typed", TP.FLOAT, [5, 4], "float_data", f32.flatten().tolist()))
    # BFLOAT16: top halves of float32 values, as raw bytes and in int32_data.
    bf_bits = (rng.standard_normal(8).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    inits.append(bf16_raw_tensor(bf_bits))
    inits.append(typed("bf16_typed", TP.BFLOAT16, [2, 4], "int32_data", bf_bits.astype(np.int32).tolist()))
    inits.append(raw("bool_raw", np.array([True, False, True]), ))
    inits.append(typed("scalar_f32", TP.FLOAT, [], "float_data", [2.5]))
    inits.append(typed("empty_f32", TP.FLOAT, [0, 3], "float_data", []))
    inits.append(typed("names", TP.STRING, [2], "string_data", [b"alpha", b"beta"]))
    # Unpacked encodings (proto2 style, one tag per element), built by hand: float_data as fixed32 fields,
    # int64_data as separate varints, int32_data (INT8, negative values -> 10-byte varints).
    unp_f = rng.standard_normal(6).astype(np.float32)
    body = varint((1 << 3) | 0) + varint(2) + varint((1 << 3) | 0) + varint(3)      # dims 2, 3
    body += varint((2 << 3) | 0) + varint(TP.FLOAT)
    for v in unp_f:
        body += varint((4 << 3) | 5) + np.float32(v).tobytes()
    body += varint((8 << 3) | 2) + varint(len(b"f32_unpacked")) + b"f32_unpacked"
    t = TP(); t.ParseFromString(body); inits.append(t)
    unp_i = [5, -7, 1 << 33, -(1 << 35)]
    body = varint((1 << 3) | 0) + varint(4) + varint((2 << 3) | 0) + varint(TP.INT64)
    for v in unp_i:
        body += varint((7 << 3) | 0) + varint(v)
    body += varint((8 << 3) | 2) + varint(len(b"i64_unpacked")) + b"i64_unpacked"
    t = TP(); t.ParseFromString(body); inits.append(t)
    unp_i8 = [-128, -1, 0, 127]
    body = varint((1 << 3) | 0) + varint(4) + varint((2 << 3) | 0) + varint(TP.INT8)
    for v in unp_i8:
        body += varint((5 << 3) | 0) + varint(v)
    body += varint((8 << 3) | 2) + varint(len(b"i8_unpacked")) + b"i8_unpacked"
    t = TP(); t.ParseFromString(body); inits.append(t)

    const = helper.make_node("Constant", [], ["const_w"], name="const0",
                             value=raw("", rng.standard_normal((4, 6)).astype(np.float32)))
    mm = helper.make_node("MatMul", ["x", "const_w"], ["y"], name="mm0")
    g = helper.make_graph([const, mm], "dtypes", [vi("x", [1, 4])], [vi("y", [1, 6])], initializer=inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


# ---------------------------------------------------------------- gemm / matmul / conv layouts
def gemm_model():
    w_t1 = raw("gemm_t1_w", rng.standard_normal((8, 6)).astype(np.float32))   # [out, in]
    w_t0 = raw("gemm_t0_w", rng.standard_normal((8, 5)).astype(np.float32))   # [in, out]
    w_mm = raw("matmul_w", rng.standard_normal((5, 7)).astype(np.float32))    # [in, out]
    w_tr = raw("transposed_w", rng.standard_normal((4, 7)).astype(np.float32))  # [out, in] transposed before MatMul
    w_tg = raw("transposed_gemm_w", rng.standard_normal((3, 4)).astype(np.float32))  # Transpose -> Gemm transB=1
    conv_w = raw("conv_w", rng.standard_normal((4, 2, 3, 3)).astype(np.float32))
    convt_w = raw("convt_w", rng.standard_normal((2, 3, 2, 2)).astype(np.float32))
    nodes = [
        helper.make_node("Gemm", ["x", "gemm_t1_w"], ["h1"], name="gemm_t1", transB=1, alpha=0.5),
        helper.make_node("Gemm", ["h1", "gemm_t0_w"], ["h2"], name="gemm_t0"),
        helper.make_node("MatMul", ["h2", "matmul_w"], ["h3"], name="matmul0"),
        helper.make_node("Transpose", ["transposed_w"], ["transposed_w_T"], name="tr0", perm=[1, 0]),
        helper.make_node("MatMul", ["h3", "transposed_w_T"], ["h4"], name="matmul1"),
        helper.make_node("Transpose", ["transposed_gemm_w"], ["tg_T"], name="tr1"),
        helper.make_node("Gemm", ["h4", "tg_T"], ["h5"], name="gemm_tr", transB=1),
        helper.make_node("Conv", ["img", "conv_w"], ["c1"], name="conv0", pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("ConvTranspose", ["c2in", "convt_w"], ["c2"], name="convt0", strides=[2, 2]),
    ]
    g = helper.make_graph(nodes, "gemm", [vi("x", [2, 6]), vi("img", [1, 2, 5, 5]), vi("c2in", [1, 2, 3, 3])],
                          [vi("h5", [2, 3]), vi("c1", [1, 4, 5, 5]), vi("c2", [1, 3, 6, 6])],
                          initializer=[w_t1, w_t0, w_mm, w_tr, w_tg, conv_w, convt_w])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


# ---------------------------------------------------------------- If / Loop subgraphs
def if_model():
    then_w = raw("then_w", rng.standard_normal((3, 3)).astype(np.float32))
    then_c = helper.make_node("Constant", [], ["then_c"], name="then_const",
                              value=raw("", rng.standard_normal((3, 3)).astype(np.float32)))
    then_g = helper.make_graph([then_c,
                                helper.make_node("MatMul", ["x", "then_w"], ["t1"], name="then_mm"),
                                helper.make_node("Add", ["t1", "then_c"], ["then_out"], name="then_add")],
                               "then_g", [], [vi("then_out", [3, 3])], initializer=[then_w])
    else_w = raw("else_w", rng.standard_normal((3, 3)).astype(np.float64).astype(np.float32))
    else_c = helper.make_node("Constant", [], ["else_c"], name="else_const",
                              value=raw("", rng.standard_normal((3,)).astype(np.float64)))
    else_g = helper.make_graph([else_c,
                                helper.make_node("Gemm", ["x", "else_w"], ["else_out"], name="else_gemm", transB=1)],
                               "else_g", [], [vi("else_out", [3, 3])], initializer=[else_w])
    iff = helper.make_node("If", ["cond"], ["y"], name="If_0", then_branch=then_g, else_branch=else_g)
    body_w = raw("loop_w", rng.standard_normal((2, 2)).astype(np.float32))
    body = helper.make_graph([helper.make_node("Identity", ["cond_in"], ["cond_out"], name="body_id"),
                              helper.make_node("MatMul", ["v_in", "loop_w"], ["v_out"], name="body_mm")],
                             "body", [vi("iter", [], TP.INT64), vi("cond_in", [], TP.BOOL), vi("v_in", [2, 2])],
                             [vi("cond_out", [], TP.BOOL), vi("v_out", [2, 2])], initializer=[body_w])
    loop = helper.make_node("Loop", ["trip", "cond", "v0"], ["v_final"], name="Loop_0", body=body)
    scan_w = raw("scan_w", rng.standard_normal((4, 4)).astype(np.float16))
    scan_body = helper.make_graph([helper.make_node("Cast", ["s_x"], ["s_x16"], name="scan_cast", to=TP.FLOAT16),
                                   helper.make_node("MatMul", ["s_x16", "scan_w"], ["s_y16"], name="scan_mm"),
                                   helper.make_node("Cast", ["s_y16"], ["s_y"], name="scan_cast2", to=TP.FLOAT),
                                   helper.make_node("Add", ["s_state", "s_y"], ["s_state_out"], name="scan_add"),
                                   helper.make_node("Identity", ["s_y"], ["s_out"], name="scan_id")],
                                  "scan_body", [vi("s_state", [4]), vi("s_x", [4])],
                                  [vi("s_state_out", [4]), vi("s_out", [4])], initializer=[scan_w])
    scan = helper.make_node("Scan", ["s0", "seq"], ["s_final", "s_seq"], name="Scan_0", body=scan_body, num_scan_inputs=1)
    g = helper.make_graph([iff, loop, scan], "main",
                          [vi("cond", [], TP.BOOL), vi("x", [3, 3]), vi("trip", [], TP.INT64), vi("v0", [2, 2]),
                           vi("s0", [4]), vi("seq", [5, 4])],
                          [vi("y", [3, 3]), vi("v_final", [2, 2]), vi("s_final", [4]), vi("s_seq", [5, 4])],
                          initializer=[raw("main_w", rng.standard_normal((2, 5)).astype(np.float32))])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


# ---------------------------------------------------------------- external data
def external_model(sub, location, write_bin):
    a = rng.standard_normal((6, 4)).astype(np.float32)
    b = rng.standard_normal((3,)).astype(np.float64)
    d = os.path.join(HERE, sub)
    os.makedirs(d, exist_ok=True)
    pad = b"\0" * 16
    blob = pad + a.tobytes() + b.tobytes()
    if write_bin:
        with open(os.path.join(d, "weights.bin"), "wb") as f:
            f.write(blob)

    def ext(name, dt, dims, off, ln):
        t = TP()
        t.name = name
        t.data_type = dt
        t.dims.extend(dims)
        t.data_location = TP.EXTERNAL
        for k, v in (("location", location), ("offset", str(off)), ("length", str(ln))):
            e = t.external_data.add(); e.key = k; e.value = v
        return t

    ta = ext("ext_a", TP.FLOAT, [6, 4], 16, a.nbytes)
    tb = ext("ext_b", TP.DOUBLE, [3], 16 + a.nbytes, b.nbytes)
    g = helper.make_graph([helper.make_node("MatMul", ["x", "ext_a"], ["y"], name="mm")], "ext",
                          [vi("x", [1, 6])], [vi("y", [1, 4])], initializer=[ta, tb])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(m, os.path.join(d, "model.onnx"))  # checker would try to resolve the external file


if __name__ == "__main__":
    out("dtypes", dtypes_model())
    out("gemm", gemm_model())
    out("if", if_model())
    external_model("external", "weights.bin", True)
    external_model("external_escape", "../outside.bin", False)

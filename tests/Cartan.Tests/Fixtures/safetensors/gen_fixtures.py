#!/usr/bin/python3
"""Generate the safetensors fixtures and their golden values (numpy only; run with /usr/bin/python3).

usage: /usr/bin/python3 gen_fixtures.py [LANGDETECT_MODEL_JSON]

Writes, beside this script:
  small.safetensors + golden.json        F64/F32/F16/BF16 matrices, an OIHW conv kernel, a bias, I8/U8 matrices, a scalar
  sharded/model.safetensors.index.json   two shards + golden.json
  langdetect/langdetect.safetensors      real weights of npm @vscode/vscode-languagedetection@1.0.23 (MIT, LICENSE beside),
                                         converted with /work/shared/peers/weightwatcher/tfjs2safetensors.py's convert()
                                         (only when the tfjs model.json path is given; golden.json is always rewritten
                                         from the existing .safetensors file otherwise)
The safetensors bytes are written by hand here (8-byte LE header length, JSON header, byte buffer).
Golden values: numpy float64 (sums with math.fsum, correctly rounded) on the dequantised data; BF16 is dequantised from the raw u16 as (bits << 16) viewed as float32.
"""
import json, math, os, sys, struct, importlib.util
from collections import OrderedDict
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ST = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I8": "|i1", "U8": "|u1", "I16": "<i2", "I32": "<i4", "I64": "<i8"}


def raw_bytes(dtype, arr):
    """arr: numpy array for numeric dtypes, or uint16 bit patterns for BF16."""
    if dtype == "BF16":
        return np.ascontiguousarray(arr.astype("<u2")).tobytes()
    return np.ascontiguousarray(arr.astype(ST[dtype])).tobytes()


def dequant(dtype, arr):
    if dtype == "BF16":
        return (arr.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return arr.astype(ST[dtype]).astype(np.float64)


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, dtype, shape, array). Header in list order, buffer contiguous in list order."""
    header = OrderedDict()
    if metadata:
        header["__metadata__"] = metadata
    blobs, off = [], 0
    for name, dtype, shape, arr in tensors:
        b = raw_bytes(dtype, arr)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """Independent reader used to regenerate golden values from a file (the real-weights fixture)."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n], object_pairs_hook=OrderedDict)
    buf = data[8 + n:]
    out = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b0, b1 = info["data_offsets"]
        dt = info["dtype"]
        raw = np.frombuffer(buf[b0:b1], dtype="<u2" if dt == "BF16" else ST[dt]).reshape(info["shape"])
        out.append((name, dt, info["shape"], raw))
    return out


def golden_entry(name, dtype, shape, arr):
    x = dequant(dtype, np.asarray(arr)).reshape(shape)
    flat = x.reshape(-1)
    e = OrderedDict(name=name, dtype=dtype, shape=list(shape))
    if flat.size:
        e["first"] = float(flat[0])
        e["last"] = float(flat[-1])
    if flat.size > 2:
        # a few interior elements (row-major flat index, value): catch element-order mistakes that first/last/sum miss
        e["probe"] = [[int(i), float(flat[i])] for i in sorted({1, flat.size // 7, flat.size // 3, flat.size // 2, flat.size - 2})]
    e["sum"] = math.fsum(flat.tolist())  # correctly rounded
    if len(shape) == 2 or len(shape) == 4:
        m = x.reshape(shape[0], -1)
        e["view"] = list(m.shape)
        e["top_sv"] = [float(s) for s in np.linalg.svd(m, compute_uv=False)[:10]]
    return e


def write_golden(path, tensors, extra=None):
    g = OrderedDict(tensors=[golden_entry(*t) for t in tensors])
    if extra:
        g.update(extra)
    with open(path, "w") as f:
        json.dump(g, f, indent=1)
        f.write("\n")


def rand_bf16_bits(rng, shape):
    f = rng.standard_normal(shape).astype(np.float32)
    return (f.view(np.uint32) >> 16).astype(np.uint16)  # truncation: exact bit patterns, dequantised independently


def main():
    rng = np.random.default_rng(20240611)
    small = [
        ("layers.0.f64", "F64", (48, 32), rng.standard_normal((48, 32))),
        ("layers.1.f32", "F32", (64, 96), rng.standard_normal((64, 96)).astype(np.float32)),
        ("layers.2.f16", "F16", (40, 24), rng.standard_normal((40, 24)).astype(np.float16)),
        ("layers.3.bf16", "BF16", (32, 56), rand_bf16_bits(rng, (32, 56))),
        ("conv.weight", "F32", (16, 8, 3, 3), (0.1 * rng.standard_normal((16, 8, 3, 3))).astype(np.float32)),
        ("conv.bias", "F32", (16,), rng.standard_normal(16).astype(np.float32)),
        ("quant.i8", "I8", (20, 12), rng.integers(-128, 128, (20, 12)).astype(np.int8)),
        ("quant.u8", "U8", (12, 20), rng.integers(0, 256, (12, 20)).astype(np.uint8)),
        ("scale", "F32", (), np.array(0.125, dtype=np.float32)),
    ]
    write_safetensors(os.path.join(HERE, "small.safetensors"), small, {"format": "pt", "note": "cartan fixture"})
    write_golden(os.path.join(HERE, "golden.json"), small, {"metadata": {"format": "pt", "note": "cartan fixture"}})

    sd = os.path.join(HERE, "sharded")
    os.makedirs(sd, exist_ok=True)
    shard1 = [("model.embed.weight", "F32", (50, 16), rng.standard_normal((50, 16)).astype(np.float32)),
              ("model.layer0.weight", "BF16", (24, 16), rand_bf16_bits(rng, (24, 16)))]
    shard2 = [("model.layer1.weight", "F16", (16, 24), rng.standard_normal((16, 24)).astype(np.float16)),
              ("model.layer1.bias", "F32", (16,), rng.standard_normal(16).astype(np.float32))]
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    write_safetensors(os.path.join(sd, names[0]), shard1, {"format": "pt"})
    write_safetensors(os.path.join(sd, names[1]), shard2, {"format": "pt"})
    wm = OrderedDict()
    for t in shard1: wm[t[0]] = names[0]
    for t in shard2: wm[t[0]] = names[1]
    total = sum(len(raw_bytes(t[1], t[3])) for t in shard1 + shard2)
    with open(os.path.join(sd, "model.safetensors.index.json"), "w") as f:
        json.dump(OrderedDict(metadata={"total_size": total}, weight_map=wm), f, indent=1)
    write_golden(os.path.join(sd, "golden.json"), shard1 + shard2)

    ld = os.path.join(HERE, "langdetect")
    lpath = os.path.join(ld, "langdetect.safetensors")
    if len(sys.argv) > 1:
        os.makedirs(ld, exist_ok=True)
        spec = importlib.util.spec_from_file_location("tfjs2st", "/work/shared/peers/weightwatcher/tfjs2safetensors.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        conv = mod.convert(sys.argv[1])
        write_safetensors(lpath, [(k, "F32", v.shape, v) for k, v in conv.items()],
                          {"source": "npm @vscode/vscode-languagedetection@1.0.23 model/model.json (MIT), tfjs dequantised q*scale+min"})
    if os.path.exists(lpath):
        write_golden(os.path.join(ld, "golden.json"), read_safetensors(lpath))


if __name__ == "__main__":
    main()

"""The safetensors writer shared by the reference scripts in this folder (numpy only; written here, not taken from the
safetensors package, which Debian does not ship). The scripts import it with `sys.path.insert(0, <this folder>)`."""
import json
import struct

import numpy as np


def write_safetensors(path, tensors):
    """tensors: list of (name, np.ndarray). Little-endian, contiguous, header padded to 8 bytes."""
    codes = {np.dtype("float32"): "F32", np.dtype("float64"): "F64", np.dtype("int64"): "I64"}
    header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name, a in tensors:
        a = np.ascontiguousarray(a)
        b = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": codes[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """name → np.ndarray (float32 and float64 tensors, little-endian), in file order; the inverse of write_safetensors."""
    codes = {"F32": "<f4", "F64": "<f8", "I64": "<i8"}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=codes[e["dtype"]]).reshape(e["shape"]).copy()
    return out

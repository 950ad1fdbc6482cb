#!/usr/bin/python3
"""Independent golden values for the tfjs fixtures (numpy only; nothing from Cartan).

usage: /usr/bin/python3 make_golden.py            (rewrites golden.json in every fixture folder)

For each fixture it parses the tfjs manifest (model.json's weightsManifest, or a bare weights manifest),
concatenates each group's shards, walks the weights back to back (string tensors: u32 little-endian length
+ bytes per element), dequantises (uint8/uint16: q*scale + min in float64; float16: halves) and records per
tensor: name, shape, manifest dtype, stored type, sum (math.fsum, exactly rounded), sum of |x|, first and
last value, the sum of squares (= squared Frobenius norm = sum of all squared singular values),
and for 2-D and 4-D float tensors the canonical out x in matrix shape and its top-10 singular
values (float64 LAPACK via numpy). Canonical matrix:
  2-D [in,out] (tfjs/Keras default)            -> W.T, shape [out,in]
  2-D consumed by MatMul with transpose_b=true -> W as stored ([out,in])
  4-D HWIO [kh,kw,I,O] -> transpose to [O,I,kh,kw] -> reshape to O x (I*kh*kw)  (out-view)
It also records the op graph's node counts per op and scope (graph-model: main graph "", each library
function by its name, the model initializer as "modelInitializer"; layers-model: class_name per layer).
"""
import base64
import collections
import json
import math
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

FIXTURES = [
    ("vscode-languagedetection", "model.json"),
    ("esrgan-slim-x2", "model.json"),
    ("face-api-landmark68tiny", "face_landmark_68_tiny_model-weights_manifest.json"),
    ("energetic-embeddings-en", "model.json"),
]

PLAIN = {"float32": ("<f4", 4, "F32"), "int32": ("<i4", 4, "I32"), "bool": ("u1", 1, "BOOL"), "float16": ("<f2", 2, "F16")}
QUANT = {"uint8": ("u1", 1, "U8-AFFINE"), "uint16": ("<u2", 2, "U16-AFFINE"), "float16": ("<f2", 2, "F16")}


def strip(ref):
    if ref.startswith("^"):
        ref = ref[1:]
    return ref.split(":")[0]


def transposed_b_weights(topology):
    """Names consumed as input 1 by MatMul/_FusedMatMul with transpose_b = true (main graph)."""
    out = set()
    for n in topology.get("node", []):
        if n["op"] in ("MatMul", "_FusedMatMul"):
            tb = n.get("attr", {}).get("transpose_b", {}).get("b", False)
            ins = [strip(i) for i in n.get("input", []) if not i.startswith("^")]
            if tb and len(ins) > 1:
                out.add(ins[1])
    return out


def op_counts(model):
    counts = {}
    topo = model.get("modelTopology") if isinstance(model, dict) else None
    if not topo:
        return counts
    if "node" in topo:
        counts[""] = dict(collections.Counter(n["op"] for n in topo["node"]))
        for f in topo.get("library", {}).get("function", []):
            counts[f["signature"]["name"]] = dict(collections.Counter(n["op"] for n in f.get("nodeDef", [])))
        init = model.get("modelInitializer")
        if init and init.get("node"):
            counts["modelInitializer"] = dict(collections.Counter(n["op"] for n in init["node"]))
    else:
        cfg = topo.get("model_config", topo)
        layers = cfg["config"]["layers"] if isinstance(cfg["config"], dict) else cfg["config"]
        counts[""] = dict(collections.Counter(l["class_name"] for l in layers))
    return counts


def keras_edges(model):
    topo = model["modelTopology"]
    cfg = topo.get("model_config", topo)
    layers = cfg["config"]["layers"]
    edges = {}
    for l in layers:
        ins = []
        for node in l.get("inbound_nodes", []):
            for t in node:
                if t[0] not in ins:
                    ins.append(t[0])
        edges[l["name"]] = ins
    return edges


def graph_edges(model):
    edges = {}
    for n in model["modelTopology"]["node"]:
        if n["op"] in ("MatMul", "_FusedMatMul", "Conv2D", "_FusedConv2D", "DepthwiseConv2dNative"):
            ins = []
            for i in n.get("input", []):
                if strip(i) not in ins:
                    ins.append(strip(i))
            attrs = {}
            a = n.get("attr", {})
            for k in ("transpose_a", "transpose_b"):
                if k in a:
                    attrs[k] = 1 if a[k].get("b", False) else 0
            if "fused_ops" in a:
                attrs["fused_ops"] = [base64.b64decode(s).decode() if isinstance(s, str) else bytes(s).decode()
                                      for s in a["fused_ops"]["list"].get("s", [])]
            for k in ("padding", "data_format"):
                if k in a:
                    s = a[k]["s"]
                    attrs[k] = base64.b64decode(s).decode() if isinstance(s, str) else bytes(s).decode()
            for k in ("strides", "dilations"):
                if k in a:
                    attrs[k] = [int(x) for x in a[k]["list"].get("i", [])]
            edges[n["name"]] = {"op": n["op"], "inputs": ins, "attrs": attrs}
    return edges


def golden(folder, open_name):
    d = os.path.join(HERE, folder)
    with open(os.path.join(d, open_name)) as f:
        model = json.load(f)
    if isinstance(model, list):
        groups, kind, tb = model, "manifest", set()
    else:
        groups = model["weightsManifest"]
        topo = model.get("modelTopology") or {}
        kind = "graph-model" if "node" in topo else "layers-model"
        tb = transposed_b_weights(topo) if kind == "graph-model" else set()
    tensors, skipped = [], []
    for g in groups:
        buf = b"".join(open(os.path.join(d, p), "rb").read() for p in g["paths"])
        off = 0
        for w in g["weights"]:
            shape = [int(s) for s in w["shape"]]
            n = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if w["dtype"] == "string":
                start = off
                for _ in range(n):
                    (ln,) = struct.unpack_from("<I", buf, off)
                    off += 4 + ln
                skipped.append({"name": w["name"], "shape": shape, "bytes": off - start})
                continue
            q = w.get("quantization")
            if q:
                code, size, stored = QUANT[q["dtype"]]
                raw = np.frombuffer(buf, dtype=code, count=n, offset=off)
                val = raw.astype(np.float64) if q["dtype"] == "float16" else raw.astype(np.float64) * q["scale"] + q["min"]
            else:
                code, size, stored = PLAIN[w["dtype"]]
                val = np.frombuffer(buf, dtype=code, count=n, offset=off).astype(np.float64)
            off += n * size
            rec = {"name": w["name"], "shape": shape, "dtype": w["dtype"], "stored": stored,
                   "sum": math.fsum(val.tolist()), "sum_abs": math.fsum(np.abs(val).tolist()),
                   "sum_sq": math.fsum((val * val).tolist()),
                   "first": float(val[0]) if n else None, "last": float(val[-1]) if n else None}
            if w["dtype"] in ("float32", "float16") and n > 0 and len(shape) in (2, 4):
                a = val.reshape(shape)
                if len(shape) == 2:
                    m = a if w["name"] in tb else a.T
                    rec["layout"] = "OutIn" if w["name"] in tb else "InOut"
                else:
                    kh, kw, ci, co = shape
                    m = a.transpose(3, 2, 0, 1).reshape(co, ci * kh * kw)
                    rec["layout"] = "HWIO"
                rec["canonical_shape"] = list(m.shape)
                rec["top_sv"] = np.linalg.svd(m, compute_uv=False)[:10].tolist()
            tensors.append(rec)
        if off > len(buf):
            sys.exit(f"{folder}: manifest needs {off} bytes, shards hold {len(buf)}")
    out = {"open": open_name, "kind": kind, "tensor_count": len(tensors), "tensors": tensors,
           "skipped": skipped, "op_counts": op_counts(model)}
    if kind == "graph-model":
        out["edges"] = graph_edges(model)
        sig = model.get("signature") or {}
        out["signature_outputs"] = sorted(strip(v["name"]) for v in sig.get("outputs", {}).values())
    elif kind == "layers-model":
        out["edges"] = keras_edges(model)
    with open(os.path.join(d, "golden.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(folder, kind, len(tensors), "tensors,", len(skipped), "skipped")


if __name__ == "__main__":
    for folder, name in FIXTURES:
        golden(folder, name)

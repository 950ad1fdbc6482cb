#!/usr/bin/python3
"""Independent golden values for Cartan's ONNX reader tests, computed with the official onnx package and numpy.

Run with Debian's /usr/bin/python3 (python3-onnx, python3-numpy): `/usr/bin/python3 make_golden.py`.
For every fixture model it writes golden.json beside it with:
  tensors: every initializer and every Constant node `value` tensor, graph by graph, in this order:
           a graph's initializers (file order), then its nodes in order, where a Constant node contributes its
           value (named by the node's first output) and a node's GRAPH/GRAPHS attributes are recursed in order.
           For each: name, scope, shape, dtype (Cartan's StoredType spelling), sum (float64), and for 2-D float
           tensors and Conv kernels (viewed as O x I*kh*kw) the top-10 singular values in float64.
  skipped: names of STRING tensors.
  op_counts: {"<scope>|<op_type>": count}; scope is "" for the main graph, else "<node name>/<attr name>" joined by "/".
  inputs/outputs: main graph input/output names.
  layouts: expected layout per weight name from the graph rules (MatMul B -> InOut; Gemm B -> OutIn if transB else
           InOut; Conv W -> OIHW; ConvTranspose W -> IOHW; a 2-D Transpose(perm [1,0]) between flips MatMul/Gemm).
"""
import json
import os
import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
DT = {1: "F32", 2: "U8", 3: "I8", 4: "U16", 5: "I16", 6: "I32", 7: "I64", 9: "BOOL", 10: "F16", 11: "F64",
      12: "U32", 13: "U64", 16: "BF16"}
FLOAT = {"F32", "F16", "F64", "BF16"}


def attr_int(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def walk(graph, scope, acc):
    for t in graph.initializer:
        acc["tensors"].append((t.name, scope, t))
    for i, n in enumerate(graph.node):
        acc["nodes"].append((scope, n))
        if n.op_type == "Constant" and n.domain in ("", "ai.onnx"):
            for a in n.attribute:
                if a.name == "value" and a.type == onnx.AttributeProto.TENSOR:
                    acc["tensors"].append((n.output[0], scope, a.t))
        label = n.name if n.name else f"{n.op_type}_{i}"
        for a in n.attribute:
            sub = (scope + "/" if scope else "") + label + "/" + a.name
            if a.type == onnx.AttributeProto.GRAPH:
                walk(a.g, sub, acc)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for k, g in enumerate(a.graphs):
                    walk(g, f"{sub}/{k}", acc)


def golden(path):
    model = onnx.load(path)  # loads external data from the model's folder
    acc = {"tensors": [], "nodes": []}
    walk(model.graph, "", acc)
    nodes = [n for _, n in acc["nodes"]]
    conv_w = {n.input[1] for n in nodes if n.op_type == "Conv" and len(n.input) > 1}
    names = {name for name, _, _ in acc["tensors"]}

    layouts = {}

    def setl(name, l):
        if name in names and name not in layouts:
            layouts[name] = l

    def use(n, value):
        if len(n.input) < 2 or n.input[1] != value:
            return None
        if n.op_type == "MatMul":
            return "InOut"
        if n.op_type == "Gemm":
            return "OutIn" if attr_int(n, "transB", 0) else "InOut"
        return None

    shapes = {name: list(t.dims) for name, _, t in acc["tensors"]}
    for n in nodes:
        if n.op_type in ("MatMul", "Gemm") and len(n.input) >= 2:
            l = use(n, n.input[1])
            if l:
                setl(n.input[1], l)
        elif n.op_type == "Conv" and len(n.input) >= 2:
            setl(n.input[1], "OIHW")
        elif n.op_type == "ConvTranspose" and len(n.input) >= 2:
            setl(n.input[1], "IOHW")
        elif n.op_type == "Transpose" and n.input and n.input[0] in shapes and len(shapes[n.input[0]]) == 2:
            perm = attr_int(n, "perm", None)
            if perm is None or list(perm) == [1, 0]:
                for c in nodes:
                    l = use(c, n.output[0])
                    if l:
                        setl(n.input[0], "OutIn" if l == "InOut" else "InOut")
                        break

    tensors, skipped = [], []
    for name, scope, t in acc["tensors"]:
        if t.data_type not in DT:
            skipped.append(name)
            continue
        a = numpy_helper.to_array(t)
        dtype = DT[t.data_type]
        entry = {"name": name, "scope": scope, "shape": list(t.dims), "dtype": dtype,
                 "sum": float(np.sum(a.astype(np.float64)))}
        if dtype in FLOAT and a.size > 0:
            m = None
            if a.ndim == 2:
                m = a
            elif a.ndim >= 3 and name in conv_w:
                m = a.reshape(a.shape[0], -1)
            if m is not None:
                sv = np.linalg.svd(m.astype(np.float64), compute_uv=False)[:10]
                entry["sv"] = [float(x) for x in sv]
        tensors.append(entry)

    counts = {}
    for scope, n in acc["nodes"]:
        k = f"{scope}|{n.op_type}"
        counts[k] = counts.get(k, 0) + 1
    return {
        "tensor_count": len(tensors),
        "tensors": tensors,
        "skipped": skipped,
        "node_count": len(nodes),
        "op_counts": counts,
        "inputs": [i.name for i in model.graph.input],
        "outputs": [o.name for o in model.graph.output],
        "layouts": layouts,
    }


if __name__ == "__main__":
    for root, _, files in sorted(os.walk(HERE)):
        for f in sorted(files):
            if not f.endswith(".onnx") or "external_escape" in root:
                continue
            p = os.path.join(root, f)
            g = golden(p)
            with open(os.path.join(root, "golden.json"), "w") as fh:
                json.dump(g, fh, indent=1)
            print(os.path.relpath(p, HERE), g["tensor_count"], "tensors", g["node_count"], "nodes")

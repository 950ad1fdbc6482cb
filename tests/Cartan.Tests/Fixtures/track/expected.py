#!/usr/bin/python3
"""Independent values for the track fixtures: β, β_diag and κ of every interface of every checkpoint, computed with
numpy (float64) straight from the safetensors bytes, written to expected.json. Run with Debian's /usr/bin/python3."""
import json, os, struct
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info["dtype"]
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + a:8 + n + b], dtype="<f4").astype(np.float64).reshape(info["shape"])
    return out

def interface(wl, wn):
    A = wl @ wl.T
    B = wn.T @ wn
    D = B - A
    beta = np.linalg.norm(D) / (np.linalg.norm(A) + np.linalg.norm(B))
    da, db = np.diag(A), np.diag(B)
    beta_diag = np.linalg.norm(db - da) / (np.linalg.norm(da) + np.linalg.norm(db))
    kappa = np.linalg.norm(A @ B - B @ A) / (np.sqrt(2) * np.linalg.norm(A) * np.linalg.norm(B))
    return beta, beta_diag, kappa

result = {}
for run in sorted(d for d in os.listdir(HERE) if os.path.isdir(os.path.join(HERE, d))):
    steps = sorted(os.listdir(os.path.join(HERE, run)), key=lambda s: int(s.split("-")[-1]))
    series = {"beta": [], "beta_diag": [], "kappa": []}
    for step in steps:
        w = read_safetensors(os.path.join(HERE, run, step, "model.safetensors"))
        mats = [w[f"layers.{i}.weight"] for i in range(len([k for k in w if k.endswith(".weight")]))]
        vals = [interface(mats[i], mats[i + 1]) for i in range(len(mats) - 1)]
        for k, key in enumerate(["beta", "beta_diag", "kappa"]):
            series[key].append([v[k] for v in vals])
    # Per interface, a list over checkpoints.
    result[run] = {key: [list(x) for x in zip(*series[key])] for key in series}
    result[run]["checkpoints"] = steps
with open(os.path.join(HERE, "expected.json"), "w") as f:
    json.dump(result, f, indent=1)
    f.write("\n")

#!/usr/bin/python3
"""Independent reference values for Cartan's GCh library (methods.md §4, oracle 8).

Run with Debian's /usr/bin/python3 (numpy):  /usr/bin/python3 reference.py > reference.json

Nothing here calls Cartan. The Laplacian is built from the 5-point stencil, its eigenvalues come from
numpy.linalg.eigvalsh and the Green kernel from numpy.linalg.inv (not from the DST eigenbasis, which the C# code
uses). The PRNG (SplitMix64-seeded xoshiro256**, Box-Muller, cos then sin) is re-implemented here from its
published definition, and the gates are assembled with numpy from the formulas in methods.md §4(c).
"""
import json
import math
import sys

import numpy as np

MASK = (1 << 64) - 1


def interior(h, w, boundary):
    off = 1 if boundary == "ring" else 0
    n1, n2 = h - 2 * off, w - 2 * off
    return off, max(n1, 0), max(n2, 0)


def laplacian(n1, n2):
    n = n1 * n2
    a = np.zeros((n, n))
    for i in range(n1):
        for j in range(n2):
            u = i * n2 + j
            a[u, u] = 4.0
            for di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                ii, jj = i + di, j + dj
                if 0 <= ii < n1 and 0 <= jj < n2:
                    a[u, ii * n2 + jj] = -1.0
    return a


def grid_case(h, w, boundary, s):
    off, n1, n2 = interior(h, w, boundary)
    lap = laplacian(n1, n2)
    ev = np.sort(np.linalg.eigvalsh(lap))
    green = np.linalg.inv(lap)
    var = np.zeros((h, w))
    for i in range(n1):
        for j in range(n2):
            var[i + off, j + off] = s * s * green[i * n2 + j, i * n2 + j]
    return {
        "height": h, "width": w, "boundary": boundary, "strength": s,
        "n1": n1, "n2": n2,
        "eigenvalues": ev.tolist(),
        "green": green.reshape(-1).tolist(),
        "variance_map": var.reshape(-1).tolist(),
    }


class Xoshiro:
    def __init__(self, seed):
        x = seed & MASK
        st = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & MASK
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
            st.append(z ^ (z >> 31))
        self.s = st
        self.spare = None

    @staticmethod
    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & MASK

    def next(self):
        s = self.s
        result = (self.rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self.rotl(s[3], 45)
        return result

    def uniform(self):
        return ((self.next() >> 11) + 0.5) * (1.0 / (1 << 53))

    def normal(self):
        if self.spare is not None:
            v, self.spare = self.spare, None
            return v
        r = math.sqrt(-2.0 * math.log(self.uniform()))
        t = 2.0 * math.pi * self.uniform()
        self.spare = r * math.sin(t)
        return r * math.cos(t)


def dst(n):
    k = np.arange(1, n + 1)
    return math.sqrt(2.0 / (n + 1)) * np.sin(np.pi * np.outer(k, k) / (n + 1))


def gates(h, w, boundary, s, mode, seed, batch):
    off, n1, n2 = interior(h, w, boundary)
    rng = Xoshiro(seed)
    k = np.arange(1, n1 + 1)[:, None]
    l = np.arange(1, n2 + 1)[None, :]
    lam = 4 * np.sin(np.pi * k / (2 * (n1 + 1))) ** 2 + 4 * np.sin(np.pi * l / (2 * (n2 + 1))) ** 2
    amp = s / np.sqrt(lam)
    s1, s2 = dst(n1), dst(n2)
    green_diag = np.diag(np.linalg.inv(laplacian(n1, n2))).reshape(n1, n2)
    out = []
    for _ in range(batch):
        z = np.array([rng.normal() for _ in range(n1 * n2)]).reshape(n1, n2)
        g = s1.T @ (z * amp) @ s2
        gate = np.ones((h, w))
        if mode == "wick":
            gate[off:off + n1, off:off + n2] = np.exp(g - 0.5 * s * s * green_diag)
        else:
            gate[off:off + n1, off:off + n2] = np.exp(g)
            gate = gate / gate.mean()
        out.extend(gate.reshape(-1).tolist())
    return {"height": h, "width": w, "boundary": boundary, "strength": s, "mode": mode,
            "seed": seed, "batch": batch, "gates": out}


def main():
    rng = Xoshiro(12345)
    first_u64 = [str(rng.next()) for _ in range(4)]
    rng = Xoshiro(12345)
    first_normals = [rng.normal() for _ in range(6)]
    xs = [-6.0, -3.0, -1.5, -0.5, 0.0, 0.3, 1.0, 1.9, 2.0, 2.5, 4.0, 8.0]
    out = {
        "generator": "tests/Cartan.Tests/Fixtures/noise/reference.py (numpy %s)" % np.__version__,
        "grids": [
            grid_case(7, 7, "ring", 0.7),
            grid_case(6, 5, "ring", 1.3),
            grid_case(4, 3, "ghost", 0.5),
            grid_case(5, 6, "ghost", 1.0),
            grid_case(3, 4, "ring", 1.0),
        ],
        "prng": {"seed": 12345, "first_u64": first_u64, "first_normals": first_normals},
        "erfc": {"x": xs, "erfc": [math.erfc(x) for x in xs]},
        "gates": [
            gates(7, 7, "ring", 0.8, "wick", 42, 2),
            gates(6, 5, "ring", 1.2, "samplewise", 7, 3),
            gates(4, 5, "ghost", 0.5, "wick", 2026, 2),
        ],
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

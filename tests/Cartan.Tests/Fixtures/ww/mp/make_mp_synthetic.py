#!/usr/bin/python3
"""Golden values of WeightWatcher's own MP bulk fit on synthetic ESDs (run with Debian's /usr/bin/python3).

usage: /usr/bin/python3 make_mp_synthetic.py        # writes synthetic.csv beside this script

Calls the real, unmodified WeightWatcher 0.7.5.5 method WeightWatcher.mp_fit (vendored at
/work/shared/peers/weightwatcher/vendor, the same code analyze(mp_fit=True) runs) on eigenvalue lists made here with a
seeded numpy generator: spiked Wishart matrices (rank-k signal + noise) for several Q, Q = 1 (quarter-circle branch),
pooled conv-like ESDs, tiny M, heavy-tailed (Student-t) weights, a near-degenerate spectrum. WW's exceptions turn
into -1 exactly as its apply_mp_fit does. Each row holds the eigenvalues (repr, space separated) so the C# test
feeds exactly the same numbers.
"""
import os, sys, types, csv
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, "/work/shared/peers/weightwatcher/vendor")
if "safetensors" not in sys.modules:  # WW imports safetensors at load; no Debian package (ww-run injects the same shim)
    st = types.ModuleType("safetensors"); st.safe_open = None; sys.modules["safetensors"] = st
import logging
logging.disable(logging.WARNING)
import weightwatcher as wwmod

ww = wwmod.WeightWatcher()
rng = np.random.default_rng(20240605)


def esd(W):
    s = np.linalg.svd(W.astype(float), compute_uv=False)
    return s * s


def spiked(n, m, k, strength):
    W = rng.standard_normal((n, m)) / np.sqrt(n)
    for _ in range(k):
        u = rng.standard_normal(n); v = rng.standard_normal(m)
        W += strength * np.outer(u / np.linalg.norm(u), v / np.linalg.norm(v))
    return W


cases = []
cases.append(("spiked_q4_k5", 400, 100, 1, esd(spiked(400, 100, 5, 3.0))))
cases.append(("spiked_q1.5_k3", 150, 100, 1, esd(spiked(150, 100, 3, 4.0))))
cases.append(("spiked_q10_k8", 500, 50, 1, esd(spiked(500, 50, 8, 2.5))))
cases.append(("spiked_q1_k4", 120, 120, 1, esd(spiked(120, 120, 4, 3.0))))
cases.append(("noise_q1", 80, 80, 1, esd(rng.standard_normal((80, 80)))))
cases.append(("noise_q2", 200, 100, 1, esd(rng.standard_normal((200, 100)))))
cases.append(("student_t3_q3", 300, 100, 1, esd(rng.standard_t(3, (300, 100)))))
cases.append(("student_t2_q1", 64, 64, 1, esd(rng.standard_t(2, (64, 64)))))
conv = np.concatenate([esd(spiked(64, 32, 2, 2.0)) / 2 for _ in range(9)])
cases.append(("conv_pooled_q2_rf9", 64, 32, 9, np.sort(conv)))
cases.append(("tiny_m2", 10, 2, 1, esd(rng.standard_normal((10, 2)))))
cases.append(("tiny_m3_q1", 3, 3, 1, esd(rng.standard_normal((3, 3)))))
Q, _ = np.linalg.qr(rng.standard_normal((50, 50)))
cases.append(("orthogonal_q1", 50, 50, 1, esd(Q)))
cases.append(("near_degenerate_q2", 60, 30, 1, esd(np.eye(60, 30) + 1e-3 * rng.standard_normal((60, 30)))))
cases.append(("all_zero_q2", 20, 10, 1, np.zeros(10)))  # WW: W_scale = inf, the fit raises -> -1
cases.append(("one_spike_huge_q5", 250, 50, 1, esd(spiked(250, 50, 1, 40.0))))

out = os.path.join(HERE, "synthetic.csv")
with open(out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["case", "N", "M", "rf", "num_spikes", "sigma_mp", "mp_softrank", "W_scale", "bulk_max", "bulk_min", "evals"])
    for name, n, m, rf, ev in cases:
        ev = np.sort(np.asarray(ev, dtype=np.float64))
        try:
            r = ww.mp_fit(ev, n, m, rf, name, 0, 0, False, False, "", "blue", True, ev)
        except Exception:  # apply_mp_fit: any exception -> all -1
            r = (-1, -1, -1, -1, -1, -1)
        ns, sig, soft, bmin, bmax, wsc = r
        w.writerow([name, n, m, rf, int(ns), repr(float(sig)), repr(float(soft)), repr(float(wsc)), repr(float(bmax)),
                    repr(float(bmin)), " ".join(repr(float(x)) for x in ev)])
        print(f"{name:22s} N={n} M={m} rf={rf} spikes={ns} sigma_mp={float(sig):.6f} softrank={float(soft):.6f}", file=sys.stderr)

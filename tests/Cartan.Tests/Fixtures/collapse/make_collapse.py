#!/usr/bin/python3
"""Independent numpy reference for the neural-collapse metrics (Papyan, Han, Donoho 2020) as methods.md §3(b)
defines them. Writes features.npy, labels.npy, classifier.npy and golden.json. Run with Debian's /usr/bin/python3."""
import json, os
import numpy as np

rng = np.random.default_rng(42)
N, d, C = 90, 7, 4
labels = np.repeat(np.arange(C), [30, 20, 25, 15])
rng.shuffle(labels)
means = rng.normal(size=(C, d)) * 3
H = means[labels] + rng.normal(size=(N, d))
W = means + 0.3 * rng.normal(size=(C, d))

mu = np.stack([H[labels == c].mean(0) for c in range(C)])
muG = H.mean(0)
Mt = (mu - muG).T                      # d × C
Hc = H - mu[labels]
Sw = Hc.T @ Hc / N
Sb = Mt @ Mt.T / C
nc1 = np.trace(Sw @ np.linalg.pinv(Sb, rcond=1e-10, hermitian=True)) / C
G = Mt.T @ Mt
etf = (np.eye(C) - np.ones((C, C)) / C) / np.sqrt(C - 1)
nc2 = np.linalg.norm(G / np.linalg.norm(G) - etf)
nc3 = np.linalg.norm(W.T / np.linalg.norm(W) - Mt / np.linalg.norm(Mt)) ** 2
pred = (H @ W.T).argmax(1)
near = ((H[:, None, :] - mu[None, :, :]) ** 2).sum(2).argmin(1)
nc4 = float((pred != near).mean())

here = os.path.dirname(os.path.abspath(__file__))
np.save(os.path.join(here, "features.npy"), H)
np.save(os.path.join(here, "labels.npy"), labels.astype(np.int64))
np.save(os.path.join(here, "classifier.npy"), W)
json.dump({"N": N, "d": d, "C": C, "nc1": nc1, "nc2": nc2, "nc3": nc3, "nc4": nc4,
           "within_trace": float(np.trace(Sw)), "between_trace": float(np.trace(Sb))},
          open(os.path.join(here, "golden.json"), "w"), indent=1)
print(nc1, nc2, nc3, nc4)

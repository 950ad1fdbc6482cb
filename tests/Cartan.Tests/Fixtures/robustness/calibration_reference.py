"""Golden values for tests/Cartan.Tests/Robustness/CalibrationTests.cs, computed independently with numpy.

Run with Debian's /usr/bin/python3 (numpy):  /usr/bin/python3 calibration_reference.py > calibration_cases.json
Accuracy, NLL = -mean log softmax(logits)[y], ECE with M equal-width bins (b/M, (b+1)/M] (confidence 0 in the first bin),
as in Guo et al. 2017, and the per-bin count / mean confidence / accuracy of the reliability diagram.
"""
import json
import numpy as np


def metrics(logits, labels, m):
    z = logits.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    p = np.exp(logp)
    pred = p.argmax(axis=1)
    conf = p.max(axis=1)
    ok = (pred == labels).astype(np.float64)
    nll = float(-logp[np.arange(len(labels)), labels].mean())
    b = np.clip(np.ceil(conf * m).astype(int) - 1, 0, m - 1)
    counts, confs, accs, ece = [], [], [], 0.0
    for k in range(m):
        sel = b == k
        n = int(sel.sum())
        c = float(conf[sel].mean()) if n else 0.0
        a = float(ok[sel].mean()) if n else 0.0
        counts.append(n); confs.append(c); accs.append(a)
        ece += n / len(labels) * abs(a - c)
    return dict(accuracy=float(ok.mean()), nll=nll, ece=ece, counts=counts, confidence=confs, bin_accuracy=accs)


rng = np.random.default_rng(20261126)
cases = []
for n, c, scale, m in [(500, 10, 3.0, 15), (200, 3, 1.0, 15), (400, 10, 8.0, 15), (50, 2, 0.5, 10)]:
    logits = (rng.standard_normal((n, c)) * scale).astype(np.float32)
    labels = rng.integers(0, c, n)
    # make the classifier better than chance: raise the true class on 60 % of the samples
    boost = rng.random(n) < 0.6
    logits[np.arange(n)[boost], labels[boost]] += np.float32(scale)
    r = metrics(logits, labels, m)
    r.update(samples=n, classes=c, bins=m, logits=[float(v) for v in logits.ravel()], labels=[int(v) for v in labels])
    cases.append(r)
print(json.dumps(cases))

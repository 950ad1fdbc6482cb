#!/usr/bin/python3
"""Generate the .npy/.npz fixtures and their golden values (numpy only; run with /usr/bin/python3).

Files written beside this script:
  f8.npy f4.npy f2.npy i1.npy u1.npy i2.npy u2.npy i4.npy i8.npy b1.npy   one array each (format 1.0)
  fortran.npy      a Fortran-order float64 matrix (stored column-major; readers present it row-major, shape as stored)
  bigendian.npy    '>f4' matrix
  v2.npy, v3.npy   format versions 2.0 and 3.0
  stored.npz       np.savez (entries stored)
  deflated.npz     np.savez_compressed (entries deflated)
  bomb/bomb_declared.npz   a deflated entry whose .npy header says 8x8 float64 but which inflates to 100 MB of zeros
                           (the zip's declared uncompressed size is honest: 100 MB + header)
  bomb/bomb_lying.npz      the same entry with the zip's declared uncompressed size forged to match the 8x8 header
  golden.json      per array (by file, and by npz entry): shape, dtype, first/last/sum of the row-major data,
                   top-10 singular values (numpy float64) of every 2-D array.
"""
import io, json, math, os, struct, zipfile, zlib
from collections import OrderedDict
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def entry(name, arr):
    x = np.asarray(arr).astype(np.float64)
    flat = np.ascontiguousarray(x).reshape(-1)   # row-major (C) order, whatever the storage order
    e = OrderedDict(name=name, descr=np.lib.format.dtype_to_descr(np.asarray(arr).dtype), shape=list(x.shape))
    if flat.size:
        e["first"] = float(flat[0]); e["last"] = float(flat[-1])
    if flat.size > 2:
        # a few interior elements (row-major flat index, value): catch element-order mistakes that first/last/sum miss
        e["probe"] = [[int(i), float(flat[i])] for i in sorted({1, flat.size // 7, flat.size // 3, flat.size // 2, flat.size - 2})]
    e["sum"] = math.fsum(flat.tolist())
    if x.ndim == 2:
        e["top_sv"] = [float(s) for s in np.linalg.svd(x, compute_uv=False)[:10]]
    return e


def main():
    rng = np.random.default_rng(7)
    files = OrderedDict()
    arrays = OrderedDict(
        f8=rng.standard_normal((30, 20)),
        f4=rng.standard_normal((24, 36)).astype("<f4"),
        f2=rng.standard_normal((18, 12)).astype("<f2"),
        i1=rng.integers(-128, 128, (16, 10)).astype("|i1"),
        u1=rng.integers(0, 256, (10, 16)).astype("|u1"),
        i2=rng.integers(-30000, 30000, (8, 9)).astype("<i2"),
        u2=rng.integers(0, 65536, (9, 8)).astype("<u2"),
        i4=rng.integers(-2**31, 2**31, (7, 5)).astype("<i4"),
        i8=rng.integers(-2**40, 2**40, (5, 7)).astype("<i8"),
        b1=(rng.standard_normal((6, 6)) > 0),
    )
    for k, a in arrays.items():
        p = os.path.join(HERE, k + ".npy")
        np.save(p, a)
        files[k + ".npy"] = [entry(k, a)]
    fo = np.asfortranarray(rng.standard_normal((12, 7)))
    np.save(os.path.join(HERE, "fortran.npy"), fo)
    with open(os.path.join(HERE, "fortran.npy"), "rb") as f:
        assert b"'fortran_order': True" in f.read(128)
    files["fortran.npy"] = [entry("fortran", fo)]
    fo3 = np.asfortranarray(rng.standard_normal((3, 4, 5)))
    np.save(os.path.join(HERE, "fortran3d.npy"), fo3)
    files["fortran3d.npy"] = [entry("fortran3d", fo3)]
    be = rng.standard_normal((9, 11)).astype(">f4")
    np.save(os.path.join(HERE, "bigendian.npy"), be)
    files["bigendian.npy"] = [entry("bigendian", be)]
    for ver in (2, 3):
        a = rng.standard_normal((10, 6)).astype("<f4")
        with open(os.path.join(HERE, f"v{ver}.npy"), "wb") as f:
            np.lib.format.write_array(f, a, version=(ver, 0))
        files[f"v{ver}.npy"] = [entry(f"v{ver}", a)]

    za = OrderedDict(weight=rng.standard_normal((20, 14)).astype("<f4"),
                     bias=rng.standard_normal(14).astype("<f4"),
                     emb=rng.standard_normal((16, 8)).astype("<f2"))
    np.savez(os.path.join(HERE, "stored.npz"), **za)
    files["stored.npz"] = [entry(k, v) for k, v in za.items()]
    zb = OrderedDict(w1=rng.standard_normal((25, 15)), w2=np.zeros((10, 10), dtype="<f4"),
                     codes=rng.integers(0, 4, (30, 12)).astype("|u1"))
    np.savez_compressed(os.path.join(HERE, "deflated.npz"), **zb)
    files["deflated.npz"] = [entry(k, v) for k, v in zb.items()]
    for name in ("stored.npz", "deflated.npz"):
        with zipfile.ZipFile(os.path.join(HERE, name)) as z:
            want = zipfile.ZIP_STORED if name == "stored.npz" else zipfile.ZIP_DEFLATED
            assert all(i.compress_type == want for i in z.infolist())

    # Zip bombs: an 8x8 float64 .npy header followed by 100 MB of zeros, deflated.
    bd = os.path.join(HERE, "bomb")
    os.makedirs(bd, exist_ok=True)
    hdr = io.BytesIO()
    np.lib.format.write_array_header_1_0(hdr, {"descr": "<f8", "fortran_order": False, "shape": (8, 8)})
    head = hdr.getvalue()
    total = len(head) + 100 * 1024 * 1024
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    crc = zlib.crc32(head)
    body = [comp.compress(head)]
    chunk = bytes(1 << 20)
    for _ in range(100):
        body.append(comp.compress(chunk)); crc = zlib.crc32(chunk, crc)
    body.append(comp.flush())
    data = b"".join(body)
    for fname, declared in (("bomb_declared.npz", total), ("bomb_lying.npz", len(head) + 8 * 8 * 8)):
        write_zip(os.path.join(bd, fname), "w.npy", data, crc, declared)

    with open(os.path.join(HERE, "golden.json"), "w") as f:
        json.dump(OrderedDict(files=files), f, indent=1)
        f.write("\n")


def write_zip(path, name, data, crc, usize):
    """A one-entry zip written by hand (deflate method 8) so the declared sizes can be forged."""
    n = name.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), usize, len(n), 0) + n
    cd = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(data), usize,
                     len(n), 0, 0, 0, 0, 0, 0) + n
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(cd), len(local) + len(data), 0)
    with open(path, "wb") as f:
        f.write(local + data + cd + eocd)


if __name__ == "__main__":
    main()

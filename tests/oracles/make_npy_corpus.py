#!/usr/bin/env python3
"""make_npy_corpus.py - .npy files written by numpy, to prove qmac's reader and writer agree with it.

    make_npy_corpus.py --out DIR      write DIR/numpy/*.npy and DIR/manifest.txt
    make_npy_corpus.py --verify DIR   check DIR/c/*.npy (written by qmac_npy_write from what it read)

--out writes one file per case: every dtype qmac reads (|i1 |u1 |b1 <i2 <u2 <i4 <i8 <f2 <f4 <f8)
at ranks 0..8, in format versions 1.0, 2.0 and 3.0, empty arrays, special float bit patterns, and
valid files that qmac must refuse as unsupported (fortran order, big-endian, object, structured,
unicode, bytes, complex, uint32/uint64, datetime, rank 9). For each accepted file it also writes
NAME.raw, the C-order little-endian element bytes the reader must produce.

manifest.txt has one line per file, fields separated by single spaces:
    NAME ok DTYPE RANK D0 D1 ...        qmac must read it as this dtype (qmac_dtype_name) and shape
    NAME unsupported REASON             qmac must return QMAC_ERR_UNSUPPORTED

--verify checks, for every "ok" line, that DIR/c/NAME is byte-for-byte what numpy.save writes for
the same array, and that numpy loads it back to the same dtype, shape and bits. Exit status 0 when
everything matches, 1 otherwise (each difference is printed).

Used by tests/unit/test_npy.c (test_npy_numpy_corpus), which runs it at test time.
"""
import argparse
import io
import os
import sys

import numpy as np
from numpy.lib import format as npformat

SEED = 20240611

# numpy dtype -> qmac_dtype_name
DTYPES = {
    "int8": "int8", "uint8": "uint8", "bool": "bool", "int16": "int16", "uint16": "uint16",
    "int32": "int32", "int64": "int64", "float16": "float16", "float32": "float32",
    "float64": "float64",
}


def shape_for_rank(rank):
    """Small shapes with distinct dims so a transposed read would be caught."""
    dims = [2, 3, 1, 4, 2, 1, 3, 2]
    return tuple(dims[:rank])


def random_array(rng, dtype, shape):
    dt = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    if dt == np.bool_:
        return (rng.integers(0, 2, size=n) == 1).reshape(shape)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        vals = rng.integers(info.min, info.max, size=n, dtype=dt, endpoint=True)
        if n >= 2:  # always include the extremes
            vals[0], vals[-1] = info.min, info.max
        return vals.reshape(shape)
    # floats: random bit patterns (NaN payloads, infinities, subnormals, -0.0 all appear)
    ut = {2: np.uint16, 4: np.uint32, 8: np.uint64}[dt.itemsize]
    bits = rng.integers(0, np.iinfo(ut).max, size=n, dtype=ut, endpoint=True)
    return bits.view(dt).reshape(shape)


def special_floats(dtype):
    dt = np.dtype(dtype)
    ut = {2: np.uint16, 4: np.uint32, 8: np.uint64}[dt.itemsize]
    vals = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan], dtype=dt)
    fi = np.finfo(dt)
    extra = np.array([fi.tiny, fi.max, -fi.max, fi.eps], dtype=dt)
    sub = np.array([1], dtype=ut).view(dt)  # smallest subnormal
    qnan_payload = np.array([np.iinfo(ut).max], dtype=ut).view(dt)  # all-ones NaN
    return np.concatenate([vals, extra, sub, -sub, qnan_payload])


def save_bytes(arr, version=None):
    buf = io.BytesIO()
    if version is None:
        np.save(buf, arr, allow_pickle=True)
    else:
        npformat.write_array(buf, arr, version=version, allow_pickle=True)
    return buf.getvalue()


def make_cases():
    """Yield (name, array, version, expectation) with expectation "ok" or "unsupported <reason>"."""
    rng = np.random.default_rng(SEED)
    for dtype in DTYPES:
        for rank in range(9):
            yield (f"{dtype}_r{rank}", random_array(rng, dtype, shape_for_rank(rank)), None, "ok")
        for ver in ((1, 0), (2, 0), (3, 0)):
            a = random_array(rng, dtype, (3, 5))
            yield (f"{dtype}_v{ver[0]}", a, ver, "ok")
        yield (f"{dtype}_empty", random_array(rng, dtype, (2, 0, 3)), None, "ok")
        yield (f"{dtype}_len0", random_array(rng, dtype, (0,)), None, "ok")
        if np.dtype(dtype).kind == "f":
            yield (f"{dtype}_special", special_floats(dtype), None, "ok")
        # numpy writes these byte-order variants itself only for 1-byte types ('|'), but a
        # big-endian array of a wider type is a valid file qmac must refuse.
        if np.dtype(dtype).itemsize > 1:
            be = random_array(rng, dtype, (2, 3)).astype(np.dtype(dtype).newbyteorder(">"))
            yield (f"{dtype}_bigendian", be, None, "unsupported big-endian")
        fo = np.asfortranarray(random_array(rng, dtype, (3, 4)))
        yield (f"{dtype}_fortran", fo, None, "unsupported fortran_order")
    # a long first axis and a wide shape (header grows past one 64-byte block)
    yield ("int8_long", random_array(rng, "int8", (100000,)), None, "ok")
    yield ("uint8_wide", random_array(rng, "uint8", (1, 1, 1, 1, 1, 1, 1, 70000)), None, "ok")
    # valid files qmac does not take
    yield ("rank9", np.zeros((1,) * 9, np.float32), None, "unsupported rank")
    yield ("object", np.array([1, "a", None], dtype=object), None, "unsupported object")
    yield ("structured", np.zeros(3, dtype=[("a", "<i4"), ("b", "<f4")]), None,
           "unsupported structured")
    yield ("structured_v3", np.zeros(2, dtype=[("\u03b1\u03b2", "<i2")]), (3, 0),
           "unsupported structured-utf8")
    yield ("unicode", np.array(["ab", "c"]), None, "unsupported unicode")
    yield ("bytes", np.array([b"ab", b"c"]), None, "unsupported bytes")
    yield ("complex64", np.zeros(3, np.complex64), None, "unsupported complex")
    yield ("uint32", np.arange(3, dtype=np.uint32), None, "unsupported uint32")
    yield ("uint64", np.arange(3, dtype=np.uint64), None, "unsupported uint64")
    yield ("datetime", np.array([1, 2], dtype="M8[s]"), None, "unsupported datetime")
    yield ("void", np.zeros(2, dtype="V4"), None, "unsupported void")


def write_corpus(out):
    d = os.path.join(out, "numpy")
    os.makedirs(d, exist_ok=True)
    os.makedirs(os.path.join(out, "c"), exist_ok=True)
    lines = []
    for name, arr, version, expect in make_cases():
        data = save_bytes(arr, version)
        with open(os.path.join(d, name + ".npy"), "wb") as f:
            f.write(data)
        if expect == "ok":
            back = np.load(os.path.join(d, name + ".npy"))
            raw = back.tobytes(order="C")
            with open(os.path.join(d, name + ".raw"), "wb") as f:
                f.write(raw)
            qname = DTYPES[back.dtype.name]
            lines.append(" ".join([name, "ok", qname, str(back.ndim)] + [str(x) for x in back.shape]))
        else:
            lines.append(f"{name} unsupported {expect.split()[1]}")
    with open(os.path.join(out, "manifest.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"make_npy_corpus: wrote {len(lines)} files to {d} (numpy {np.__version__})")
    return 0


def verify(out):
    bad = 0
    checked = 0
    with open(os.path.join(out, "manifest.txt")) as f:
        entries = [line.split() for line in f if line.strip()]
    for e in entries:
        name, status = e[0], e[1]
        if status != "ok":
            continue
        ref = np.load(os.path.join(out, "numpy", name + ".npy"))
        ref = np.require(ref, requirements="C")  # (ascontiguousarray would make 0-d arrays 1-d)
        cpath = os.path.join(out, "c", name + ".npy")
        if not os.path.exists(cpath):
            print(f"verify: {name}: qmac did not write {cpath}")
            bad += 1
            continue
        with open(cpath, "rb") as f:
            got = f.read()
        want = save_bytes(ref)
        checked += 1
        if got != want:
            at = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]),
                      min(len(got), len(want)))
            print(f"verify: {name}: qmac's file differs from numpy.save at byte {at} "
                  f"(sizes {len(got)} vs {len(want)}); qmac header {got[:at + 16]!r}")
            bad += 1
            continue
        back = np.load(cpath)
        if (back.dtype != ref.dtype or back.shape != ref.shape
                or back.tobytes() != ref.tobytes()):
            print(f"verify: {name}: numpy reads back {back.dtype}{back.shape}, "
                  f"expected {ref.dtype}{ref.shape}")
            bad += 1
    print(f"make_npy_corpus --verify: {checked} qmac-written files checked, {bad} differ")
    return 1 if bad or checked == 0 else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--out", help="write the corpus into this directory")
    g.add_argument("--verify", help="check the files qmac wrote into DIR/c")
    args = ap.parse_args()
    return write_corpus(args.out) if args.out else verify(args.verify)


if __name__ == "__main__":
    sys.exit(main())

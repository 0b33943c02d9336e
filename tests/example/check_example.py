#!/usr/bin/env python3
"""check_example.py - qmac's outputs on the bundled example equal ONNX Runtime's, bit for bit.

    check_example.py --qmac build/qmac [--example examples/digits] [--backend ref] [--keep]

For every examples/digits/inputs/NN.npy: runs
    qmac run examples/digits/model.onnx --input inputs/NN.npy --output TMP/NN --backend ref
and requires every examples/digits/expected/NN/<output>.npy to be present in TMP/NN with the
same dtype, shape and element bits (and no extra or missing outputs). The example is
deterministic (no seeds); a failure prints the command that reproduces it and keeps TMP.
Last line: "N passed, N failed" (one test per input); exit 1 on any failure or if no input
is found.
"""
import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def bits(a):
    a = np.ascontiguousarray(a)
    if a.dtype == np.bool_:
        return a.view(np.uint8)
    return a.view({1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[a.dtype.itemsize])


def compare(got, want, label):
    if got.dtype != want.dtype:
        return [f"{label}: dtype {got.dtype}, expected {want.dtype}"]
    if got.shape != want.shape:
        return [f"{label}: shape {got.shape}, expected {want.shape}"]
    diff = np.flatnonzero(bits(got).reshape(-1) != bits(want).reshape(-1))
    if diff.size == 0:
        return []
    out = [f"{label}: {diff.size} of {want.size} elements differ"]
    for i in diff[:8]:
        out.append(f"    [{int(i)}]: got {got.reshape(-1)[i]!r}, expected {want.reshape(-1)[i]!r}")
    return out


def run_one(qmac, example, nn, out_dir, backend, timeout):
    """Run qmac on input NN; returns (problems, command)."""
    model = os.path.join(example, "model.onnx")
    cmd = [qmac, "run", model, "--input", os.path.join(example, "inputs", nn + ".npy"),
           "--output", out_dir, "--backend", backend]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [f"qmac did not finish within {timeout} s"], cmd
    except OSError as e:
        return [f"cannot run {qmac}: {e}"], cmd
    if r.returncode != 0:
        msg = (r.stderr.strip() or r.stdout.strip() or "(no output)").splitlines()
        return [f"qmac exited with status {r.returncode}: " + msg[0]] + ["    " + m for m in msg[1:6]], cmd
    exp_dir = os.path.join(example, "expected", nn)
    want_files = sorted(f for f in os.listdir(exp_dir) if f.endswith(".npy"))
    got_files = sorted(f for f in os.listdir(out_dir) if f.endswith(".npy"))
    probs = []
    for f in sorted(set(got_files) - set(want_files)):
        probs.append(f"unexpected output {f}")
    for f in want_files:
        p = os.path.join(out_dir, f)
        if not os.path.exists(p):
            probs.append(f"output {f} was not written")
            continue
        try:
            got = np.load(p, allow_pickle=False)
        except Exception as e:  # noqa: BLE001 - an unreadable output is a failure
            probs.append(f"numpy cannot load {p}: {e}")
            continue
        probs += compare(got, np.load(os.path.join(exp_dir, f)), f)
    return probs, cmd


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qmac", required=True)
    ap.add_argument("--example", default=os.path.join(ROOT, "examples", "digits"))
    ap.add_argument("--backend", default="ref")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--keep", action="store_true", help="keep the output directories")
    args = ap.parse_args()

    in_dir = os.path.join(args.example, "inputs")
    inputs = sorted(f[:-4] for f in os.listdir(in_dir) if f.endswith(".npy")) if os.path.isdir(in_dir) else []
    if not inputs:
        print(f"check_example: no inputs in {in_dir}")
        print("0 passed, 1 failed")
        return 1
    tmp = tempfile.mkdtemp(prefix="qmac-example-")
    passed = failed = 0
    for nn in inputs:
        out_dir = os.path.join(tmp, nn)
        os.makedirs(out_dir)
        probs, cmd = run_one(args.qmac, args.example, nn, out_dir, args.backend, args.timeout)
        if probs:
            failed += 1
            print(f"FAIL {nn}")
            for p in probs:
                print(f"  {p}")
            print(f"  reproduce (deterministic, no seed): {shlex.join(cmd)}")
            print(f"  output kept in {out_dir}")
        else:
            passed += 1
            print(f"ok   {nn}: bit-exact")
    if failed == 0 and not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

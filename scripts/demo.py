#!/usr/bin/env python3
"""demo.py - the whole flow on the bundled int8 digits CNN: compile, run on the RTL, compare.

    .venv/bin/python scripts/demo.py --qmac build/qmac [--backend rtl] [--example examples/digits]

First `qmac compile examples/digits/model.onnx -o TMP/compiled` (program, data image, manifest;
the per-layer cycles and MAC utilization are printed). Then for each examples/digits/inputs/NN.npy
    qmac run examples/digits/model.onnx --input inputs/NN.npy --output TMP --backend rtl
(the Verilated accelerator, in lock-step with the golden model) and, with --backend rtl (the
default), `qmac cosim` (reference, golden model and RTL must agree bit for bit); a table shows
the predicted digit (argmax of the logits), the true label, whether the three qmac backends agree
and whether the logits equal ONNX Runtime's (examples/digits/expected/NN) bit for bit. Exit 1 if
qmac fails on an input or any output is not bit-exact; a wrong prediction that matches ONNX
Runtime exactly is the model's error, not qmac's, and does not fail the demo.
"""
import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SHADES = " .:-=+*#%@"


def ascii_rows(img):
    """8 rows of 8 characters for a [1,1,8,8] image in [0, 1]."""
    a = np.clip(np.asarray(img, np.float32).reshape(8, 8), 0.0, 1.0)
    return ["".join(SHADES[int(round(v * (len(SHADES) - 1)))] for v in row) for row in a]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qmac", required=True)
    ap.add_argument("--example", default=os.path.join(ROOT, "examples", "digits"))
    ap.add_argument("--backend", default="rtl", choices=["ref", "golden", "rtl"])
    ap.add_argument("--pictures", action="store_true", help="draw each input as ASCII art")
    args = ap.parse_args()

    ex = args.example
    with open(os.path.join(ex, "labels.json")) as f:
        labels = json.load(f)
    inputs = sorted(f[:-4] for f in os.listdir(os.path.join(ex, "inputs")) if f.endswith(".npy"))
    if not inputs:
        print(f"demo: no inputs in {ex}/inputs")
        return 1
    print(f"qmac demo: {os.path.relpath(os.path.join(ex, 'model.onnx'), ROOT)} "
          f"(int8 CNN, 8x8 digits), backend {args.backend}\n")
    tmp = tempfile.mkdtemp(prefix="qmac-demo-")
    bad = correct = 0
    ccmd = [args.qmac, "compile", os.path.join(ex, "model.onnx"), "-o", os.path.join(tmp, "compiled")]
    r = subprocess.run(ccmd, capture_output=True, text=True, timeout=120)
    print(f"$ {shlex.join(['qmac'] + ccmd[1:])}")
    print((r.stdout + r.stderr).rstrip() + "\n")
    if r.returncode != 0:
        print(f"demo: compile failed (exit {r.returncode})")
        return 1
    cosim = args.backend == "rtl"
    print(f"{'input':<8}{'predicted':>10}{'label':>7}   {'ref = golden = RTL' if cosim else '':<20}"
          f"{'bit-exact vs ONNX Runtime'}")
    try:
        for nn in inputs:
            out = os.path.join(tmp, nn)
            os.makedirs(out)
            inp = os.path.join(ex, "inputs", nn + ".npy")
            cmd = [args.qmac, "run", os.path.join(ex, "model.onnx"), "--input", inp, "--output", out,
                   "--backend", args.backend]
            err = None
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
                if r.returncode != 0:
                    msg = (r.stderr.strip() or r.stdout.strip() or "(no output)").splitlines()[0]
                    err = f"qmac exit {r.returncode}: {msg}"
            except (OSError, subprocess.TimeoutExpired) as e:
                err = str(e)
            label = labels.get(nn)
            if err:
                bad += 1
                print(f"{nn:<8}{'-':>10}{label!s:>7}   FAILED: {err}")
                print(f"{'':8}reproduce: {shlex.join(cmd)}")
                continue
            agree = ""
            if cosim:
                ccmd = [args.qmac, "cosim", os.path.join(ex, "model.onnx"), "--input", inp]
                rc = subprocess.run(ccmd, capture_output=True, text=True, timeout=300)
                agree = "yes" if rc.returncode == 0 else "NO"
                if rc.returncode != 0:
                    bad += 1
                    print(f"{'':8}{(rc.stdout + rc.stderr).strip().splitlines()[-1]}")
                    print(f"{'':8}reproduce: {shlex.join(ccmd)}")
            exact, pred = True, None
            for f in sorted(os.listdir(os.path.join(ex, "expected", nn))):
                want = np.load(os.path.join(ex, "expected", nn, f))
                p = os.path.join(out, f)
                got = np.load(p) if os.path.exists(p) else None
                if got is None or got.dtype != want.dtype or got.shape != want.shape or \
                        got.tobytes() != want.tobytes():
                    exact = False
                if f == "logits.npy" and got is not None:
                    pred = int(np.argmax(got))
            if not exact:
                bad += 1
            if pred is not None and pred == label:
                correct += 1
            mark = "yes" if exact else "NO"
            print(f"{nn:<8}{pred if pred is not None else '-':>10}{label!s:>7}   {agree:<20}{mark}"
                  + ("" if pred == label else "   (misclassified)"))
            if not exact:
                print(f"{'':8}reproduce: {shlex.join(cmd)}")
            if args.pictures:
                for row in ascii_rows(np.load(inp)):
                    print(f"{'':10}|{row}|")
    finally:
        if bad:
            print(f"\noutputs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    n = len(inputs)
    print(f"\n{correct}/{n} predicted correctly; {n - bad}/{n} bit-exact with ONNX Runtime"
          + (" on the RTL, which equals the golden model and the reference" if cosim else f" ({args.backend})"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

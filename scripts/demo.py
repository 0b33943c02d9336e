#!/usr/bin/env python3
"""demo.py - run the bundled int8 digits CNN through qmac and show its predictions.

    .venv/bin/python scripts/demo.py --qmac build/qmac [--backend ref] [--example examples/digits]

For each examples/digits/inputs/NN.npy runs
    qmac run examples/digits/model.onnx --input inputs/NN.npy --output TMP --backend ref
and prints a table: input, the image as ASCII art, predicted digit (argmax of the logits), true
label, and whether qmac's logits equal ONNX Runtime's (examples/digits/expected/NN) bit for bit.
Exit 1 if qmac fails on an input or any output is not bit-exact; a wrong prediction that matches
ONNX Runtime exactly is the model's error, not qmac's, and does not fail the demo.
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
    ap.add_argument("--backend", default="ref")
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
    print(f"{'input':<8}{'predicted':>10}{'label':>7}   {'bit-exact vs ONNX Runtime'}")
    tmp = tempfile.mkdtemp(prefix="qmac-demo-")
    bad = correct = 0
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
            print(f"{nn:<8}{pred if pred is not None else '-':>10}{label!s:>7}   {mark}"
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
    print(f"\n{correct}/{n} predicted correctly; {n - bad}/{n} bit-exact with ONNX Runtime")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""test_nets.py - whole networks (scripts/make_nets.py: torchvision's ResNet-18 / MobileNetV2 /
ResNet-50 with random weights, quantized by ONNX Runtime's quantize_static) compiled by qmac and
run on its backends, every output bit-exact against ONNX Runtime.

    test_nets.py --qmac build/qmac [--nets resnet18,mobilenetv2] [--backends ref,golden]
                 [--rtl-nets mobilenetv2] [--variants qdq-uint8] [--inputs 1] [--keep]

For each variant (FORMAT-ACT: qdq or qop, uint8 or int8 activations) and net: builds the model
(seeded, so a failure reproduces), runs ONNX Runtime (int8 QDQ with session.qdqisint8allowed=1,
ORT's int8-kernel configuration, as the conformance suite), then `qmac run --backend B` for every
backend B on every input and, for the nets in --rtl-nets, `--backend rtl` (the Verilated
accelerator in lock-step with the golden model) on the first input. A net must also compile with
no host step but the input's QuantizeLinear and the output's DequantizeLinear: every layer on the
accelerator. Last line: "N passed, N failed"; exit 1 on any failure.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def run(cmd, timeout=1800):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def ort_outputs(model, x, int8):
    import onnxruntime as ort
    so = ort.SessionOptions()
    if int8:
        so.add_session_config_entry("session.qdqisint8allowed", "1")
    s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    return {o.name: v for o, v in zip(s.get_outputs(), s.run(None, {s.get_inputs()[0].name: x}))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qmac", required=True)
    ap.add_argument("--nets", default="resnet18,mobilenetv2")
    ap.add_argument("--backends", default="ref,golden")
    ap.add_argument("--rtl-nets", default="")
    ap.add_argument("--variants", default="qdq-uint8")
    ap.add_argument("--inputs", type=int, default=1)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="qmac-nets-")
    passed = failed = 0
    py = sys.executable
    for variant in a.variants.split(","):
        fmt, act = variant.split("-")
        vdir = os.path.join(tmp, variant)
        cmd = [py, os.path.join(ROOT, "scripts", "make_nets.py"), "--out", vdir, "--nets", a.nets,
               "--format", fmt, "--act", act, "--inputs", str(a.inputs)]
        rc, out, err = run(cmd)
        if rc:
            print(f"FAIL {variant}: make_nets failed:\n{err}\n  reproduce: {' '.join(cmd)}")
            failed += 1
            continue
        for net in a.nets.split(","):
            model = os.path.join(vdir, f"{net}.onnx")
            # every layer on the accelerator: the manifest's host steps are the boundary Q/DQ only
            cdir = os.path.join(vdir, f"{net}.compiled")
            rc, out, err = run([a.qmac, "compile", model, "-o", cdir, "-q"])
            ok = rc == 0
            if ok:
                with open(os.path.join(cdir, "manifest.json")) as f:
                    man = json.load(f)
                pre = [s["op"] for s in man["host_before"]]
                post = [s["op"] for s in man["host_after"]]
                ok = pre == ["quantize"] and post == ["dequantize"]
                err = f"host steps before {pre}, after {post}"
            print(f"{'ok  ' if ok else 'FAIL'} {variant} {net}: compile ({len(man['layers']) if rc == 0 else 0} layers)"
                  + ("" if ok else f": {err.strip()}"))
            passed += ok
            failed += not ok
            for k in range(a.inputs):
                x = np.load(os.path.join(vdir, f"{net}.in{k}.npy"))
                want = ort_outputs(model, x, act == "int8")
                backends = a.backends.split(",") + (["rtl"] if net in a.rtl_nets.split(",") and k == 0 else [])
                for b in backends:
                    odir = os.path.join(vdir, f"{net}.{b}.{k}")
                    cmd = [a.qmac, "run", model, "--input", os.path.join(vdir, f"{net}.in{k}.npy"), "--output", odir,
                           "--backend", b]
                    t = time.time()
                    rc, out, err = run(cmd)
                    dt = time.time() - t
                    probs = [] if rc == 0 else [err.strip() or out.strip()]
                    for name, w in want.items() if rc == 0 else []:
                        p = os.path.join(odir, name + ".npy")
                        if not os.path.exists(p):
                            probs.append(f"output {name} missing")
                            continue
                        g = np.load(p)
                        if g.dtype != w.dtype or g.shape != w.shape or g.tobytes() != w.tobytes():
                            n = int(np.sum(g != w)) if g.shape == w.shape else -1
                            probs.append(f"output {name}: {n} of {w.size} elements differ from ONNX Runtime")
                    tag = f"{variant} {net} input {k} --backend {b}"
                    if probs:
                        failed += 1
                        print(f"FAIL {tag} ({dt:.1f} s): " + "; ".join(probs))
                        print(f"  reproduce: {' '.join(cmd)} (models in {vdir})")
                        a.keep = True
                    else:
                        passed += 1
                        print(f"ok   {tag}: bit-exact vs ONNX Runtime ({dt:.1f} s)")
    if a.keep:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())

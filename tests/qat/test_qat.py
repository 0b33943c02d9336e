#!/usr/bin/env python3
"""test_qat.py - quantization-aware-trained models (PyTorch QDQ, Brevitas QONNX) on qmac's backends.

    .venv/bin/python tests/qat/test_qat.py --qmac build/qmac [--rtl-images R]

The two models scripts/make_qat_examples.py trained and exported (with torch and Brevitas, which
this test does not need), on the 359 test images of examples/digits/data:
1. examples/digits/qat_qdq.onnx, PyTorch QAT exported by torch.onnx.export as QDQ (uint8
   activations clipped to 7 bits, int8 weights per channel, the zero points shared through
   Identity nodes as the exporter writes them): the logits of `qmac run --backend ref|golden`
   equal ONNX Runtime's bit for bit (CPU, one thread, default optimizations; the 7-bit
   activations keep ORT's u8 x s8 kernels exact on x86 without VNNI too).
2. examples/digits/qat_brevitas.onnx, Brevitas QAT exported as QONNX (int8 conv -> binary conv ->
   int8 linear, power-of-two scales): the logits of ref and golden equal qonnx's execution
   (scripts/qonnx_export.py's qonnx_run) as values; where qonnx writes -0.0 (a Quant rounding a
   small negative value to code 0) qmac writes +0.0, which is counted and printed. The binary
   convolution compiles to a binary-mode layer (bconv).
   examples/digits/qat_qdq_raw.onnx, the same export untouched (weights as QuantizeLinear of float
   initializers, float biases, no Q/DQ after Flatten so ORT runs the last Gemm in float): ref and
   golden equal ONNX Runtime bit for bit (rtl on at most 40 images); it compiles (the float Gemm
   runs on the host after the program).
3. All: rtl equals the same reference on the first R images (default all); `qmac eval` on ref
   and golden reports the same number of right answers as the reference; the accuracy is at
   least 95% (measured 98.05% for both when the models were made).
Deterministic (no seeds). Last line "test_qat: passed|FAILED (N failures)"; exit 1 on a failure.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import qonnx_export as qx  # noqa: E402

EX = os.path.join(ROOT, "examples", "digits")
MIN_ACCURACY = 0.95


def qmac_run(qmac, model_path, x, backend, work):
    """Logits of `qmac run` on the batch x; asserts success."""
    xp = os.path.join(work, "x.npy")
    out = os.path.join(work, "out_" + backend)
    np.save(xp, x)
    cmd = [qmac, "run", model_path, "--input", xp, "--output", out, "--backend", backend]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, f"{backend}: exit {r.returncode}: {r.stderr.strip()} ({' '.join(cmd)})"
    return np.load(os.path.join(out, "logits.npy"))


def qmac_eval(qmac, model_path, backend, n_right, n):
    """`qmac eval` on the test set must count n_right of n."""
    cmd = [qmac, "eval", model_path, "--data", os.path.join(EX, "data", "test_x.npy"), "--labels",
           os.path.join(EX, "data", "test_y.npy"), "--backend", backend]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, f"eval {backend}: exit {r.returncode}: {r.stderr.strip()}"
    m = re.search(r"accuracy [0-9.]+% \((\d+) of (\d+)\)", r.stdout)
    assert m, f"eval {backend}: no accuracy line in {r.stdout!r}"
    assert (int(m.group(1)), int(m.group(2))) == (n_right, n), (
        f"eval {backend}: {m.group(1)} of {m.group(2)} right, the reference {n_right} of {n}")


def compare(what, want, got, signed_zero_ok=False):
    """Bit-exact comparison; with signed_zero_ok, -0.0 against +0.0 is equal (and counted)."""
    assert got.dtype == want.dtype and got.shape == want.shape, (
        f"{what}: {got.dtype} {got.shape}, the reference {want.dtype} {want.shape}")
    bits = got.view(np.uint32) != want.view(np.uint32)
    zeros = bits & (got == 0) & (want == 0)
    bad = np.argwhere(bits & ~zeros if signed_zero_ok else bits)
    if len(bad):
        at = tuple(int(k) for k in bad[0])
        raise AssertionError(f"{what}: {len(bad)} of {want.size} logits differ, first at {at}: "
                             f"qmac {float(got[at])!r}, reference {float(want[at])!r}")
    return int(zeros.sum())


def ort_logits(path, x):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]


def check_qdq_form(path):
    """The model is torch's export: zero points through Identity nodes, 7-bit uint8 activations."""
    m = onnx.load(path)
    prod = {o: n for n in m.graph.node for o in n.output}
    consts = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    consts.update({n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in m.graph.node
                   if n.op_type == "Constant"})
    qs = [n for n in m.graph.node if n.op_type == "QuantizeLinear"]
    assert any(n.input[2] in prod and prod[n.input[2]].op_type == "Identity" for n in qs), (
        f"{path}: no zero point is read through an Identity node (the torch export's form)")
    for n in qs:
        if n.input[0] in consts or getattr(prod.get(n.input[0]), "op_type", "") == "Flatten":
            continue  # weights; the Q/DQ pair after Flatten re-quantizes 7-bit codes
        users = [u for u in m.graph.node if n.output[0] in u.input]
        clipped = (len(users) == 1 and users[0].op_type == "Clip" and len(users[0].input) > 2
                   and int(consts[users[0].input[2]]) <= 127)
        assert clipped, f"{path}: {n.name}'s uint8 codes are not clipped to 7 bits"


def check_model(qmac, name, reference, x, labels, rtl_images, work, signed_zero_ok=False):
    """ref/golden (and rtl on the first rtl_images) against the reference logits; eval; accuracy."""
    path = os.path.join(EX, name)
    n_zero = 0
    for backend in ("ref", "golden"):
        got = qmac_run(qmac, path, x, backend, work)
        n_zero = compare(f"{name} {backend}", reference, got, signed_zero_ok)
    if rtl_images > 0:
        k = min(rtl_images, len(x))
        compare(f"{name} rtl", reference[:k], qmac_run(qmac, path, x[:k], "rtl", work), signed_zero_ok)
    n_right = int((reference.argmax(1) == labels).sum())
    for backend in ("ref", "golden"):
        qmac_eval(qmac, path, backend, n_right, len(x))
    acc = n_right / len(x)
    assert acc >= MIN_ACCURACY, f"{name}: accuracy {acc:.2%} below {MIN_ACCURACY:.0%}"
    return acc, n_zero


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qmac", required=True)
    ap.add_argument("--rtl-images", type=int, default=359, help="images run on the RTL (0: none)")
    args = ap.parse_args()
    qmac = os.path.abspath(args.qmac)
    t0 = time.perf_counter()
    x = np.load(os.path.join(EX, "data", "test_x.npy"))
    labels = np.load(os.path.join(EX, "data", "test_y.npy"))
    rtl = f", rtl on {min(args.rtl_images, len(x))}" if args.rtl_images > 0 else ""
    fails = 0
    with tempfile.TemporaryDirectory(prefix="qmac-qat-") as work:
        name = "qat_qdq.onnx"
        try:
            path = os.path.join(EX, name)
            check_qdq_form(path)
            acc, _ = check_model(qmac, name, ort_logits(path, x), x, labels, args.rtl_images, work)
            print(f"PASS {name} (PyTorch QAT, QDQ): ref and golden equal ONNX Runtime bit for bit on "
                  f"{len(x)} images{rtl}; eval agrees; accuracy {acc:.2%}")
        except AssertionError as e:
            fails += 1
            print(f"FAIL {name}: {e}")
        name = "qat_qdq_raw.onnx"
        try:
            path = os.path.join(EX, name)
            m = onnx.load(path)
            ops = {n.op_type for n in m.graph.node}
            wq = [n for n in m.graph.node if n.op_type == "QuantizeLinear" and n.input[0] in
                  {t.name for t in m.graph.initializer}]
            assert wq and "Gemm" in ops, f"{name}: not the raw export (no weight QuantizeLinear)"
            raw_rtl = min(args.rtl_images, 40)
            acc, _ = check_model(qmac, name, ort_logits(path, x), x, labels, raw_rtl, work)
            r = subprocess.run([qmac, "compile", path, "-o", os.path.join(work, "cr")], capture_output=True,
                               text=True)
            assert r.returncode == 0 and "5 layers" in r.stdout, f"{name}: compile:\n{r.stdout}{r.stderr}"
            print(f"PASS {name} (the torch export untouched: weight QuantizeLinear folded at import, float "
                  f"biases quantized as ORT's loader does, the float Gemm after Flatten on the host): ref and "
                  f"golden equal ONNX Runtime bit for bit on {len(x)} images" + (f", rtl on {raw_rtl}" if raw_rtl > 0 else "")
                  + f"; eval agrees; accuracy {acc:.2%}")
        except AssertionError as e:
            fails += 1
            print(f"FAIL {name}: {e}")
        name = "qat_brevitas.onnx"
        try:
            path = os.path.join(EX, name)
            want = qx.qonnx_run(onnx.load(path), x)
            acc, n_zero = check_model(qmac, name, want, x, labels, args.rtl_images, work, signed_zero_ok=True)
            r = subprocess.run([qmac, "compile", path, "-o", os.path.join(work, "cc")], capture_output=True,
                               text=True)
            assert r.returncode == 0 and " bconv " in r.stdout, (
                f"{name}: the binary convolution is not a binary-mode layer:\n{r.stdout}{r.stderr}")
            print(f"PASS {name} (Brevitas QAT, QONNX): ref and golden equal qonnx on {len(x)} images{rtl} "
                  f"({n_zero} logits +0.0 where qonnx has -0.0); binary conv in binary mode; eval agrees; "
                  f"accuracy {acc:.2%}")
        except AssertionError as e:
            fails += 1
            print(f"FAIL {name}: {e}")
    print(f"test_qat: {'FAILED' if fails else 'passed'} ({fails} failures, {time.perf_counter() - t0:.1f} s)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())

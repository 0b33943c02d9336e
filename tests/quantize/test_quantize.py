#!/usr/bin/env python3
"""test_quantize.py - `qmac quantize` and `qmac eval` against ONNX Runtime's quantize_static.

    .venv/bin/python tests/quantize/test_quantize.py --qmac build/qmac [--nets N] [--seed S]

1. Same ranges, same parameters: for the bundled digits float model and N random float CNNs
   (tests/conformance/gen_models.py: conv, relu, max/average pool, depthwise conv, residual add,
   concat, global average pool, flatten, matmul/gemm), under random quantize_static options
   (per-channel, reduce_range, ActivationSymmetric, uint8/int8 activations and weights), ONNX
   Runtime's own MinMax calibrator gives the ranges, `qmac quantize --ranges` and quantize_static
   quantize with them, and then every QuantizeLinear's scale and zero point, every quantized
   weight and bias, and ONNX Runtime's outputs of both models must be identical.
2. qmac's own calibration (every method) on the digits example: the model runs, `qmac eval` prints
   its accuracy, and min-max stays within 1 point of the float model.
3. Bad input: calibration data of the wrong shape, dtype, NaN, empty, a range for a tensor that
   does not exist; each is exit 2, a message naming the culprit, and no output file.
The seed is printed; --seed S reproduces the random nets.
"""
import argparse
import json
import logging
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
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.calibrate import create_calibrator

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "conformance"))
import gen_models  # noqa: E402

EX = os.path.join(ROOT, "examples", "digits")


class Reader(CalibrationDataReader):
    def __init__(self, name, xs):
        self.it = iter([{name: x} for x in xs])

    def get_next(self):
        return next(self.it, None)


def sess(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def ort_ranges(fpath, name, xs, work):
    c = create_calibrator(fpath, [], augmented_model_path=os.path.join(work, "aug.onnx"),
                          calibrate_method=CalibrationMethod.MinMax)
    c.collect_data(Reader(name, xs))
    return {k: [float(np.ravel(v.range_value[0])[0]), float(np.ravel(v.range_value[1])[0])]
            for k, v in c.compute_data().data.items()}


def qparams(path):
    """{key: arrays}: each QuantizeLinear's (scale, zero point) by the tensor it quantizes, and each
    dequantized initializer's (data, scale, zero point) by its name."""
    m = onnx.load(path)
    init = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    out = {}
    for n in m.graph.node:
        if n.op_type == "QuantizeLinear":
            out["Q " + n.input[0].replace("_QuantizeLinear_Input", "")] = [init[n.input[1]], init[n.input[2]]]
        elif n.op_type == "DequantizeLinear" and n.input[0] in init:
            out["DQ " + n.input[0]] = [init[n.input[0]], init[n.input[1]], init[n.input[2]]]
    return out


def run(cmd, expect=0):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != expect:
        raise AssertionError(f"{' '.join(cmd)}: exit {p.returncode}, expected {expect}\n{p.stdout}{p.stderr}")
    return p


def same_params(qmac_path, ort_path, what):
    a, b = qparams(qmac_path), qparams(ort_path)
    if set(a) != set(b):
        raise AssertionError(f"{what}: quantized tensors differ: only qmac {sorted(set(a) - set(b))}, "
                             f"only ORT {sorted(set(b) - set(a))}")
    for k in sorted(a):
        for x, y in zip(a[k], b[k]):
            if x.dtype != y.dtype or x.ravel().tolist() != y.ravel().tolist():
                raise AssertionError(f"{what}: {k}: qmac {x.dtype} {x.ravel()[:6]} vs ORT {y.dtype} {y.ravel()[:6]}")
    return len(a)


def same_outputs(qmac_path, ort_path, name, xs, what):
    s1, s2 = sess(qmac_path), sess(ort_path)
    for i, x in enumerate(xs):
        y1, y2 = s1.run(None, {name: x})[0], s2.run(None, {name: x})[0]
        if not np.array_equal(y1.view(np.uint32), y2.view(np.uint32)):
            raise AssertionError(f"{what}: ONNX Runtime's outputs of the two models differ on input {i}")


def parity_case(qmac, fpath, name, calib, tests, opts, work, what):
    ranges = os.path.join(work, "ranges.json")
    with open(ranges, "w") as f:
        json.dump(ort_ranges(fpath, name, calib, work), f)
    ort_q, qmac_q = os.path.join(work, "ort.onnx"), os.path.join(work, "qmac.onnx")
    quantize_static(fpath, ort_q, Reader(name, calib), quant_format=QuantFormat.QDQ,
                    per_channel=opts["per_channel"], reduce_range=opts["reduce_range"],
                    activation_type=getattr(QuantType, opts["act"]), weight_type=getattr(QuantType, opts["wt"]),
                    calibrate_method=CalibrationMethod.MinMax,
                    extra_options={"ActivationSymmetric": opts["act_sym"]})
    cmd = [qmac, "quantize", fpath, "--ranges", ranges, "-o", qmac_q,
           "--act-type", "int8" if opts["act"] == "QInt8" else "uint8",
           "--weight-type", "int8" if opts["wt"] == "QInt8" else "uint8"]
    cmd += ["--per-channel"] * opts["per_channel"] + ["--reduce-range"] * opts["reduce_range"]
    cmd += ["--act-symmetric"] * opts["act_sym"]
    run(cmd)
    n = same_params(qmac_q, ort_q, what)
    same_outputs(qmac_q, ort_q, name, tests, what)
    return n


def random_opts(rng):
    act, wt = [("QInt8", "QInt8"), ("QUInt8", "QUInt8"), ("QUInt8", "QInt8")][int(rng.integers(3))]
    return {"act": act, "wt": wt, "per_channel": bool(rng.random() < 0.5),
            "reduce_range": bool(rng.random() < 0.2), "act_sym": bool(rng.random() < 0.25)}


def bad_inputs(qmac, work):
    fpath = os.path.join(EX, "float.onnx")
    out = os.path.join(work, "bad.onnx")
    good = np.load(os.path.join(EX, "data", "calib.npy"))[:8]
    cases = {
        "shape": (good.reshape(8, 1, 4, 16), r"shape \[8, 1, 4, 16\].*input 'input'"),
        "dtype": (good.astype(np.float64), r"is float64.*float32"),
        "nan": (np.where(np.arange(good.size).reshape(good.shape) == 77, np.nan, good).astype(np.float32),
                r"batch 1: input 'input' element 13 is NaN"),
        "inf": (np.where(np.arange(good.size).reshape(good.shape) == 5, np.inf, good).astype(np.float32),
                r"infinite"),
        "empty": (good[:0], r"empty"),
    }
    for name, (data, pat) in cases.items():
        p = os.path.join(work, f"{name}.npy")
        np.save(p, data)
        r = run([qmac, "quantize", fpath, "--calib", p, "-o", out], expect=2)
        if not re.search(pat, r.stderr) or os.path.exists(out):
            raise AssertionError(f"bad input '{name}': message {r.stderr.strip()!r} (want /{pat}/), "
                                 f"output left: {os.path.exists(out)}")
    rj = os.path.join(work, "r.json")
    with open(rj, "w") as f:
        json.dump({"no_such_tensor": [0, 1]}, f)
    r = run([qmac, "quantize", fpath, "--ranges", rj, "-o", out], expect=2)
    if "no_such_tensor" not in r.stderr or os.path.exists(out):
        raise AssertionError(f"unknown range tensor: {r.stderr.strip()!r}")
    r = run([qmac, "quantize", os.path.join(EX, "model.onnx"), "--calib", os.path.join(EX, "data", "calib.npy"),
             "-o", out], expect=2)
    if "already quantized" not in r.stderr or os.path.exists(out):
        raise AssertionError(f"quantized model as input: {r.stderr.strip()!r}")
    return len(cases) + 2


def accuracy(qmac, model, backend="ref"):
    r = run([qmac, "eval", model, "--data", os.path.join(EX, "data", "test_x.npy"), "--labels",
             os.path.join(EX, "data", "test_y.npy"), "--backend", backend])
    return float(re.search(r"accuracy ([0-9.]+)%", r.stdout).group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qmac", required=True)
    ap.add_argument("--nets", type=int, default=6)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    qmac = os.path.abspath(args.qmac)
    seed = args.seed if args.seed is not None else int(time.time()) % 100000
    print(f"test_quantize: seed {seed}")
    logging.getLogger().setLevel(logging.ERROR)
    fails = 0
    with tempfile.TemporaryDirectory(prefix="qmac-quant-") as work:
        calib = list(np.load(os.path.join(EX, "data", "calib.npy"))[:, None])
        tests = list(np.load(os.path.join(EX, "data", "test_x.npy"))[:100, None])
        rng = np.random.default_rng(seed)
        digits_opts = [{"act": "QInt8", "wt": "QInt8", "per_channel": True, "reduce_range": False, "act_sym": False},
                       {"act": "QUInt8", "wt": "QUInt8", "per_channel": False, "reduce_range": False,
                        "act_sym": False},
                       {"act": "QInt8", "wt": "QInt8", "per_channel": False, "reduce_range": True, "act_sym": True}]
        cases = [("digits", os.path.join(EX, "float.onnx"), "input", calib, tests, o) for o in digits_opts]
        for k in range(args.nets):
            model, shape, desc = gen_models._build_float_net(rng)
            path = os.path.join(work, f"net{k}.onnx")
            onnx.save(model, path)
            xs = [rng.normal(0, 1.5, size=shape).astype(np.float32) for _ in range(12)]
            cases.append((f"net{k} {desc}", path, "x", xs[:8], xs[8:], random_opts(rng)))
        for what, path, name, cal, tst, opts in cases:
            label = f"{what} {opts}"
            try:
                n = parity_case(qmac, path, name, cal, tst, opts, work, label)
                print(f"PASS parity {label}: {n} quantized tensors identical, ORT outputs identical")
            except AssertionError as e:
                fails += 1
                print(f"FAIL parity {e}")
        try:
            n = bad_inputs(qmac, work)
            print(f"PASS bad input: {n} cases exit 2 with the culprit named, no output file")
        except AssertionError as e:
            fails += 1
            print(f"FAIL bad input: {e}")
        f_acc = accuracy(qmac, os.path.join(EX, "float.onnx"))
        for method in ["minmax", "moving-average", "percentile", "entropy", "mse"]:
            out = os.path.join(work, f"{method}.onnx")
            run([qmac, "quantize", os.path.join(EX, "float.onnx"), "--calib", os.path.join(EX, "data", "calib.npy"),
                 "-o", out, "--per-channel", "--method", method])
            acc = accuracy(qmac, out)
            ok = method != "minmax" or acc >= f_acc - 1.0
            fails += not ok
            print(f"{'PASS' if ok else 'FAIL'} calibration {method}: accuracy {acc:.2f}% (float {f_acc:.2f}%)")
    print(f"test_quantize: {'all passed' if not fails else f'{fails} failed'} (seed {seed})")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())

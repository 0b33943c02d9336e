#!/usr/bin/env python3
"""make_example.py - build the bundled example: a small int8 CNN for scikit-learn's 8x8 digits.

    .venv/bin/python scripts/make_example.py [--out examples/digits] [--epochs 20]

1. Trains a float CNN in pure numpy on sklearn.datasets.load_digits (1797 8x8 images bundled
   with scikit-learn; no download), fixed seeds:
       input [1,1,8,8] -> Conv 3x3x8 pad 1 -> Relu -> Conv 3x3x16 stride 2 pad 1 -> Relu
                       -> Flatten (256) -> Gemm 10 -> logits [1,10]
2. Exports it with onnx.helper (opset 13; input "input", output "logits").
3. Quantizes it with onnxruntime.quantization.quantize_static: QDQ format, int8 activations and
   weights, per-channel weights, MinMax calibration over 256 training images.
4. Writes OUT/model.onnx (the quantized model), OUT/inputs/NN.npy (one test image of each digit,
   float32 [1,1,8,8]), OUT/labels.json, OUT/expected/NN/logits.npy (onnxruntime's output for each
   input, CPU provider, default graph optimizations, one thread), and prints the accuracies
   (float numpy, float ORT, quantized ORT) that examples/digits/README.md quotes.
5. Cross-checks ORT's quantized outputs against an independent integer emulation of the graph
   (docs: /work/shared/SEMANTICS.md rule C): int32 accumulation, float32 requantization,
   round-half-even. A mismatch means ORT's numbers are not what an exact integer engine
   computes (e.g. the vpmaddubsw saturation on x86 without VNNI) and the script fails.

The training uses float64 numpy with BLAS matmuls, so a different BLAS/CPU can change the last
bits of the trained weights; the committed files are the reference, regenerate only on purpose.
"""
import argparse
import json
import math
import os
import platform
import shutil
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                      QuantType, quantize_static)
from sklearn.datasets import load_digits

SEED = 1234
N_CALIB = 256
OPSET = 13
IR_VERSION = 8


# --------------------------------------------------------------------------------------------
# data

def load_data():
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = d.target.astype(np.int64)
    rng = np.random.default_rng(SEED)
    perm = rng.permutation(len(x))
    n_test = len(x) // 5
    test, train = perm[:n_test], perm[n_test:]
    return x[train], y[train], x[test], y[test]


# --------------------------------------------------------------------------------------------
# numpy CNN (NCHW), float64 for training

def im2col(x, k, stride, pad):
    n, c, h, w = x.shape
    oh = (h + 2 * pad - k) // stride + 1
    ow = (w + 2 * pad - k) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cols = np.empty((n, c, k, k, oh, ow), x.dtype)
    for i in range(k):
        for j in range(k):
            cols[:, :, i, j] = xp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
    return cols.reshape(n, c * k * k, oh * ow), oh, ow


def col2im(dcols, xshape, k, stride, pad, oh, ow):
    n, c, h, w = xshape
    dxp = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dcols.dtype)
    d = dcols.reshape(n, c, k, k, oh, ow)
    for i in range(k):
        for j in range(k):
            dxp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += d[:, :, i, j]
    return dxp[:, :, pad:pad + h, pad:pad + w]


def conv_fwd(x, w, b, stride, pad):
    oc, _, k, _ = w.shape
    cols, oh, ow = im2col(x, k, stride, pad)
    out = np.einsum("ok,nkp->nop", w.reshape(oc, -1), cols) + b[None, :, None]
    return out.reshape(x.shape[0], oc, oh, ow), (cols, oh, ow)


def conv_bwd(dout, x, w, cache, stride, pad):
    cols, oh, ow = cache
    oc, _, k, _ = w.shape
    d = dout.reshape(dout.shape[0], oc, -1)
    dw = np.einsum("nop,nkp->ok", d, cols).reshape(w.shape)
    db = d.sum(axis=(0, 2))
    dcols = np.einsum("ok,nop->nkp", w.reshape(oc, -1), d)
    return col2im(dcols, x.shape, k, stride, pad, oh, ow), dw, db


def init_params(rng):
    def he(shape, fan_in):
        return rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
    return {
        "w1": he((8, 1, 3, 3), 9), "b1": np.zeros(8),
        "w2": he((16, 8, 3, 3), 72), "b2": np.zeros(16),
        "w3": he((10, 256), 256), "b3": np.zeros(10),
    }


def forward(p, x, keep=False):
    z1, c1 = conv_fwd(x, p["w1"], p["b1"], 1, 1)
    a1 = np.maximum(z1, 0)
    z2, c2 = conv_fwd(a1, p["w2"], p["b2"], 2, 1)
    a2 = np.maximum(z2, 0)
    f = a2.reshape(len(x), -1)
    logits = f @ p["w3"].T + p["b3"]
    if keep:
        return logits, (x, z1, c1, a1, z2, c2, a2, f)
    return logits


def loss_and_grads(p, x, y):
    logits, (x, z1, c1, a1, z2, c2, a2, f) = forward(p, x, keep=True)
    m = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - m)
    prob = e / e.sum(axis=1, keepdims=True)
    n = len(x)
    loss = -np.log(prob[np.arange(n), y] + 1e-12).mean()
    dl = prob
    dl[np.arange(n), y] -= 1.0
    dl /= n
    g = {"w3": dl.T @ f, "b3": dl.sum(axis=0)}
    da2 = (dl @ p["w3"]).reshape(a2.shape)
    dz2 = da2 * (z2 > 0)
    da1, g["w2"], g["b2"] = conv_bwd(dz2, a1, p["w2"], c2, 2, 1)
    dz1 = da1 * (z1 > 0)
    _, g["w1"], g["b1"] = conv_bwd(dz1, x, p["w1"], c1, 1, 1)
    return loss, g


def train(xtr, ytr, epochs, rng):
    p = init_params(rng)
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(val) for k, val in p.items()}
    lr, b1, b2, eps, t = 3e-3, 0.9, 0.999, 1e-8, 0
    x64 = xtr.astype(np.float64)
    for ep in range(epochs):
        perm = rng.permutation(len(x64))
        total = 0.0
        for s in range(0, len(perm), 32):
            idx = perm[s:s + 32]
            loss, g = loss_and_grads(p, x64[idx], ytr[idx])
            total += loss * len(idx)
            t += 1
            for k in p:
                m[k] = b1 * m[k] + (1 - b1) * g[k]
                v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
                mh = m[k] / (1 - b1 ** t)
                vh = v[k] / (1 - b2 ** t)
                p[k] -= lr * mh / (np.sqrt(vh) + eps)
        print(f"  epoch {ep + 1:2d}/{epochs}: loss {total / len(perm):.4f}")
    return {k: val.astype(np.float32) for k, val in p.items()}


# --------------------------------------------------------------------------------------------
# ONNX export and quantization

def export_float(p, path):
    inits = [numpy_helper.from_array(p[k], k) for k in ("w1", "b1", "w2", "b2", "w3", "b3")]
    nodes = [
        helper.make_node("Conv", ["input", "w1", "b1"], ["conv1"], name="conv1", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("Relu", ["conv1"], ["relu1"], name="relu1"),
        helper.make_node("Conv", ["relu1", "w2", "b2"], ["conv2"], name="conv2", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["conv2"], ["relu2"], name="relu2"),
        helper.make_node("Flatten", ["relu2"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "w3", "b3"], ["logits"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "digits_cnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="qmac scripts/make_example.py")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    onnx.save(model, path)


class DigitsReader(CalibrationDataReader):
    def __init__(self, images):
        self.it = iter([{"input": img[None]} for img in images])

    def get_next(self):
        return next(self.it, None)


def cpu_vnni():
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return "(CPU flags unknown)"
    has = any(k in flags.split() for k in ("avx512_vnni", "avx_vnni"))
    return "with VNNI" if has else "without VNNI"


def session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def run_all(sess, x):
    return np.concatenate([sess.run(None, {"input": img[None]})[0] for img in x])


# --------------------------------------------------------------------------------------------
# independent integer emulation of the QDQ model (rule C of SEMANTICS.md)

def quantize_multiplier(m):
    """TFLite QuantizeMultiplier: m ~= qm * 2^(shift - 31), qm in [2^30, 2^31)."""
    if m == 0.0:
        return 0, 0
    q, shift = math.frexp(m)
    qm = int(math.floor(abs(q) * (1 << 31) + 0.5)) * (1 if q >= 0 else -1)  # ties away from zero
    if qm == 1 << 31:
        qm //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return qm, shift


def requant_fixed(x, qm, shift, rule):
    """Integer requantization of int64 array x (values in int32 range) by (qm, shift):
    rule "tflite" = MultiplyByQuantizedMultiplier (two roundings), "single" = one rounding."""
    if rule == "single":
        ts = 31 - shift
        return (x * qm + (1 << (ts - 1))) >> ts
    left, right = max(shift, 0), max(-shift, 0)
    ab = (x << left) * qm
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    num = ab + nudge
    hi = np.where(num >= 0, num >> 31, -((-num) >> 31))  # C division: truncate toward zero
    mask = (1 << right) - 1
    rem = hi & mask
    thr = (mask >> 1) + (hi < 0)
    return (hi >> right) + (rem > thr)


def emulate_qdq(model_path, x, rule="onnxrt"):
    """Run the QDQ graph the way an integer engine does, with requantization rule "onnxrt"
    (ORT's float32 multiply, round half even), "tflite" or "single" (SEMANTICS.md rules C, A, B).
    Returns the float32 logits for each image, or raises if the graph has an unexpected shape."""
    m = onnx.load(model_path)
    g = m.graph
    consts = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    for n in g.node:
        if n.op_type == "Constant":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    producer = {o: n for n in g.node for o in n.output}

    def dq_const(name):
        """(int values, scale, zp, axis) of a DequantizeLinear of a constant."""
        n = producer[name]
        assert n.op_type == "DequantizeLinear", name
        q = consts[n.input[0]]
        s = consts[n.input[1]]
        z = consts[n.input[2]] if len(n.input) > 2 and n.input[2] else np.zeros_like(s, np.int8)
        return q, s.astype(np.float32), z.astype(np.int32)

    # quantized activations travel as (int32 values, scale, zp, dtype)
    def quantize(v, s, z, dt):
        info = np.iinfo(dt)
        return np.clip(np.rint(v / s) + z, info.min, info.max).astype(np.int32)

    def requant(acc, bias, sx, sw, sy, zy, dt, lo=None):
        info = np.iinfo(dt)
        qmin = info.min if lo is None else max(info.min, lo)
        chan = (1, -1) + (1,) * (acc.ndim - 2)
        if rule == "onnxrt":
            scale = ((np.float32(sx) * sw.astype(np.float32)) / np.float32(sy)).astype(np.float32)
            f = (acc + bias).astype(np.float32) * scale.reshape(chan)
            f = np.clip(f, np.float32(qmin - zy), np.float32(info.max - zy))
            return (np.rint(f).astype(np.int32) + zy).astype(np.int32)
        x = (acc + bias).astype(np.int64)
        y = np.empty_like(x)
        for c in range(x.shape[1]):
            qm, shift = quantize_multiplier(float(sx) * float(sw.reshape(-1)[c]) / float(sy))
            y[:, c] = requant_fixed(x[:, c], qm, shift, rule)
        return np.clip(y + zy, qmin, info.max).astype(np.int32)

    def conv_int(xq, zx, wq, stride, pad):
        oc, ic, k, _ = wq.shape
        xs = xq.astype(np.int64) - zx
        cols, oh, ow = im2col(xs, k, stride, pad)  # zero padding of (x - zx) == padding with zx
        acc = np.einsum("ok,nkp->nop", wq.reshape(oc, -1).astype(np.int64), cols)
        return acc.reshape(xq.shape[0], oc, oh, ow)

    nodes = [n for n in g.node if n.op_type != "Constant"]

    def user(name):
        us = [n for n in nodes if name in n.input]
        assert len(us) <= 1, f"emulator: {name} has {len(us)} consumers"
        return us[0] if us else None

    def qparams(qnode):
        s = consts[qnode.input[1]].astype(np.float32)
        z = consts[qnode.input[2]]
        return s, int(z), z.dtype.type

    outs = []
    for img in x:
        n = user("input")
        assert n.op_type == "QuantizeLinear", n.op_type
        s, z, dt = qparams(n)
        val = (quantize(img[None].astype(np.float32), s, z, dt), s, z, dt)
        cur = n.output[0]
        while True:
            dq = user(cur)  # each quantized activation is dequantized into the next op
            assert dq.op_type == "DequantizeLinear", dq.op_type
            op = user(dq.output[0])
            if op is None:  # graph output: float32 (q - zp) * scale
                q, s, z, _ = val
                outs.append((q - z).astype(np.float32) * np.float32(s))
                break
            nxt = user(op.output[0])
            relu = nxt.op_type == "Relu"
            if relu:
                nxt = user(nxt.output[0])
            assert nxt.op_type == "QuantizeLinear", nxt.op_type
            sy, zy, dt = qparams(nxt)
            q, sx, zx, _ = val
            if op.op_type in ("Conv", "Gemm"):
                wq, ws, wz = dq_const(op.input[1])
                assert not np.any(wz), "per-channel weights must have zero point 0"
                bq, _, _ = dq_const(op.input[2])
                if op.op_type == "Conv":
                    at = {a.name: helper.get_attribute_value(a) for a in op.attribute}
                    acc = conv_int(q, zx, wq, at["strides"][0], at["pads"][0])
                else:
                    acc = (q.astype(np.int64) - zx) @ wq.astype(np.int64).T
                bias = bq.astype(np.int64).reshape((1, -1) + (1,) * (acc.ndim - 2))
                val = (requant(acc, bias, sx, ws, sy, zy, dt, zy if relu else None), sy, zy, dt)
            elif op.op_type == "Flatten" and not relu:
                # data movement: requantized with the same parameters, the integers pass through
                assert sy == sx and zy == zx, "Flatten changes quantization parameters"
                val = (q.reshape(q.shape[0], -1), sx, zx, dt)
            else:
                raise RuntimeError(f"emulator: unexpected op {op.op_type}")
            cur = nxt.output[0]
    return np.concatenate(outs)


# --------------------------------------------------------------------------------------------

README = """# digits: a small int8 CNN (bundled example)

A real, trained convolutional network that classifies the 8x8 handwritten digits of
scikit-learn's `load_digits` data set, quantized to int8 by ONNX Runtime. It is what
`make demo` runs and what `tests/example/check_example.py` checks: qmac's outputs must equal
ONNX Runtime's bit for bit.

Everything here is generated by `scripts/make_example.py` (do not edit by hand):

| file | content |
|---|---|
| `model.onnx` | the int8 QDQ model ({model_bytes} bytes), input `input` float32 [1,1,8,8], output `logits` float32 [1,10] |
| `float.onnx` | the float32 model it was quantized from (`qmac quantize` starts here) |
| `data/calib.npy` | the {n_calib} calibration images given to `quantize_static`, float32 [{n_calib},1,8,8] |
| `data/test_x.npy`, `data/test_y.npy` | all {test_images} test images, float32 [{test_images},1,8,8], and their digits (int64), for `qmac eval` |
| `inputs/NN.npy` | {n_inputs} test images (one per digit, not seen in training), float32 [1,1,8,8], pixels in [0, 1] (see below) |
| `labels.json` | the true digit of each input, `{{"NN": digit}}` |
| `expected/NN/logits.npy` | ONNX Runtime's output for `inputs/NN.npy` |

## The network

```
input [1,1,8,8] -> Conv 3x3, 8 filters, pad 1      -> Relu
                -> Conv 3x3, 16 filters, stride 2, pad 1 -> Relu
                -> Flatten (256) -> Gemm (fully connected, 10) -> logits [1,10]
```

## How it was made

1. `load_digits` (1797 images, bundled with scikit-learn, no download), pixels scaled to [0, 1],
   split with a fixed seed ({seed}) into {train_images} training and {test_images} test images.
2. Trained in pure numpy (float64, Adam, batch 32, {epochs} epochs, He initialization, fixed seed).
3. Exported with `onnx.helper` (opset {opset}) and quantized with
   `onnxruntime.quantization.quantize_static`: QDQ format, int8 activations, int8 symmetric
   per-channel weights, int32 biases, MinMax calibration over {n_calib} training images.
   {relu_note}
4. `expected/` holds ONNX Runtime {onnxruntime}'s outputs (CPU provider, default graph
   optimizations, one thread), produced on {machine} {vnni}. The script also runs an
   independent integer emulation of the graph (int32 accumulation, float32 requantization with
   round-half-even: rule C of the project's semantics notes) and refuses to write the example
   unless it equals ONNX Runtime's outputs bit for bit on all {test_images} test images.

## Which inputs, and why

For each digit, the bundled input is the first test image of that digit that the int8 model
classifies correctly and whose logits change when the convolutions and the fully connected
layer are requantized with TFLite's rule (`--requant tflite`, two roundings) instead of ONNX
Runtime's (`--requant onnxrt`, the default for ONNX models). {inputs_sensitive_tflite} of the {n_inputs}
inputs are such images ({sensitive_tflite} of the {test_images} test images are), so the bit-exact check fails if qmac
applies the wrong rule. The single-rounding rule (`--requant single`) gives the same logits as
ONNX Runtime on {single_same} of the {test_images} test images for this model, so this example does not tell those
two apart.

## Accuracy on the {test_images} test images (ONNX Runtime)

| model | top-1 accuracy | errors |
|---|---|---|
| float32 | {float_pct:.2f}% | {n_err_f} |
| int8 (this `model.onnx`) | {int8_pct:.2f}% | {n_err_q} |

The int8 model picks the same digit as the float model on {agree_pct:.2f}% of the test images.

## Run it

```
make demo                                          # all inputs, table of predictions
build/qmac run examples/digits/model.onnx --input examples/digits/inputs/03.npy \\
    --output /tmp/out --backend ref                # writes /tmp/out/logits.npy
.venv/bin/python tests/example/check_example.py --qmac build/qmac
```

Regenerate with `.venv/bin/python scripts/make_example.py` (numpy {numpy}, onnx {onnx},
onnxruntime {onnxruntime}). Training uses BLAS matmuls, so another machine may produce
slightly different weights; the committed files are the reference.
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "examples", "digits"))
    ap.add_argument("--epochs", type=int, default=20)
    args = ap.parse_args()
    out = os.path.normpath(args.out)

    rng = np.random.default_rng(SEED)
    xtr, ytr, xte, yte = load_data()
    print(f"digits: {len(xtr)} training and {len(xte)} test images (seed {SEED})")
    params = train(xtr, ytr, args.epochs, rng)
    acc_np = float((forward(params, xte.astype(np.float64)).argmax(1) == yte).mean())
    print(f"float accuracy (numpy): {acc_np:.4f}")

    tmp = tempfile.mkdtemp(prefix="qmac-example-")
    try:
        fpath = os.path.join(tmp, "float.onnx")
        qpath = os.path.join(tmp, "model.onnx")
        export_float(params, fpath)
        fsess = session(fpath)
        flog = run_all(fsess, xte)
        ref = forward(params, xte.astype(np.float64))
        assert np.allclose(flog, ref, atol=1e-4), "float ONNX model disagrees with numpy"
        acc_fort = float((flog.argmax(1) == yte).mean())
        print(f"float accuracy (onnxruntime): {acc_fort:.4f}")

        calib = xtr[np.random.default_rng(SEED + 1).permutation(len(xtr))[:N_CALIB]]
        quantize_static(fpath, qpath, DigitsReader(calib), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
        qm = onnx.load(qpath)
        qm.producer_name = "qmac scripts/make_example.py (onnxruntime quantize_static)"
        qm.doc_string = ("8x8 digits CNN, int8 QDQ (per-channel weights). "
                         "Generated by scripts/make_example.py.")
        onnx.save(qm, qpath)
        qsess = session(qpath)
        qlog = run_all(qsess, xte)
        acc_q = float((qlog.argmax(1) == yte).mean())
        print(f"int8 accuracy (onnxruntime): {acc_q:.4f}")
        agree = float((qlog.argmax(1) == flog.argmax(1)).mean())
        print(f"int8 vs float top-1 agreement: {agree:.4f}")

        emu = emulate_qdq(qpath, xte)
        same = np.array_equal(emu.view(np.uint32), qlog.view(np.uint32))
        n_diff = int((emu.view(np.uint32) != qlog.view(np.uint32)).sum())
        print(f"integer emulation (rule C) vs onnxruntime on {len(xte)} test images: "
              f"{'bit-exact' if same else f'{n_diff} logits differ'}")
        if not same:
            print("make_example: onnxruntime's int8 outputs are not exact integer arithmetic here "
                  "(CPU without VNNI?); not writing the example")
            return 1

        # One test image per digit, in digit order: the first one the int8 model classifies
        # correctly whose logits under TFLite's requantization rule differ from ORT's, so the
        # bundled check fails if qmac applied the wrong rule (first correct one if none).
        emu_tfl = emulate_qdq(qpath, xte, "tflite")
        emu_single = emulate_qdq(qpath, xte, "single")
        sens = (emu_tfl.view(np.uint32) != qlog.view(np.uint32)).any(axis=1)
        n_sens_single = int((emu_single.view(np.uint32) != qlog.view(np.uint32)).any(axis=1).sum())
        print(f"test images whose logits change under rule tflite: {int(sens.sum())}, "
              f"under rule single: {n_sens_single}")
        right = qlog.argmax(1) == yte
        picks = []
        for d in range(10):
            cand = np.flatnonzero((yte == d) & right & sens)
            picks.append(int(cand[0]) if cand.size else int(np.flatnonzero((yte == d) & right)[0]))
        n_pick_sens = int(sens[picks].sum())
        for sub in ("inputs", "expected"):
            shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
        os.makedirs(os.path.join(out, "inputs"))
        shutil.copy(qpath, os.path.join(out, "model.onnx"))
        fm = onnx.load(fpath)
        fm.producer_name = "qmac scripts/make_example.py"
        fm.doc_string = "8x8 digits CNN, float32 (the model model.onnx was quantized from)."
        onnx.save(fm, os.path.join(out, "float.onnx"))
        os.makedirs(os.path.join(out, "data"), exist_ok=True)
        np.save(os.path.join(out, "data", "calib.npy"), calib.astype(np.float32))
        np.save(os.path.join(out, "data", "test_x.npy"), xte.astype(np.float32))
        np.save(os.path.join(out, "data", "test_y.npy"), yte.astype(np.int64))
        labels = {}
        for k, i in enumerate(picks):
            nn = f"{k:02d}"
            img = xte[i][None].astype(np.float32)
            np.save(os.path.join(out, "inputs", nn + ".npy"), img)
            labels[nn] = int(yte[i])
            res = qsess.run(None, {"input": img})
            os.makedirs(os.path.join(out, "expected", nn))
            for o, v in zip(qsess.get_outputs(), res):
                np.save(os.path.join(out, "expected", nn, o.name + ".npy"), v)
        with open(os.path.join(out, "labels.json"), "w") as f:
            json.dump(labels, f, indent=2, sort_keys=True)
            f.write("\n")
        stats = {
            "float_accuracy_numpy": acc_np, "float_accuracy_ort": acc_fort, "int8_accuracy_ort": acc_q,
            "int8_float_agreement": agree, "test_images": len(xte), "train_images": len(xtr),
            "epochs": args.epochs, "seed": SEED, "onnxruntime": ort.__version__, "onnx": onnx.__version__,
            "numpy": np.__version__, "machine": platform.machine(),
            "model_bytes": os.path.getsize(os.path.join(out, "model.onnx")),
            "sensitive_tflite": int(sens.sum()), "sensitive_single": n_sens_single,
            "inputs_sensitive_tflite": n_pick_sens,
        }
        print(json.dumps(stats, indent=2))
        relus = [n for n in qm.graph.node if n.op_type == "Relu"]
        if relus:
            relu_note = "The Relu nodes stay in the graph between each Conv and its QuantizeLinear."
        else:
            zps = [int(numpy_helper.to_array(i)) for i in qm.graph.initializer
                   if i.name in ("relu1_zero_point", "relu2_zero_point")]
            relu_note = ("The quantizer folds each Relu into the range of the preceding convolution's "
                         f"output\n   (zero points {zps}), so no Relu node appears in `model.onnx`.")
        with open(os.path.join(out, "README.md"), "w") as f:
            f.write(README.format(**stats, relu_note=relu_note, vnni=cpu_vnni(),
                                  single_same=len(xte) - n_sens_single, n_inputs=len(picks), n_calib=N_CALIB, opset=OPSET,
                                  float_pct=100 * acc_fort, int8_pct=100 * acc_q, agree_pct=100 * agree,
                                  n_err_f=round((1 - acc_fort) * len(xte)),
                                  n_err_q=round((1 - acc_q) * len(xte))))
        print(f"wrote {out}: model.onnx ({stats['model_bytes']} bytes), {len(picks)} inputs, expected outputs")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

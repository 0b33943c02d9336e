#!/usr/bin/env python3
"""quant_ref.py - reference numbers for tests/unit/test_quant.c, produced by the real frameworks.

  .venv/bin/python tests/oracles/quant_ref.py

Prints, as C literals (float32 as exact hex floats):
  1. onnxruntime.quantization.quant_utils.compute_scale_zp for a set of ranges (the ORT rule of
     qmac_choose_qparams), including a case where the zero point depends on the scale being kept
     in float64 while the zero point is computed;
  2. ONNX Runtime QuantizeLinear (CPU EP) on ties, NaN, +-inf and on inputs where x / scale and
     x * (1 / scale) round to different integers (proof that ORT divides).
The C test hard-codes these numbers; rerun this script after an onnxruntime upgrade.
"""
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper
from onnxruntime.quantization.quant_utils import compute_scale_zp, get_qmin_qmax_for_qType


def f32hex(v):
    v = float(np.float32(v))
    if np.isnan(v):
        return "NAN"
    if np.isinf(v):
        return "INFINITY" if v > 0 else "-INFINITY"
    return float.hex(v) + "f"


QT = {"int8": TensorProto.INT8, "uint8": TensorProto.UINT8, "int16": TensorProto.INT16}


def ort_params(rmin, rmax, qtype, symmetric):
    qmin, qmax = get_qmin_qmax_for_qType(QT[qtype], reduce_range=False, symmetric=symmetric)
    zp, scale = compute_scale_zp(np.array(rmin, dtype=np.float32), np.array(rmax, dtype=np.float32), qmin, qmax,
                                 symmetric=symmetric)
    return int(qmin), int(qmax), float(scale), int(zp)


def section_params():
    print("/* compute_scale_zp: {rmin, rmax, qmin, qmax, symmetric, scale, zp} */")
    cases = [
        (-1.0, 2.0, "uint8", False),
        (-0.3, 0.7, "int8", False),
        (-0.5, 0.25, "int8", True),
        (-0.5, 0.25, "uint8", True),
        (0.5, 3.0, "uint8", False),
        (-3.0, -0.5, "int8", False),
        (0.0, 0.0, "uint8", False),
        (-1e-40, 1e-40, "int8", False),
        (-0.5, 254.5, "uint8", False),
        (-2.5, 252.5, "uint8", False),
        (-1e-8, 1.0, "uint8", False),
        (-1.0, 3.0, "int16", False),
        (-123.456, 0.001, "int8", False),
    ]
    # A range whose zero point changes if the scale is rounded to float32 before computing it.
    rng = np.random.default_rng(7)
    for _ in range(200000):
        lo = np.float32(-rng.uniform(0.01, 10.0))
        hi = np.float32(rng.uniform(0.01, 10.0))
        qmin, qmax, s, z = ort_params(lo, hi, "uint8", False)
        s64 = float(np.float32(hi) - np.float32(lo)) / 255.0
        z32 = int(np.round(0.0 - float(lo) / float(np.float32(s64))))
        if z32 != z:
            cases.append((float(lo), float(hi), "uint8", False))
            break
    for lo, hi, qt, sym in cases:
        qmin, qmax, s, z = ort_params(lo, hi, qt, sym)
        print(f"    {{{f32hex(lo)}, {f32hex(hi)}, {qmin}, {qmax}, {int(sym)}, {f32hex(s)}, {z}}},")


def run_quantize_linear(x, scale, zp, qt):
    np_t = {TensorProto.INT8: np.int8, TensorProto.UINT8: np.uint8}[qt]
    g = helper.make_graph(
        [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [len(x)])],
        [helper.make_tensor_value_info("y", qt, [len(x)])],
        [helper.make_tensor("s", TensorProto.FLOAT, [], [scale]), helper.make_tensor("z", qt, [], [zp])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    y = sess.run(None, {"x": np.array(x, dtype=np.float32)})[0]
    assert y.dtype == np_t
    return [int(v) for v in y]


def section_quantize_linear():
    print("/* ORT QuantizeLinear: {x, scale, zp, is_uint8, y} */")
    rows = []
    specials = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, float("nan"), float("inf"), float("-inf"), 1e10, -1e10, 127.5,
                -128.5]
    for qt, zp in ((TensorProto.INT8, 0), (TensorProto.INT8, 3), (TensorProto.UINT8, 100)):
        ys = run_quantize_linear(specials, 1.0, zp, qt)
        rows += [(x, 1.0, zp, qt == TensorProto.UINT8, y) for x, y in zip(specials, ys)]
    # inputs where float32 x / s and x * (1/s) round differently
    s = np.float32(0.1)
    inv = np.float32(1.0) / s
    found = []
    rng = np.random.default_rng(11)
    while len(found) < 4:
        x = np.float32(rng.integers(-1200, 1200) * 0.05)
        a = np.round(np.float32(x / s))
        b = np.round(np.float32(x * inv))
        if a != b and abs(a) < 127:
            found.append(float(x))
    ys = run_quantize_linear(found, float(s), 0, TensorProto.INT8)
    rows += [(x, float(s), 0, False, y) for x, y in zip(found, ys)]
    for x, sc, zp, u8, y in rows:
        print(f"    {{{f32hex(x)}, {f32hex(sc)}, {zp}, {int(u8)}, {y}}},")


def section_tflite_weights():
    """Not a framework run (TensorFlow is not installed here): a numpy float32 transcription of
    tools/optimize SymmetricPerChannelQuantizeValues - q = round_half_away(w * (127 / absmax)) -
    searching weights where this differs from round_half_away(w / (absmax / 127))."""
    print("/* TFLite converter int8 weights, numpy float32: {absmax, w, q_mul (converter), q_div} */")
    rng = np.random.default_rng(5)
    found = 0
    while found < 3:
        absmax = np.float32(rng.uniform(0.1, 3.0))
        w = np.float32(rng.uniform(-1.0, 1.0) * absmax)
        inv = np.float32(np.float32(127.0) / absmax)
        s = np.float32(absmax / np.float32(127.0))

        def away(v):
            return float(np.sign(v) * np.floor(np.abs(v) + np.float32(0.5)))

        q_mul = away(np.float32(w * inv))
        q_div = away(np.float32(w / s))
        if q_mul != q_div:
            print(f"    {{{f32hex(absmax)}, {f32hex(w)}, {int(q_mul)}, {int(q_div)}}},")
            found += 1


if __name__ == "__main__":
    print(f"/* onnxruntime {ort.__version__}, numpy {np.__version__} */")
    section_params()
    section_quantize_linear()
    section_tflite_weights()

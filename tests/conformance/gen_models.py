#!/usr/bin/env python3
"""gen_models.py - random quantized ONNX models for the ORT conformance suite.

Library:   case = generate_case(seed, allow_u8s8=True)
           -> Case(seed, category, summary, model (onnx.ModelProto), inputs (list of np.ndarray,
              in graph-input order), sat (per output: (lo, hi) values that count as saturated,
              or None))
CLI:       gen_models.py --seed S [--out DIR] [--no-u8s8] [--category C]
           prints the case summary; with --out writes DIR/model.onnx and DIR/input_<i>.npy.

Everything is derived from the seed alone (numpy Generator), so a seed reproduces a case on any
machine with the same numpy/onnx/onnxruntime versions and the same --no-u8s8 setting.

Categories (single op unless noted):
  qlinearconv, qlinearmatmul, qlinearadd, qlinearavgpool, qlinearglobalavgpool, maxpool,
  quantizelinear, dequantizelinear, convinteger, matmulinteger, qlinearconcat,
  qdq_net (float net -> onnxruntime.quantization.quantize_static, QDQ format),
  qop_net (same, QOperator format).
Scales are derived from the values the generated inputs actually produce (like calibration), so
outputs use the quantized range without being mostly saturated.
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import tempfile
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper
from onnx import numpy_helper as nph

OPSET = 13
MS = "com.microsoft"
IR_VERSION = 8

# name -> (numpy dtype, onnx elem type, qmin, qmax)
QT = {
    "u8": (np.uint8, TensorProto.UINT8, 0, 255),
    "s8": (np.int8, TensorProto.INT8, -128, 127),
}

CATEGORY_WEIGHTS = {
    "qlinearconv": 24,
    "qlinearmatmul": 11,
    "qlinearadd": 8,
    "qlinearavgpool": 7,
    "qlinearglobalavgpool": 5,
    "maxpool": 5,
    "quantizelinear": 6,
    "dequantizelinear": 4,
    "convinteger": 3,
    "matmulinteger": 3,
    "qlinearconcat": 3,
    "qdq_net": 14,
    "qop_net": 7,
}
CATEGORIES = list(CATEGORY_WEIGHTS)


@dataclass
class Case:
    seed: int
    category: str
    summary: str
    model: onnx.ModelProto
    inputs: list
    sat: list = field(default_factory=list)  # per graph output: (lo, hi) or None

    def input_names(self):
        inits = {i.name for i in self.model.graph.initializer}
        return [i.name for i in self.model.graph.input if i.name not in inits]

    def output_names(self):
        return [o.name for o in self.model.graph.output]


# --------------------------------------------------------------------------- helpers


def _init(name, value, dtype=None):
    arr = np.asarray(value, dtype=dtype)
    return nph.from_array(arr, name)


def _vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, None if shape is None else list(shape))


def _model(nodes, inputs, outputs, inits, ms=False, opset=OPSET):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=inits)
    ops = [helper.make_opsetid("", opset)]
    if ms:
        ops.append(helper.make_opsetid(MS, 1))
    m = helper.make_model(graph, opset_imports=ops, producer_name="qmac-conformance")
    m.ir_version = IR_VERSION
    return m


def _f32(x):
    return float(np.float32(x))


def _shape_str(shape):
    return "[" + ",".join(str(int(d)) for d in shape) + "]"


def rand_act_scale(rng):
    """A realistic activation scale (range / 255 for ranges of ~0.25 .. 50)."""
    r = rng.random()
    if r < 0.15:
        return _f32(2.0 ** int(rng.integers(-9, -2)))
    if r < 0.3:  # decimal scales: products land exactly on (or next to) .5 ties
        return _f32(rng.choice([0.1, 0.05, 0.02, 0.01, 0.2, 0.025, 0.04, 0.004, 0.002, 0.03, 0.06, 0.15]))
    return _f32(10 ** rng.uniform(-3.0, -0.7))


def rand_q_activations(rng, shape, qt, zp=None):
    """Integer activations around a zero point, the way real quantized tensors look."""
    dt, _, qmin, qmax = QT[qt]
    if zp is None:
        zp = rand_zp(rng, qt)
    mode = rng.choice(["normal", "uniform", "relu"], p=[0.55, 0.25, 0.20])
    if mode == "uniform":
        v = rng.integers(qmin, qmax + 1, size=shape)
    elif mode == "relu":
        sigma = rng.uniform(10, 90)
        v = np.rint(zp + np.abs(rng.normal(0, sigma, size=shape)))
    else:
        sigma = rng.uniform(8, 70)
        v = np.rint(zp + rng.normal(0, sigma, size=shape))
    return np.array(np.clip(v, qmin, qmax), dtype=dt), zp


def rand_zp(rng, qt):
    _, _, qmin, qmax = QT[qt]
    r = rng.random()
    if r < 0.2:
        return 0 if qt == "s8" else 128
    if r < 0.35:
        return qmin
    return int(rng.integers(qmin + 20, qmax - 19))


def qparams_from_values(rng, real, qt, symmetric=False):
    """Output scale / zero point from the real values the op produces (like min-max
    calibration), with a random tolerance so a few outputs may saturate."""
    _, _, qmin, qmax = QT[qt]
    real = np.asarray(real, dtype=np.float64).ravel()
    if real.size == 0:
        real = np.zeros(1)
    p = rng.choice([0.0, 0.0, 0.002, 0.01])
    lo, hi = np.quantile(real, [p, 1.0 - p]) if p > 0 else (real.min(), real.max())
    widen = rng.uniform(0.92, 1.35)
    lo = min(float(lo), 0.0) * widen
    hi = max(float(hi), 0.0) * widen
    if symmetric:
        a = max(abs(lo), abs(hi))
        lo, hi = -a, a
    if hi - lo < 1e-6:
        hi = lo + 1e-3
    scale = _f32((hi - lo) / (qmax - qmin))
    if symmetric:
        zp = 0 if qt == "s8" else 128
    else:
        zp = int(np.clip(np.rint(qmin - lo / scale), qmin, qmax))
    return scale, zp


def make_weights(rng, shape, wt, per_channel, axis, same_zp=True, symmetric=None):
    """Quantized weights. Returns (wq, scales (1-D, len = channels or 1), zps (same len))."""
    dt, _, qmin, qmax = QT[wt]
    nch = shape[axis] if per_channel else 1
    mode = rng.choice(["realistic", "random"], p=[0.75, 0.25])
    if symmetric is None:
        symmetric = wt == "s8" and rng.random() < 0.85
    if mode == "random":
        wq = rng.integers(qmin, qmax + 1, size=shape)
        scales = np.array([rand_act_scale(rng) * rng.uniform(0.05, 0.5) for _ in range(nch)], np.float32)
        if symmetric:
            zps = np.full(nch, 0 if wt == "s8" else 128)
        elif same_zp:
            zps = np.full(nch, rand_zp(rng, wt))
        else:
            zps = np.array([rand_zp(rng, wt) for _ in range(nch)])
        return wq.astype(dt), scales, zps.astype(dt)
    # realistic: float weights, quantized per channel (or tensor) from their range
    std = rng.uniform(0.02, 0.5)
    wf = rng.normal(0, std, size=shape)
    if per_channel:
        ch_scale = np.exp(rng.normal(0, 0.5, size=nch))
        bshape = [1] * len(shape)
        bshape[axis] = nch
        wf = wf * ch_scale.reshape(bshape)
        red = tuple(i for i in range(len(shape)) if i != axis)
        mins = np.minimum(wf.min(axis=red), 0)
        maxs = np.maximum(wf.max(axis=red), 0)
    else:
        mins = np.array([min(wf.min(), 0)])
        maxs = np.array([max(wf.max(), 0)])
    if symmetric:
        a = np.maximum(np.abs(mins), np.abs(maxs))
        a = np.where(a < 1e-8, 1e-3, a)
        if wt == "s8":
            scales = (a / 127.0).astype(np.float32)
            zps = np.zeros(nch, dtype=np.int64)
        else:
            scales = (2 * a / 255.0).astype(np.float32)
            zps = np.full(nch, 128)
    else:
        rngs = np.maximum(maxs - mins, 1e-3)
        scales = (rngs / (qmax - qmin)).astype(np.float32)
        zps = np.clip(np.rint(qmin - mins / scales), qmin, qmax).astype(np.int64)
        if same_zp and nch > 1:
            zps[:] = int(np.round(np.median(zps)))
    bshape = [1] * len(shape)
    bshape[axis] = nch
    s_b = scales.reshape(bshape) if per_channel else scales.reshape([1] * len(shape))
    z_b = zps.reshape(bshape) if per_channel else zps.reshape([1] * len(shape))
    lo = -127 if (symmetric and wt == "s8") else qmin
    wq = np.clip(np.rint(wf / s_b) + z_b, lo, qmax)
    return wq.astype(dt), scales, zps.astype(dt)


def _qparam_init(name, values, dt, per_channel):
    v = np.asarray(values)
    if per_channel:
        return _init(name, v.astype(dt))
    return _init(name, np.asarray(v.ravel()[0]).astype(dt))


# --------------------------------------------------------------------------- reference math


def _cdiv(a, b):
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def ort_same_pads(in_sz, k, s, auto_pad, clamp):
    """ORT's SAME_UPPER / SAME_LOWER (dilation must be 1): out = ceil(in/s),
    pad_needed = (out - 1) * s + k - in, head = pad_needed / 2 (UPPER) or (pad_needed + 1) / 2
    (LOWER) with C truncation, tail = the rest. pad_needed is negative when k < s: ORT's pooling
    kernels (pool_attributes.h) keep the negative head, which shifts every window into the image;
    QLinearConv behaves as if pad_needed were clamped at 0 (clamp=True). Both verified against
    onnxruntime 1.23.2 by ort_model.py."""
    out = -(-in_sz // s)
    need = (out - 1) * s + k - in_sz
    if clamp:
        need = max(0, need)
    head = _cdiv(need, 2) if auto_pad == "SAME_UPPER" else _cdiv(need + 1, 2)
    return out, head, need - head


def conv_out_and_pads(in_sz, k, s, d, auto_pad, pads_b, pads_e):
    """Resolve output size and begin/end pads for one spatial dim (ORT's rules)."""
    keff = (k - 1) * d + 1
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        return ort_same_pads(in_sz, keff, s, auto_pad, clamp=True)
    if auto_pad == "VALID":
        return (in_sz - keff) // s + 1, 0, 0
    return (in_sz + pads_b + pads_e - keff) // s + 1, pads_b, pads_e


def conv_acc(xq, xzp, wq, wzp, strides, dils, pads_b, pads_e, outs, group):
    """int64 accumulators of a quantized N-D conv (NCHW), zero points subtracted,
    out-of-image taps padded with x's zero point (= skipped)."""
    x = xq.astype(np.int64) - int(xzp)
    w = wq.astype(np.int64) - np.asarray(wzp, np.int64).reshape([-1] + [1] * (wq.ndim - 1))
    nsp = xq.ndim - 2
    for i in range(nsp):  # a negative begin pad (ORT SAME with k < s) drops leading rows
        if pads_b[i] < 0:
            x = x[(slice(None),) * (2 + i) + (slice(-pads_b[i], None),)]
    pads_b = [max(0, p) for p in pads_b]
    padw = [(0, 0), (0, 0)] + [(pads_b[i], max(0, pads_e[i]) + 64) for i in range(nsp)]
    xp = np.pad(x, padw)  # zero after zp subtraction == zp padding
    N, C = xq.shape[:2]
    M = wq.shape[0]
    cg, mg = C // group, M // group
    out = np.zeros([N, M] + list(outs), np.int64)
    ks = wq.shape[2:]
    for kidx in np.ndindex(*ks):
        sl = [slice(None), slice(None)]
        for i in range(nsp):
            st = kidx[i] * dils[i]
            sl.append(slice(st, st + strides[i] * (outs[i] - 1) + 1, strides[i]))
        patch = xp[tuple(sl)]  # N, C, *outs
        for g in range(group):
            pg = patch[:, g * cg:(g + 1) * cg]
            wg = w[g * mg:(g + 1) * mg, :, *kidx]  # mg, cg
            out[:, g * mg:(g + 1) * mg] += np.einsum("nc...,mc->nm...", pg, wg)
    return out


# --------------------------------------------------------------------------- QLinearConv / ConvInteger


def _conv_geometry(rng, integer_only=False):
    """Random conv geometry. Returns dict with shapes/attrs, or None to retry."""
    layout = rng.choice(["generic", "grouped", "depthwise", "symm", "pointwise", "conv1d"],
                        p=[0.34, 0.12, 0.18, 0.14, 0.12, 0.10])
    nsp = 1 if layout == "conv1d" else 2
    N = int(rng.choice([1, 1, 1, 2, 3]))
    group = 1
    if layout in ("generic", "conv1d", "pointwise"):
        C, M = int(rng.integers(1, 7)), int(rng.integers(1, 9))
    elif layout == "grouped":
        group = int(rng.integers(2, 4))
        C, M = group * int(rng.integers(1, 4)), group * int(rng.integers(1, 4))
    elif layout == "depthwise":
        C = int(rng.choice([1, 2, 3, 4, 5, 8, 16, 16, 32]))
        mult = int(rng.choice([1, 1, 1, 2, 3]))
        group, M = C, C * mult
    else:  # symm: shapes that let ORT take its symmetric (ConvSym) kernels on x86
        C, M = int(rng.choice([4, 8, 12])), int(rng.choice([16, 24, 32]))
    sp = [int(rng.integers(1, 13)) for _ in range(nsp)]
    if layout == "conv1d":
        sp = [int(rng.integers(1, 25))]
    if layout == "pointwise":
        ks, strides, dils = [1] * nsp, [1] * nsp, [1] * nsp
        auto_pad, pb, pe = "NOTSET", [0] * nsp, [0] * nsp
    else:
        ks = [int(rng.choice([1, 2, 3, 3, 3, 4, 5])) for _ in range(nsp)]
        strides = [int(rng.choice([1, 1, 1, 2, 2, 3])) for _ in range(nsp)]
        dils = [int(rng.choice([1, 1, 1, 1, 2, 3])) for _ in range(nsp)]
        auto_pad = str(rng.choice(["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"], p=[0.6, 0.15, 0.1, 0.15]))
        if auto_pad.startswith("SAME"):
            dils = [1] * nsp  # ORT: "Dilation not supported for AutoPadType::SAME_UPPER or SAME_LOWER"
        pb = [int(rng.integers(0, ks[i] * dils[i])) if auto_pad == "NOTSET" else 0 for i in range(nsp)]
        pe = [int(rng.integers(0, ks[i] * dils[i])) if auto_pad == "NOTSET" else 0 for i in range(nsp)]
        if auto_pad == "NOTSET" and rng.random() < 0.3:  # symmetric pads are the common case
            pe = list(pb)
    outs, rpb, rpe = [], [], []
    for i in range(nsp):
        o, b, e = conv_out_and_pads(sp[i], ks[i], strides[i], dils[i], auto_pad, pb[i], pe[i])
        if o < 1:
            return None
        outs.append(o)
        rpb.append(b)
        rpe.append(e)
    return dict(layout=layout, N=N, C=C, M=M, group=group, sp=sp, ks=ks, strides=strides, dils=dils,
                auto_pad=auto_pad, pads_b=pb, pads_e=pe, outs=outs, rpb=rpb, rpe=rpe, nsp=nsp)


def _conv_attrs(g):
    attrs = dict(kernel_shape=g["ks"], strides=g["strides"], dilations=g["dils"])
    if g["group"] != 1:
        attrs["group"] = g["group"]
    if g["auto_pad"] == "NOTSET":
        attrs["pads"] = g["pads_b"] + g["pads_e"]
    else:
        attrs["auto_pad"] = g["auto_pad"]
    return attrs


def _conv_geom_str(g):
    pad = g["auto_pad"] if g["auto_pad"] != "NOTSET" else "pads=" + _shape_str(g["pads_b"] + g["pads_e"])
    return (f"{g['layout']} N={g['N']} Cin={g['C']} Cout={g['M']} in={_shape_str(g['sp'])} group={g['group']} "
            f"k={_shape_str(g['ks'])} s={_shape_str(g['strides'])} d={_shape_str(g['dils'])} {pad}")


def gen_qlinearconv(rng, allow_u8s8):
    while True:
        g = _conv_geometry(rng)
        if g is not None:
            break
    combos = [("u8", "u8"), ("s8", "s8")]
    if allow_u8s8:
        combos += [("u8", "s8")] * 3  # the common ORT quantization (QUInt8 activations, QInt8 weights)
    if g["layout"] == "symm" and allow_u8s8:
        combos = [("u8", "s8")] * 3 + [("s8", "s8")]
    at, wt = combos[int(rng.integers(len(combos)))]
    adt, aelem, _, _ = QT[at]
    wdt, welem, _, _ = QT[wt]
    per_channel = bool(rng.random() < 0.5) and g["M"] > 1
    wshape = [g["M"], g["C"] // g["group"]] + g["ks"]
    wq, ws, wz = make_weights(rng, wshape, wt, per_channel, axis=0, same_zp=True,
                              symmetric=True if g["layout"] == "symm" else None)
    xshape = [g["N"], g["C"]] + g["sp"]
    xq, xzp = rand_q_activations(rng, xshape, at)
    xs = rand_act_scale(rng)
    acc = conv_acc(xq, xzp, wq, np.broadcast_to(wz.astype(np.int64), (g["M"],)), g["strides"], g["dils"],
                   g["rpb"], g["rpe"], g["outs"], g["group"])
    has_bias = bool(rng.random() < 0.7)
    bias = None
    if has_bias:
        sd = float(acc.std()) if acc.size > 1 else 100.0
        bias = np.rint(rng.normal(0, 0.5 * sd + 1, size=g["M"])).astype(np.int32)
        if rng.random() < 0.05:
            bias = rng.integers(-(1 << 20), 1 << 20, size=g["M"]).astype(np.int32)
        acc = acc + bias.reshape([1, -1] + [1] * g["nsp"])
    wsb = np.broadcast_to(ws.astype(np.float64), (g["M"],)).reshape([1, -1] + [1] * g["nsp"])
    real = acc * xs * wsb
    ys, yzp = qparams_from_values(rng, real, at)
    inits = [
        _init("x_scale", np.float32(xs)), _init("x_zero_point", np.asarray(xzp).astype(adt)),
        _init("w", wq), _qparam_init("w_scale", ws, np.float32, per_channel),
        _qparam_init("w_zero_point", wz, wdt, per_channel),
        _init("y_scale", np.float32(ys)), _init("y_zero_point", np.asarray(yzp).astype(adt)),
    ]
    ins = ["x", "x_scale", "x_zero_point", "w", "w_scale", "w_zero_point", "y_scale", "y_zero_point"]
    if has_bias:
        inits.append(_init("B", bias))
        ins.append("B")
    node = helper.make_node("QLinearConv", ins, ["y"], **_conv_attrs(g))
    model = _model([node], [_vi("x", aelem, xshape)], [_vi("y", aelem, None)], inits)
    summ = (f"QLinearConv x={at} w={wt} {'per-channel' if per_channel else 'per-tensor'} "
            f"wzp={int(np.asarray(wz).ravel()[0])} {'bias' if has_bias else 'nobias'} {_conv_geom_str(g)}")
    return model, [xq], summ, [qsat(at)]


def qsat(qt):
    _, _, qmin, qmax = QT[qt]
    return (qmin, qmax)


def gen_convinteger(rng, allow_u8s8):
    while True:
        g = _conv_geometry(rng)
        if g is not None:
            break
    # ORT implements ConvInteger for uint8 x uint8 only.
    wshape = [g["M"], g["C"] // g["group"]] + g["ks"]
    wq = rng.integers(0, 256, size=wshape).astype(np.uint8)
    xshape = [g["N"], g["C"]] + g["sp"]
    xq, xzp = rand_q_activations(rng, xshape, "u8")
    inits = [_init("w", wq)]
    ins = ["x", "w"]
    zmode = rng.choice(["none", "x", "both"], p=[0.2, 0.2, 0.6])
    wzp = int(rng.integers(0, 256))
    if zmode != "none":
        inits.append(_init("x_zero_point", np.uint8(xzp)))
        ins.append("x_zero_point")
    if zmode == "both":
        inits.append(_init("w_zero_point", np.uint8(wzp)))
        ins.append("w_zero_point")
    node = helper.make_node("ConvInteger", ins, ["y"], **_conv_attrs(g))
    model = _model([node], [_vi("x", TensorProto.UINT8, xshape)], [_vi("y", TensorProto.INT32, None)], inits,
                   opset=OPSET)
    return model, [xq], f"ConvInteger x=u8 w=u8 zp={zmode} {_conv_geom_str(g)}", [None]


# --------------------------------------------------------------------------- QLinearMatMul / MatMulInteger


def _matmul_shapes(rng):
    M, K, N = int(rng.integers(1, 17)), int(rng.integers(1, 65)), int(rng.integers(1, 17))
    if rng.random() < 0.1:
        K = int(rng.integers(65, 300))
    pat = rng.choice(["2d", "3d", "3d_bcastB", "3d_bcastA", "4d_bcast"], p=[0.4, 0.2, 0.2, 0.1, 0.1])
    b = int(rng.integers(2, 4))
    if pat == "2d":
        return [M, K], [K, N], pat
    if pat == "3d":
        return [b, M, K], [b, K, N], pat
    if pat == "3d_bcastB":
        return [b, M, K], [K, N], pat
    if pat == "3d_bcastA":
        return [M, K], [b, K, N], pat
    return [2, 1, M, K], [3, K, N], pat


def gen_qlinearmatmul(rng, allow_u8s8):
    ashape, bshape, pat = _matmul_shapes(rng)
    combos = [("u8", "u8"), ("s8", "s8")] + ([("u8", "s8")] * 2 if allow_u8s8 else [])
    at, bt = combos[int(rng.integers(len(combos)))]
    adt, aelem, _, _ = QT[at]
    bdt, belem, _, _ = QT[bt]
    b_const = bool(rng.random() < 0.7)
    N = bshape[-1]
    per_col = b_const and len(bshape) == 2 and N > 1 and rng.random() < 0.4
    bq, bs, bz = make_weights(rng, bshape, bt, per_col, axis=len(bshape) - 1, same_zp=bool(rng.random() < 0.5))
    if not b_const:
        bq, bz0 = rand_q_activations(rng, bshape, bt)
        bz = np.array([bz0]).astype(bdt)
        bs = np.array([rand_act_scale(rng)], np.float32)
    aq, azp = rand_q_activations(rng, ashape, at)
    as_ = rand_act_scale(rng)
    acc = np.matmul(aq.astype(np.int64) - azp, bq.astype(np.int64) - bz.astype(np.int64).reshape(1, -1))
    real = acc * as_ * bs.astype(np.float64).reshape(1, -1)
    ys, yzp = qparams_from_values(rng, real, at)
    inits = [_init("a_scale", np.float32(as_)), _init("a_zero_point", np.asarray(azp).astype(adt)),
             _qparam_init("b_scale", bs, np.float32, per_col), _qparam_init("b_zero_point", bz, bdt, per_col),
             _init("y_scale", np.float32(ys)), _init("y_zero_point", np.asarray(yzp).astype(adt))]
    inputs = [_vi("a", aelem, ashape)]
    feeds = [aq]
    if b_const:
        inits.append(_init("b", bq))
    else:
        inputs.append(_vi("b", belem, bshape))
        feeds.append(bq)
    node = helper.make_node("QLinearMatMul", ["a", "a_scale", "a_zero_point", "b", "b_scale", "b_zero_point",
                                              "y_scale", "y_zero_point"], ["y"])
    model = _model([node], inputs, [_vi("y", aelem, None)], inits)
    summ = (f"QLinearMatMul a={at}{_shape_str(ashape)} b={bt}{_shape_str(bshape)} {pat} "
            f"b={'const' if b_const else 'input'} {'per-column' if per_col else 'per-tensor'}")
    return model, feeds, summ, [qsat(at)]


def gen_matmulinteger(rng, allow_u8s8):
    ashape, bshape, pat = _matmul_shapes(rng)
    combos = [("u8", "u8"), ("s8", "s8")] + ([("u8", "s8")] if allow_u8s8 else [])  # ORT: no s8 x u8
    at, bt = combos[int(rng.integers(len(combos)))]
    adt, aelem, _, _ = QT[at]
    bdt, belem, _, _ = QT[bt]
    aq, azp = rand_q_activations(rng, ashape, at)
    bq, bzp = rand_q_activations(rng, bshape, bt)
    b_const = bool(rng.random() < 0.6)
    inits, inputs, feeds = [], [_vi("a", aelem, ashape)], [aq]
    if b_const:
        inits.append(_init("b", bq))
    else:
        inputs.append(_vi("b", belem, bshape))
        feeds.append(bq)
    ins = ["a", "b"]
    zmode = rng.choice(["none", "a", "both", "both_percol"], p=[0.15, 0.15, 0.5, 0.2])
    if zmode == "both_percol" and len(bshape) != 2:
        zmode = "both"
    if zmode != "none":
        inits.append(_init("a_zero_point", np.asarray(azp).astype(adt)))
        ins.append("a_zero_point")
    if zmode == "both":
        inits.append(_init("b_zero_point", np.asarray(bzp).astype(bdt)))
        ins.append("b_zero_point")
    if zmode == "both_percol":
        _, _, qmin, qmax = QT[bt]
        inits.append(_init("b_zero_point", rng.integers(qmin, qmax + 1, size=bshape[-1]).astype(bdt)))
        ins.append("b_zero_point")
    node = helper.make_node("MatMulInteger", ins, ["y"])
    model = _model([node], inputs, [_vi("y", TensorProto.INT32, None)], inits)
    summ = (f"MatMulInteger a={at}{_shape_str(ashape)} b={bt}{_shape_str(bshape)} {pat} zp={zmode} "
            f"b={'const' if b_const else 'input'}")
    return model, feeds, summ, [None]


# --------------------------------------------------------------------------- QLinearAdd


def gen_qlinearadd(rng, allow_u8s8):
    qt = str(rng.choice(["u8", "s8"]))
    dt, elem, _, _ = QT[qt]
    N, C, H, W = int(rng.integers(1, 3)), int(rng.integers(1, 9)), int(rng.integers(1, 9)), int(rng.integers(1, 12))
    full = [N, C, H, W]
    pats = {
        "same": (full, full), "chan": (full, [1, C, 1, 1]), "chan3d": (full, [C, 1, 1]),
        "scalar": (full, []), "lastdim": (full, [W]), "swapped": ([1, C, 1, 1], full),
        "both": ([N, 1, H, W], [1, C, 1, 1]), "rowcol": ([H, 1], [1, W]), "one": (full, [1]),
    }
    pat = str(rng.choice(list(pats), p=[0.35, 0.12, 0.06, 0.08, 0.1, 0.08, 0.09, 0.06, 0.06]))
    ashape, bshape = pats[pat]
    if pat == "same" and rng.random() < 0.3:  # longer vectors exercise the SIMD main loop
        ashape = bshape = [1, int(rng.integers(1, 300))]
    aq, azp = rand_q_activations(rng, ashape, qt)
    bq, bzp = rand_q_activations(rng, bshape, qt)
    sa = rand_act_scale(rng)
    sb = _f32(sa * 10 ** rng.uniform(-1, 1)) if rng.random() < 0.8 else sa
    real = (aq.astype(np.float64) - azp) * sa + (bq.astype(np.float64) - bzp) * sb
    sc, czp = qparams_from_values(rng, real, qt)
    b_const = bool(rng.random() < 0.25)
    inits = [_init("a_scale", np.float32(sa)), _init("a_zero_point", np.asarray(azp).astype(dt)),
             _init("b_scale", np.float32(sb)), _init("b_zero_point", np.asarray(bzp).astype(dt)),
             _init("c_scale", np.float32(sc)), _init("c_zero_point", np.asarray(czp).astype(dt))]
    inputs, feeds = [_vi("a", elem, ashape)], [aq]
    if b_const:
        inits.append(_init("b", bq))
    else:
        inputs.append(_vi("b", elem, bshape))
        feeds.append(bq)
    node = helper.make_node("QLinearAdd", ["a", "a_scale", "a_zero_point", "b", "b_scale", "b_zero_point",
                                           "c_scale", "c_zero_point"], ["c"], domain=MS)
    model = _model([node], inputs, [_vi("c", elem, None)], inits, ms=True)
    summ = (f"QLinearAdd {qt} a{_shape_str(ashape)} + b{_shape_str(bshape)} {pat} "
            f"b={'const' if b_const else 'input'} sb/sa={sb / sa:.3g}")
    return model, feeds, summ, [qsat(qt)]


# --------------------------------------------------------------------------- pooling


def _pool_geometry(rng, allow_dilation):
    nsp = 1 if rng.random() < 0.12 else 2
    for _ in range(100):
        sp = [int(rng.integers(1, 13)) for _ in range(nsp)]
        ks = [int(rng.integers(1, min(sp[i], 4) + 2)) for i in range(nsp)]
        strides = [int(rng.choice([1, 1, 2, 2, 3])) for _ in range(nsp)]
        dils = [int(rng.choice([1, 1, 1, 2])) if allow_dilation else 1 for _ in range(nsp)]
        ceil_mode = int(rng.random() < 0.3)
        auto_pad = str(rng.choice(["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"], p=[0.7, 0.1, 0.1, 0.1]))
        if auto_pad != "NOTSET":
            dils = [1] * nsp
            ceil_mode = 0
        pb = [int(rng.integers(0, ks[i])) if auto_pad == "NOTSET" else 0 for i in range(nsp)]
        pe = [int(rng.integers(0, ks[i])) if auto_pad == "NOTSET" else 0 for i in range(nsp)]
        ok, outs = True, []
        for i in range(nsp):
            keff = (ks[i] - 1) * dils[i] + 1
            if auto_pad.startswith("SAME"):
                o, b, _ = ort_same_pads(sp[i], keff, strides[i], auto_pad, clamp=False)
            elif auto_pad == "VALID":
                o, b = (sp[i] - keff) // strides[i] + 1, 0
            else:
                num = sp[i] + pb[i] + pe[i] - keff
                o = (-(-num // strides[i]) if ceil_mode else num // strides[i]) + 1
                b = pb[i]
            if o < 1:
                ok = False
                break
            # every window must touch at least one real input element
            for oi in range(o):
                start = oi * strides[i] - b
                if not any(0 <= start + t * dils[i] < sp[i] for t in range(ks[i])):
                    ok = False
            outs.append(o)
        if ok:
            return dict(nsp=nsp, sp=sp, ks=ks, strides=strides, dils=dils, ceil_mode=ceil_mode,
                        auto_pad=auto_pad, pads_b=pb, pads_e=pe, outs=outs)
    raise RuntimeError("no pool geometry")


def _pool_attrs(g, with_dil):
    attrs = dict(kernel_shape=g["ks"], strides=g["strides"])
    if g["auto_pad"] == "NOTSET":
        attrs["pads"] = g["pads_b"] + g["pads_e"]
    else:
        attrs["auto_pad"] = g["auto_pad"]
    if g["ceil_mode"]:
        attrs["ceil_mode"] = 1
    if with_dil and any(d != 1 for d in g["dils"]):
        attrs["dilations"] = g["dils"]
    return attrs


def _pool_str(g):
    pad = g["auto_pad"] if g["auto_pad"] != "NOTSET" else "pads=" + _shape_str(g["pads_b"] + g["pads_e"])
    return (f"in={_shape_str(g['sp'])} k={_shape_str(g['ks'])} s={_shape_str(g['strides'])} "
            f"d={_shape_str(g['dils'])} {pad} ceil={g['ceil_mode']}")


def gen_qlinearavgpool(rng, allow_u8s8):
    qt = str(rng.choice(["u8", "s8"]))
    dt, elem, _, _ = QT[qt]
    g = _pool_geometry(rng, allow_dilation=False)
    whole = rng.random() < 0.12  # kernel == image, no pads: ORT takes its global-average-pool path
    if whole:
        g.update(ks=list(g["sp"]), strides=[1] * g["nsp"], pads_b=[0] * g["nsp"], pads_e=[0] * g["nsp"],
                 auto_pad="NOTSET", ceil_mode=0, outs=[1] * g["nsp"])
    N, C = int(rng.integers(1, 3)), int(rng.integers(1, 7))
    xshape = [N, C] + g["sp"]
    xq, xzp = rand_q_activations(rng, xshape, qt)
    xs = rand_act_scale(rng)
    cip = int(rng.random() < 0.5)
    if rng.random() < 0.4:
        ys, yzp = xs, xzp
    else:
        real = (xq.astype(np.float64) - xzp) * xs
        ys, yzp = qparams_from_values(rng, real, qt)
    if list(g["ks"]) == list(g["sp"]) and not any(g["pads_b"]) and not any(g["pads_e"]):
        # a kernel covering the unpadded image takes MLAS's global-average-pool path, which
        # rejects xs / (ys * size) >= 256 ("parameter out of computation range")
        size = int(np.prod(g["ks"]))
        while np.float32(xs) / (np.float32(ys) * np.float32(size)) >= 256.0:
            ys = _f32(ys * 4)
    inits = [_init("x_scale", np.float32(xs)), _init("x_zero_point", np.asarray(xzp).astype(dt)),
             _init("y_scale", np.float32(ys)), _init("y_zero_point", np.asarray(yzp).astype(dt))]
    attrs = _pool_attrs(g, with_dil=False)
    attrs["count_include_pad"] = cip
    node = helper.make_node("QLinearAveragePool", ["x", "x_scale", "x_zero_point", "y_scale", "y_zero_point"],
                            ["y"], domain=MS, **attrs)
    model = _model([node], [_vi("x", elem, xshape)], [_vi("y", elem, None)], inits, ms=True)
    summ = (f"QLinearAveragePool {qt} N={N} C={C} {_pool_str(g)} count_include_pad={cip}"
            f"{' whole-image' if whole else ''}{' same-qparams' if ys == xs and yzp == xzp else ''}")
    return model, [xq], summ, [qsat(qt)]


def gen_maxpool(rng, allow_u8s8):
    qt = str(rng.choice(["u8", "s8"]))
    dt, elem, _, _ = QT[qt]
    g = _pool_geometry(rng, allow_dilation=True)
    N, C = int(rng.integers(1, 3)), int(rng.integers(1, 7))
    xshape = [N, C] + g["sp"]
    xq, _ = rand_q_activations(rng, xshape, qt)
    node = helper.make_node("MaxPool", ["x"], ["y"], **_pool_attrs(g, with_dil=True))
    model = _model([node], [_vi("x", elem, xshape)], [_vi("y", elem, None)], [])
    return model, [xq], f"MaxPool {qt} N={N} C={C} {_pool_str(g)}", [None]


def gen_qlinearglobalavgpool(rng, allow_u8s8):
    qt = str(rng.choice(["u8", "s8"]))
    dt, elem, _, _ = QT[qt]
    N, C = int(rng.integers(1, 3)), int(rng.integers(1, 9))
    sp = [int(rng.integers(1, 21)), int(rng.integers(1, 21))]
    if rng.random() < 0.15:
        sp = [int(rng.integers(1, 60))]
    xshape = [N, C] + sp
    xq, xzp = rand_q_activations(rng, xshape, qt)
    xs = rand_act_scale(rng)
    hw = int(np.prod(sp))
    axes = tuple(range(2, len(xshape)))
    means = ((xq.astype(np.float64) - xzp) * xs).mean(axis=axes)
    for _ in range(20):
        ys, yzp = qparams_from_values(rng, means, qt)
        r = np.float32(xs) / (np.float32(ys) * np.float32(hw))
        if 2.0 ** -32 <= r < 256.0:  # MLAS rejects other ratios
            break
        ys = _f32(ys * 4)
    inits = [_init("x_scale", np.float32(xs)), _init("x_zero_point", np.asarray(xzp).astype(dt)),
             _init("y_scale", np.float32(ys)), _init("y_zero_point", np.asarray(yzp).astype(dt))]
    node = helper.make_node("QLinearGlobalAveragePool", ["x", "x_scale", "x_zero_point", "y_scale", "y_zero_point"],
                            ["y"], domain=MS, channels_last=0)
    model = _model([node], [_vi("x", elem, xshape)], [_vi("y", elem, None)], inits, ms=True)
    return model, [xq], f"QLinearGlobalAveragePool {qt} x{_shape_str(xshape)}", [qsat(qt)]


# --------------------------------------------------------------------------- Quantize / Dequantize


def gen_quantizelinear(rng, allow_u8s8):
    qt = str(rng.choice(["u8", "s8"]))
    dt, elem, qmin, qmax = QT[qt]
    rank = int(rng.integers(1, 5))
    shape = [int(rng.integers(1, 7)) for _ in range(rank)]
    if rng.random() < 0.2:
        shape[-1] = int(rng.integers(20, 200))
    per_axis = rank >= 1 and rng.random() < 0.35
    axis = int(rng.integers(-rank, rank)) if per_axis else 1
    nch = shape[axis] if per_axis else 1
    pow2 = rng.random() < 0.3
    if pow2:
        scales = np.array([2.0 ** int(rng.integers(-8, -1)) for _ in range(nch)], np.float32)
    else:
        scales = np.array([rand_act_scale(rng) for _ in range(nch)], np.float32)
    zp_given = qt == "s8" or rng.random() < 0.85
    zps = np.array([rand_zp(rng, qt) if zp_given else 0 for _ in range(nch)])
    bshape = [1] * rank
    if per_axis:
        bshape[axis] = nch
    s_b = scales.astype(np.float64).reshape(bshape)
    z_b = zps.reshape(bshape)
    # real values whose quantized images spread over [qmin, qmax] (q is the offset from the zp)
    mid = (qmin + qmax) / 2.0 - z_b
    q = mid + rng.normal(0, rng.uniform(10, 55), size=shape)
    if rng.random() < 0.5:  # many exact .5 ties (exact when the scale is a power of two)
        q = np.floor(q) + 0.5
    x = (q * s_b).astype(np.float32)
    if rng.random() < 0.3:  # some out-of-range values
        idx = rng.random(size=shape) < 0.05
        x = np.where(idx, (x * 10).astype(np.float32), x)
    inits = [_qparam_init("y_scale", scales, np.float32, per_axis)]
    ins = ["x", "y_scale"]
    if zp_given:
        inits.append(_qparam_init("y_zero_point", zps, dt, per_axis))
        ins.append("y_zero_point")
    attrs = {"axis": axis} if (per_axis or rng.random() < 0.2) else {}
    node = helper.make_node("QuantizeLinear", ins, ["y"], **attrs)
    model = _model([node], [_vi("x", TensorProto.FLOAT, shape)], [_vi("y", elem, None)], inits)
    summ = (f"QuantizeLinear ->{qt} x{_shape_str(shape)} {'per-axis axis=' + str(axis) if per_axis else 'per-tensor'}"
            f"{' pow2-scale' if pow2 else ''}{'' if zp_given else ' no-zp'}")
    return model, [x], summ, [qsat(qt)]


def gen_dequantizelinear(rng, allow_u8s8):
    qt = str(rng.choice(["u8", "s8", "s32"], p=[0.4, 0.4, 0.2]))
    rank = int(rng.integers(1, 5))
    shape = [int(rng.integers(1, 7)) for _ in range(rank)]
    per_axis = rng.random() < 0.35
    axis = int(rng.integers(-rank, rank)) if per_axis else 1
    nch = shape[axis] if per_axis else 1
    scales = np.array([rand_act_scale(rng) * (rng.uniform(0.001, 0.1) if qt == "s32" else 1) for _ in range(nch)],
                      np.float32)
    if qt == "s32":
        dt, elem = np.int32, TensorProto.INT32
        mag = 1 << int(rng.choice([10, 16, 24, 30]))
        x = rng.integers(-mag, mag, size=shape).astype(np.int32)
        zps = np.zeros(nch, np.int32)
    else:
        dt, elem, qmin, qmax = QT[qt]
        x = rng.integers(qmin, qmax + 1, size=shape).astype(dt)
        zps = np.array([rand_zp(rng, qt) for _ in range(nch)]).astype(dt)
    zp_given = rng.random() < 0.8
    inits = [_qparam_init("x_scale", scales, np.float32, per_axis)]
    ins = ["x", "x_scale"]
    if zp_given:
        inits.append(_qparam_init("x_zero_point", zps, dt, per_axis))
        ins.append("x_zero_point")
    attrs = {"axis": axis} if (per_axis or rng.random() < 0.2) else {}
    node = helper.make_node("DequantizeLinear", ins, ["y"], **attrs)
    model = _model([node], [_vi("x", elem, shape)], [_vi("y", TensorProto.FLOAT, None)], inits)
    summ = (f"DequantizeLinear {qt}-> x{_shape_str(shape)} "
            f"{'per-axis axis=' + str(axis) if per_axis else 'per-tensor'}{'' if zp_given else ' no-zp'}")
    return model, [x], summ, [None]


# --------------------------------------------------------------------------- QLinearConcat


def gen_qlinearconcat(rng, allow_u8s8):
    qt = str(rng.choice(["u8", "s8"]))
    dt, elem, _, _ = QT[qt]
    n_in = int(rng.integers(2, 4))
    base = [int(rng.integers(1, 3)), int(rng.integers(1, 5)), int(rng.integers(1, 6)), int(rng.integers(1, 6))]
    axis = int(rng.integers(-4, 4))
    ax = axis % 4
    shapes = []
    for _ in range(n_in):
        s = list(base)
        s[ax] = int(rng.integers(1, 5))
        shapes.append(s)
    feeds, reals, qps = [], [], []
    same = rng.random() < 0.25
    s0, z0 = rand_act_scale(rng), rand_zp(rng, qt)
    for s in shapes:
        if same:
            xs, xzp = s0, z0
        else:
            xs, xzp = rand_act_scale(rng), rand_zp(rng, qt)
        xq, _ = rand_q_activations(rng, s, qt, zp=xzp)
        feeds.append(xq)
        qps.append((xs, xzp))
        reals.append(((xq.astype(np.float64) - xzp) * xs).ravel())
    if same:
        ys, yzp = s0, z0
    else:
        ys, yzp = qparams_from_values(rng, np.concatenate(reals), qt)
    inits = [_init("y_scale", np.float32(ys)), _init("y_zero_point", np.asarray(yzp).astype(dt))]
    ins = ["y_scale", "y_zero_point"]
    inputs = []
    for i, (s, (xs, xzp)) in enumerate(zip(shapes, qps)):
        inits += [_init(f"x{i}_scale", np.float32(xs)), _init(f"x{i}_zero_point", np.asarray(xzp).astype(dt))]
        ins += [f"x{i}", f"x{i}_scale", f"x{i}_zero_point"]
        inputs.append(_vi(f"x{i}", elem, s))
    node = helper.make_node("QLinearConcat", ins, ["y"], domain=MS, axis=axis)
    model = _model([node], inputs, [_vi("y", elem, None)], inits, ms=True)
    summ = f"QLinearConcat {qt} {n_in} inputs {' '.join(_shape_str(s) for s in shapes)} axis={axis}" + (
        " same-qparams" if same else "")
    return model, feeds, summ, [qsat(qt)]


# --------------------------------------------------------------------------- multi-op nets


class _NetBuilder:
    def __init__(self, rng):
        self.rng = rng
        self.nodes, self.inits = [], []
        self.n = 0

    def name(self, p):
        self.n += 1
        return f"{p}{self.n}"

    def weight(self, shape, fan_in):
        w = self.rng.normal(0, math.sqrt(2.0 / max(fan_in, 1)), size=shape).astype(np.float32)
        nm = self.name("W")
        self.inits.append(nph.from_array(w, nm))
        return nm

    def bias(self, n):
        b = self.rng.normal(0, 0.1, size=n).astype(np.float32)
        nm = self.name("B")
        self.inits.append(nph.from_array(b, nm))
        return nm

    def conv(self, x, cin, cout, k, stride=1, group=1, bias=True):
        w = self.weight([cout, cin // group, k, k], cin // group * k * k)
        ins = [x, w] + ([self.bias(cout)] if bias else [])
        y = self.name("conv")
        self.nodes.append(helper.make_node("Conv", ins, [y], kernel_shape=[k, k], strides=[stride, stride],
                                           pads=[k // 2] * 4, group=group))
        return y

    def op(self, op, ins, **attrs):
        y = self.name(op.lower())
        self.nodes.append(helper.make_node(op, ins, [y], **attrs))
        return y


def _build_float_net(rng):
    """A small random CNN: conv -> relu -> pool -> conv ... -> residual add -> global pool ->
    flatten -> matmul/gemm. Returns (model, input shape, description)."""
    b = _NetBuilder(rng)
    C = int(rng.choice([1, 2, 3, 4]))
    H = W = int(rng.integers(6, 13))
    shape = [1, C, H, W]
    desc = []
    cur = "x"
    c1 = int(rng.choice([4, 8, 16]))
    s1 = int(rng.choice([1, 1, 2]))
    cur = b.conv(cur, C, c1, int(rng.choice([1, 3, 3, 5])), stride=s1)
    desc.append(f"conv{c1}s{s1}")
    H = (H + s1 - 1) // s1
    if rng.random() < 0.8:
        cur = b.op("Relu", [cur])
        desc.append("relu")
    if rng.random() < 0.5 and H >= 4:
        if rng.random() < 0.5:
            cur = b.op("MaxPool", [cur], kernel_shape=[2, 2], strides=[2, 2])
            desc.append("maxpool")
        else:
            cur = b.op("AveragePool", [cur], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                       count_include_pad=int(rng.integers(0, 2)))
            desc.append("avgpool")
    C = c1
    if rng.random() < 0.5:
        cur = b.conv(cur, C, C, 3, group=C)
        desc.append("dwconv")
        if rng.random() < 0.7:
            cur = b.op("Relu", [cur])
            desc.append("relu")
    if rng.random() < 0.6:
        br = b.conv(cur, C, C, 3)
        if rng.random() < 0.5:
            br = b.op("Relu", [br])
            br = b.conv(br, C, C, 1)
        cur = b.op("Add", [cur, br])
        desc.append("residual-add")
        if rng.random() < 0.6:
            cur = b.op("Relu", [cur])
            desc.append("relu")
    if rng.random() < 0.25:
        c2 = int(rng.choice([4, 8]))
        br = b.conv(cur, C, c2, 1)
        cur = b.op("Concat", [cur, br], axis=1)
        C += c2
        desc.append("concat")
    cur = b.op("GlobalAveragePool", [cur])
    cur = b.op("Flatten", [cur], axis=1)
    desc.append("gap-flatten")
    K = int(rng.choice([3, 5, 10]))
    if rng.random() < 0.5:
        w = b.weight([C, K], C)
        cur = b.op("MatMul", [cur, w])
        if rng.random() < 0.7:
            cur = b.op("Add", [cur, b.bias(K)])
            desc.append(f"matmul+add{K}")
        else:
            desc.append(f"matmul{K}")
    else:
        trans_b = int(rng.integers(0, 2))
        w = b.weight([K, C] if trans_b else [C, K], C)
        cur = b.op("Gemm", [cur, w, b.bias(K)], transB=trans_b)
        desc.append(f"gemm{K}")
    b.nodes[-1].output[0] = "y"
    graph = helper.make_graph(b.nodes, "net", [_vi("x", TensorProto.FLOAT, shape)],
                              [_vi("y", TensorProto.FLOAT, [1, K])], initializer=b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    return model, shape, "-".join(desc)


def _quantize_net(rng, qformat, allow_u8s8):
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    fmodel, shape, desc = _build_float_net(rng)
    # (QInt8 activations, QUInt8 weights) is rejected by quantize_static. On x86 ORT rewrites int8
    # QDQ activations to uint8, so any int8 weight meets uint8 data there (the u8 x s8 kernels).
    combos = [("QUInt8", "QUInt8")]
    if allow_u8s8:
        combos += [("QUInt8", "QInt8")] * 3 + [("QInt8", "QInt8")] * 2
    act, wt = combos[int(rng.integers(len(combos)))]
    per_channel = bool(rng.random() < 0.5)
    reduce_range = bool(rng.random() < 0.1)
    act_sym = bool(rng.random() < 0.2)
    dist = rng.choice(["normal", "uniform", "positive"])
    amp = float(rng.uniform(0.5, 3.0))

    def sample():
        if dist == "normal":
            return (rng.normal(0, amp, size=shape)).astype(np.float32)
        if dist == "uniform":
            return rng.uniform(-amp, amp, size=shape).astype(np.float32)
        return rng.uniform(0, amp, size=shape).astype(np.float32)

    calib = [sample() for _ in range(int(rng.integers(8, 17)))]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(calib)

        def get_next(self):
            v = next(self.it, None)
            return None if v is None else {"x": v}

    logging.getLogger().setLevel(logging.ERROR)  # quantize_static's pre-processing advice
    with tempfile.TemporaryDirectory(prefix="qmac-conf-") as td:
        src = os.path.join(td, "f.onnx")
        dst = os.path.join(td, "q.onnx")
        onnx.save(fmodel, src)
        quantize_static(src, dst, Reader(),
                        quant_format=QuantFormat.QDQ if qformat == "qdq" else QuantFormat.QOperator,
                        per_channel=per_channel, reduce_range=reduce_range,
                        activation_type=getattr(QuantType, act), weight_type=getattr(QuantType, wt),
                        calibrate_method=CalibrationMethod.MinMax,
                        extra_options={"ActivationSymmetric": act_sym})
        qmodel = onnx.load(dst)
    x = sample()
    if rng.random() < 0.1:  # a little outside the calibrated range
        x = (x * np.float32(1.3)).astype(np.float32)
    summ = (f"{'QDQ' if qformat == 'qdq' else 'QOperator'} net {desc} act={act} w={wt} "
            f"per_channel={per_channel} reduce_range={reduce_range} act_sym={act_sym} x~{dist}({amp:.2f})")
    return qmodel, [x], summ, [_final_dq_sat(qmodel)]


def _final_dq_sat(model):
    """(lo, hi) float values of the graph output's saturation, from the DequantizeLinear that
    produces it, or None."""
    out = model.graph.output[0].name
    inits = {i.name: nph.to_array(i) for i in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "DequantizeLinear" and n.output[0] == out:
            s = inits.get(n.input[1])
            z = inits.get(n.input[2]) if len(n.input) > 2 else None
            if s is None or s.size != 1:
                return None
            zdt = z.dtype if z is not None else np.uint8
            zi = int(z.ravel()[0]) if z is not None else 0
            info = np.iinfo(zdt)
            sf = np.float32(s.ravel()[0])
            return (float(np.float32(info.min - zi) * sf), float(np.float32(info.max - zi) * sf))
    return None


def gen_qdq_net(rng, allow_u8s8):
    return _quantize_net(rng, "qdq", allow_u8s8)


def gen_qop_net(rng, allow_u8s8):
    return _quantize_net(rng, "qop", allow_u8s8)


GENERATORS = {
    "qlinearconv": gen_qlinearconv,
    "qlinearmatmul": gen_qlinearmatmul,
    "qlinearadd": gen_qlinearadd,
    "qlinearavgpool": gen_qlinearavgpool,
    "qlinearglobalavgpool": gen_qlinearglobalavgpool,
    "maxpool": gen_maxpool,
    "quantizelinear": gen_quantizelinear,
    "dequantizelinear": gen_dequantizelinear,
    "convinteger": gen_convinteger,
    "matmulinteger": gen_matmulinteger,
    "qlinearconcat": gen_qlinearconcat,
    "qdq_net": gen_qdq_net,
    "qop_net": gen_qop_net,
}
assert set(GENERATORS) == set(CATEGORY_WEIGHTS)


def pick_category(seed, categories=None):
    rng = np.random.default_rng([seed, 0xC0FFEE])
    cats = categories or CATEGORIES
    w = np.array([CATEGORY_WEIGHTS[c] for c in cats], dtype=np.float64)
    return cats[int(rng.choice(len(cats), p=w / w.sum()))]


def generate_case(seed, allow_u8s8=True, categories=None):
    """The case for `seed`. `categories` restricts the category draw (the draw then differs
    from the unrestricted one, so report `--category` along with the seed)."""
    category = pick_category(seed, categories)
    rng = np.random.default_rng([seed, 0x51DE])
    model, inputs, summary, sat = GENERATORS[category](rng, allow_u8s8)
    return Case(seed=seed, category=category, summary=summary, model=model, inputs=list(inputs), sat=list(sat))


def write_case(case, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.onnx")
    onnx.save(case.model, path)
    paths = []
    for i, arr in enumerate(case.inputs):
        p = os.path.join(out_dir, f"input_{i}.npy")
        np.save(p, arr)
        paths.append(p)
    return path, paths


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", help="write model.onnx and input_<i>.npy here")
    ap.add_argument("--no-u8s8", action="store_true", help="never pair uint8 activations with int8 weights")
    ap.add_argument("--category", action="append", choices=CATEGORIES,
                    help="restrict the category draw (repeatable)")
    args = ap.parse_args(argv)
    case = generate_case(args.seed, allow_u8s8=not args.no_u8s8, categories=args.category)
    print(f"seed={case.seed} [{case.category}] {case.summary}")
    for n, a in zip(case.input_names(), case.inputs):
        print(f"  input {n}: {a.dtype}{_shape_str(a.shape)}")
    if args.out:
        path, paths = write_case(case, args.out)
        print(f"  wrote {path} and {len(paths)} input file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

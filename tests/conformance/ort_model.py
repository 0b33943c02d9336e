#!/usr/bin/env python3
"""ort_model.py - numpy models of the arithmetic ONNX Runtime (CPU EP, x86-64 with AVX2/FMA)
performs for the single-op categories of gen_models.py, checked against ORT itself.

    ort_model.py [--count N] [--seed S] [--category C ...]

Each model states, as executable numpy, the rounding/ordering rules that README.md describes
(float32 requantization, FMA in QLinearAdd, float pooling sums, ...). The check generates cases
with gen_models.generate_case, runs them through ORT and through the model, and prints
"N passed, N failed". A failure here means our written understanding of ORT is wrong (or ORT
changed), not that qmac is wrong.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
from onnx import helper
from onnx import numpy_helper as nph

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_models as gm  # noqa: E402

F32 = np.float32


def _ld(x):
    return np.asarray(x, dtype=np.longdouble)


def fma32(a, b, c):
    """float32 fused multiply-add (one rounding); the product of two float32 is exact in 80-bit
    long double, the sum is exact there for the magnitudes seen here."""
    return (_ld(a) * _ld(b) + _ld(c)).astype(F32)


def requant_ort(acc, scale, zp, qmin, qmax):
    """MlasRequantizeOutput: float32(acc) * scale (float32), clamp to [qmin-zp, qmax-zp] in float,
    round half to even, + zp."""
    f = np.asarray(acc, np.int64).astype(np.int32).astype(F32) * np.asarray(scale, F32)
    f = np.minimum(np.maximum(f, F32(qmin - zp)), F32(qmax - zp))
    return (np.rint(f).astype(np.int64) + zp)


def _attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _inits(model):
    return {i.name: nph.to_array(i) for i in model.graph.initializer}


def _get(name, inits, feeds):
    if name == "":
        return None
    return inits[name] if name in inits else feeds[name]


def _qinfo(arr):
    info = np.iinfo(arr.dtype)
    return int(info.min), int(info.max)


# --------------------------------------------------------------------------- per op


def _conv_geom(node, x, w):
    a = _attrs(node)
    nsp = x.ndim - 2
    ks = list(a.get("kernel_shape", w.shape[2:]))
    st = list(a.get("strides", [1] * nsp))
    dl = list(a.get("dilations", [1] * nsp))
    ap = a.get("auto_pad", b"NOTSET")
    ap = ap.decode() if isinstance(ap, bytes) else ap
    pads = list(a.get("pads", [0] * 2 * nsp))
    outs, pb, pe = [], [], []
    for i in range(nsp):
        o, b, e = gm.conv_out_and_pads(x.shape[2 + i], ks[i], st[i], dl[i], ap, pads[i], pads[nsp + i])
        outs.append(o)
        pb.append(b)
        pe.append(e)
    return st, dl, pb, pe, outs, int(a.get("group", 1))


def m_qlinearconv(node, inits, feeds):
    x, xs, xz, w, ws, wz, ys, yz = (_get(n, inits, feeds) for n in node.input[:8])
    bias = _get(node.input[8], inits, feeds) if len(node.input) > 8 else None
    st, dl, pb, pe, outs, group = _conv_geom(node, x, w)
    M = w.shape[0]
    wz_v = np.broadcast_to(np.asarray(wz).astype(np.int64).ravel(), (M,))
    acc = gm.conv_acc(x, int(xz), w, wz_v, st, dl, pb, pe, outs, group)
    if bias is not None:
        acc = acc + bias.astype(np.int64).reshape([1, -1] + [1] * len(outs))
    # output_scales[i] = x_scale * w_scale[i] / y_scale, all float32
    scale = (F32(xs) * np.asarray(ws, F32).ravel()) / F32(ys)
    scale = np.broadcast_to(scale, (M,)).reshape([1, -1] + [1] * len(outs))
    qmin, qmax = _qinfo(np.asarray(yz))
    return requant_ort(acc, scale, int(yz), qmin, qmax).astype(np.asarray(yz).dtype)


def m_qlinearmatmul(node, inits, feeds):
    a, as_, az, b, bs, bz, ys, yz = (_get(n, inits, feeds) for n in node.input[:8])
    bzv = np.asarray(bz).astype(np.int64).ravel()
    acc = np.matmul(a.astype(np.int64) - int(np.asarray(az)), b.astype(np.int64) - bzv.reshape(1, -1))
    scale = (F32(as_) * np.asarray(bs, F32).ravel()) / F32(ys)
    qmin, qmax = _qinfo(np.asarray(yz))
    return requant_ort(acc, scale.reshape(1, -1), int(yz), qmin, qmax).astype(np.asarray(yz).dtype)


def m_matmulinteger(node, inits, feeds):
    a = _get(node.input[0], inits, feeds)
    b = _get(node.input[1], inits, feeds)
    az = _get(node.input[2], inits, feeds) if len(node.input) > 2 else None
    bz = _get(node.input[3], inits, feeds) if len(node.input) > 3 else None
    az = 0 if az is None else int(np.asarray(az).ravel()[0])
    bzv = np.zeros(1, np.int64) if bz is None else np.asarray(bz).astype(np.int64).ravel()
    return np.matmul(a.astype(np.int64) - az, b.astype(np.int64) - bzv.reshape(1, -1)).astype(np.int32)


def m_convinteger(node, inits, feeds):
    x = _get(node.input[0], inits, feeds)
    w = _get(node.input[1], inits, feeds)
    xz = _get(node.input[2], inits, feeds) if len(node.input) > 2 else None
    wz = _get(node.input[3], inits, feeds) if len(node.input) > 3 else None
    st, dl, pb, pe, outs, group = _conv_geom(node, x, w)
    xz = 0 if xz is None else int(xz)
    wz = np.zeros(w.shape[0], np.int64) + (0 if wz is None else int(wz))
    return gm.conv_acc(x, xz, w, wz, st, dl, pb, pe, outs, group).astype(np.int32)


def qladd_variant(a, b, sa, sb, sc, za, zb, zc, dt, spans):
    """MlasQLinearAddKernelAvx2Helper as compiled in the onnxruntime 1.23.2 wheel (GCC contracts
    to FMA). P is the operand that varies along the span (A, unless A is one value per span:
    then ORT swaps the operands), Q the other:
        rP = sP / sC, rQ = sQ / sC                                (float32)
        F  = float(zC) - fma(rP, float(zP), float32(rQ * zQ))
        y  = saturate(rne(fma(P, rP, fma(Q, rQ, F))))
    Verified exhaustively enough to discriminate from every non-fused / other-order variant
    (decimal scales make exact ties frequent)."""
    qmin, qmax = int(np.iinfo(dt).min), int(np.iinfo(dt).max)
    rA, rB = F32(F32(sa) / F32(sc)), F32(F32(sb) / F32(sc))
    fa, fb = a.astype(F32), b.astype(F32)
    if spans == "sv":
        fa, fb, rA, rB, za, zb = fb, fa, rB, rA, zb, za
    F = F32(F32(zc) - fma32(rA, F32(za), F32(rB * F32(zb))))
    y = fma32(fa, rA, fma32(fb, rB, F))
    return np.clip(np.rint(y).astype(np.int64), qmin, qmax).astype(dt)


def add_span_kind(ashape, bshape):
    """How ORT's broadcaster feeds MlasQLinearAdd: by the innermost output dim of extent > 1,
    "vv" (both vectors), "vs" (B is one value per span) or "sv" (A is one value per span)."""
    r = max(len(ashape), len(bshape))
    A = [1] * (r - len(ashape)) + list(ashape)
    B = [1] * (r - len(bshape)) + list(bshape)
    for i in reversed(range(r)):
        o = max(A[i], B[i])
        if o == 1:
            continue
        if A[i] == 1 and B[i] != 1:
            return "sv"
        if B[i] == 1 and A[i] != 1:
            return "vs"
        return "vv"
    return "vv"


def m_qlinearadd(node, inits, feeds):
    a, sa, za, b, sb, zb, sc, zc = (_get(n, inits, feeds) for n in node.input[:8])
    kind = add_span_kind(np.shape(a), np.shape(b))
    shape = np.broadcast_shapes(np.shape(a), np.shape(b))
    A = np.broadcast_to(a, shape)
    B = np.broadcast_to(b, shape)
    dt = np.asarray(zc).dtype
    return qladd_variant(A, B, sa, sb, sc, int(za), int(zb), int(zc), dt, kind)


def _pool_windows(node, xshape):
    a = _attrs(node)
    nsp = len(xshape) - 2
    ks = list(a["kernel_shape"])
    st = list(a.get("strides", [1] * nsp))
    dl = list(a.get("dilations", [1] * nsp))
    ap = a.get("auto_pad", b"NOTSET")
    ap = ap.decode() if isinstance(ap, bytes) else ap
    pads = list(a.get("pads", [0] * 2 * nsp))
    ceil = int(a.get("ceil_mode", 0))
    outs, pb = [], []
    for i in range(nsp):
        keff = (ks[i] - 1) * dl[i] + 1
        n = xshape[2 + i]
        if ap.startswith("SAME"):
            o, b, e = gm.ort_same_pads(n, keff, st[i], ap, clamp=False)
            pads[i], pads[nsp + i] = b, e
        elif ap == "VALID":
            o, b = (n - keff) // st[i] + 1, 0
            pads[i] = pads[nsp + i] = 0
        else:
            num = n + pads[i] + pads[nsp + i] - keff
            o = (-(-num // st[i]) if ceil else num // st[i]) + 1
            b = pads[i]
        outs.append(o)
        pb.append(b)
    return ks, st, dl, pb, pads, outs, a


def m_maxpool(node, inits, feeds):
    x = _get(node.input[0], inits, feeds)
    ks, st, dl, pb, _, outs, _ = _pool_windows(node, x.shape)
    y = np.empty(list(x.shape[:2]) + outs, x.dtype)
    for o in np.ndindex(*outs):
        sl = []
        for i in range(len(outs)):
            idx = [o[i] * st[i] - pb[i] + t * dl[i] for t in range(ks[i])]
            sl.append([j for j in idx if 0 <= j < x.shape[2 + i]])
        sub = x[(slice(None), slice(None)) + np.ix_(*sl)]
        y[(slice(None), slice(None)) + o] = sub.reshape(x.shape[0], x.shape[1], -1).max(axis=2)
    return y


def _gap_requant(x, xs, xz, ys, yz, n, axes):
    acc = x.astype(np.int64).sum(axis=axes) - int(xz) * n
    scale = F32(F32(xs) / F32(F32(ys) * F32(n)))  # CheckQLinearGlobalAveragePoolScaleAndSize
    qmin, qmax = _qinfo(np.asarray(yz))
    return requant_ort(acc, scale, int(yz), qmin, qmax)


def m_qlinearglobalavgpool(node, inits, feeds):
    x, xs, xz, ys, yz = (_get(n, inits, feeds) for n in node.input[:5])
    axes = tuple(range(2, x.ndim))
    n = int(np.prod(x.shape[2:]))
    y = _gap_requant(x, xs, xz, ys, yz, n, axes)
    return y.reshape(list(x.shape[:2]) + [1] * (x.ndim - 2)).astype(x.dtype)


def m_qlinearavgpool(node, inits, feeds):
    """Float path: v = float32(x_scale * float(x - zp)); sum in float32 over the in-image taps of
    the window, rows outer / columns inner, from 0; divide by the count (kernel size if
    count_include_pad, else the in-image taps; windows are clipped to the image, not to the
    padded image); y = clamp((int)nearbyintf(sum / y_scale + y_zp)).
    Kernel == whole image with zero pads: the integer global-average-pool path instead."""
    x, xs, xz, ys, yz = (_get(n, inits, feeds) for n in node.input[:5])
    ks, st, dl, pb, pads, outs, a = _pool_windows(node, x.shape)
    nsp = x.ndim - 2
    if list(ks) == list(x.shape[2:]) and all(p == 0 for p in pads):
        y = _gap_requant(x, xs, xz, ys, yz, int(np.prod(ks)), tuple(range(2, x.ndim)))
        return y.reshape(list(x.shape[:2]) + [1] * nsp).astype(x.dtype)
    cip = int(a.get("count_include_pad", 0))
    v = (F32(xs) * (x.astype(np.int64) - int(xz)).astype(F32)).astype(F32)
    qmin, qmax = _qinfo(x)
    y = np.empty(list(x.shape[:2]) + outs, x.dtype)
    for o in np.ndindex(*outs):
        ranges = []
        for i in range(nsp):
            s = o[i] * st[i] - pb[i]
            e = min(s + ks[i], x.shape[2 + i])
            ranges.append(list(range(max(s, 0), e)))
        acc = np.zeros(x.shape[:2], F32)
        for tap in np.ndindex(*[len(r) for r in ranges]):
            idx = tuple(ranges[i][tap[i]] for i in range(nsp))
            acc = (acc + v[(slice(None), slice(None)) + idx]).astype(F32)
        cnt = int(np.prod(ks)) if cip else int(np.prod([len(r) for r in ranges]))
        avg = (acc / F32(cnt)).astype(F32)
        q = np.rint((avg / F32(ys)).astype(F32) + F32(int(yz))).astype(np.int64)
        y[(slice(None), slice(None)) + o] = np.clip(q, qmin, qmax)
    return y


def m_quantizelinear(node, inits, feeds):
    """MlasQuantizeLinear: rne(x / scale) (float32 division) + zp, saturated."""
    x = _get(node.input[0], inits, feeds)
    s = _get(node.input[1], inits, feeds)
    z = _get(node.input[2], inits, feeds) if len(node.input) > 2 else np.uint8(0)
    axis = _attrs(node).get("axis", 1)
    shape = [1] * x.ndim
    if np.ndim(s) == 1 and np.size(s) > 1:
        shape[axis % x.ndim] = -1
    sb = np.asarray(s, F32).reshape(shape)
    zb = np.asarray(z).astype(np.int64).reshape(shape)
    qmin, qmax = _qinfo(np.asarray(z))
    q = np.rint((x / sb).astype(F32)).astype(np.int64) + zb
    return np.clip(q, qmin, qmax).astype(np.asarray(z).dtype)


def m_dequantizelinear(node, inits, feeds):
    """float32(int32(x) - zp) * scale."""
    x = _get(node.input[0], inits, feeds)
    s = _get(node.input[1], inits, feeds)
    z = _get(node.input[2], inits, feeds) if len(node.input) > 2 else np.zeros((), x.dtype)
    axis = _attrs(node).get("axis", 1)
    shape = [1] * x.ndim
    if np.ndim(s) == 1 and np.size(s) > 1:
        shape[axis % x.ndim] = -1
    d = (x.astype(np.int64) - np.asarray(z).astype(np.int64).reshape(shape)).astype(np.int32).astype(F32)
    return (d * np.asarray(s, F32).reshape(shape)).astype(F32)


def m_qlinearconcat(node, inits, feeds):
    """Inputs whose (scale, zp) equal the output's are copied; others go through a 256-entry
    table: t[q] = QuantizeLinear(x_scale * float(q - x_zp), y_scale, y_zp)."""
    ys, yz = (_get(n, inits, feeds) for n in node.input[:2])
    axis = _attrs(node)["axis"]
    qmin, qmax = _qinfo(np.asarray(yz))
    parts = []
    for i in range(2, len(node.input), 3):
        x, xs, xz = (_get(n, inits, feeds) for n in node.input[i:i + 3])
        if F32(xs) == F32(ys) and int(xz) == int(yz):
            parts.append(x)
            continue
        real = (F32(xs) * (x.astype(np.int64) - int(xz)).astype(F32)).astype(F32)
        q = np.rint((real / F32(ys)).astype(F32)).astype(np.int64) + int(yz)
        parts.append(np.clip(q, qmin, qmax).astype(x.dtype))
    return np.concatenate(parts, axis=axis)


MODELS = {
    "qlinearconv": m_qlinearconv, "qlinearmatmul": m_qlinearmatmul, "qlinearadd": m_qlinearadd,
    "qlinearavgpool": m_qlinearavgpool, "qlinearglobalavgpool": m_qlinearglobalavgpool, "maxpool": m_maxpool,
    "quantizelinear": m_quantizelinear, "dequantizelinear": m_dequantizelinear, "convinteger": m_convinteger,
    "matmulinteger": m_matmulinteger, "qlinearconcat": m_qlinearconcat,
}


def model_outputs(case):
    node = case.model.graph.node[0]
    feeds = dict(zip(case.input_names(), case.inputs))
    return [MODELS[case.category](node, _inits(case.model), feeds)]


def main(argv=None):
    import onnxruntime as ort

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--category", action="append", choices=sorted(MODELS))
    ap.add_argument("-v", action="store_true")
    args = ap.parse_args(argv)
    cats = args.category or sorted(MODELS)
    passed = failed = 0
    for i in range(args.count):
        case = gm.generate_case(args.seed + i, categories=cats)
        sess = ort.InferenceSession(case.model.SerializeToString(), providers=["CPUExecutionProvider"])
        exp = sess.run(None, dict(zip(case.input_names(), case.inputs)))
        got = model_outputs(case)
        ok = all(e.dtype == g.dtype and e.shape == g.shape and
                 (np.array_equal(e.view(np.uint32), g.view(np.uint32)) if e.dtype == F32 else np.array_equal(e, g))
                 for e, g in zip(exp, got))
        if ok:
            passed += 1
        else:
            failed += 1
            e, g = exp[0], got[0]
            detail = ""
            if e.shape == g.shape and e.dtype == g.dtype:
                bad = np.argwhere(e != g)
                detail = f"{len(bad)}/{e.size} differ, first {bad[0].tolist()}: ort {e[tuple(bad[0])]!r} model {g[tuple(bad[0])]!r}"
            else:
                detail = f"ort {e.dtype}{list(e.shape)} model {g.dtype}{list(g.shape)}"
            print(f"MISMATCH seed={case.seed} [{case.category}] {case.summary}: {detail}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

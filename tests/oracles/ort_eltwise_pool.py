#!/usr/bin/env python3
"""ort_eltwise_pool.py - prove qmac's ONNX Runtime formulas for QLinearAdd, QLinearAveragePool and
QLinearGlobalAveragePool (com.microsoft, opset 1) bit-exact against onnxruntime on this machine.

For each op it builds small single-node models with onnx.helper, runs them with onnxruntime
(CPU provider, graph optimizations off, scales and zero points fed as graph inputs so that one
session serves many quantization parameters), and compares every output element with a numpy
float32 emulation of the formula documented in sw/include/qmac/kernels.h:

  QLinearAdd (x86 MLAS AVX2 kernel, GCC-contracted prologue):
      rA = sA/sC, rB = sB/sC, bias = zC - fma(rA, zA, rB*zB)
      y  = sat(cvt_rne(fma(a, rA, fma(b, rB, bias))))                    (A span; B span or scalar)
      y  = sat(cvt_rne(fma(b, rB, fma(a, rA, zC - fma(rB, zB, rA*zA)))))   (A single element of its span:
                                                                           qmac_add_onnxrt_a_is_scalar)
  QLinearAveragePool: deq = xs*(x-xz); sum in float32 in window order; / (float)count;
      y = clamp(cvt(nearbyintf(avg / ys + yz))); kernel == image and no pads -> global path
  QLinearGlobalAveragePool: acc = sum(x) - xz*HW (int32); scale = xs / (ys * (float)HW);
      y = clamp(rne(clamp((float)acc * scale, qmin-yz, qmax-yz)) + yz)

It also reports how many elements a few plausible-but-wrong variants would get wrong, to show that
the random cases discriminate. With --c-lib it compiles sw/src into a shared library and checks
the C kernels (qmac_add_onnxrt_span, qmac_avgpool_onnxrt, qmac_global_avgpool_onnxrt) against the
same onnxruntime outputs.

Usage: .venv/bin/python tests/oracles/ort_eltwise_pool.py [--cases N] [--seed S] [--c-lib]
Exit status 0 when every comparison matched, 1 otherwise. Every failure prints the seed.
"""
import argparse
import ctypes
import os
import platform
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper

F32 = np.float32
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


# ---------------------------------------------------------------- float32 helpers

def fma32(x, y, z):
    """Correctly rounded float32 fma(x, y, z), elementwise.

    x*y is exact in float64 (an integer of <= 9 bits or a float32 times a float32). The sum is
    formed in float64 with round-to-odd (TwoSum error term, then nudge an even result towards
    the error), which makes the final rounding to float32 correct (53 >= 24 + 2)."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    z = np.asarray(z, np.float64)
    p = x * y
    s = p + z
    bb = s - p
    err = (p - (s - bb)) + (z - bb)
    even = (s.view(np.int64) & 1) == 0
    fix = (err != 0) & even & np.isfinite(s)
    s = np.where(fix, np.nextafter(s, np.where(err > 0, np.inf, -np.inf)), s)
    with np.errstate(over="ignore", invalid="ignore"):
        return s.astype(F32)


def cvt_i32(v):
    """x86 cvtps2dq/cvttss2si on an integral float: NaN or out of int32 -> INT32_MIN."""
    v = np.asarray(v, np.float64)
    bad = ~(np.abs(v) < 2.0 ** 31) | np.isnan(v)
    return np.where(bad, -(2 ** 31), np.nan_to_num(v)).astype(np.int64)


def qrange(dt):
    info = np.iinfo(dt)
    return int(info.min), int(info.max)


def ttype(dt):
    return TensorProto.INT8 if dt == np.int8 else TensorProto.UINT8


def session(nodes_inputs, node, out_dt):
    graph = helper.make_graph([node], "g", nodes_inputs, [helper.make_tensor_value_info("Y", ttype(out_dt), None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
                              ir_version=8)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    so.log_severity_level = 4  # the range errors below are expected: keep them quiet
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def scalar_in(name, t):
    return helper.make_tensor_value_info(name, t, [])


# ---------------------------------------------------------------- QLinearAdd

def add_session(dt, shape_a, shape_b):
    t = ttype(dt)
    ins = [helper.make_tensor_value_info("A", t, shape_a), scalar_in("sa", TensorProto.FLOAT), scalar_in("za", t),
           helper.make_tensor_value_info("B", t, shape_b), scalar_in("sb", TensorProto.FLOAT), scalar_in("zb", t),
           scalar_in("sc", TensorProto.FLOAT), scalar_in("zc", t)]
    node = helper.make_node("QLinearAdd", ["A", "sa", "za", "B", "sb", "zb", "sc", "zc"], ["Y"],
                            domain="com.microsoft")
    return session(ins, node, dt)


def add_emul(a, b, q, dt, a_scalar=False, variant="exact"):
    """q = (sa, za, sb, zb, sc, zc). variant: exact | nofma | plainbias."""
    sa, za, sb, zb, sc, zc = q
    qmin, qmax = qrange(dt)
    ra = F32(sa) / F32(sc)
    rb = F32(sb) / F32(sc)
    a = np.asarray(a).astype(F32)
    b = np.asarray(b).astype(F32)
    if a_scalar:  # ORT hands (B span, A scalar) to MLAS: every role swaps
        a, b, ra, rb, za, zb = b, a, rb, ra, zb, za
    with np.errstate(over="ignore", invalid="ignore"):
        if variant == "exact":
            bias = F32(zc) - fma32(ra, F32(za), F32(rb * F32(zb)))
            y = fma32(a, ra, fma32(b, rb, bias))
        elif variant == "plainbias":
            bias = F32(zc) - F32(F32(ra * F32(za)) + F32(rb * F32(zb)))
            y = fma32(a, ra, fma32(b, rb, bias))
        else:  # nofma
            bias = F32(zc) - F32(F32(ra * F32(za)) + F32(rb * F32(zb)))
            y = (bias + b * rb).astype(F32) + (a * ra).astype(F32)
        r = np.rint(np.asarray(y, F32))
    return np.clip(cvt_i32(r), qmin, qmax)


def add_feed(q, dt):
    sa, za, sb, zb, sc, zc = q
    return {"sa": np.array(sa, F32), "za": np.array(za, dt), "sb": np.array(sb, F32), "zb": np.array(zb, dt),
            "sc": np.array(sc, F32), "zc": np.array(zc, dt)}


def rand_add_q(rng, dt, lo=-3.0, hi=0.0):
    qmin, qmax = qrange(dt)
    s = (10.0 ** rng.uniform(lo, hi, 3)).astype(F32)
    z = rng.integers(qmin, qmax + 1, 3)
    return (s[0], int(z[0]), s[1], int(z[1]), s[2], int(z[2]))


# ---------------------------------------------------------------- pools

def pool_session(dt, xshape, attrs, op):
    t = ttype(dt)
    ins = [helper.make_tensor_value_info("X", t, xshape), scalar_in("xs", TensorProto.FLOAT), scalar_in("xz", t),
           scalar_in("ys", TensorProto.FLOAT), scalar_in("yz", t)]
    node = helper.make_node(op, ["X", "xs", "xz", "ys", "yz"], ["Y"], domain="com.microsoft", **attrs)
    return session(ins, node, dt)


def pool_feed(x, xs, xz, ys, yz, dt):
    return {"X": x, "xs": np.array(xs, F32), "xz": np.array(xz, dt), "ys": np.array(ys, F32), "yz": np.array(yz, dt)}


class RangeError(Exception):
    pass


def global_emul(x, xs, xz, ys, yz, dt, variant="exact"):
    """x: [..., HW] integers -> [...]."""
    qmin, qmax = qrange(dt)
    hw = x.shape[-1]
    scale = F32(xs) / F32(F32(ys) * F32(hw))
    if hw >= 2 ** 24 or not (2.0 ** -32 <= scale < 256.0):
        raise RangeError("out of ORT's computation range")
    if variant == "float":  # plausible alternative: dequantize, average in float
        deq = F32(xs) * (x.astype(np.int64) - xz).astype(F32)
        avg = deq.sum(-1, dtype=F32) / F32(hw)
        return np.clip(cvt_i32(np.rint(avg / F32(ys) + F32(yz))), qmin, qmax)
    acc = x.astype(np.int64).sum(-1) - int(xz) * hw
    acc = ((acc + 2 ** 31) % 2 ** 32) - 2 ** 31  # int32 wrap
    f = acc.astype(F32) * scale
    f = np.minimum(np.maximum(f, F32(qmin - yz)), F32(qmax - yz))
    return np.rint(f).astype(np.int64) + int(yz)


def out_size(n, k, s, pb, pe, ceil):
    span = n + pb + pe - k
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= n + pb:
        out -= 1
    return out


def avg_emul(x, xs, xz, ys, yz, dt, k, s, pads, cip, ceil, variant="exact"):
    """x: NCHW integers. pads = (top, left, bottom, right)."""
    qmin, qmax = qrange(dt)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (pt, pl, pb, pr) = k, s, pads
    oh, ow = out_size(h, kh, sh, pt, pb, ceil), out_size(w, kw, sw, pl, pr, ceil)
    if kh == h and kw == w and not any(pads) and variant != "noglobal":
        return global_emul(x.reshape(n, c, h * w), xs, xz, ys, yz, dt).reshape(n, c, 1, 1)
    acc_t = np.float64 if variant == "f64sum" else F32
    deq = (F32(xs) * (x.astype(np.int64) - int(xz)).astype(F32)).astype(acc_t)
    y = np.zeros((n, c, oh, ow), np.int64)
    for i in range(oh):
        h0 = i * sh - pt
        h1 = min(h0 + kh, h)
        h0 = max(h0, 0)
        for j in range(ow):
            w0 = j * sw - pl
            w1 = min(w0 + kw, w)
            w0 = max(w0, 0)
            acc = np.zeros((n, c), acc_t)
            for hh in range(h0, h1):
                for ww in range(w0, w1):
                    acc = acc + deq[:, :, hh, ww]
            acc = acc.astype(F32)
            cnt = kh * kw if cip else (h1 - h0) * (w1 - w0)
            if variant == "padcount" and cip:  # divisor clipped to the padded image
                ph0, ph1 = max(i * sh - pt, -pt), min(i * sh - pt + kh, h + pb)
                pw0, pw1 = max(j * sw - pl, -pl), min(j * sw - pl + kw, w + pr)
                cnt = (ph1 - ph0) * (pw1 - pw0)
            with np.errstate(all="ignore"):
                avg = acc / F32(cnt)
                if variant == "recip":
                    t = avg * (F32(1) / F32(ys)) + F32(yz)
                else:
                    t = avg / F32(ys) + F32(yz)
                y[:, :, i, j] = np.clip(cvt_i32(np.rint(t.astype(F32))), qmin, qmax)
    return y


# ---------------------------------------------------------------- the C library (optional)

class AddParams(ctypes.Structure):
    _fields_ = [("ratio_a", ctypes.c_float), ("ratio_b", ctypes.c_float), ("bias", ctypes.c_float),
                ("a_zp", ctypes.c_int32), ("b_zp", ctypes.c_int32), ("y_zp", ctypes.c_int32),
                ("qmin", ctypes.c_int32), ("qmax", ctypes.c_int32)]


class Dims(ctypes.Structure):
    _fields_ = [("n", ctypes.c_int32), ("h", ctypes.c_int32), ("w", ctypes.c_int32), ("c", ctypes.c_int32)]


class PoolParams(ctypes.Structure):
    _fields_ = [(f, ctypes.c_int32) for f in ("k_h", "k_w", "stride_h", "stride_w", "dil_h", "dil_w", "pad_top",
                                               "pad_left", "pad_bottom", "pad_right")]


class CLib:
    """sw/src compiled into a temporary shared library, called through ctypes."""
    SOURCES = ["conv.c", "pool.c", "eltwise.c", "requant.c", "status.c", "types.c"]

    def __init__(self, workdir):
        so = os.path.join(workdir, "libqmac_kern.so")
        cc = os.environ.get("CC", "cc")
        cmd = [cc, "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-O2", "-shared", "-fPIC",
               "-I" + os.path.join(REPO, "sw", "include"), "-o", so]
        cmd += [os.path.join(REPO, "sw", "src", s) for s in self.SOURCES] + ["-lm"]
        subprocess.run(cmd, check=True)
        self.lib = ctypes.CDLL(so)
        L = self.lib
        L.qmac_add_onnxrt_prepare.argtypes = [ctypes.c_float, ctypes.c_int32, ctypes.c_float, ctypes.c_int32,
                                              ctypes.c_float, ctypes.c_int32, ctypes.c_int, ctypes.POINTER(AddParams)]
        L.qmac_add_onnxrt_span.argtypes = [ctypes.POINTER(AddParams), ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t,
                                           ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        L.qmac_avgpool_onnxrt.argtypes = [ctypes.POINTER(PoolParams), ctypes.c_int, ctypes.POINTER(Dims), ctypes.c_int,
                                          ctypes.c_void_p, ctypes.c_float, ctypes.c_int32, ctypes.POINTER(Dims),
                                          ctypes.c_float, ctypes.c_int32, ctypes.c_void_p]
        L.qmac_global_avgpool_onnxrt.argtypes = [ctypes.POINTER(Dims), ctypes.c_int, ctypes.c_void_p, ctypes.c_float,
                                                 ctypes.c_int32, ctypes.c_float, ctypes.c_int32, ctypes.c_void_p]
        L.qmac_add_onnxrt_a_is_scalar.argtypes = [ctypes.c_int32, ctypes.POINTER(ctypes.c_int64), ctypes.c_int32,
                                                  ctypes.POINTER(ctypes.c_int64)]
        for f in ("qmac_add_onnxrt_a_is_scalar", "qmac_add_onnxrt_prepare", "qmac_add_onnxrt_span", "qmac_avgpool_onnxrt",
                  "qmac_global_avgpool_onnxrt"):
            getattr(L, f).restype = ctypes.c_int

    @staticmethod
    def dt(dt):
        return 1 if dt == np.int8 else 2  # QMAC_DT_INT8, QMAC_DT_UINT8

    def add_rows(self, a, b, q, dt):
        """a: [R, La], b: [R, Lb] with La, Lb in {1, L}: one ORT span per row."""
        sa, za, sb, zb, sc, zc = q
        p = AddParams()
        st = self.lib.qmac_add_onnxrt_prepare(F32(sa), za, F32(sb), zb, F32(sc), zc, self.dt(dt), ctypes.byref(p))
        assert st == 0, st
        a = np.ascontiguousarray(a, dt)
        b = np.ascontiguousarray(b, dt)
        rows, n = a.shape[0], max(a.shape[1], b.shape[1])
        y = np.zeros((rows, n), dt)
        for r in range(rows):
            st = self.lib.qmac_add_onnxrt_span(ctypes.byref(p), self.dt(dt), a[r].ctypes.data, a.shape[1],
                                               b[r].ctypes.data, b.shape[1], y[r].ctypes.data)
            assert st == 0, st
        return y.astype(np.int64)

    def avgpool(self, x_nchw, xs, xz, ys, yz, dt, k, s, pads, cip, out_hw):
        x = np.ascontiguousarray(x_nchw.transpose(0, 2, 3, 1), dt)
        n, h, w, c = x.shape
        p = PoolParams(k[0], k[1], s[0], s[1], 1, 1, pads[0], pads[1], pads[2], pads[3])
        yd = Dims(n, out_hw[0], out_hw[1], c)
        y = np.zeros((n, out_hw[0], out_hw[1], c), dt)
        st = self.lib.qmac_avgpool_onnxrt(ctypes.byref(p), cip, ctypes.byref(Dims(n, h, w, c)), self.dt(dt),
                                          x.ctypes.data, F32(xs), xz, ctypes.byref(yd), F32(ys), yz, y.ctypes.data)
        return st, y.transpose(0, 3, 1, 2).astype(np.int64)

    def global_avgpool(self, x_nchw, xs, xz, ys, yz, dt):
        x = np.ascontiguousarray(x_nchw.transpose(0, 2, 3, 1), dt)
        n, h, w, c = x.shape
        y = np.zeros((n, c), dt)
        st = self.lib.qmac_global_avgpool_onnxrt(ctypes.byref(Dims(n, h, w, c)), self.dt(dt), x.ctypes.data, F32(xs),
                                                 xz, F32(ys), yz, y.ctypes.data)
        return st, y.astype(np.int64)


# ---------------------------------------------------------------- the checks

class Tally:
    def __init__(self):
        self.rows = []  # (section, cases, elements, mismatches, c_mismatches, alternatives)
        self.failed = False

    def add(self, section, cases, elements, mism, c_mism, alts):
        self.rows.append((section, cases, elements, mism, c_mism, alts))
        if mism or (c_mism not in (None, 0)):
            self.failed = True


def check_add(rng, n_cases, clib, tally, seed):
    for dt in (np.int8, np.uint8):
        qmin, qmax = qrange(dt)
        vals = np.arange(qmin, qmax + 1)
        # every (a, b) pair, both inputs full spans
        a_all = np.repeat(vals, 256).astype(dt)
        b_all = np.tile(vals, 256).astype(dt)
        sess = add_session(dt, [65536], [65536])
        mism = c_mism = 0
        alts = {"nofma": 0, "plainbias": 0}
        for i in range(n_cases):
            q = rand_add_q(rng, dt, -12, 12) if i % 10 == 9 else rand_add_q(rng, dt)
            got = sess.run(None, dict(add_feed(q, dt), A=a_all, B=b_all))[0].astype(np.int64)
            exp = add_emul(a_all, b_all, q, dt)
            bad = int((exp != got).sum())
            if bad and mism == 0:
                j = int(np.argmax(exp != got))
                print(f"  MISMATCH add {dt.__name__} q={q} a={a_all[j]} b={b_all[j]} ort={got[j]} emul={exp[j]} "
                      f"(seed {seed})")
            mism += bad
            for v in alts:
                alts[v] += int((add_emul(a_all, b_all, q, dt, variant=v) != got).sum())
            if clib:
                c = clib.add_rows(a_all.reshape(1, -1), b_all.reshape(1, -1), q, dt).reshape(-1)
                c_mism += int((c != got).sum())
        tally.add(f"QLinearAdd {dt.__name__} full spans (all 65536 pairs/case)", n_cases, n_cases * 65536, mism,
                  c_mism if clib else None, alts)

        # broadcast: A [256,1] + B [256] (A is the scalar of each span) and the mirror image
        s_a = add_session(dt, [256, 1], [256])
        s_b = add_session(dt, [256], [256, 1])
        vcol = vals.astype(dt).reshape(256, 1)
        vrow = vals.astype(dt)
        grid_a = np.broadcast_to(vcol, (256, 256))  # a[i] along rows
        grid_b = np.broadcast_to(vrow, (256, 256))
        for name, sess_, a_grid, b_grid, feed_ab, a_scalar in (
                ("A scalar per span", s_a, grid_a, grid_b, (vcol, vrow), True),
                ("B scalar per span", s_b, grid_b, grid_a, (vrow, vcol), False)):
            mism = c_mism = 0
            alts = {"other-form": 0}
            for i in range(n_cases):
                q = rand_add_q(rng, dt)
                got = sess_.run(None, dict(add_feed(q, dt), A=feed_ab[0], B=feed_ab[1]))[0].astype(np.int64)
                exp = add_emul(a_grid, b_grid, q, dt, a_scalar=a_scalar)
                mism += int((exp != got).sum())
                alts["other-form"] += int((add_emul(a_grid, b_grid, q, dt, a_scalar=not a_scalar) != got).sum())
                if clib:
                    if a_scalar:
                        c = clib.add_rows(vcol, np.broadcast_to(vrow, (256, 256)), q, dt)
                    else:
                        c = clib.add_rows(np.broadcast_to(vrow, (256, 256)), vcol, q, dt)
                    c_mism += int((c != got).sum())
            tally.add(f"QLinearAdd {dt.__name__} {name}", n_cases, n_cases * 65536, mism, c_mism if clib else None,
                      alts)

        # single elements ([1]+[1], []+[]): ORT treats A as the scalar. Probe inputs where the
        # two forms differ, found with the emulation.
        s1 = add_session(dt, [1], [1])
        s0 = add_session(dt, [], [])
        probes = mism = c_mism = 0
        alts = {"full-form": 0}
        tries = 0
        while probes < max(20, n_cases // 10) and tries < 50 * n_cases:
            tries += 1
            q = rand_add_q(rng, dt)
            full = add_emul(a_all, b_all, q, dt)
            swap = add_emul(a_all, b_all, q, dt, a_scalar=True)
            idx = np.nonzero(full != swap)[0]
            if len(idx) == 0:
                continue
            j = int(idx[0])
            for sess_, shape in ((s1, (1,)), (s0, ())):
                a1 = np.full(shape, a_all[j], dt)
                b1 = np.full(shape, b_all[j], dt)
                got = int(sess_.run(None, dict(add_feed(q, dt), A=a1, B=b1))[0].reshape(-1)[0])
                probes += 1
                mism += got != swap[j]
                alts["full-form"] += got != full[j]
                if clib:
                    c_mism += int(clib.add_rows(a1.reshape(1, 1), b1.reshape(1, 1), q, dt)[0, 0] != got)
        tally.add(f"QLinearAdd {dt.__name__} single elements (targeted)", probes, probes, mism,
                  c_mism if clib else None, alts)


def a_is_scalar(a_shape, y_shape):
    """The rule of qmac_add_onnxrt_a_is_scalar (sw/include/qmac/kernels.h)."""
    axis = len(y_shape) - 1
    while axis >= 0 and y_shape[axis] == 1:
        axis -= 1
    if axis < 0:
        return True
    a_axis = axis - (len(y_shape) - len(a_shape))
    return a_axis < 0 or a_shape[a_axis] == 1


BCAST_SHAPES = [([3, 1], [3, 1]), ([2, 3, 1], [2, 3, 4]), ([1, 4], [3, 1]), ([1], [3, 4]), ([4], [3, 4]),
                ([3, 1], [1, 1]), ([2, 1, 3], [2, 4, 3]), ([3, 4], [3, 1]), ([3, 1], [3, 4]), ([1, 1], [3, 4]),
                ([2, 3, 4], [1, 1, 1]), ([1, 1, 1], [2, 3, 4]), ([5, 1, 1], [5, 3, 1]), ([5, 3, 1], [5, 1, 1]),
                ([1, 3], [1, 3]), ([1, 1], [1, 1]), ([2, 1], [1, 3]), ([1, 3], [2, 1]), ([], [2]), ([2], []),
                ([3, 1, 2], [1, 4, 1])]


def check_add_broadcast_rule(rng, n_probes, clib, tally, seed):
    """Fill A and B with one (a, b) pair on which the two forms differ; the output then reveals
    which form ORT used for every element. Compare with the a_is_scalar rule (and the C one)."""
    dt = np.int8
    qmin, qmax = qrange(dt)
    vals = np.arange(qmin, qmax + 1)
    a_all, b_all = np.repeat(vals, 256), np.tile(vals, 256)
    probes = []
    while len(probes) < n_probes:
        q = rand_add_q(rng, dt)
        full, swap = add_emul(a_all, b_all, q, dt), add_emul(a_all, b_all, q, dt, a_scalar=True)
        idx = np.nonzero(full != swap)[0]
        if len(idx):
            j = int(idx[int(rng.integers(0, len(idx)))])
            probes.append((q, int(a_all[j]), int(b_all[j]), int(full[j]), int(swap[j])))
    mism = c_mism = always_plain = 0
    for sa_, sb_ in BCAST_SHAPES:
        sess = add_session(dt, sa_, sb_)
        y_shape = list(np.broadcast_shapes(tuple(sa_), tuple(sb_)))
        want_swap = a_is_scalar(sa_, y_shape)
        for q, a, b, full, swap in probes:
            got = sess.run(None, dict(add_feed(q, dt), A=np.full(sa_, a, dt), B=np.full(sb_, b, dt)))[0]
            mism += int((got.astype(np.int64) != (swap if want_swap else full)).sum())
            always_plain += int((got.astype(np.int64) != full).sum())
        if clib:
            ca = (ctypes.c_int64 * max(1, len(sa_)))(*sa_)
            cy = (ctypes.c_int64 * max(1, len(y_shape)))(*y_shape)
            c_mism += int(bool(clib.lib.qmac_add_onnxrt_a_is_scalar(len(sa_), ca, len(y_shape), cy)) != want_swap)
    tally.add(f"QLinearAdd int8 broadcast rule ({len(BCAST_SHAPES)} shape pairs x {n_probes} probes)",
              len(BCAST_SHAPES) * n_probes, len(BCAST_SHAPES) * n_probes, mism, c_mism if clib else None,
              {"always-plain-form(elements)": always_plain})


def tie_prone_scales(rng):
    """Random (x_scale, y_scale); 40% of the time y_scale = x_scale * 2^j, which puts many
    averages on or next to a .5 boundary, where the float32 operation order decides the result."""
    xs = F32(10.0 ** rng.uniform(-3, 0))
    if rng.random() < 0.4:
        return xs, F32(xs * F32(2.0 ** int(rng.integers(-1, 2))))
    return xs, F32(10.0 ** rng.uniform(-3, 0))


def check_avgpool(rng, n_cases, clib, tally, seed):
    mism = c_mism = runs = elems = ort_errors = 0
    alts = {"f64sum": 0, "recip": 0, "padcount": 0, "noglobal": 0}
    for i in range(n_cases):
        dt = (np.int8, np.uint8)[i % 2]
        qmin, qmax = qrange(dt)
        kh, kw = (int(v) for v in rng.integers(1, 5, 2))
        sh, sw = (int(v) for v in rng.integers(1, 4, 2))
        pads = [int(rng.integers(0, kh)), int(rng.integers(0, kw)), int(rng.integers(0, kh)), int(rng.integers(0, kw))]
        if rng.random() < 0.3:
            pads = [0, 0, 0, 0]
        big = rng.random() < 0.1  # > 512 elements: ORT dequantizes through a lookup table
        h = int(rng.integers(kh, 13 if big else 9))
        w = int(rng.integers(kw, 13 if big else 9))
        if rng.random() < 0.1:
            kh, kw = h, w  # candidates for ORT's fallback to the global pool
            if rng.random() < 0.5:
                pads = [0, 0, 0, 0]
        cip, ceil, cl = int(rng.integers(0, 2)), int(rng.integers(0, 2)), int(rng.integers(0, 2))
        n, c = int(rng.integers(1, 3)), int(rng.integers(1, 9 if big else 5))
        attrs = dict(kernel_shape=[kh, kw], strides=[sh, sw], pads=pads, count_include_pad=cip, ceil_mode=ceil,
                     channels_last=cl)
        sess = pool_session(dt, [n, h, w, c] if cl else [n, c, h, w], attrs, "QLinearAveragePool")
        for _ in range(4):
            x = rng.integers(qmin, qmax + 1, (n, c, h, w)).astype(dt)
            xs, ys = tie_prone_scales(rng)
            xz, yz = (int(v) for v in rng.integers(qmin, qmax + 1, 2))
            xin = np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if cl else x
            try:
                exp = avg_emul(x, xs, xz, ys, yz, dt, (kh, kw), (sh, sw), pads, cip, ceil)
            except RangeError:
                exp = None
            try:
                got = sess.run(None, pool_feed(xin, xs, xz, ys, yz, dt))[0]
            except Exception:  # ORT rejects the global fallback's out-of-range scale: so must we
                ort_errors += 1
                mism += exp is not None
                if clib:
                    st, _ = clib.avgpool(x, xs, xz, ys, yz, dt, (kh, kw), (sh, sw), pads, cip, (1, 1))
                    c_mism += st == 0
                continue
            got = (got.transpose(0, 3, 1, 2) if cl else got).astype(np.int64)
            runs += 1
            elems += got.size
            if exp is None or exp.shape != got.shape:
                mism += got.size
                print(f"  MISMATCH avgpool shape {attrs} x {x.shape}: ort {got.shape} emul "
                      f"{None if exp is None else exp.shape} (seed {seed})")
                continue
            bad = int((exp != got).sum())
            if bad and mism == 0:
                print(f"  MISMATCH avgpool {attrs} x {x.shape} xs={xs} xz={xz} ys={ys} yz={yz} (seed {seed})")
            mism += bad
            for v in alts:
                alts[v] += int((avg_emul(x, xs, xz, ys, yz, dt, (kh, kw), (sh, sw), pads, cip, ceil, v) != got).sum())
            if clib:
                st, cy = clib.avgpool(x, xs, xz, ys, yz, dt, (kh, kw), (sh, sw), pads, cip, got.shape[2:])
                c_mism += got.size if st != 0 else int((cy != got).sum())
    tally.add(f"QLinearAveragePool int8/uint8 ({runs} runs, {ort_errors} range errors)", n_cases, elems, mism,
              c_mism if clib else None, alts)


def check_global(rng, n_cases, clib, tally, seed):
    mism = c_mism = runs = elems = ort_errors = 0
    alts = {"float": 0}
    sizes = [(1, 1), (1, 7), (2, 3), (7, 7), (5, 13), (14, 14), (33, 31), (64, 64)]
    for i in range(n_cases):
        dt = (np.int8, np.uint8)[i % 2]
        qmin, qmax = qrange(dt)
        h, w = sizes[int(rng.integers(0, len(sizes)))]
        n, c = int(rng.integers(1, 3)), int(rng.integers(1, 20))
        cl = int(rng.integers(0, 2))
        sess = pool_session(dt, [n, h, w, c] if cl else [n, c, h, w], {"channels_last": cl},
                            "QLinearGlobalAveragePool")
        x = rng.integers(qmin, qmax + 1, (n, c, h, w)).astype(dt)
        xs, ys = tie_prone_scales(rng)
        if rng.random() < 0.2:  # probe ORT's [2^-32, 256) range check
            ys = F32(xs * 10.0 ** rng.uniform(-4.5, 1.5))
        xz, yz = (int(v) for v in rng.integers(qmin, qmax + 1, 2))
        xin = np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if cl else x
        try:
            exp = global_emul(x.reshape(n, c, h * w), xs, xz, ys, yz, dt)
        except RangeError:
            exp = None
        try:
            got = sess.run(None, pool_feed(xin, xs, xz, ys, yz, dt))[0].reshape(n, c).astype(np.int64)
        except Exception:
            ort_errors += 1
            mism += exp is not None
            if clib:
                st, _ = clib.global_avgpool(x, xs, xz, ys, yz, dt)
                c_mism += st == 0
            continue
        runs += 1
        elems += got.size
        if exp is None:
            mism += got.size
            continue
        bad = int((exp != got).sum())
        if bad and mism == 0:
            print(f"  MISMATCH global avgpool x {x.shape} cl={cl} xs={xs} xz={xz} ys={ys} yz={yz} (seed {seed})")
        mism += bad
        alts["float"] += int((global_emul(x.reshape(n, c, h * w), xs, xz, ys, yz, dt, "float") != got).sum())
        if clib:
            st, cy = clib.global_avgpool(x, xs, xz, ys, yz, dt)
            c_mism += got.size if st != 0 else int((cy != got).sum())
    tally.add(f"QLinearGlobalAveragePool int8/uint8 ({runs} runs, {ort_errors} range errors)", n_cases, elems, mism,
              c_mism if clib else None, alts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=200, help="random cases per section (default 200)")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: random, printed)")
    ap.add_argument("--c-lib", action="store_true", help="also check the C kernels of sw/src through ctypes")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    print(f"ort_eltwise_pool: onnxruntime {ort.__version__}, numpy {np.__version__}, {platform.machine()}, "
          f"seed {seed} (rerun: {sys.argv[0]} --seed {seed} --cases {args.cases}{' --c-lib' if args.c_lib else ''})")
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        pass
    if platform.machine() not in ("x86_64", "AMD64") or " avx2" not in flags or " fma" not in flags:
        print("  WARNING: the formulas are those of ORT's x86 AVX2/FMA kernels; this CPU may take another path")
    rng = np.random.default_rng(seed)
    tally = Tally()
    with tempfile.TemporaryDirectory() as tmp:
        clib = CLib(tmp) if args.c_lib else None
        check_add(rng, args.cases, clib, tally, seed)
        check_add_broadcast_rule(rng, max(4, args.cases // 20), clib, tally, seed)
        check_avgpool(rng, args.cases * 4, clib, tally, seed)
        check_global(rng, args.cases * 2, clib, tally, seed)
    print(f"{'section':<66} {'cases':>6} {'elements':>10} {'emul!=ort':>9} {'C!=ort':>7}  wrong variants")
    for section, cases, elems, mism, c_mism, alts in tally.rows:
        alt = ", ".join(f"{k} {v}" for k, v in alts.items())
        c_col = "-" if c_mism is None else str(c_mism)
        print(f"{section:<66} {cases:>6} {elems:>10} {mism:>9} {c_col:>7}  {alt}")
    print("ort_eltwise_pool: " + ("FAILED" if tally.failed else "all outputs match") + f" (seed {seed})")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())

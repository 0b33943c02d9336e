#!/usr/bin/env python3
"""calib_ref.py - reference numbers for tests/unit/test_calib.c.

  .venv/bin/python tests/oracles/calib_ref.py

Sample data come from a generator that the C test re-implements bit for bit (xorshift32, products
of two 12-bit integers scaled by 2^-20: every sample is an exact float32, so numpy and C see the
same numbers).

Printed, as C literals:
  1. ONNX Runtime's own HistogramCollector (percentile, symmetric, 2048 bins, 99.99 and 99.999),
     on one collect() and on a second collect() whose data exceed the first histogram (growth):
     threshold range, number of bins, total count and last edge;
  2. ONNX Runtime's MinMaxCalibrater (moving_average=True and False, symmetric or not, per tensor
     and per channel) on a one-node model, two collect_data() rounds of three batches each;
  3. an independent numpy implementation of the TensorRT entropy (KL) threshold and of the MSE
     threshold as qmac documents them (calib.h), on np.histogram(|x|, 2048, range=(0, max|x|)).
     ORT's EntropyCalibrater uses a signed histogram and MXNet-style smoothing, so it cannot serve
     as the oracle for the TensorRT variant; these values come from numpy, not from qmac.
"""
import os
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper
from onnxruntime.quantization.calibrate import CalibrationDataReader, HistogramCollector, MinMaxCalibrater


class XorShift32:
    def __init__(self, seed):
        self.s = seed & 0xFFFFFFFF

    def next(self):
        x = self.s
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.s = x
        return x


def samples(seed, n, outlier_every=0, outlier_mult=4):
    """v = (a - 2048) * (b - 2048) * 2^-20 with a, b the top 12 bits of two draws."""
    g = XorShift32(seed)
    out = np.empty(n, dtype=np.float32)
    for i in range(n):
        a = (g.next() >> 20) - 2048
        b = (g.next() >> 20) - 2048
        v = a * b
        if outlier_every and i % outlier_every == 0:
            v *= outlier_mult
        out[i] = np.float32(v * 2.0**-20)
    return out


def f32hex(v):
    v = float(np.float32(v))
    return float.hex(v) + "f"


def section_percentile():
    print("/* ORT HistogramCollector percentile (symmetric, 2048 bins):")
    print(" * {percentile, rounds, rmin, rmax, nbins, total, last_edge} */")
    a = samples(1, 5000, outlier_every=997)
    b = samples(2, 3000, outlier_every=501, outlier_mult=8)
    for pct in (99.99, 99.999, 90.0):
        for rounds in (1, 2):
            col = HistogramCollector(method="percentile", symmetric=True, num_bins=2048, num_quantized_bins=128,
                                     percentile=pct, scenario="same")
            col.collect({"t": [a]})
            if rounds == 2:
                col.collect({"t": [b]})
            res = col.compute_collection_result()["t"]
            hist, edges = col.histogram_dict["t"][0], col.histogram_dict["t"][1]
            print(f"    {{{pct}, {rounds}, {f32hex(res[0])}, {f32hex(res[1])}, {hist.size}, {int(hist.sum())}, "
                  f"{f32hex(edges[-1])}}},")


class Reader(CalibrationDataReader):
    def __init__(self, batches):
        self.batches = list(batches)

    def get_next(self):
        return {"x": self.batches.pop(0)} if self.batches else None


def section_minmax():
    print("/* ORT MinMaxCalibrater, two collect_data rounds of 3 batches [2, 3, 4]:")
    print(" * {moving_average, symmetric, per_channel, rmin[3], rmax[3]} (per tensor: index 0) */")
    shape = [2, 3, 4]
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    batches = [samples(100 + i, 24).reshape(shape) * np.float32(1 + i) for i in range(6)]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.onnx")
        onnx.save(m, path)
        for ma in (True, False):
            for sym in (False, True):
                for pc in (False, True):
                    if pc and not ma:
                        # onnxruntime 1.23.2 bug: merge_range() applies Python min() to per-channel
                        # arrays and raises ValueError on the second round; nothing to compare with.
                        continue
                    cal = MinMaxCalibrater(path, augmented_model_path=os.path.join(d, "aug.onnx"), symmetric=sym,
                                           moving_average=ma, averaging_constant=0.01, per_channel=pc)
                    cal.augment_graph()
                    cal.create_inference_session()
                    cal.collect_data(Reader(batches[:3]))
                    cal.collect_data(Reader(batches[3:]))
                    lo, hi = cal.compute_data()["x"].range_value
                    lo = np.atleast_1d(lo)
                    hi = np.atleast_1d(hi)
                    lo = list(lo) + [0.0] * (3 - len(lo))
                    hi = list(hi) + [0.0] * (3 - len(hi))
                    print(f"    {{{int(ma)}, {int(sym)}, {int(pc)}, {{{', '.join(f32hex(v) for v in lo)}}}, "
                          f"{{{', '.join(f32hex(v) for v in hi)}}}}},")


def kl_threshold(hist, edges, nq=128):
    """TensorRT / MXNet: P folds the tail into its last bin, Q is built from the raw bins."""
    n = hist.size
    kls = []
    for i in range(nq, n + 1):
        raw = hist[:i].astype(np.float64)
        p = raw.copy()
        p[-1] += hist[i:].sum()
        m = i // nq
        q = np.zeros(i)
        starts = np.arange(nq) * m
        stops = np.append(starts[1:], i)
        for s, e in zip(starts, stops):
            nz = p[s:e] != 0
            if nz.any():
                q[s:e][nz] = raw[s:e].sum() / nz.sum()
        pn = p / p.sum()
        mask = pn > 0
        if q.sum() == 0 or np.any(q[mask] == 0):
            kls.append(np.inf)
            continue
        qn = q / q.sum()
        kls.append(float(np.sum(pn[mask] * np.log(pn[mask] / qn[mask]))))
    kls = np.array(kls)
    best = int(np.argmin(kls))
    others = kls[kls != kls[best]]
    ties = int(np.sum(kls == kls[best]))
    return nq + best, edges[nq + best], (others.min() - kls[best], ties)


def mse_threshold(hist, edges, qmax=127, start=128):
    centers = (edges[:-1].astype(np.float64) + edges[1:].astype(np.float64)) / 2
    errs = []
    for i in range(start, hist.size):
        s = centers[i] / qmax
        q = np.minimum(np.round(centers / s), qmax)
        errs.append(float(np.sum(hist * (q * s - centers) ** 2)))
    errs = np.array(errs)
    best = int(np.argmin(errs))
    order = np.sort(errs)
    return start + best, centers[start + best], (order[1] - order[0]) / order[0]


def section_entropy_mse():
    print("/* numpy TensorRT entropy and MSE on np.histogram(|x|, 2048, range=(0, max)):")
    print(" * {seed, n, outlier_every, outlier_mult, kl_bin, kl_amax, mse_bin, mse_amax} */")
    for seed, n, every, mult in ((3, 100000, 97, 16), (6, 60000, 50, 8), (5, 100000, 0, 4)):
        x = np.abs(samples(seed, n, outlier_every=every, outlier_mult=mult))
        hist, edges = np.histogram(x, bins=2048, range=(0, x.max()))
        edges = edges.astype(np.float32)
        ki, ka, kgap = kl_threshold(hist, edges)
        mi, ma, mgap = mse_threshold(hist, edges)
        print(f"    {{{seed}, {n}, {every}, {mult}, {ki}, {f32hex(ka)}, {mi}, {f32hex(ma)}}}, "
              f"/* KL: gap to the next value {kgap[0]:.3g}, {kgap[1]} exact ties (first wins); "
              f"MSE relative gap {mgap:.3g} */")


if __name__ == "__main__":
    print(f"/* onnxruntime {ort.__version__}, numpy {np.__version__} */")
    section_percentile()
    section_minmax()
    section_entropy_mse()

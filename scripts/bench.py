#!/usr/bin/env python3
"""bench.py - measure the reference backend: wall time and peak memory of `qmac run`.

    .venv/bin/python scripts/bench.py --qmac build/qmac [--repeat 5]

Cases: the bundled digits CNN (end to end, process start included) and one larger QLinearConv
(1x64x56x56 -> 64 channels, 3x3, the shape of a ResNet stage), reported as the best of
--repeat runs, with MAC/s for the convolution and the child's peak RSS. The reference kernels
are the readable oracle, not the fast path: these numbers are a baseline to catch regressions.
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def big_conv(path, n=1, c=64, h=56, w=56, m=64, k=3):
    rng = np.random.default_rng(7)
    inits = [
        numpy_helper.from_array(np.array(0.02, np.float32), "xs"),
        numpy_helper.from_array(np.array(128, np.uint8), "xz"),
        numpy_helper.from_array(rng.integers(-127, 128, (m, c, k, k)).astype(np.int8), "w"),
        numpy_helper.from_array(np.full(m, 0.003, np.float32), "ws"),
        numpy_helper.from_array(np.zeros(m, np.int8), "wz"),
        numpy_helper.from_array(np.array(0.5, np.float32), "ys"),
        numpy_helper.from_array(np.array(128, np.uint8), "yz"),
        numpy_helper.from_array(rng.integers(-1000, 1000, m).astype(np.int32), "b"),
    ]
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["y"],
                            pads=[1, 1, 1, 1])
    g = helper.make_graph([node], "bench", [helper.make_tensor_value_info("x", TensorProto.UINT8, [n, c, h, w])],
                          [helper.make_tensor_value_info("y", TensorProto.UINT8, None)], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    x = rng.integers(0, 256, (n, c, h, w)).astype(np.uint8)
    return x, n * m * h * w * c * k * k


def run(qmac, model, inputs, out, repeat):
    best = float("inf")
    for _ in range(repeat):
        cmd = [qmac, "run", model] + sum([["--input", i] for i in inputs], []) + ["--output", out]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qmac", default="build/qmac")
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="qmac-bench-")
    ex = os.path.join(ROOT, "examples", "digits")
    t = run(a.qmac, os.path.join(ex, "model.onnx"), [os.path.join(ex, "inputs", "00.npy")], os.path.join(tmp, "o1"),
            a.repeat)
    print(f"digits CNN (bundled example), one image, process included: {t * 1e3:8.2f} ms")
    model = os.path.join(tmp, "conv.onnx")
    x, macs = big_conv(model)
    xp = os.path.join(tmp, "x.npy")
    np.save(xp, x)
    t = run(a.qmac, model, [xp], os.path.join(tmp, "o2"), a.repeat)
    print(f"QLinearConv 1x64x56x56 -> 64, 3x3 ({macs / 1e6:.0f} M MACs):          {t * 1e3:8.2f} ms, "
          f"{macs / t / 1e6:8.1f} M MAC/s")
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"peak RSS of a qmac run:                                     {rss / 1024:8.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""bench.py - measure the reference backend (wall time and peak memory of `qmac run`) and, with
--array-sim, the Verilator simulation of the MAC array against its C model.

    .venv/bin/python scripts/bench.py --qmac build/qmac [--repeat 5] [--json build/bench.json]
                                      [--array-sim build/sim/array-16x16/sim_array]
                                      [--accel-sim build/sim/accel-16-notrace/sim_accel]

Cases: the bundled digits CNN (end to end, process start included) and one larger QLinearConv
(1x64x56x56 -> 64 channels, 3x3, the shape of a ResNet stage), reported as the best of
--repeat runs, with MAC/s for the convolution and the child's peak RSS. The reference kernels
are the readable oracle, not the fast path: these numbers are a baseline to catch regressions.

--array-sim runs `sim_array --bench` (sim/README.md): cycles per second of the Verilated 16x16 array
alone and of its C model. --accel-sim runs `sim_accel --bench`: cycles per second of the whole
Verilated accelerator (accel_sim_cycles_per_s), the MAC utilization of the int8 GEMM 256x256x256 in
RTL cycles (gemm256_rtl_utilization), the golden cycle model's cycles over the RTL's on it
(golden_cycles_vs_rtl) and the golden model's speed (golden_model_cycles_per_s). --json merges every printed figure into one JSON object {"name": value}
(names in snake_case with their unit); keys of other benchmarks already in the file are kept.
"""
import json
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


def merge_json(path, figures):
    """Merge figures into the JSON object in path (written to a temporary file, then renamed)."""
    data = {}
    if os.path.exists(path) and os.path.getsize(path) > 0:
        with open(path) as f:
            data = json.load(f)
        if not isinstance(data, dict):
            raise SystemExit(f"bench: {path} is not a JSON object; remove it")
    data.update(figures)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qmac", default="build/qmac")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", help="merge the figures into this JSON object")
    ap.add_argument("--array-sim", help="the Verilator MAC array harness (sim_array) to bench")
    ap.add_argument("--accel-sim", help="the Verilator accelerator harness (sim_accel) to bench")
    a = ap.parse_args()
    figures = {}
    tmp = tempfile.mkdtemp(prefix="qmac-bench-")
    ex = os.path.join(ROOT, "examples", "digits")
    t = run(a.qmac, os.path.join(ex, "model.onnx"), [os.path.join(ex, "inputs", "00.npy")], os.path.join(tmp, "o1"),
            a.repeat)
    print(f"digits CNN (bundled example), one image, process included: {t * 1e3:8.2f} ms")
    figures["digits_ms_per_image"] = round(t * 1e3, 3)
    model = os.path.join(tmp, "conv.onnx")
    x, macs = big_conv(model)
    xp = os.path.join(tmp, "x.npy")
    np.save(xp, x)
    t = run(a.qmac, model, [xp], os.path.join(tmp, "o2"), a.repeat)
    print(f"QLinearConv 1x64x56x56 -> 64, 3x3 ({macs / 1e6:.0f} M MACs):          {t * 1e3:8.2f} ms, "
          f"{macs / t / 1e6:8.1f} M MAC/s")
    figures["qlinearconv_64x56x56_ms"] = round(t * 1e3, 3)
    figures["qlinearconv_64x56x56_mmac_per_s"] = round(macs / t / 1e6, 2)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"peak RSS of a qmac run:                                     {rss / 1024:8.1f} MiB")
    figures["qmac_run_peak_rss_mib"] = round(rss / 1024, 1)
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    # after the RSS figure: the simulators are child processes too. They merge their own figures.
    for sim in filter(None, [a.array_sim, a.accel_sim]):
        sys.stdout.flush()
        cmd = [sim, "--bench"] + (["--json", a.json] if a.json else [])
        if subprocess.run(cmd).returncode != 0:
            print(f"bench: {' '.join(cmd)} failed", file=sys.stderr)
            return 1
    if a.json:
        merge_json(a.json, figures)  # after the simulator's merge: one sorted object
        print(f"figures written to {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

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
(golden_cycles_vs_rtl) and the golden model's speed (golden_model_cycles_per_s). With --layers it
also compiles each convolution of ResNet-18 and MobileNetV2 (224 x 224, random int8 weights) alone
and runs it on that RTL (`qmac run --backend rtl`): MAC utilization in RTL cycles, MAC-weighted
(resnet18_conv_utilization, resnet18_min_layer_utilization, mobilenetv2_pointwise_utilization,
mobilenetv2_depthwise_utilization) and the cycle model's cycles over the RTL's per layer
(layer_cycle_model_vs_rtl_min/max); then whole networks (scripts/make_nets.py): ResNet-50's compile time
(resnet50_compile_s), ResNet-18 and MobileNetV2 on the golden model and the RTL, bit-exact against ONNX
Runtime, with wall time (resnet18_rtl_sim_s), RTL cycles and MAC utilization. --json merges every printed figure into one JSON object {"name": value}
(names in snake_case with their unit); keys of other benchmarks already in the file are kept.
"""
import json
import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def big_conv(path, n=1, c=64, h=56, w=56, m=64, k=3, stride=1, group=1):
    rng = np.random.default_rng(7)
    inits = [
        numpy_helper.from_array(np.array(0.02, np.float32), "xs"),
        numpy_helper.from_array(np.array(128, np.uint8), "xz"),
        numpy_helper.from_array(rng.integers(-127, 128, (m, c // group, k, k)).astype(np.int8), "w"),
        numpy_helper.from_array(np.full(m, 0.003, np.float32), "ws"),
        numpy_helper.from_array(np.zeros(m, np.int8), "wz"),
        numpy_helper.from_array(np.array(0.5, np.float32), "ys"),
        numpy_helper.from_array(np.array(128, np.uint8), "yz"),
        numpy_helper.from_array(rng.integers(-1000, 1000, m).astype(np.int32), "b"),
    ]
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["y"],
                            pads=[k // 2] * 4, strides=[stride, stride], group=group)
    g = helper.make_graph([node], "bench", [helper.make_tensor_value_info("x", TensorProto.UINT8, [n, c, h, w])],
                          [helper.make_tensor_value_info("y", TensorProto.UINT8, None)], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    x = rng.integers(0, 256, (n, c, h, w)).astype(np.uint8)
    oh, ow = (h + 2 * (k // 2) - k) // stride + 1, (w + 2 * (k // 2) - k) // stride + 1
    return x, n * m * oh * ow * (c // group) * k * k


def resnet18_convs():
    """(name, cin, hw, cout, k, stride, count) of ResNet-18's convolutions at 224 x 224."""
    L = [("conv1", 3, 224, 64, 7, 2, 1), ("layer1.3x3", 64, 56, 64, 3, 1, 4)]
    for i, (c, hw) in enumerate([(128, 28), (256, 14), (512, 7)]):
        L += [(f"layer{i + 2}.0.conv1 s2", c // 2, hw * 2, c, 3, 2, 1), (f"layer{i + 2}.3x3", c, hw, c, 3, 1, 3),
              (f"layer{i + 2}.downsample", c // 2, hw * 2, c, 1, 2, 1)]
    return L


def mobilenetv2_convs():
    """(name, cin, hw, cout, k, stride, group, count) of MobileNetV2's convolutions at 224 x 224
    (identical shapes merged)."""
    L = {("conv0", 3, 224, 32, 3, 2, 1): 1}
    cin, hw = 32, 112
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                       (6, 320, 1, 1)]:
        for i in range(n):
            st = s if i == 0 else 1
            hid = cin * t
            keys = ([("pw-expand", cin, hw, hid, 1, 1, 1)] if t != 1 else []) + \
                   [("dw", hid, hw, hid, 3, st, hid)]
            hw = (hw + 2 - 3) // st + 1
            keys.append(("pw-project", hid, hw, c, 1, 1, 1))
            for key in keys:
                L[key] = L.get(key, 0) + 1
            cin = c
    L[("pw-last", 320, 7, 1280, 1, 1, 1)] = 1
    return [k + (v,) for k, v in L.items()]


def rtl_layer(qmac, rtl_sim, tmp, idx, cin, hw, cout, k, stride, group):
    """One convolution layer compiled and run on the RTL (lock-step with the golden model):
    (MACs, RTL CYCLES, cycle-model cycles, wall seconds)."""
    model = os.path.join(tmp, f"layer{idx}.onnx")
    x, macs = big_conv(model, c=cin, h=hw, w=hw, m=cout, k=k, stride=stride, group=group)
    xp = os.path.join(tmp, f"layer{idx}.npy")
    np.save(xp, x)
    cmd = [qmac, "run", model, "--input", xp, "--output", os.path.join(tmp, f"o{idx}"), "--backend", "rtl",
           "--report"]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, QMAC_RTL_SIM=rtl_sim))
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} failed:\n{r.stdout}{r.stderr}")
    rtl = re.search(r"CYCLES +(\d+)", r.stdout)
    model_cycles = re.search(r"total: (\d+) cycles", r.stdout)
    return macs, int(rtl.group(1)), int(model_cycles.group(1)), dt


def bench_layers(qmac, rtl_sim, tmp, figures):
    """MAC utilization in RTL cycles of ResNet-18's and MobileNetV2's convolutions, each layer
    compiled alone (qmac run --backend rtl), and the cycle model's prediction per layer."""
    peak = 16 * 16
    print("\nconvolutions on the RTL (16x16, one layer per run, lock-step with the golden model):")
    print(f"  {'layer':34s} {'MACs':>11s} {'RTL cycles':>11s} {'util':>6s} {'model/RTL':>9s} {'wall s':>7s}")
    ratios = []

    def one(name, count, *shape):
        macs, cyc, pred, dt = rtl_layer(qmac, rtl_sim, tmp, len(ratios), *shape)
        ratios.append(pred / cyc)
        print(f"  {name:34s} {macs:11d} {cyc:11d} {100 * macs / (cyc * peak):5.1f}% {pred / cyc:9.4f} "
              f"{dt:7.1f}" + (f"  x{count}" if count > 1 else ""))
        return macs * count, cyc * count, macs / (cyc * peak)

    t0 = time.perf_counter()
    tm = tc = 0
    worst = 1.0
    for name, cin, hw, cout, k, s, count in resnet18_convs():
        m, c, u = one(f"resnet18 {name}", count, cin, hw, cout, k, s, 1)
        tm, tc, worst = tm + m, tc + c, min(worst, u)
    figures["resnet18_conv_utilization"] = round(tm / (tc * peak), 4)
    figures["resnet18_min_layer_utilization"] = round(worst, 4)
    pm = pc = dm = dc = 0
    for name, cin, hw, cout, k, s, g, count in mobilenetv2_convs():
        m, c, _ = one(f"mobilenetv2 {name} {cin}->{cout} {hw}^2", count, cin, hw, cout, k, s, g)
        if name.startswith("pw"):
            pm, pc = pm + m, pc + c
        elif name == "dw":
            dm, dc = dm + m, dc + c
    figures["mobilenetv2_pointwise_utilization"] = round(pm / (pc * peak), 4)
    figures["mobilenetv2_depthwise_utilization"] = round(dm / (dc * peak), 4)
    figures["layer_cycle_model_vs_rtl_min"] = round(min(ratios), 4)
    figures["layer_cycle_model_vs_rtl_max"] = round(max(ratios), 4)
    for k in ("resnet18_conv_utilization", "resnet18_min_layer_utilization", "mobilenetv2_pointwise_utilization",
              "mobilenetv2_depthwise_utilization", "layer_cycle_model_vs_rtl_min", "layer_cycle_model_vs_rtl_max"):
        print(f"  {k}: {figures[k]}")
    print(f"  ({time.perf_counter() - t0:.0f} s)")


def bench_nets(qmac, rtl_sim, tmp, figures, repeat):
    """Whole networks (scripts/make_nets.py): ResNet-50's compile time (process included, best of
    `repeat`), ResNet-18 and MobileNetV2 on the golden model and on the RTL (lock-step with the
    golden model: the wall time of one inference, process included) with their cycles and MAC
    utilization, each output checked bit-exact against ONNX Runtime."""
    import onnxruntime as ort

    nets = os.path.join(tmp, "nets")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_nets.py"), "--out", nets, "--nets",
                    "resnet18,mobilenetv2,resnet50", "--inputs", "1"], check=True, capture_output=True)
    print("\nwhole networks (224 x 224, quantize_static QDQ uint8, bit-exact vs ONNX Runtime):")
    model = os.path.join(nets, "resnet50.onnx")
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([qmac, "compile", model, "-o", os.path.join(tmp, "r50"), "-q"], check=True)
        best = min(best, time.perf_counter() - t0)
    figures["resnet50_compile_s"] = round(best, 3)
    print(f"  resnet50 compile (load, plan, lower, write; process included): {best:.3f} s")
    for net in ("resnet18", "mobilenetv2"):
        model, xp = os.path.join(nets, f"{net}.onnx"), os.path.join(nets, f"{net}.in0.npy")
        sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        want = sess.run(None, {"input": np.load(xp)})[0]
        for backend in ("golden", "rtl"):
            out = os.path.join(tmp, f"{net}-{backend}")
            cmd = [qmac, "run", model, "--input", xp, "--output", out, "--backend", backend, "--report"]
            t0 = time.perf_counter()
            r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, QMAC_RTL_SIM=rtl_sim))
            dt = time.perf_counter() - t0
            if r.returncode != 0:
                raise SystemExit(f"bench: {' '.join(cmd)} failed:\n{r.stdout}{r.stderr}")
            got = np.load(os.path.join(out, os.listdir(out)[0]))
            if got.tobytes() != want.tobytes():
                raise SystemExit(f"bench: {net} on {backend} differs from ONNX Runtime")
            total = re.search(r"total: (\d+) cycles, (\d+) MACs", r.stdout)
            cyc, macs = int(total.group(1)), int(total.group(2))
            figures[f"{net}_rtl_sim_s" if backend == "rtl" else f"{net}_golden_s"] = round(dt, 2)
            if backend == "rtl":
                rtl = int(re.search(r"CYCLES +(\d+)", r.stdout).group(1))
                figures[f"{net}_rtl_cycles"] = rtl
                figures[f"{net}_mac_utilization"] = round(macs / (rtl * 256), 4)
                print(f"  {net} on the RTL: {dt:.1f} s wall, {rtl} cycles ({cyc / rtl:.4f} predicted), "
                      f"{100 * macs / (rtl * 256):.1f}% MAC utilization, bit-exact")
            else:
                print(f"  {net} on the golden model: {dt:.2f} s wall, bit-exact")


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
    ap.add_argument("--layers", action="store_true",
                    help="with --accel-sim: ResNet-18 / MobileNetV2 convolutions compiled and run on that RTL")
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
    if a.layers and a.accel_sim:
        bench_layers(a.qmac, os.path.abspath(a.accel_sim), tmp, figures)
        bench_nets(a.qmac, os.path.abspath(a.accel_sim), tmp, figures, a.repeat)
    if a.json:
        merge_json(a.json, figures)  # after the simulator's merge: one sorted object
        print(f"figures written to {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

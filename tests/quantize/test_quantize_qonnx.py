#!/usr/bin/env python3
"""test_quantize_qonnx.py - `qmac quantize --qonnx` and `--binary`: QONNX models from float ones.

    .venv/bin/python tests/quantize/test_quantize_qonnx.py --qmac build/qmac [--nets N] [--seed S]

1. The digits float model quantized as QONNX (int8, per tensor and per channel) and with binary
   layers (conv2, fc, both, the rule "hidden" with uint8 activations): on the 359 test images the
   logits of `qmac run --backend ref` and `golden` equal qonnx's own execution (qonnx from PyPI)
   bit for bit; the RTL too on a few images of one model; the accuracy is printed.
2. The rule, checked against a numpy model of it on the written files: every Quant scale is a
   power of two and every zero point even; int8 weights are ORT's symmetric rule with the scale
   rounded up to a power of two; a binary layer's weights are BipolarQuant(sign(w), alpha) with
   alpha = mean |w| per output channel rounded to 4 significant bits; its input is
   BipolarQuant(x - t, s) with t the calibration data's mean of x and s its mean |x - t| (4
   significant bits); its bias is b + t * sum(alpha sign(w)) rounded to the grid s * alpha.
3. N random float MLPs (Gemm and MatMul layers, widths not multiples of 8) with `--binary hidden`:
   qonnx == ref == golden, and the hidden layers run in the array's binary mode (XNOR-popcount).
4. Bad input: a binary first layer (its input is the graph input), a binarized input another
   layer reads too, an unknown layer, --binary without --calib, --binary with --sensitivity: exit
   2 with the culprit named, and no output file.
The seed is printed; --seed S reproduces the random nets.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import qonnx_export as qx  # noqa: E402

EX = os.path.join(ROOT, "examples", "digits")
CALIB = os.path.join(EX, "data", "calib.npy")


def run(cmd, expect=0):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != expect:
        raise AssertionError(f"{' '.join(cmd)}: exit {r.returncode} (want {expect}): {r.stderr.strip()}")
    return r


def batched(path, work):
    """A copy of the model with a symbolic batch dimension (qmac run takes the whole set at once)."""
    m = onnx.load(path)
    for vi in (m.graph.input[0], m.graph.output[0]):
        vi.type.tensor_type.shape.dim[0].dim_param = "N"
    out = os.path.join(work, "batched_" + os.path.basename(path))
    onnx.save(m, out)
    return m, out


def qmac_run(qmac, path, x, backend, work):
    xp = os.path.join(work, "x.npy")
    od = os.path.join(work, "out_" + backend)
    np.save(xp, x)
    run([qmac, "run", path, "--input", xp, "--output", od, "--backend", backend])
    outs = [f for f in os.listdir(od) if f.endswith(".npy")]
    assert len(outs) == 1, f"{backend}: outputs {outs}"
    return np.load(os.path.join(od, outs[0]))


def equal_to_qonnx(qmac, path, x, backends, work, what):
    """qonnx's outputs of the model on x; each backend's must be identical."""
    m, bpath = batched(path, work)
    want = qx.qonnx_run(m, x)  # the input "input", the output "logits"
    for b in backends:
        got = qmac_run(qmac, bpath, x, b, work)
        bad = np.argwhere(got != want)
        assert len(bad) == 0, (f"{what}: {b}: {len(bad)} of {want.size} outputs differ from qonnx, first at "
                               f"{tuple(bad[0])}: qmac {got[tuple(bad[0])]}, qonnx {want[tuple(bad[0])]}")
    return want


def inits(m):
    return {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}


def sig4(v):
    m, e = np.frexp(np.float32(v))
    return np.float32(np.ldexp(np.rint(m * np.float32(16)) / np.float32(16), e))


def float_values(fpath, names, xs):
    """The float model's tensors `names` over the calibration rows xs (ORT, one row at a time)."""
    m = onnx.load(fpath)
    for n in names:
        m.graph.output.append(helper.make_tensor_value_info(n, TensorProto.FLOAT, None))
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    iname = s.get_inputs()[0].name
    outs = [s.run(names, {iname: x[None]}) for x in xs]
    return {n: np.stack([o[k] for o in outs]) for k, n in enumerate(names)}


def binarized_input(q, layer):
    """The float tensor binarized for `layer`: back from its input through reshapes to a
    BipolarQuant_Output."""
    prod = {o: n for n in q.graph.node for o in n.output}
    cur = next(n for n in q.graph.node if n.name == layer).input[0]
    while not cur.endswith("_BipolarQuant_Output"):
        assert prod[cur].op_type in ("Flatten", "Reshape"), f"{layer}: input {cur} is not binarized"
        cur = prod[cur].input[0]
    return cur[:-len("_BipolarQuant_Output")]


def check_rule(fpath, qpath, binary, xs):
    """Every parameter of the written QONNX model against a numpy model of the rule; returns the
    number of checked tensors."""
    f_init, q = inits(onnx.load(fpath)), onnx.load(qpath)
    qi = inits(q)
    checked = 0
    for n in q.graph.node:
        if n.op_type == "Quant":
            s, z = qi[n.input[1]], qi[n.input[2]]
            assert np.all(np.exp2(np.round(np.log2(s))) == s), f"{n.name}: scale {s} is not a power of two"
            assert np.all(z % 2 == 0), f"{n.name}: zero point {z} is not even"
            checked += 1
            w = n.input[0][:-len("_quantized")] if n.input[0].endswith("_quantized") else None
            if w in f_init and w.startswith("w"):  # a weight: symmetric int8, scale 2^ceil(log2(max|w|/127))
                wf = f_init[w]
                want_s = np.exp2(np.ceil(np.log2(np.float32(np.abs(wf).max()) * np.float32(2) / np.float32(254))))
                if s.size == 1:
                    assert s == np.float32(want_s), f"{w}: scale {s}, rule {want_s}"
                codes = np.clip(np.rint(wf / s), -127, 127)
                assert np.array_equal(qi[n.input[0]], (codes * s).astype(np.float32)), f"{w}: codes off the rule"
    fm = onnx.load(fpath)
    fnodes = {n.name: n for n in fm.graph.node}
    for layer in binary:
        fn = fnodes[layer]
        wname = fn.input[1]
        wf = f_init[wname]
        axis = 1 if fn.op_type == "MatMul" or (fn.op_type == "Gemm" and not any(
            a.name == "transB" and a.i for a in fn.attribute)) else 0
        other = tuple(d for d in range(wf.ndim) if d != axis)
        alpha = sig4(np.abs(wf.astype(np.float64)).mean(axis=other))
        sign = np.where(wf >= 0, 1.0, -1.0).astype(np.float32)
        assert np.array_equal(qi[wname + "_sign"], sign), f"{layer}: weight signs"
        assert np.array_equal(qi[wname + "_alpha"].ravel(), alpha), \
            f"{layer}: alpha {qi[wname + '_alpha'].ravel()[:4]}, rule {alpha[:4]}"
        act = binarized_input(q, layer)
        x = float_values(fpath, [act], xs)[act].astype(np.float64)
        t, s = np.float32(x.mean()), sig4(np.abs(x - np.float32(x.mean())).mean())
        assert abs(qi[act + "_t"] - t) <= 1e-6 * max(1.0, abs(t)), f"{layer}: t {qi[act + '_t']}, mean {t}"
        assert qi[act + "_s"] == s, f"{layer}: s {qi[act + '_s']}, rule {s}"
        b = f_init[fn.input[2]] if len(fn.input) > 2 else np.zeros(len(alpha), np.float32)
        rowsum = (sign.sum(axis=other) * alpha).astype(np.float64)
        grid = (qi[act + "_s"] * alpha).astype(np.float32).astype(np.float64)
        want = (np.rint((b + np.float64(qi[act + "_t"]) * rowsum) / grid) * grid).astype(np.float32)
        bname = fn.input[2] if len(fn.input) > 2 else f"{layer}_bias"
        assert np.array_equal(qi[bname], want), f"{layer}: folded bias {qi[bname][:4]}, rule {want[:4]}"
        checked += 4
    return checked


def digits(qmac, work, rtl_rows):
    xs = np.load(CALIB)
    x_test = np.load(os.path.join(EX, "data", "test_x.npy"))
    y_test = np.load(os.path.join(EX, "data", "test_y.npy"))
    fpath = os.path.join(EX, "float.onnx")
    fails = 0
    cases = [(["--qonnx"], ()), (["--qonnx", "--per-channel"], ()), (["--binary", "conv2"], ("conv2",)),
             (["--binary", "fc"], ("fc",)), (["--binary", "conv2,fc"], ("conv2", "fc")),
             (["--binary", "hidden", "--act-type", "uint8", "--per-channel"], ("conv2",))]
    for k, (opts, binary) in enumerate(cases):
        what = "digits " + " ".join(opts)
        out = os.path.join(work, f"digits{k}.onnx")
        try:
            r = run([qmac, "quantize", fpath, "--calib", CALIB, "-o", out] + opts)
            for layer in binary:
                assert re.search(rf"{layer} is binary", r.stdout), f"{what}: no report of {layer}: {r.stdout}"
            n = check_rule(fpath, out, binary, xs)
            want = equal_to_qonnx(qmac, out, x_test, ["ref", "golden"], work, what)
            acc = 100.0 * float((want.argmax(1) == y_test).mean())
            if k == 4 and rtl_rows:
                equal_to_qonnx(qmac, out, x_test[:rtl_rows], ["rtl"], work, what + " (rtl)")
            print(f"PASS {what}: {n} tensors follow the rule; qonnx == ref == golden on {len(x_test)} images"
                  + (f", rtl on {rtl_rows}" if k == 4 and rtl_rows else "") + f"; accuracy {acc:.2f}%")
        except AssertionError as e:
            fails += 1
            print(f"FAIL {e}")
    return fails


def random_mlp(rng, k):
    """A float MLP: Gemm (transB) / MatMul layers with Relu, widths not multiples of 8."""
    widths = [int(rng.integers(9, 40))] + [int(rng.integers(9, 70)) for _ in range(3)] + [int(rng.integers(3, 12))]
    nodes, init, cur = [], [], "input"
    for i in range(4):
        a, b = widths[i], widths[i + 1]
        w = rng.normal(0, 1 / np.sqrt(a), size=(a, b)).astype(np.float32)
        bias = rng.normal(0, 0.3, size=b).astype(np.float32)
        out = "logits" if i == 3 else f"h{i}"
        if i == 2 or (i == 1 and k % 2):  # MatMul without a bias
            init.append(numpy_helper.from_array(w, f"w{i}"))
            nodes.append(helper.make_node("MatMul", [cur, f"w{i}"], [out + "_mm" if i < 3 else out], name=f"fc{i}"))
            pre = out + "_mm"
        else:
            init += [numpy_helper.from_array(np.ascontiguousarray(w.T), f"w{i}"), numpy_helper.from_array(bias, f"b{i}")]
            nodes.append(helper.make_node("Gemm", [cur, f"w{i}", f"b{i}"], [out + "_mm" if i < 3 else out],
                                          name=f"fc{i}", transB=1))
            pre = out + "_mm"
        if i < 3:
            nodes.append(helper.make_node("Relu", [pre], [out], name=f"relu{i}"))
        cur = out
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, widths[0]])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, widths[-1]])], init)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), widths


def random_nets(qmac, work, rng, nets):
    fails = 0
    for k in range(nets):
        model, widths = random_mlp(rng, k)
        fpath = os.path.join(work, f"mlp{k}.onnx")
        out = os.path.join(work, f"mlp{k}_bin.onnx")
        onnx.save(model, fpath)
        xs = rng.normal(0, 1, size=(64, widths[0])).astype(np.float32)
        np.save(os.path.join(work, "calib_mlp.npy"), xs)
        what = f"mlp{k} {widths} --binary hidden"
        try:
            r = run([qmac, "quantize", fpath, "--calib", os.path.join(work, "calib_mlp.npy"), "-o", out,
                     "--binary", "hidden"] + (["--per-channel"] if k % 2 else []))
            for layer in ("fc1", "fc2"):
                assert re.search(rf"{layer} is binary.*XNOR-popcount", r.stdout), \
                    f"{what}: {layer} not in binary mode: {r.stdout.strip()}"
            n = check_rule(fpath, out, ("fc1", "fc2"), xs)
            equal_to_qonnx(qmac, out, rng.normal(0, 1, size=(40, widths[0])).astype(np.float32), ["ref", "golden"],
                           work, what)
            print(f"PASS {what}: {n} tensors follow the rule; fc1, fc2 XNOR-popcount; qonnx == ref == golden")
        except AssertionError as e:
            fails += 1
            print(f"FAIL {e}")
    return fails


def bad_inputs(qmac, work):
    fpath = os.path.join(EX, "float.onnx")
    out = os.path.join(work, "bad.onnx")
    # a net whose binarized tensor is read by a layer that is not binary
    m = onnx.load(fpath)
    m.graph.node.append(helper.make_node("GlobalAveragePool", ["relu1"], ["gap"], name="gap"))
    m.graph.output.append(helper.make_tensor_value_info("gap", TensorProto.FLOAT, None))
    shared = os.path.join(work, "shared.onnx")
    onnx.save(m, shared)
    cases = [
        ([fpath, "--calib", CALIB, "--binary", "conv1"], r"'conv1' cannot be binary: its input is the graph input"),
        ([shared, "--calib", CALIB, "--binary", "conv2"], r"'relu1'.*also read by 'gap'"),
        ([fpath, "--calib", CALIB, "--binary", "conv9"], r"no layer named 'conv9'.*conv1, conv2, fc"),
        ([fpath, "--ranges", os.path.join(work, "none.json"), "--binary", "fc"], r"--binary needs --calib"),
        ([fpath, "--calib", CALIB, "--binary", "fc", "--sensitivity"], r"not built"),
        ([fpath, "--calib", CALIB, "--binary", "fc", "--block-size", "4"], r"not built"),
    ]
    for args, pat in cases:
        r = run([qmac, "quantize"] + args + ["-o", out], expect=2)
        if not re.search(pat, r.stderr) or os.path.exists(out):
            raise AssertionError(f"{' '.join(args[2:])}: message {r.stderr.strip()!r} (want /{pat}/), "
                                 f"output left: {os.path.exists(out)}")
    return len(cases)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qmac", required=True)
    ap.add_argument("--nets", type=int, default=4)
    ap.add_argument("--rtl-rows", type=int, default=12)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    qmac = os.path.abspath(args.qmac)
    seed = args.seed if args.seed is not None else int(time.time()) % 100000
    print(f"test_quantize_qonnx: seed {seed}")
    ort.set_default_logger_severity(3)
    fails = 0
    with tempfile.TemporaryDirectory(prefix="qmac-qqonnx-") as work:
        fails += digits(qmac, work, args.rtl_rows)
        fails += random_nets(qmac, work, np.random.default_rng(seed), args.nets)
        try:
            n = bad_inputs(qmac, work)
            print(f"PASS bad input: {n} cases exit 2 with the culprit named, no output file")
        except AssertionError as e:
            fails += 1
            print(f"FAIL bad input: {e}")
    print(f"test_quantize_qonnx: {'all passed' if not fails else f'{fails} failed'} (seed {seed})")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())

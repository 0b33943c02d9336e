#!/usr/bin/env python3
"""test_qonnx.py - binary networks from QONNX: qmac's three backends against qonnx's own execution.

    .venv/bin/python tests/binary/test_qonnx.py --qmac build/qmac [--nets N] [--rtl-nets R] [--seed S]

1. The bundled binary digits MLP (examples/digits/binary.onnx: int8 first and last layers, two
   binary hidden layers; scripts/make_binary_example.py): on the 359 test images the logits of
   `qmac run --backend ref|golden|rtl` equal qonnx's (qonnx.core.onnx_exec, from PyPI) bit for bit,
   and the accuracy is printed (and must be at least 90%).
2. N random QONNX MLPs (scripts/qonnx_export.py): random widths (not multiples of 8 or of the
   array), first and last layers int8 or binary, hidden activations BatchNormalization +
   BipolarQuant or MultiThreshold, weights per tensor or per column, power-of-two input/output
   scales; inputs off and on the input quantizer's rounding ties. ref and golden on every net,
   rtl on the first R; and N/4 random QONNX CNNs (int8 conv with padding, a binary conv without
   padding in the array's binary mode, a padded binary conv in int8 mode, flatten, int8 matmul).
   All must equal qonnx bit for bit.
3. What qmac does not lower is refused by name (exit 2): a layer without an output quantizer and
   a MultiThreshold with several thresholds (both still run on ref, equal to qonnx), a 16-bit
   Quant at import.
The seed is printed; --seed S reproduces the random nets.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import helper, numpy_helper

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import qonnx_export as qx  # noqa: E402

EX = os.path.join(ROOT, "examples", "digits")


def qmac_run(qmac, model_path, x, backend, work):
    """Logits of `qmac run` (exit status, logits or None, stderr)."""
    xp = os.path.join(work, "x.npy")
    out = os.path.join(work, "out_" + backend)
    np.save(xp, x)
    r = subprocess.run([qmac, "run", model_path, "--input", xp, "--output", out, "--backend", backend],
                       capture_output=True, text=True)
    y = np.load(os.path.join(out, "logits.npy")) if r.returncode == 0 else None
    return r.returncode, y, r.stderr.strip()


def compare(what, want, got):
    assert got is not None, f"{what}: no output"
    assert got.shape == want.shape, f"{what}: shape {got.shape}, qonnx {want.shape}"
    bad = np.argwhere(got != want)
    assert len(bad) == 0, (f"{what}: {len(bad)} of {want.size} logits differ from qonnx, first at "
                           f"{tuple(bad[0])}: qmac {got[tuple(bad[0])]}, qonnx {want[tuple(bad[0])]}")


def digits(qmac, work):
    path = os.path.join(EX, "binary.onnx")
    x = np.load(os.path.join(EX, "data", "test_x.npy"))
    labels = np.load(os.path.join(EX, "data", "test_y.npy"))
    want = qx.qonnx_run(onnx.load(path), x)
    acc = float((want.argmax(1) == labels).mean())
    for backend in ("ref", "golden", "rtl"):
        rc, got, err = qmac_run(qmac, path, x, backend, work)
        assert rc == 0, f"digits {backend}: exit {rc}: {err}"
        compare(f"digits {backend}", want, got)
    assert acc >= 0.90, f"digits: accuracy {acc:.2%} below 90%"
    return acc, len(x)


def random_net(rng):
    n_hidden = int(rng.integers(1, 4))
    widths = [int(rng.integers(8, 100))] + [int(rng.integers(5, 150)) for _ in range(n_hidden)] + \
        [int(rng.integers(2, 20))]
    kinds = [str(rng.choice(["int8", "binary"]))] + ["binary"] * (n_hidden - 1) + \
        [str(rng.choice(["int8", "binary"]))]
    acts = [str(rng.choice(["bipolar", "threshold"])) for _ in range(n_hidden)]
    per_tensor = bool(rng.integers(0, 2))
    layers = qx.random_layers(rng, widths, kinds, acts, per_tensor=per_tensor,
                              eps=float(rng.choice([1e-5, 1e-3])))
    in_scale = float(rng.choice([1 / 8, 1 / 16, 1 / 32]))
    out_scale = float(rng.choice([1 / 4, 1 / 8, 1 / 16]))
    model = qx.build_mlp(layers, (widths[0],), in_scale, out_scale, name="rand")
    desc = f"widths {widths} kinds {kinds} acts {acts} per_tensor {per_tensor}"
    x = rng.uniform(-0.5, 3.0, size=(48, widths[0])).astype(np.float32)
    ties = (rng.integers(-20, 60, size=(16, widths[0])) + 0.5) * in_scale  # x / s_in exactly k + 0.5
    return model, np.concatenate([x, ties.astype(np.float32)]), desc


def check_nets(qmac, make, count, rtl_count, work, tag, check=None):
    """count nets from make(): ref and golden (and rtl for the first rtl_count) equal to qonnx;
    check(path) adds a test and returns what it showed."""
    fails = 0
    for k in range(count):
        model, x, desc = make()
        path = os.path.join(work, f"{tag}{k}.onnx")
        onnx.save(model, path)
        want = qx.qonnx_run(model, x)
        backends = ("ref", "golden", "rtl") if k < rtl_count else ("ref", "golden")
        try:
            for backend in backends:
                rc, got, err = qmac_run(qmac, path, x, backend, work)
                assert rc == 0, f"{backend}: exit {rc}: {err}"
                compare(backend, want, got)
            extra = check(path) if check else ""
            print(f"PASS {tag}{k} ({'/'.join(backends)}) {desc}: {want.size} logits equal qonnx{extra}")
        except AssertionError as e:
            fails += 1
            print(f"FAIL {tag}{k} {desc}: {e}")
    return fails


def conv_net(rng):
    """A QONNX CNN: int8 conv (pad 1) -> binary conv (no padding: binary mode) -> binary conv
    (pad 1: QONNX pads the +-1 activations with 0, so int8 mode) -> Flatten -> int8 MatMul."""
    D = qx.QONNX_DOMAIN
    nodes, inits = [], []

    def const(name, v):
        inits.append(numpy_helper.from_array(np.asarray(v, np.float32), name))
        return name

    def quant(name, x, y, s, narrow):
        nodes.append(helper.make_node("Quant", [x, const(name + "_s", s), const(name + "_z", 0.0),
                                                const(name + "_b", 8.0)], [y], name=name, domain=D,
                                      signed=1, narrow=narrow, rounding_mode="ROUND"))

    def bn_sign(i, x, m, spread):
        nodes.append(helper.make_node(
            "BatchNormalization", [x, const(f"g{i}", rng.uniform(0.5, 2, m) * rng.choice([-1, 1], m)),
                                   const(f"b{i}", rng.normal(0, 0.5, m)), const(f"m{i}", rng.normal(0, 0.5 * spread, m)),
                                   const(f"v{i}", rng.uniform(0.5, 2, m) * spread ** 2)], [f"bn{i}"], name=f"bn{i}"))
        nodes.append(helper.make_node("BipolarQuant", [f"bn{i}", const(f"a{i}_s", 1.0)], [f"a{i}"], name=f"act{i}",
                                      domain=D))
        return f"a{i}"

    quant("in_quant", "input", "x0", 1 / 16, 0)
    c0, c1, c2 = int(rng.integers(4, 12)), int(rng.integers(9, 40)), int(rng.integers(5, 20))
    w1 = rng.normal(0, 1, (c0, 1, 3, 3)).astype(np.float32)
    s1 = qx.pow2_scale(np.abs(w1).reshape(c0, -1).max(1), 127).reshape(c0, 1, 1, 1)
    quant("w1q", const("w1", w1), "w1q", s1, 1)
    nodes.append(helper.make_node("Conv", ["x0", "w1q"], ["c1"], name="conv1", pads=[1, 1, 1, 1]))
    x = bn_sign(1, "c1", c0, 3.0)
    for i, (cin, cout, pad) in enumerate([(c0, c1, 0), (c1, c2, 1)], 2):
        nodes.append(helper.make_node("BipolarQuant", [const(f"w{i}", rng.normal(0, 1, (cout, cin, 3, 3))),
                                                       const(f"w{i}q_s", 1.0)], [f"w{i}q"], name=f"w{i}q", domain=D))
        nodes.append(helper.make_node("Conv", [x, f"w{i}q"], [f"c{i}"], name=f"conv{i}", pads=[pad] * 4))
        x = bn_sign(i, f"c{i}", cout, np.sqrt(9 * cin))
    nodes.append(helper.make_node("Flatten", [x], ["flat"], name="flatten", axis=1))
    k, m = c2 * 6 * 6, 10
    w4 = rng.normal(0, 1 / np.sqrt(k), (k, m)).astype(np.float32)
    s4 = qx.pow2_scale(np.abs(w4).max(0), 127).reshape(1, m)
    quant("w4q", const("w4", w4), "w4q", s4, 1)
    nodes.append(helper.make_node("MatMul", ["flat", "w4q"], ["mm"], name="fc"))
    nodes.append(helper.make_node("Add", ["mm", const("bias", qx.snap(rng.normal(0, 1, m), s4.ravel()))], ["pre"],
                                  name="fc_bias"))
    quant("out_quant", "pre", "logits", 1 / 8, 0)
    g = helper.make_graph(nodes, "conv", [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT,
                                                                        ["N", 1, 8, 8])],
                          [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["N", m])], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", qx.OPSET), helper.make_opsetid(D, 1)],
                              ir_version=qx.IR_VERSION)
    x = rng.uniform(-0.2, 1.2, size=(24, 1, 8, 8)).astype(np.float32)
    return model, x, f"channels {c0}/{c1}/{c2}"


def binary_conv_compiled(qmac, work):
    def check(path):
        r = subprocess.run([qmac, "compile", path, "-o", os.path.join(work, "cc")], capture_output=True, text=True)
        assert r.returncode == 0 and " bconv " in r.stdout, f"conv2 is not a binary-mode layer:\n{r.stdout}"
        return ", conv2 in binary mode"
    return check


def edit(model, fn):
    m = onnx.ModelProto()
    m.CopyFrom(model)
    fn(m.graph)
    return m


def refusals(qmac, rng, work):
    """Models qmac runs on ref (equal to qonnx) but refuses to compile, and one it cannot import."""
    layers = qx.random_layers(rng, [12, 20, 6], ["int8", "int8"], ["bipolar"])
    base = qx.build_mlp(layers, (12,), 1 / 16, 1 / 8, name="edit")
    x = rng.uniform(0, 2, size=(16, 12)).astype(np.float32)

    def no_out_quant(g):  # the last layer's float result is the output
        q = next(n for n in g.node if n.output[0] == "logits")
        add = next(n for n in g.node if n.output[0] == q.input[0])
        g.node.remove(q)
        add.output[0] = "logits"

    def multi_threshold(g):  # hidden activation with 3 thresholds: codes 0..3
        bn = next(n for n in g.node if n.op_type == "BatchNormalization")
        act = next(n for n in g.node if n.input and n.input[0] == bn.output[0])
        thr = np.sort(rng.normal(0, 1, size=(20, 3)).astype(np.float32), axis=1)
        g.initializer.append(numpy_helper.from_array(thr, "mt_thr"))
        mt = helper.make_node("MultiThreshold", [bn.output[0], "mt_thr"], list(act.output), name="mt",
                              domain=qx.QONNX_DOMAIN, out_dtype="UINT2", out_scale=1.0, out_bias=0.0)
        g.node.insert(list(g.node).index(act), mt)
        g.node.remove(act)

    cases = [("no output quantizer", no_out_quant, "output is float"),
             ("MultiThreshold of 3 thresholds", multi_threshold, "MultiThreshold of 3 thresholds")]
    n = 0
    for what, fn, msg in cases:
        model = edit(base, fn)
        path = os.path.join(work, "edit.onnx")
        onnx.save(model, path)
        want = qx.qonnx_run(model, x)
        rc, got, err = qmac_run(qmac, path, x, "ref", work)
        assert rc == 0, f"{what}: ref exit {rc}: {err}"
        compare(f"{what} (ref)", want, got)
        rc, _, err = qmac_run(qmac, path, x, "golden", work)
        assert rc == 2 and msg in err, f"{what}: golden exit {rc}, message {err!r}"
        n += 1

    def wide_quant(g):
        q = next(n for n in g.node if n.name == "in_quant")
        g.initializer.append(numpy_helper.from_array(np.array(16, np.float32), "bits16"))
        q.input[3] = "bits16"

    path = os.path.join(work, "wide.onnx")
    onnx.save(edit(base, wide_quant), path)
    rc, _, err = qmac_run(qmac, path, x, "ref", work)
    assert rc == 2 and "in_quant" in err and "bit width 16" in err, f"16-bit Quant: exit {rc}, {err!r}"
    return n + 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qmac", required=True)
    ap.add_argument("--nets", type=int, default=12)
    ap.add_argument("--rtl-nets", type=int, default=2)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    qmac = os.path.abspath(args.qmac)
    seed = args.seed if args.seed is not None else int(time.time()) % 100000
    print(f"test_qonnx: seed {seed}")
    rng = np.random.default_rng(seed)
    fails = 0
    with tempfile.TemporaryDirectory(prefix="qmac-qonnx-") as work:
        try:
            acc, n = digits(qmac, work)
            print(f"PASS digits binary.onnx: ref, golden and rtl equal qonnx on {n} images; "
                  f"accuracy {acc:.2%}")
        except AssertionError as e:
            fails += 1
            print(f"FAIL digits: {e}")
        fails += check_nets(qmac, lambda: random_net(rng), args.nets, args.rtl_nets, work, "net")
        fails += check_nets(qmac, lambda: conv_net(rng), max(1, args.nets // 4), 1, work, "conv",
                            binary_conv_compiled(qmac, work))
        try:
            n = refusals(qmac, rng, work)
            print(f"PASS refusals: {n} cases named with exit 2 (ref still equal to qonnx)")
        except AssertionError as e:
            fails += 1
            print(f"FAIL refusals: {e}")
    print(f"test_qonnx: {'FAILED' if fails else 'passed'} ({fails} failures, seed {seed})")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())

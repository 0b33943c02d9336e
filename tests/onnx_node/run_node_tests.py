#!/usr/bin/env python3
"""run_node_tests.py - run the ONNX backend node tests for qmac's quantized ops through `qmac run`.

    run_node_tests.py --qmac build/qmac [--backend ref] [--requant RULE] [-k SUBSTR] [--keep]

The tests are the ones shipped in the installed onnx package (onnx/backend/test/data/node/*:
model.onnx + test_data_set_*/input_*.pb, output_*.pb). A test is selected by inspecting its model,
not by name:
  * every node is one of QuantizeLinear, DequantizeLinear, QLinearConv, QLinearMatMul, ConvInteger,
    MatMulInteger (ai.onnx domain); tests without any of them are not considered at all, tests
    that mix them with other ops are skipped ("also uses ops ...");
  * every tensor element type in the graph (inputs, outputs, initializers, value_info, and type
    attributes such as output_dtype) is int8/uint8 (the quantized side), float32/float16 (the
    real side) or int32 (biases and integer accumulators), and at least one is int8/uint8;
    anything else skips the test with the type as reason ("int4 type").

Known defect in the shipped data: onnx <= 1.19's reference QLinearMatMul wraps out-of-range
results instead of saturating (onnx/onnx#6169, #7835, fixed upstream by #7868), so the expected
outputs of test_qlinearmatmul_{2D,3D}_int8_* hold e.g. 20 where the spec and ONNX Runtime give
-128. The runner corrects exactly those elements (the ones whose exact result is out of range and
whose shipped value is its wrap-around), prints a note for each, and --no-fix-expected disables it.

Each selected test and data set runs in two modes (--mode picks one):
  verbatim  every input_K.pb (an onnx TensorProto) is written as .npy and bound with --input to
            the model's graph inputs in order, exactly as the node test defines them (scales,
            zero points and even conv weights arrive at run time);
  folded    a copy of the model (model_folded.onnx in the working directory) holds the inputs
            that are only used as quantization parameters or weights (everything but
            QuantizeLinear/DequantizeLinear/QLinearConv/ConvInteger input 0 and
            QLinearMatMul/MatMulInteger's two matrices) as initializers with the data set's
            values, the way real quantized models carry them; the rest are --input.
`qmac run MODEL --input in_0.npy ... --output OUTDIR --backend ref` runs; for each graph
output K, OUTDIR/<output name with [^A-Za-z0-9._-] replaced by _>.npy must equal output_K.pb:
same dtype, same shape, every element bit-identical.

The tests are deterministic (no seeds); a failure prints the exact command and keeps its working
directory so the command can be re-run. Exit status is 1 when a test fails or when fewer than
--min-tests tests were selected (a changed onnx wheel must not silently shrink the suite).
The last line is "N passed, N failed".
"""
import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

TARGET_OPS = ("QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "ConvInteger",
              "MatMulInteger")
TP = onnx.TensorProto
EIGHT_BIT = {TP.INT8, TP.UINT8}
ALLOWED_TYPES = EIGHT_BIT | {TP.FLOAT, TP.FLOAT16, TP.INT32}
# Number of tests the selection finds in onnx 1.19.1 (the pinned version); see --min-tests.
EXPECTED_MIN = 18
# Inputs of each op that carry run-time data; the others (scales, zero points, conv weights,
# biases) are what a quantized model holds as constants (mode "folded").
DATA_INPUTS = {"QuantizeLinear": {0}, "DequantizeLinear": {0}, "QLinearConv": {0},
               "QLinearMatMul": {0, 3}, "ConvInteger": {0}, "MatMulInteger": {0, 1}}
# Attributes whose integer value is a TensorProto element type.
TYPE_ATTRS = ("output_dtype", "to", "dtype")


def sanitize(name):
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def type_name(t):
    return TP.DataType.Name(t).lower()


def node_dir():
    return os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "node")


def graph_types(graph):
    """Every element type mentioned by the graph's tensors and type attributes."""
    types = set()
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        if vi.type.HasField("tensor_type"):
            types.add(vi.type.tensor_type.elem_type)
        else:
            types.add(-1)  # sequences, maps, optionals: not a tensor qmac could take
    for init in graph.initializer:
        types.add(init.data_type)
    for node in graph.node:
        for a in node.attribute:
            if a.name in TYPE_ATTRS and a.type == onnx.AttributeProto.INT:
                types.add(a.i)
            if a.type == onnx.AttributeProto.TENSOR:
                types.add(a.t.data_type)
            if a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
                types.add(-2)  # subgraphs: never in the target ops
    types.discard(TP.UNDEFINED)
    return types


def classify(test_dir):
    """(relevant, reason): relevant False = not a test of the target ops at all (not reported);
    reason None = selected, else why the test is skipped."""
    model = onnx.load(os.path.join(test_dir, "model.onnx"))
    g = model.graph
    ops = [(n.domain or "ai.onnx", n.op_type) for n in g.node]
    if not any(d in ("ai.onnx", "") and op in TARGET_OPS for d, op in ops):
        return False, "no target op"
    others = sorted({op if d == "ai.onnx" else f"{d}.{op}" for d, op in ops
                     if not (d == "ai.onnx" and op in TARGET_OPS)})
    if others:
        return True, "also uses ops outside the tested set: " + ", ".join(others)
    types = graph_types(g)
    bad = sorted(t for t in types if t not in ALLOWED_TYPES)
    if bad:
        names = [type_name(t) if t >= 0 else ("non-tensor value" if t == -1 else "subgraph")
                 for t in bad]
        return True, ", ".join(names) + " type"
    if not types & EIGHT_BIT:
        return True, "no 8-bit quantized tensor"
    if not data_sets(test_dir):
        return True, "no test data"
    return True, None


def data_sets(test_dir):
    return sorted(d for d in os.listdir(test_dir)
                  if d.startswith("test_data_set_") and os.path.isdir(os.path.join(test_dir, d)))


def numbered(files, prefix):
    """input_0.pb, input_1.pb, ... in numeric order (input_10 after input_9)."""
    out = []
    for f in files:
        m = re.fullmatch(prefix + r"_(\d+)\.pb", f)
        if m:
            out.append((int(m.group(1)), f))
    out.sort()
    if [k for k, _ in out] != list(range(len(out))):
        raise ValueError(f"{prefix}_*.pb files are not numbered 0..{len(out) - 1}: {[f for _, f in out]}")
    return [f for _, f in out]


def load_pb(path):
    t = TP()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def bits(a):
    """The array's element bytes as unsigned integers of the same width (bool as uint8)."""
    a = np.ascontiguousarray(a)
    if a.dtype == np.bool_:
        return a.view(np.uint8)
    return a.view({1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[a.dtype.itemsize])


def compare(got, want, label):
    """List of problems (empty when got equals want exactly)."""
    if got.dtype != want.dtype:
        return [f"{label}: dtype {got.dtype}, expected {want.dtype}"]
    if got.shape != want.shape:
        return [f"{label}: shape {got.shape}, expected {want.shape}"]
    gb, wb = bits(got), bits(want)
    diff = np.flatnonzero(gb.reshape(-1) != wb.reshape(-1))
    if diff.size == 0:
        return []
    probs = [f"{label}: {diff.size} of {want.size} elements differ"]
    for i in diff[:8]:
        idx = np.unravel_index(int(i), want.shape) if want.ndim else ()
        probs.append(f"    at {tuple(int(x) for x in idx)}: got {got.reshape(-1)[i]!r}, "
                     f"expected {want.reshape(-1)[i]!r}")
    return probs


def fix_qlinearmatmul_wrap(model, feeds, want):
    """onnx <= 1.19's reference QLinearMatMul casts with astype() and so wraps out-of-range
    results instead of saturating them as the operator spec (and ONNX Runtime) do; the shipped
    expected outputs of test_qlinearmatmul_*_int8_* carry the wrapped values (onnx/onnx#6169,
    #7835; fixed upstream by onnx/onnx#7868). Return (corrected expected output, number of
    elements corrected). Only elements whose exact result is out of range AND whose shipped value
    is precisely its wrap-around are changed, so data that is already right is left alone."""
    g = model.graph
    if len(g.node) != 1 or g.node[0].op_type != "QLinearMatMul" or want.dtype not in (np.int8, np.uint8):
        return want, 0
    a, sa, za, b, sb, zb, sy, zy = (feeds[n] for n in g.node[0].input)
    acc = np.matmul(a.astype(np.int64) - za.astype(np.int64), b.astype(np.int64) - zb.astype(np.int64))
    # the reference's arithmetic: multiplier in the scales' own type (float32 or float16)
    mult = (sa * sb / sy).astype(np.float64)
    v = np.rint(acc * mult + zy.astype(np.float64))
    info = np.iinfo(want.dtype)
    wrapped = ((v.astype(np.int64) - info.min) % 256 + info.min).astype(want.dtype)
    bad = ((v < info.min) | (v > info.max)) & (want == wrapped)
    if not bad.any():
        return want, 0
    fixed = want.copy()
    fixed[bad] = np.clip(v, info.min, info.max).astype(want.dtype)[bad]
    return fixed, int(bad.sum())


def params_to_fold(graph):
    """Graph inputs used only as quantization parameters / weights (never as data)."""
    data, param = set(), set()
    for n in graph.node:
        for k, x in enumerate(n.input):
            (data if k in DATA_INPUTS.get(n.op_type, set()) else param).add(x)
    return {i.name for i in graph.input} & (param - data)


def run_case(args, name, test_dir, ds, work, mode):
    """Run one data set; returns a list of problems and the command that was run."""
    model_path = os.path.join(test_dir, "model.onnx")
    model = onnx.load(model_path)
    g = model.graph
    init_names = {i.name for i in g.initializer}
    g_inputs = [i.name for i in g.input if i.name not in init_names]
    g_outputs = [o.name for o in g.output]
    ds_dir = os.path.join(test_dir, ds)
    files = os.listdir(ds_dir)
    in_files = numbered(files, "input")
    out_files = numbered(files, "output")
    if len(in_files) != len(g_inputs):
        return [f"harness: {len(in_files)} input_*.pb files for {len(g_inputs)} graph inputs"], None
    if len(out_files) != len(g_outputs):
        return [f"harness: {len(out_files)} output_*.pb files for {len(g_outputs)} graph outputs"], None
    in_dir = os.path.join(work, "inputs")
    out_dir = os.path.join(work, "out")
    os.makedirs(in_dir)
    os.makedirs(out_dir)
    feeds = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    for f, gname in zip(in_files, g_inputs):
        feeds[gname] = load_pb(os.path.join(ds_dir, f))
    fold = params_to_fold(g) if mode == "folded" else set()
    if fold:
        # The node tests feed scales, zero points and weights as graph inputs; qmac (like any
        # integer engine) takes them as constants. Move them into initializers with the data
        # set's values: the same computation, on a model shaped like a real quantized one.
        folded = onnx.ModelProto()
        folded.CopyFrom(model)
        keep = [i for i in folded.graph.input if i.name not in fold]
        del folded.graph.input[:]
        folded.graph.input.extend(keep)
        for x in sorted(fold):
            folded.graph.initializer.append(numpy_helper.from_array(feeds[x], x))
        model_path = os.path.join(work, "model_folded.onnx")
        onnx.save(folded, model_path)
    cmd = [args.qmac, "run", model_path]
    for k, gname in enumerate(x for x in g_inputs if x not in fold):
        p = os.path.join(in_dir, f"{k}_{sanitize(gname)}.npy")
        np.save(p, feeds[gname])
        cmd += ["--input", p]
    cmd += ["--output", out_dir, "--backend", args.backend]
    if args.requant:
        cmd += ["--requant", args.requant]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return [f"qmac did not finish within {args.timeout} s"], cmd
    except OSError as e:
        return [f"cannot run {args.qmac}: {e}"], cmd
    if r.returncode != 0:
        msg = (r.stderr.strip() or r.stdout.strip() or "(no output)").splitlines()
        return [f"qmac exited with status {r.returncode}: " + msg[0]] + ["    " + m for m in msg[1:6]], cmd
    probs = []
    for f, gname in zip(out_files, g_outputs):
        want = load_pb(os.path.join(ds_dir, f))
        if args.fix_expected:
            want, n_fixed = fix_qlinearmatmul_wrap(model, feeds, want)
            if n_fixed:
                print(f"note {name}/{ds} [{mode}]: output '{gname}': {n_fixed} expected element(s) corrected "
                      f"from wrap-around to saturation (onnx reference bug onnx/onnx#7835)")
        p = os.path.join(out_dir, sanitize(gname) + ".npy")
        if not os.path.exists(p):
            probs.append(f"output '{gname}': {p} was not written")
            continue
        try:
            got = np.load(p, allow_pickle=False)
        except Exception as e:  # noqa: BLE001 - any load failure is a test failure
            probs.append(f"output '{gname}': numpy cannot load {p}: {e}")
            continue
        probs += compare(got, want, f"output '{gname}'")
    return probs, cmd


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qmac", required=True, help="path of the qmac executable")
    ap.add_argument("--backend", default="ref")
    ap.add_argument("--requant", default=None,
                    help="pass --requant RULE to qmac (default: qmac's default for ONNX, onnxrt)")
    ap.add_argument("--data", default=node_dir(), help="node test directory (default: the onnx wheel's)")
    ap.add_argument("-k", dest="pattern", default=None, help="only tests whose name contains this")
    ap.add_argument("--min-tests", type=int, default=EXPECTED_MIN,
                    help=f"fail if fewer tests are selected (default {EXPECTED_MIN}, onnx 1.19.1)")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per qmac run")
    ap.add_argument("--keep", action="store_true", help="keep every working directory")
    ap.add_argument("--mode", choices=("verbatim", "folded", "both"), default="both",
                    help="verbatim: every graph input is an --input; folded: scales, zero points "
                         "and conv weights become initializers of a copy of the model; "
                         "both (default): each test runs in both modes")
    ap.add_argument("--no-fix-expected", dest="fix_expected", action="store_false",
                    help="compare against the shipped outputs verbatim, even where onnx's reference "
                         "wrapped an int8 QLinearMatMul result instead of saturating it")
    args = ap.parse_args()

    if not os.path.isdir(args.data):
        print(f"run_node_tests: node test directory {args.data} does not exist")
        print("0 passed, 1 failed")
        return 1
    selected, skipped = [], []
    scanned = eligible = 0
    for name in sorted(os.listdir(args.data)):
        d = os.path.join(args.data, name)
        if not os.path.isfile(os.path.join(d, "model.onnx")):
            continue
        scanned += 1
        relevant, reason = classify(d)
        if not relevant:
            continue
        if reason is None:
            eligible += 1
            if args.pattern and args.pattern not in name:
                reason = f"not matching -k {args.pattern}"
        (skipped if reason else selected).append((name, reason))

    print(f"run_node_tests: onnx {onnx.__version__}, {scanned} node tests scanned in {args.data}")
    print(f"selected {len(selected)} (ops {', '.join(TARGET_OPS)}; 8-bit quantized types):")
    for name, _ in selected:
        print(f"  {name}")
    print(f"skipped {len(skipped)}:")
    for name, reason in skipped:
        print(f"  {name}: {reason}")

    modes = ("verbatim", "folded") if args.mode == "both" else (args.mode,)
    root = tempfile.mkdtemp(prefix="qmac-node-tests-")
    passed = failed = 0
    for name, _ in selected:
        test_dir = os.path.join(args.data, name)
        for ds, mode in ((d, m) for d in data_sets(test_dir) for m in modes):
            work = os.path.join(root, name, ds, mode)
            os.makedirs(work)
            label = f"{name}/{ds} [{mode}]"
            try:
                probs, cmd = run_case(args, name, test_dir, ds, work, mode)
            except Exception as e:  # noqa: BLE001 - report and go on with the other tests
                probs, cmd = [f"harness error: {type(e).__name__}: {e}"], None
            if probs:
                failed += 1
                print(f"FAIL {label}")
                for p in probs:
                    print(f"  {p}")
                if cmd:
                    print(f"  reproduce (deterministic, no seed): {shlex.join(cmd)}")
                print(f"  working directory kept: {work}")
            else:
                passed += 1
                print(f"ok   {label}")
                if not args.keep:
                    shutil.rmtree(work, ignore_errors=True)
    if failed == 0 and not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    status = 0
    if eligible < args.min_tests:
        print(f"run_node_tests: only {eligible} tests selected, expected at least {args.min_tests} "
              f"(did the onnx wheel change? the pinned version is 1.19.1)")
        status = 1
    if failed:
        print(f"run_node_tests: {failed} failed; rerun one with -k NAME")
        status = 1
    print(f"{passed} passed, {failed} failed")  # one count per test, data set and mode
    return status


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""test_quantize.py - `qmac quantize` and `qmac eval` against ONNX Runtime's quantize_static.

    .venv/bin/python tests/quantize/test_quantize.py --qmac build/qmac [--nets N] [--seed S]

1. Same ranges, same parameters: for the bundled digits float model and N random float CNNs
   (tests/conformance/gen_models.py: conv, relu, max/average pool, depthwise conv, residual add,
   concat, global average pool, flatten, matmul/gemm), under random quantize_static options
   (per-channel, reduce_range, ActivationSymmetric, uint8/int8 activations and weights), ONNX
   Runtime's own MinMax calibrator gives the ranges, `qmac quantize --ranges` and quantize_static
   quantize with them, and then every QuantizeLinear's scale and zero point, every quantized
   weight and bias, and ONNX Runtime's outputs of both models must be identical.
2. qmac's own calibration (every method) on the digits example: the model runs, `qmac eval` prints
   its accuracy, and min-max stays within 1 point of the float model.
3. Layers left float: `--keep-float` equals quantize_static's nodes_to_exclude (the same checks as
   1), for each digits layer and random layers of the random nets.
4. Sensitivity: each layer's SQNR in `--sensitivity`'s table equals the SQNR ONNX Runtime measures
   on a model built here from the float model with only that layer's tensors quantized (with the
   parameters of qmac's QDQ model); the whole model's likewise. `--mixed 1` keeps the layer of
   lowest SQNR float, which then runs on the host, and golden equals ref.
5. Weights in log2 codes (`--log2-weights`) and in blocks (`--block-size`, opset 21): every
   quantized weight equals a numpy model of the rule, ONNX Runtime runs the model and qmac's
   reference gives its outputs; log2 models run on golden as on ref, blocked ones are refused by
   the compiler with the reason.
6. Two inputs: one --calib file per input; qmac's min-max ranges equal ORT's calibrator's, and with
   those ranges the model equals quantize_static's.
7. Bad input: calibration data of the wrong shape, dtype, NaN, empty, a range for a tensor that
   does not exist, a layer name that does not exist, log2 codes asked as uint8; each is exit 2, a
   message naming the culprit, and no output file.
The seed is printed; --seed S reproduces the random nets.
"""
import argparse
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.calibrate import create_calibrator

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "conformance"))
import gen_models  # noqa: E402

EX = os.path.join(ROOT, "examples", "digits")


class Reader(CalibrationDataReader):
    def __init__(self, name, xs):
        self.it = iter([{name: x} for x in xs])

    def get_next(self):
        return next(self.it, None)


def sess(path, float_layers=False):
    """float_layers: compute float layers in float. By default ONNX Runtime (1.23's
    WeightBiasQuantization transformer) quantizes the float weights of a Conv/Gemm/MatMul whose input
    is dequantized and whose output is quantized, as if the QDQ model had done it."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    # int8 QDQ groups fused into ORT's QLinear kernels (as qmac's reference computes them; by
    # default ORT on x86 computes e.g. an int8 DQ -> AveragePool -> Q in float)
    so.add_session_config_entry("session.qdqisint8allowed", "1")
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"],
                                disabled_optimizers=["WeightBiasQuantization"] if float_layers else None)


def ort_ranges(fpath, name, xs, work):
    c = create_calibrator(fpath, [], augmented_model_path=os.path.join(work, "aug.onnx"),
                          calibrate_method=CalibrationMethod.MinMax)
    c.collect_data(Reader(name, xs))
    return {k: [float(np.ravel(v.range_value[0])[0]), float(np.ravel(v.range_value[1])[0])]
            for k, v in c.compute_data().data.items()}


def qparams(path):
    """{key: arrays}: each QuantizeLinear's (scale, zero point) by the tensor it quantizes, and each
    dequantized initializer's (data, scale, zero point) by its name."""
    m = onnx.load(path)
    init = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    out = {}
    for n in m.graph.node:
        if n.op_type == "QuantizeLinear":
            out["Q " + n.input[0].replace("_QuantizeLinear_Input", "")] = [init[n.input[1]], init[n.input[2]]]
        elif n.op_type == "DequantizeLinear" and n.input[0] in init:
            out["DQ " + n.input[0]] = [init[n.input[0]], init[n.input[1]], init[n.input[2]]]
    return out


def run(cmd, expect=0):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != expect:
        raise AssertionError(f"{' '.join(cmd)}: exit {p.returncode}, expected {expect}\n{p.stdout}{p.stderr}")
    return p


def same_params(qmac_path, ort_path, what):
    a, b = qparams(qmac_path), qparams(ort_path)
    if set(a) != set(b):
        raise AssertionError(f"{what}: quantized tensors differ: only qmac {sorted(set(a) - set(b))}, "
                             f"only ORT {sorted(set(b) - set(a))}")
    for k in sorted(a):
        for x, y in zip(a[k], b[k]):
            if x.dtype != y.dtype or x.ravel().tolist() != y.ravel().tolist():
                raise AssertionError(f"{what}: {k}: qmac {x.dtype} {x.ravel()[:6]} vs ORT {y.dtype} {y.ravel()[:6]}")
    return len(a)


def same_outputs(qmac_path, ort_path, name, xs, what):
    s1, s2 = sess(qmac_path), sess(ort_path)
    for i, x in enumerate(xs):
        y1, y2 = s1.run(None, {name: x})[0], s2.run(None, {name: x})[0]
        if not np.array_equal(y1.view(np.uint32), y2.view(np.uint32)):
            raise AssertionError(f"{what}: ONNX Runtime's outputs of the two models differ on input {i}")


def parity_case(qmac, fpath, name, calib, tests, opts, work, what, keep=()):
    """keep: layers left float, ORT's nodes_to_exclude and qmac's --keep-float."""
    ranges = os.path.join(work, "ranges.json")
    with open(ranges, "w") as f:
        json.dump(ort_ranges(fpath, name, calib, work), f)
    ort_q, qmac_q = os.path.join(work, "ort.onnx"), os.path.join(work, "qmac.onnx")
    quantize_static(fpath, ort_q, Reader(name, calib), quant_format=QuantFormat.QDQ,
                    per_channel=opts["per_channel"], reduce_range=opts["reduce_range"],
                    activation_type=getattr(QuantType, opts["act"]), weight_type=getattr(QuantType, opts["wt"]),
                    calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=list(keep),
                    extra_options={"ActivationSymmetric": opts["act_sym"]})
    cmd = [qmac, "quantize", fpath, "--ranges", ranges, "-o", qmac_q] + ["--keep-float", ",".join(keep)] * bool(keep)
    cmd += [
           "--act-type", "int8" if opts["act"] == "QInt8" else "uint8",
           "--weight-type", "int8" if opts["wt"] == "QInt8" else "uint8"]
    cmd += ["--per-channel"] * opts["per_channel"] + ["--reduce-range"] * opts["reduce_range"]
    cmd += ["--act-symmetric"] * opts["act_sym"]
    run(cmd)
    n = same_params(qmac_q, ort_q, what)
    same_outputs(qmac_q, ort_q, name, tests, what)
    return n


LAYER_OPS = {"Conv", "Gemm", "MatMul", "Add", "Concat", "GlobalAveragePool"}


def name_nodes(path):
    """Give every node a name (nodes_to_exclude and --keep-float name layers); the layer names."""
    m = onnx.load(path)
    for i, n in enumerate(m.graph.node):
        n.name = n.name or f"{n.op_type.lower()}{i}"
    onnx.save(m, path)
    return [n.name for n in m.graph.node if n.op_type in LAYER_OPS]


def fake_quant(m, t, s, z):
    """Insert QuantizeLinear -> DequantizeLinear on tensor t of model m (in place), right after its
    producer; every reader (or the graph output) then sees the dequantized values."""
    outs = {o.name for o in m.graph.output}
    src, dst = (t + "__fq_in", t) if t in outs else (t, t + "__fq")
    nodes = list(m.graph.node)
    for n in nodes:
        if t in outs:
            n.output[:] = [src if o == t else o for o in n.output]
        else:
            n.input[:] = [dst if i == t else i for i in n.input]
    qdq = [onnx.helper.make_node("QuantizeLinear", [src, s, z], [t + "__fq_q"]),
           onnx.helper.make_node("DequantizeLinear", [t + "__fq_q", s, z], [dst])]
    at = next((k + 1 for k, n in enumerate(nodes) if src in n.output), 0)
    del m.graph.node[:]
    m.graph.node.extend(nodes[:at] + qdq + nodes[at:])


def one_layer_model(fpath, qpath, layer):
    """The float model with only `layer`'s tensors quantized as the QDQ model qpath quantizes them:
    its dequantized weights and bias, and a Q/DQ on each activation it reads or writes (after a
    Relu/Clip the QDQ model folds into it). Built from the float model, independently of qmac."""
    fm, qm = onnx.load(fpath), onnx.load(qpath)
    qinit = {i.name: i for i in qm.graph.initializer}
    prod = {o: n for n in qm.graph.node for o in n.output}
    ql = next(n for n in qm.graph.node if n.name == layer)
    fl = next(n for n in fm.graph.node if n.name == layer)
    acts, pre, used = [], [], set()
    for k, t in enumerate(ql.input):
        d = prod.get(t)
        if d is None or d.op_type != "DequantizeLinear":
            continue
        if d.input[0] in qinit:  # a weight, bias or constant: its DequantizeLinear
            dq = onnx.NodeProto()
            dq.CopyFrom(d)
            dq.output[0] = f"{layer}__in{k}"
            fl.input[k] = dq.output[0]
            pre.append(dq)
            used.update(dq.input)
        else:
            q = prod[d.input[0]]
            acts.append((q.input[0].replace("_QuantizeLinear_Input", ""), q.input[1], q.input[2]))
    for o in ql.output:
        for q in (n for n in qm.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == o):
            acts.append((o.replace("_QuantizeLinear_Input", ""), q.input[1], q.input[2]))
    for a, sc, zp in acts:
        used.update([sc, zp])
        clamp = next((n for n in fm.graph.node if a in n.output and n.input[0] in fl.output and n is not fl), None)
        if clamp is not None:  # folded as the QDQ model folds it (so ORT fuses the same QLinear op)
            fl.output[list(fl.output).index(clamp.input[0])] = a
            fm.graph.node.remove(clamp)
    fm.graph.initializer.extend(qinit[u] for u in sorted(used))
    nodes = pre + list(fm.graph.node)
    del fm.graph.node[:]
    fm.graph.node.extend(nodes)
    for a in dict.fromkeys(acts):
        fake_quant(fm, *a)
    return fm


def sqnr(ref_sess, q_sess, name, xs):
    sig = err = 0.0
    for x in xs:
        for a, b in zip(ref_sess.run(None, {name: x}), q_sess.run(None, {name: x})):
            sig += float(np.sum(a.astype(np.float64) ** 2))
            err += float(np.sum((a.astype(np.float64) - b) ** 2))
    return float("inf") if err == 0 else 10 * np.log10(sig / err)


def sensitivity_case(qmac, fpath, name, xs, work, what, extra=()):
    """qmac's sensitivity table against SQNRs ORT measures on models built from the float model."""
    npy, out = os.path.join(work, "sens_x.npy"), os.path.join(work, "sens.onnx")
    np.save(npy, np.concatenate(xs))
    r = run([qmac, "quantize", fpath, "--calib", npy, "-o", out, "--sensitivity", *extra])
    table = dict(re.findall(r"^  (\S+) +\S+ +(-?[0-9.]+|exact)(?: dB)?$", r.stdout, re.M))
    whole = re.search(r"^  the quantized model +(-?[0-9.]+|exact)", r.stdout, re.M)
    layers = [n.name for n in onnx.load(fpath).graph.node if n.op_type in LAYER_OPS]
    if set(table) != set(layers) or not whole:
        raise AssertionError(f"{what}: table lists {sorted(table)}, the model's layers are {sorted(layers)}\n{r.stdout}")
    ref = sess(fpath)
    checked = []  # qmac's reference computes float layers in float
    for layer in layers + [None]:
        if layer is None:
            got, want = whole.group(1), sqnr(ref, sess(out, True), name, xs)
        else:
            p = os.path.join(work, f"one_{layer}.onnx")
            onnx.save(one_layer_model(fpath, out, layer), p)
            got, want = table[layer], sqnr(ref, sess(p, True), name, xs)
        ok = (got == "exact" and np.isinf(want)) or (got != "exact" and abs(float(got) - want) <= 0.06)
        if not ok:
            raise AssertionError(f"{what}: {layer or 'the quantized model'}: qmac {got} dB, ORT {want:.3f} dB")
        checked.append(f"{layer or 'all'} {want:.1f}")
    return checked, r.stdout


def mixed_case(qmac, work):
    """--mixed 1 keeps the layer of lowest SQNR float, writes what --keep-float writes, says where
    the float layer runs, and the model runs on golden as on ref."""
    fpath, calib = os.path.join(EX, "float.onnx"), os.path.join(EX, "data", "calib.npy")
    mixed, keep = os.path.join(work, "mixed.onnx"), os.path.join(work, "keep.onnx")
    r = run([qmac, "quantize", fpath, "--calib", calib, "-o", mixed, "--mixed", "1"])
    rows = re.findall(r"^  (\S+) +\S+ +(-?[0-9.]+) dB$", r.stdout.split("mixed:")[0], re.M)
    worst = min(rows, key=lambda t: float(t[1]))[0]
    if f"mixed: {worst} stays float" not in r.stdout or f"accelerator: {worst} runs in float on the host" not in r.stdout:
        raise AssertionError(f"--mixed 1 did not keep {worst} float:\n{r.stdout}")
    run([qmac, "quantize", fpath, "--calib", calib, "-o", keep, "--keep-float", worst])
    if open(mixed, "rb").read() != open(keep, "rb").read():
        raise AssertionError(f"--mixed 1 and --keep-float {worst} wrote different models")
    x = os.path.join(work, "mx.npy")
    np.save(x, np.load(os.path.join(EX, "data", "test_x.npy"))[7:8])
    for layer, where in [("conv1", "before"), ("fc", "after"), ("conv1,fc", None), ("conv2", None)]:
        r = run([qmac, "quantize", fpath, "--calib", calib, "-o", keep, "--keep-float", layer])
        if layer == "conv2":  # between accelerator layers: the compiler refuses, naming it
            if "refuses the model" not in r.stdout or "float layer 'conv2'" not in r.stdout:
                raise AssertionError(f"--keep-float conv2: no refusal naming conv2:\n{r.stdout}")
            continue
        if where and f"{layer} runs in float on the host {where} the accelerator program" not in r.stdout:
            raise AssertionError(f"--keep-float {layer}: placement not reported:\n{r.stdout}")
        outs = {}
        for b in ("ref", "golden"):
            d = os.path.join(work, f"keep_{b}")
            run([qmac, "run", keep, "--input", x, "--output", d, "--backend", b])
            outs[b] = [np.load(os.path.join(d, f)) for f in sorted(os.listdir(d)) if f.endswith(".npy")]
        if not outs["ref"] or any(not np.array_equal(a, b) for a, b in zip(outs["ref"], outs["golden"])):
            raise AssertionError(f"--keep-float {layer}: golden outputs differ from the reference's")
    return worst


def weight_codes_case(qmac, fpath, name, xs, work, what, extra):
    """--log2-weights / --block-size: every quantized weight checked element by element against a
    numpy model of the documented rule; ONNX Runtime runs the model; qmac's reference gives ORT's
    outputs (log2: identical, an int8 model; blocks: float layers, to float rounding); a blocked
    model is refused by the compiler with the reason."""
    out = os.path.join(work, "w.onnx")
    npy = os.path.join(work, "w_calib.npy")
    np.save(npy, np.concatenate(xs))
    run([qmac, "quantize", fpath, "--calib", npy, "-o", out, *extra])
    fm, qm = onnx.load(fpath), onnx.load(out)
    F = {i.name: numpy_helper.to_array(i) for i in fm.graph.initializer}
    Q = {i.name: numpy_helper.to_array(i) for i in qm.graph.initializer}
    n_w = 0
    layer_in = {t for n in qm.graph.node if n.op_type in ("Conv", "Gemm", "MatMul") for t in n.input}
    for n in qm.graph.node:
        base = n.input[0][:-len("_quantized")]
        if (n.op_type != "DequantizeLinear" or base not in F or n.output[0] not in layer_in
                or Q[n.input[0]].dtype != np.int8):
            continue  # weights only (not an Add's constant, nor a bias)
        w, c, sc = F[base].astype(np.float32), Q[n.input[0]], Q[n.input[1]]
        attrs = {a.name: a.i for a in n.attribute}
        if "block_size" in attrs:  # scale shape: w's with ceil(dim / B) on the axis
            ax, bs = attrs["axis"], attrs["block_size"]
            want_shape = list(w.shape)
            want_shape[ax] = -(-w.shape[ax] // bs)
            if list(sc.shape) != want_shape:
                raise AssertionError(f"{what}: {base}: scale shape {sc.shape}, want {want_shape}")
            sb = np.repeat(sc, bs, axis=ax).take(range(w.shape[ax]), axis=ax)
            blocks = np.moveaxis(w, ax, 0)
            am = np.stack([np.abs(blocks[k:k + bs]).max(axis=0) for k in range(0, w.shape[ax], bs)])
            want_s = (np.float64(np.float32(2) * am.astype(np.float32)) / 254).astype(np.float32)
            want_s = np.where(am == 0, np.float32(1), want_s)
            if not np.array_equal(np.moveaxis(want_s, 0, ax), sc):
                raise AssertionError(f"{what}: {base}: block scales differ from max|w| / 127")
            want_c = np.clip(np.round(w / sb), -127, 127)
        else:  # log2: codes 0, +-2^k, scale max|w| / 64 per tensor or channel
            if "axis" in attrs:
                ax = attrs["axis"]
                shp = [1] * w.ndim
                shp[ax] = -1
                am = np.abs(w).max(axis=tuple(i for i in range(w.ndim) if i != ax))
                sb = np.broadcast_to(sc.reshape(shp), w.shape)
            else:
                am, sb = np.abs(w).max(), np.broadcast_to(sc, w.shape)
            if not np.array_equal(np.float32(am) / np.float32(64), sc):
                raise AssertionError(f"{what}: {base}: log2 scales differ from max|w| / 64")
            x = (w / sb).astype(np.float32).astype(np.float64)
            k = np.round(np.log2(np.maximum(np.abs(x), 1e-300)))
            want_c = np.where(k < 0, 0, np.sign(x) * 2.0 ** np.clip(k, 0, 6))
        if not np.array_equal(want_c, c):
            raise AssertionError(f"{what}: {base}: {int(np.sum(want_c != c))} codes differ from the rule")
        n_w += 1
    if not n_w:
        raise AssertionError(f"{what}: no weight was quantized")
    ref_dir = os.path.join(work, "w_ref")
    x = os.path.join(work, "w_x.npy")
    np.save(x, xs[0])
    run([qmac, "run", out, "--input", x, "--output", ref_dir])
    got = np.load(os.path.join(ref_dir, os.listdir(ref_dir)[0]))
    blocked = "--block-size" in extra
    if blocked:  # ORT 1.23's optimizer fuses DQ(blocked) -> MatMul -> Q into a QLinearMatMul that
        so = ort.SessionOptions()  # then rejects the blocked zero point: run the nodes as written,
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # all in float
        want = ort.InferenceSession(out, so, providers=["CPUExecutionProvider"]).run(None, {name: xs[0]})[0]
        y_dq = next(n for n in qm.graph.node if n.output[0] == qm.graph.output[0].name)
        step = float(Q[y_dq.input[1]])  # qmac's fused integer groups may round one step apart
        if np.abs(got - want).max() > step * 1.001:
            raise AssertionError(f"{what}: qmac's reference differs from ORT by more than one output step")
    else:
        want = sess(out, True).run(None, {name: xs[0]})[0]
        if not np.array_equal(got, want):
            raise AssertionError(f"{what}: qmac's reference differs from ONNX Runtime: {np.abs(got - want).max()}")
    p = subprocess.run([qmac, "compile", out, "-o", os.path.join(work, "w_c")], capture_output=True, text=True)
    if blocked and (p.returncode != 2 or "quantized in blocks" not in p.stderr):
        raise AssertionError(f"{what}: blocked weights: no compile refusal with the reason: {p.stderr.strip()}")
    if not blocked and p.returncode == 0:  # log2 codes are int8 weights, computed exactly
        gd = os.path.join(work, "w_golden")
        run([qmac, "run", out, "--input", x, "--output", gd, "--backend", "golden"])
        if not np.array_equal(np.load(os.path.join(gd, os.listdir(gd)[0])), got):
            raise AssertionError(f"{what}: golden differs from the reference on log2 weights")
    elif not blocked and "not lowered" not in p.stderr:  # another op of the net may be refused
        raise AssertionError(f"{what}: compile failed: {p.stderr.strip()}")
    return n_w


class DictReader(CalibrationDataReader):
    def __init__(self, feeds):
        self.it = iter(feeds)

    def get_next(self):
        return next(self.it, None)


def multi_input_case(qmac, work, rng):
    """A two-input model: qmac's own min-max ranges (one --calib per input) equal ORT's calibrator's,
    and with ORT's ranges the model equals quantize_static's; a missing --calib and files of
    different lengths are refused."""
    from onnx import TensorProto, helper
    ka, kb, m = 6, 5, 7
    init = [numpy_helper.from_array(rng.normal(0, 0.5, size=s).astype(np.float32), n) for n, s in
            (("wa", (m, ka)), ("ba", (m,)), ("wb", (m, kb)), ("bb", (m,)), ("wo", (3, m)), ("bo", (3,)))]
    nodes = [helper.make_node("Gemm", ["a", "wa", "ba"], ["ya"], name="fa", transB=1),
             helper.make_node("Gemm", ["b", "wb", "bb"], ["yb"], name="fb", transB=1),
             helper.make_node("Add", ["ya", "yb"], ["s"], name="add"),
             helper.make_node("Relu", ["s"], ["r"], name="relu"),
             helper.make_node("Gemm", ["r", "wo", "bo"], ["y"], name="fo", transB=1)]
    g = helper.make_graph(nodes, "two", [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, ka]),
                                         helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, kb])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], init)
    fpath = os.path.join(work, "two.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), fpath)
    A, B = rng.normal(0, 1, size=(24, ka)).astype(np.float32), rng.normal(0, 2, size=(24, kb)).astype(np.float32)
    pa, pb = os.path.join(work, "a.npy"), os.path.join(work, "b.npy")
    np.save(pa, A)
    np.save(pb, B)
    feeds = [{"a": A[i:i + 1], "b": B[i:i + 1]} for i in range(len(A))]
    c = create_calibrator(fpath, [], augmented_model_path=os.path.join(work, "aug2.onnx"),
                          calibrate_method=CalibrationMethod.MinMax)
    c.collect_data(DictReader(feeds))
    want = {k: [float(np.ravel(v.range_value[0])[0]), float(np.ravel(v.range_value[1])[0])]
            for k, v in c.compute_data().data.items()}
    rq, qq = os.path.join(work, "two_ranges.json"), os.path.join(work, "two_q.onnx")
    run([qmac, "quantize", fpath, "--calib", pa, "--calib", pb, "-o", qq, "--ranges-out", rq])
    with open(rq) as f:
        got = json.load(f)
    for k, (lo, hi) in got.items():
        assert k in want, f"two inputs: qmac range of {k}, which ORT does not calibrate"
        assert np.allclose([lo, hi], want[k], rtol=1e-6, atol=1e-7), f"two inputs: {k}: qmac {lo, hi}, ORT {want[k]}"
    with open(rq, "w") as f:
        json.dump(want, f)
    ort_q = os.path.join(work, "two_ort.onnx")
    quantize_static(fpath, ort_q, DictReader(feeds), quant_format=QuantFormat.QDQ,
                    calibrate_method=CalibrationMethod.MinMax)
    run([qmac, "quantize", fpath, "--ranges", rq, "-o", qq])
    n = same_params(qq, ort_q, "two inputs")
    s1, s2 = sess(qq), sess(ort_q)
    for i, fd in enumerate(feeds):
        assert np.array_equal(s1.run(None, fd)[0], s2.run(None, fd)[0]), f"two inputs: outputs differ on row {i}"
    bad = os.path.join(work, "two_bad.onnx")
    r = run([qmac, "quantize", fpath, "--calib", pa, "-o", bad], expect=2)
    assert "2 inputs and 1 --calib" in r.stderr and not os.path.exists(bad), f"one --calib: {r.stderr.strip()!r}"
    np.save(pb, B[:20])
    r = run([qmac, "quantize", fpath, "--calib", pa, "--calib", pb, "-o", bad], expect=2)
    assert "20 batches" in r.stderr and not os.path.exists(bad), f"20 rows vs 24: {r.stderr.strip()!r}"
    return len(got), n


def random_opts(rng):
    act, wt = [("QInt8", "QInt8"), ("QUInt8", "QUInt8"), ("QUInt8", "QInt8")][int(rng.integers(3))]
    return {"act": act, "wt": wt, "per_channel": bool(rng.random() < 0.5),
            "reduce_range": bool(rng.random() < 0.2), "act_sym": bool(rng.random() < 0.25)}


def bad_inputs(qmac, work):
    fpath = os.path.join(EX, "float.onnx")
    out = os.path.join(work, "bad.onnx")
    good = np.load(os.path.join(EX, "data", "calib.npy"))[:8]
    cases = {
        "shape": (good.reshape(8, 1, 4, 16), r"shape \[8, 1, 4, 16\].*input 'input'"),
        "dtype": (good.astype(np.float64), r"is float64.*float32"),
        "nan": (np.where(np.arange(good.size).reshape(good.shape) == 77, np.nan, good).astype(np.float32),
                r"batch 1: input 'input' element 13 is NaN"),
        "inf": (np.where(np.arange(good.size).reshape(good.shape) == 5, np.inf, good).astype(np.float32),
                r"infinite"),
        "empty": (good[:0], r"empty"),
    }
    for name, (data, pat) in cases.items():
        p = os.path.join(work, f"{name}.npy")
        np.save(p, data)
        r = run([qmac, "quantize", fpath, "--calib", p, "-o", out], expect=2)
        if not re.search(pat, r.stderr) or os.path.exists(out):
            raise AssertionError(f"bad input '{name}': message {r.stderr.strip()!r} (want /{pat}/), "
                                 f"output left: {os.path.exists(out)}")
    rj = os.path.join(work, "r.json")
    with open(rj, "w") as f:
        json.dump({"no_such_tensor": [0, 1]}, f)
    r = run([qmac, "quantize", fpath, "--ranges", rj, "-o", out], expect=2)
    if "no_such_tensor" not in r.stderr or os.path.exists(out):
        raise AssertionError(f"unknown range tensor: {r.stderr.strip()!r}")
    r = run([qmac, "quantize", os.path.join(EX, "model.onnx"), "--calib", os.path.join(EX, "data", "calib.npy"),
             "-o", out], expect=2)
    if "already quantized" not in r.stderr or os.path.exists(out):
        raise AssertionError(f"quantized model as input: {r.stderr.strip()!r}")
    r = run([qmac, "quantize", fpath, "--calib", os.path.join(EX, "data", "calib.npy"), "-o", out,
             "--keep-float", "conv1,no_such_layer"], expect=2)
    if "no layer named 'no_such_layer'" not in r.stderr or "conv2" not in r.stderr or os.path.exists(out):
        raise AssertionError(f"unknown --keep-float layer: {r.stderr.strip()!r}")
    r = run([qmac, "quantize", fpath, "--calib", os.path.join(EX, "data", "calib.npy"), "-o", out,
             "--log2-weights", "--weight-type", "uint8"], expect=2)
    if "log2" not in r.stderr or os.path.exists(out):
        raise AssertionError(f"log2 weights as uint8: {r.stderr.strip()!r}")
    return len(cases) + 4


def accuracy(qmac, model, backend="ref"):
    r = run([qmac, "eval", model, "--data", os.path.join(EX, "data", "test_x.npy"), "--labels",
             os.path.join(EX, "data", "test_y.npy"), "--backend", backend])
    return float(re.search(r"accuracy ([0-9.]+)%", r.stdout).group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qmac", required=True)
    ap.add_argument("--nets", type=int, default=6)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    qmac = os.path.abspath(args.qmac)
    seed = args.seed if args.seed is not None else int(time.time()) % 100000
    print(f"test_quantize: seed {seed}")
    logging.getLogger().setLevel(logging.ERROR)
    ort.set_default_logger_severity(3)
    fails = 0
    with tempfile.TemporaryDirectory(prefix="qmac-quant-") as work:
        calib = list(np.load(os.path.join(EX, "data", "calib.npy"))[:, None])
        tests = list(np.load(os.path.join(EX, "data", "test_x.npy"))[:100, None])
        rng = np.random.default_rng(seed)
        digits_opts = [{"act": "QInt8", "wt": "QInt8", "per_channel": True, "reduce_range": False, "act_sym": False},
                       {"act": "QUInt8", "wt": "QUInt8", "per_channel": False, "reduce_range": False,
                        "act_sym": False},
                       {"act": "QInt8", "wt": "QInt8", "per_channel": False, "reduce_range": True, "act_sym": True}]
        cases = [("digits", os.path.join(EX, "float.onnx"), "input", calib, tests, o) for o in digits_opts]
        for k in range(args.nets):
            model, shape, desc = gen_models._build_float_net(rng)
            path = os.path.join(work, f"net{k}.onnx")
            onnx.save(model, path)
            xs = [rng.normal(0, 1.5, size=shape).astype(np.float32) for _ in range(12)]
            cases.append((f"net{k} {desc}", path, "x", xs[:8], xs[8:], random_opts(rng)))
        # layers left float: every digits layer, and one random layer of each random net
        keeps = [(c, (layer,)) for c, layer in zip(cases[:3], ["conv1", "conv2", "fc"])]
        for c in cases[3:]:
            layers = name_nodes(c[1])
            keeps.append((c, tuple(rng.choice(layers, size=min(len(layers), int(rng.integers(1, 3))), replace=False))))
        for (what, path, name, cal, tst, opts), keep in [(c, ()) for c in cases] + keeps:
            label = f"{what} {opts}" + (f" keep-float {','.join(keep)}" if keep else "")
            try:
                n = parity_case(qmac, path, name, cal, tst, opts, work, label, keep)
                print(f"PASS parity {label}: {n} quantized tensors identical, ORT outputs identical")
            except AssertionError as e:
                fails += 1
                print(f"FAIL parity {e}")
        sens_cases = [("digits", os.path.join(EX, "float.onnx"), "input", calib[:64], ())]
        sens_cases += [(c[0], c[1], c[2], c[3], ("--per-channel",)) for c in cases[3:5]]
        for what, path, name, xs, extra in sens_cases:
            try:
                checked, _ = sensitivity_case(qmac, path, name, xs, work, what, extra)
                print(f"PASS sensitivity {what}: SQNR per layer equals ORT's ({', '.join(checked)} dB)")
            except AssertionError as e:
                fails += 1
                print(f"FAIL sensitivity {e}")
        w_cases = [("digits", os.path.join(EX, "float.onnx"), "input", calib[:32], o)
                   for o in (["--log2-weights"], ["--log2-weights", "--per-channel"], ["--block-size", "4"])]
        w_cases += [(c[0], c[1], c[2], c[3], o) for c in cases[3:5] for o in (["--log2-weights", "--per-channel"],
                                                                             ["--block-size", "2"])]
        for what, path, name, xs, extra in w_cases:
            try:
                n = weight_codes_case(qmac, path, name, xs, work, what, extra)
                print(f"PASS weights {' '.join(extra)} {what}: {n} weights follow the rule, ORT runs it, ref == ORT"
                      + (", compile refuses" if "--block-size" in extra else ""))
            except AssertionError as e:
                fails += 1
                print(f"FAIL weights {' '.join(extra)} {e}")
        try:
            worst = mixed_case(qmac, work)
            print(f"PASS mixed: --mixed 1 keeps {worst} float (the lowest SQNR); float conv1 / fc / both on the "
                  "host, golden == ref; float conv2 refused by name")
        except AssertionError as e:
            fails += 1
            print(f"FAIL mixed: {e}")
        try:
            nr, n = multi_input_case(qmac, work, rng)
            print(f"PASS two inputs: one --calib each, {nr} ranges equal ORT's calibrator's; with its ranges "
                  f"{n} quantized tensors and the outputs equal quantize_static's; one --calib and unequal "
                  "lengths refused")
        except AssertionError as e:
            fails += 1
            print(f"FAIL two inputs: {e}")
        try:
            n = bad_inputs(qmac, work)
            print(f"PASS bad input: {n} cases exit 2 with the culprit named, no output file")
        except AssertionError as e:
            fails += 1
            print(f"FAIL bad input: {e}")
        f_acc = accuracy(qmac, os.path.join(EX, "float.onnx"))
        for method in ["minmax", "moving-average", "percentile", "entropy", "mse"]:
            out = os.path.join(work, f"{method}.onnx")
            run([qmac, "quantize", os.path.join(EX, "float.onnx"), "--calib", os.path.join(EX, "data", "calib.npy"),
                 "-o", out, "--per-channel", "--method", method])
            acc = accuracy(qmac, out)
            ok = method != "minmax" or acc >= f_acc - 1.0
            fails += not ok
            print(f"{'PASS' if ok else 'FAIL'} calibration {method}: accuracy {acc:.2f}% (float {f_acc:.2f}%)")
    print(f"test_quantize: {'all passed' if not fails else f'{fails} failed'} (seed {seed})")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())

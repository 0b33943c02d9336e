#!/usr/bin/env python3
"""qonnx_export.py - build small quantized MLPs as QONNX models, and run them with qonnx.

Library (no side effects on import) for scripts/make_binary_example.py and the random-network
tests. A network is a list of layer dicts; build_mlp turns it into this graph (opset 13, IR 8,
custom ops in domain "qonnx.custom_op.general" version 1):

    input [N,C,H,W] -> Flatten(axis=1) -> Quant(s_in, 8 bit signed) -> x0 [N,K]
    per layer i (named fc<i>, 1-based):
        W_i -> Quant (int8: narrow, power-of-two scale per column [1,M] or per tensor [])
            or BipolarQuant (binary: scale 1.0)                     -> MatMul(x, Wq)
        hidden: BatchNormalization -> BipolarQuant(1.0)   (act "bipolar", the default)
             or MultiThreshold(BIPOLAR, [M,1] thresholds) (act "threshold": BN's zero crossing)
        last:   Add(bias) -> Quant(s_out, 8 bit signed) -> logits [N,M]

Layer dict keys:
    w      float [K, M] weights (x @ W)
    kind   "int8" or "binary"
    per_tensor  (int8 only, default False) one power-of-two scale for the whole matrix
    hidden layers: gamma, beta, mean, var (float [M]), eps (default 1e-5),
                   act "bipolar" (BN + BipolarQuant, default) or "threshold" (MultiThreshold)
    last layer:    bias float [M], snapped to the nearest multiple of the accumulator scale
                   s_x * s_w[c] (s_x = s_in for a single-layer net, else 1); values already on
                   that grid are kept exactly.

mlp_ref computes the same graph in numpy, float32, op by op as qonnx and onnxruntime do (Quant:
divide, clamp, round half to even, multiply; BatchNormalization in onnxruntime's fused form
x * (gamma / sqrt(var + eps)) + (beta - mean * that)). MatMul and Add are exact as long as the
accumulators stay below 2^24 units of their grid, so the two agree bit for bit up to float
rounding differences in BatchNormalization (if onnxruntime's build contracts it into an FMA).

qonnx_run executes a model with qonnx.core.onnx_exec.execute_onnx: custom ops in qonnx's numpy
code, every standard op as a one-node onnxruntime session. qonnx sizes its buffers from the
declared shapes and rejects inputs of another shape, so qonnx_run fixes the batch dim "N" to
len(x) in a copy of the model and runs the whole batch at once. It also gives qonnx's one-node
models the IR version of ours: qonnx 1.0.0 lets onnx 1.19 stamp them IR 12, which onnxruntime
1.23 refuses.

    .venv/bin/python scripts/qonnx_export.py      # self-test: random nets, qonnx vs mlp_ref
"""
import os
import sys
from unittest import mock

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from qonnx.core import onnx_exec
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.infer_shapes import InferShapes

QONNX_DOMAIN = "qonnx.custom_op.general"
OPSET = 13
IR_VERSION = 8
DEFAULT_EPS = 1e-5


# --------------------------------------------------------------------------------------------
# quantization helpers, numpy semantics of the ops

def pow2_scale(amax, qmax):
    """Smallest power of two s with amax / s <= qmax, elementwise (1.0 where amax == 0)."""
    amax = np.asarray(amax, np.float64)
    m, e = np.frexp(amax / qmax)  # r = m * 2^e, m in [0.5, 1): ceil(log2 r) = e, or e-1 if m == 0.5
    return np.where(amax > 0, np.ldexp(1.0, e - (m == 0.5)), 1.0).astype(np.float32)


def weight_scale(w, per_tensor=False):
    """Power-of-two scale of an int8 (narrow, -127..127) weight matrix [K, M]: per output
    column, float32 [1, M], or per tensor, float32 []."""
    w = np.asarray(w, np.float32)
    amax = np.abs(w).max() if per_tensor else np.abs(w).max(axis=0, keepdims=True)
    return pow2_scale(amax, 127)


def int_range(bits, signed, narrow):
    if not signed:
        return 0, 2 ** bits - 1 - narrow
    return -(2 ** (bits - 1)) + narrow, 2 ** (bits - 1) - 1


def quant_ref(x, scale, bits=8, signed=1, narrow=0):
    """qonnx Quant with zero point 0: round(clamp(x / scale)) * scale, round half to even."""
    lo, hi = int_range(bits, signed, narrow)
    scale = np.float32(scale) if np.ndim(scale) == 0 else np.asarray(scale, np.float32)
    return (np.round(np.clip(np.asarray(x, np.float32) / scale, lo, hi)) * scale).astype(np.float32)


def bipolar_ref(x):
    """qonnx BipolarQuant with scale 1: +1 where x >= 0, else -1."""
    return np.where(np.asarray(x) >= 0, 1.0, -1.0).astype(np.float32)


def bn_ref(z, gamma, beta, mean, var, eps):
    """BatchNormalization (inference) in float32, in onnxruntime's fused form."""
    f = np.float32
    scale = (f(1) / np.sqrt(var.astype(f) + f(eps))) * gamma.astype(f)
    shift = beta.astype(f) - mean.astype(f) * scale
    return (z.astype(f) * scale + shift).astype(f)


def bn_threshold(gamma, beta, mean, var, eps):
    """Zero crossing t of the BatchNormalization: bn(x) >= 0 <=> x >= t (gamma > 0) or x <= t
    (gamma < 0). float64; gamma must be nonzero."""
    g = np.asarray(gamma, np.float64)
    return np.asarray(mean, np.float64) - np.asarray(beta, np.float64) * np.sqrt(
        np.asarray(var, np.float64) + eps) / g


def snap(v, grid):
    """v rounded to the nearest multiple of grid (half to even), float32."""
    grid = np.asarray(grid, np.float64)
    return (np.round(np.asarray(v, np.float64) / grid) * grid).astype(np.float32)


# --------------------------------------------------------------------------------------------
# the network description, resolved into what the graph holds

def _prepare(layers, in_scale):
    """Check the layer list and derive what the graph stores per layer (all float32): the
    weights w, their quantizer scale, and bn params, thresholds or the snapped bias."""
    if len(layers) < 1:
        raise ValueError("need at least one layer")
    out, s_x, k = [], np.float32(in_scale), None
    for i, layer in enumerate(layers):
        last = i == len(layers) - 1
        w = np.asarray(layer["w"], np.float32)
        kind = layer["kind"]
        if w.ndim != 2 or (k is not None and w.shape[0] != k):
            raise ValueError(f"layer {i + 1}: weights {w.shape} do not follow width {k}")
        m = w.shape[1]
        if kind == "int8":
            s_w = weight_scale(w, layer.get("per_tensor", False))
        elif kind == "binary":
            s_w = np.float32(1.0)
        else:
            raise ValueError(f"layer {i + 1}: kind {kind!r}")
        p = {"w": w, "kind": kind, "s_w": s_w}
        if last:
            acc = np.broadcast_to(np.float64(s_x) * s_w, (1, m)).reshape(m)
            p["bias"] = snap(layer["bias"], acc)
        else:
            bn = {key: np.asarray(layer[key], np.float32).reshape(m)
                  for key in ("gamma", "beta", "mean", "var")}
            eps = float(layer.get("eps", DEFAULT_EPS))
            act = layer.get("act", "bipolar")
            if act == "bipolar":
                p.update(bn, eps=eps)
            elif act == "threshold":
                # MultiThreshold outputs +1 where x >= t. For gamma < 0 the BN is decreasing
                # (+1 where x <= t), so that column is negated: W -> -W, t -> -t. Negation is
                # exact for the symmetric int8 quantizer; for a binary weight of exactly 0
                # (BipolarQuant(0) = +1) the negated weight must be -1 explicitly, not -0.
                if np.any(bn["gamma"] == 0):
                    raise ValueError(f"layer {i + 1}: act 'threshold' needs nonzero gamma")
                t = bn_threshold(bn["gamma"], bn["beta"], bn["mean"], bn["var"], eps)
                neg = bn["gamma"] < 0
                negw = np.where(w == 0, np.float32(-1.0), -w) if kind == "binary" else -w
                p["w"] = np.where(neg[None, :], negw, w).astype(np.float32)
                p["thr"] = np.where(neg, -t, t).astype(np.float32).reshape(m, 1)
            else:
                raise ValueError(f"layer {i + 1}: act {act!r}")
        out.append(p)
        k, s_x = m, np.float32(1.0)  # hidden layers output +-1
    return out


def mlp_ref(layers, x, in_scale, out_scale):
    """The graph of build_mlp in numpy (float32): logits [N, M] for x [N, ...]. out_scale None
    skips the output quantizer (the float logits it would quantize)."""
    h = quant_ref(np.asarray(x, np.float32).reshape(len(x), -1), in_scale)
    for p in _prepare(layers, in_scale):
        if p["kind"] == "int8":
            wq = quant_ref(p["w"], p["s_w"], narrow=1)
        else:
            wq = bipolar_ref(p["w"])
        # exact in float64; float32 as long as the accumulators fit 24 bits of their grid
        z = (h.astype(np.float64) @ wq.astype(np.float64)).astype(np.float32)
        if "bias" in p:
            z = z + p["bias"]
            return z if out_scale is None else quant_ref(z, out_scale)
        if "thr" in p:
            h = np.where(z >= p["thr"].reshape(-1), 1.0, -1.0).astype(np.float32)
        else:
            h = bipolar_ref(bn_ref(z, p["gamma"], p["beta"], p["mean"], p["var"], p["eps"]))
    raise AssertionError("unreachable: the last layer returns")


# --------------------------------------------------------------------------------------------
# QONNX export

def build_mlp(layers, in_shape, in_scale, out_scale, name="qmac_mlp", doc=""):
    """QONNX ModelProto of the layer list (see the module docstring). in_scale and out_scale
    must be powers of two; input "input" float32 [N, *in_shape], output "logits" [N, M]."""
    for s in (in_scale, out_scale):
        if not s > 0 or pow2_scale(s, 1) != np.float32(s):
            raise ValueError(f"scale {s} is not a power of two")
    prepared = _prepare(layers, in_scale)
    if prepared[0]["w"].shape[0] != int(np.prod(in_shape)):
        raise ValueError(f"first layer has {prepared[0]['w'].shape[0]} inputs, input shape "
                         f"{tuple(in_shape)}")
    nodes, inits = [], []

    def const(tname, value):
        inits.append(numpy_helper.from_array(np.asarray(value, np.float32), tname))
        return tname

    def quant(nname, x, y, scale, narrow):
        nodes.append(helper.make_node(
            "Quant", [x, const(nname + "_scale", scale), const(nname + "_zeropt", 0.0),
                      const(nname + "_bitwidth", 8.0)], [y],
            name=nname, domain=QONNX_DOMAIN, signed=1, narrow=narrow, rounding_mode="ROUND"))

    def bipolar(nname, x, y):
        nodes.append(helper.make_node("BipolarQuant", [x, const(nname + "_scale", 1.0)], [y],
                                      name=nname, domain=QONNX_DOMAIN))

    nodes.append(helper.make_node("Flatten", ["input"], ["flat"], name="flatten", axis=1))
    quant("in_quant", "flat", "x0", in_scale, 0)
    x = "x0"
    for i, p in enumerate(prepared, 1):
        fc = f"fc{i}"
        w = const(fc + "_w", p["w"])
        if p["kind"] == "int8":
            quant(fc + "_wq", w, fc + "_wq", p["s_w"], 1)
        else:
            bipolar(fc + "_wq", w, fc + "_wq")
        nodes.append(helper.make_node("MatMul", [x, fc + "_wq"], [fc + "_acc"], name=fc))
        if "bias" in p:
            nodes.append(helper.make_node("Add", [fc + "_acc", const(fc + "_b", p["bias"])],
                                          [fc + "_out"], name=fc + "_bias"))
            quant("out_quant", fc + "_out", "logits", out_scale, 0)
            n_out = p["w"].shape[1]
        elif "thr" in p:
            nodes.append(helper.make_node(
                "MultiThreshold", [fc + "_acc", const(f"act{i}_thr", p["thr"])], [f"x{i}"],
                name=f"act{i}", domain=QONNX_DOMAIN, out_dtype="BIPOLAR", out_scale=2.0,
                out_bias=-1.0, data_layout="NC"))
        else:
            bn = f"bn{i}"
            nodes.append(helper.make_node(
                "BatchNormalization",
                [fc + "_acc"] + [const(f"{bn}_{key}", p[key])
                                 for key in ("gamma", "beta", "mean", "var")],
                [bn + "_out"], name=bn, epsilon=p["eps"]))
            bipolar(f"act{i}", bn + "_out", f"x{i}")
        x = f"x{i}"
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *in_shape])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", n_out])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET),
                                                    helper.make_opsetid(QONNX_DOMAIN, 1)],
                              producer_name="qmac scripts/qonnx_export.py", doc_string=doc)
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def save_model(model, path):
    """Write an onnx ModelProto to path through a temporary file (no half-written model)."""
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(model.SerializeToString())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def qonnx_run(model, x):
    """Logits of model (a ModelProto from build_mlp) for the batch x [N, ...], executed by qonnx.
    Runs a copy whose batch dim is fixed to len(x) (qonnx cannot run a symbolic dim)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for vi in (m.graph.input[0], m.graph.output[0]):
        vi.type.tensor_type.shape.dim[0].dim_value = len(x)  # replaces the dim_param "N"
    wrapped = ModelWrapper(m).transform(InferShapes())
    # qonnx wraps each standard node in a one-node model made with onnx.helper.make_model, which
    # stamps it with onnx's newest IR version (12 for onnx 1.19); onnxruntime 1.23 accepts at
    # most 11. Give those models the IR version of ours instead.
    make = onnx_exec.qonnx_make_model

    def make_with_ir(graph, **kwargs):
        return make(graph, ir_version=m.ir_version, **kwargs)

    with mock.patch.object(onnx_exec, "qonnx_make_model", make_with_ir):
        out = onnx_exec.execute_onnx(wrapped, {"input": np.ascontiguousarray(x, np.float32)})
    return out["logits"]


# --------------------------------------------------------------------------------------------
# random networks and the self-test

def random_layers(rng, widths, kinds, acts=None, per_tensor=False, eps=DEFAULT_EPS):
    """A random layer list: widths [K0, M1, ..., ML], kinds per layer, acts per hidden layer
    (default all "bipolar"). BN statistics are drawn around the accumulators' typical spread
    (weights ~ N(0, 1/K), so about 1 for int8 layers and sqrt(K) for binary ones, whose weights
    become +-1) so that the signs are mixed; the gammas have random signs."""
    n_hidden = len(widths) - 2
    acts = acts or ["bipolar"] * n_hidden
    layers = []
    for i, kind in enumerate(kinds):
        k, m = widths[i], widths[i + 1]
        layer = {"w": rng.normal(0.0, 1.0 / np.sqrt(k), (k, m)), "kind": kind,
                 "per_tensor": per_tensor}
        if i < n_hidden:
            spread = np.sqrt(k) if kind == "binary" else 1.0
            layer.update(gamma=rng.choice([-1.0, 1.0], m) * rng.uniform(0.5, 2.0, m),
                         beta=rng.normal(0.0, 0.5, m), mean=rng.normal(0.0, 0.5 * spread, m),
                         var=rng.uniform(0.5, 2.0, m) * spread ** 2, eps=eps, act=acts[i])
        else:
            layer["bias"] = rng.normal(0.0, 1.0, m)
        layers.append(layer)
    return layers


def self_test(seed=7, batch=64):
    """Build random nets covering every option, run them with qonnx and compare with mlp_ref;
    for nets with MultiThreshold layers, also compare mlp_ref with those layers as BN +
    BipolarQuant (the same network). Returns the number of failed comparisons."""
    rng = np.random.default_rng(seed)
    x = (rng.integers(0, 17, (batch, 1, 8, 8)) / 16).astype(np.float32)
    cases = [
        ("int8-binary-int8", [64, 128, 128, 10], ["int8", "binary", "int8"], None, False),
        ("odd widths, thresholds", [64, 37, 100, 10], ["int8", "binary", "int8"],
         ["threshold", "threshold"], False),
        ("binary first, per-tensor", [64, 24, 10], ["binary", "int8"], ["threshold"], True),
        ("binary last", [64, 40, 33, 7], ["int8", "binary", "binary"], ["bipolar", "threshold"],
         False),
    ]
    bad = 0
    for label, widths, kinds, acts, per_tensor in cases:
        layers = random_layers(rng, widths, kinds, acts, per_tensor)
        for layer in layers:
            if layer["kind"] == "binary":
                layer["w"][:3] = 0.0  # BipolarQuant(0) = +1, also in negated columns
        in_scale = 1 / 16 if per_tensor else 1 / 32
        out_scale = float(pow2_scale(np.abs(mlp_ref(layers, x, in_scale, None)).max(), 127))
        model = build_mlp(layers, (1, 8, 8), in_scale, out_scale, name="selftest")
        got, ref = qonnx_run(model, x), mlp_ref(layers, x, in_scale, out_scale)
        n_diff = int((got != ref).sum())
        as_bn = [{**layer, "act": "bipolar"} if "act" in layer else layer for layer in layers]
        n_diff_bn = int((mlp_ref(as_bn, x, in_scale, out_scale) != ref).sum())
        bad += (n_diff != 0) + (n_diff_bn != 0)
        print(f"{label:26s} widths {widths}: {got.shape} logits, s_out {out_scale}, "
              f"{len(np.unique(got))} distinct values; differ: qonnx vs mlp_ref {n_diff}, "
              f"thresholds vs BN {n_diff_bn}")
    return bad


if __name__ == "__main__":
    sys.exit(1 if self_test() else 0)

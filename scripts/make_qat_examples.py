#!/usr/bin/env python3
"""make_qat_examples.py - build the quantization-aware-trained digits models: PyTorch QAT exported
as QDQ ONNX, and Brevitas exported as QONNX.

    /tmp/torchenv/bin/python scripts/make_qat_examples.py [--out examples/digits] [--only qdq|brevitas]

Not for the project's .venv nor for CI: it needs torch (CPU), brevitas, onnxoptimizer (Brevitas'
ONNX export imports it) and scikit-learn besides onnx, onnxruntime and qonnx. Written and run with
torch 2.5.1, brevitas 0.13.4, onnxoptimizer 0.4.2, scikit-learn 1.7.2, onnx 1.19.1, onnxruntime
1.23.2, qonnx 1.0.0 (Python 3.11). tests/qat/test_qat.py checks the committed models without
torch. Fixed seeds, one CPU thread, deterministic algorithms; about 10 s. Both models train on
the train/test split of scripts/make_example.py's load_data (sklearn's 8x8 digits, pixels k/16).

1. PyTorch QAT -> QDQ: OUT/qat_qdq.onnx, and the export untouched: OUT/qat_qdq_raw.onnx
   a. Trains in float (Adam, 15 epochs) the CNN of examples/digits/float.onnx:
          input [N,1,8,8] -> Conv 3x3x8 pad 1 -> Relu -> Conv 3x3x16 stride 2 pad 1 -> Relu
                          -> Flatten (256) -> Linear 10 -> logits [N,10]
   b. Fine-tunes it with torch.ao.quantization's eager-mode QAT (5 epochs): QuantStub /
      DeQuantStub, Conv+ReLU fused, qconfig get_default_qat_qconfig("fbgemm", version=0), i.e.
      FakeQuantize with moving-average min/max observers: uint8 activations per tensor in the 7-bit
      range [0, 127] (reduce_range: u8 x s8 pair sums then fit the int16 of x86 kernels without
      VNNI, so ONNX Runtime computes exact integers on every x86), int8 weights per output channel,
      symmetric, [-128, 127]. (version=1's FusedMovingAvgObsFakeQuantize has no ONNX export.)
   c. Exports it with torch.onnx.export (TorchScript exporter, opset 13, batch dim "N"), observers
      frozen: each FakeQuantize becomes QuantizeLinear -> DequantizeLinear, with a Clip of the
      uint8 codes to [0, 127] between them (the 7-bit range); per-tensor scales are [1]-shaped and
      the zero-point initializer the activations share is read through Identity nodes.
   d. Post-processes that graph into the form onnxruntime.quantization.quantize_static writes.
      What the exporter wrote stays (Clip, Identity, [1]-shaped scales); three things change:
      - Weights: each QuantizeLinear of a float weight initializer is folded into an int8
        initializer of the codes it computes (float32 division, round half to even, saturate),
        read by the DequantizeLinear. The compiler refuses a QuantizeLinear of a constant
        ("the host quantizes float32 tensors": its host steps quantize run-time inputs only).
      - Biases: each float bias b of a Conv/Gemm becomes int32 codes rint(b / (s_x s_w[c])) ->
        DequantizeLinear with scale s_x s_w[c] (float32 product and division). qmac runs a Conv
        with a float bias as a float layer (the compiler refuses it between accelerator layers).
      - Flatten: the Flatten between the last DequantizeLinear and the Gemm gets a QuantizeLinear
        -> DequantizeLinear pair after it with the same scale and zero point (exact: the codes
        come back unchanged). Without it ONNX Runtime too runs the Gemm in float; with it the Gemm
        is an integer QGemm.
      Then the float weights and biases nobody reads are removed. ONNX Runtime does the first two
      itself when it loads the model (it constant-folds the weight QuantizeLinear and quantizes a
      float bias the same way), so the script checks that ORT's outputs on the test images are
      the same bits with and without them; the Flatten pair changes ORT's outputs (float Gemm ->
      integer QGemm) and the script prints how many logits moved.
   e. Prints the test-set accuracy of the float model (torch), the QAT model (torch, fake
      quantization), the raw export and OUT/qat_qdq.onnx (ONNX Runtime), and on how many images
      the torch QAT model and ORT on qat_qdq.onnx predict different digits.

2. Brevitas QAT -> QONNX: OUT/qat_brevitas.onnx
   a. Trains from scratch (Adam, cosine decay, 30 epochs) a Brevitas CNN with power-of-two
      scales (docs/compiler.md, "QONNX layers and binary layers": the compiler proves a QONNX
      layer exact for power-of-two scales and a bias on the accumulator grid):
          input [N,1,8,8] -> QuantIdentity (Int8ActPerTensorFixedPoint)
            -> QuantConv2d 3x3x16 pad 1, int8 weights (Int8WeightPerTensorFixedPoint), no bias
               -> BatchNorm2d -> sign (QuantIdentity SignedBinaryActPerTensorConst)
            -> QuantConv2d 3x3x32 stride 2, no padding, binary weights
               (SignedBinaryWeightPerTensorConst) -> BatchNorm2d -> sign
            -> Flatten (288) -> QuantLinear 10, int8 weights, bias Int32Bias (scale s_x s_w)
            -> QuantIdentity (Int8ActPerTensorFixedPoint) -> logits [N,10]
      The binary convolution has no padding, so the accelerator runs it in its binary mode
      (QONNX pads the +-1 activations with 0, which no bit means).
   b. Exports it with brevitas.export.export_qonnx (opset 13, batch dim "N") and cleans it up with
      qonnx: qonnx.util.cleanup.cleanup_model (shape inference, constant folding that keeps the
      quantizers, unused tensors, names); then the 32-bit Quant of the bias (a constant) is
      replaced by the float constant it computes, evaluated by qonnx's own execute_node (qmac
      imports Quant codes of 1 to 8 bits and refuses wider ones; the biases are float values on
      the accumulator grid either way), and the graph input/output get the names the other
      examples use ("input", "logits").
   c. Prints the test-set accuracy of the Brevitas model in torch and of OUT/qat_brevitas.onnx
      executed by qonnx (scripts/qonnx_export.py's qonnx_run), and how many logits differ
      between the two (BatchNormalization's float rounding in torch and in ONNX Runtime could
      move a sign).

Training runs float32 on one CPU thread, so another CPU or torch build can change the last bits
of the trained weights; the committed models are the reference, regenerate only on purpose.
"""
import argparse
import os
import sys
import time
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import helper, numpy_helper
from torch import nn

from make_example import load_data
from qonnx_export import qonnx_run, save_model

SEED = 2468
BATCH = 32
OPSET = 13
DYNAMIC_BATCH = {"input": {0: "N"}, "logits": {0: "N"}}


# --------------------------------------------------------------------------------------------
# training helpers

def train(model, xtr, ytr, epochs, lr, cosine=False):
    """Adam on cross-entropy, batches of BATCH in a seeded order; prints the loss per epoch."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * -(-len(xtr) // BATCH)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if cosine else None
    x, y = torch.from_numpy(xtr), torch.from_numpy(ytr)
    gen = torch.Generator().manual_seed(SEED)
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        total = 0.0
        for s in range(0, len(x), BATCH):
            idx = perm[s:s + BATCH]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            if sched:
                sched.step()
            total += loss.item() * len(idx)
        print(f"  epoch {ep + 1:2d}/{epochs}: loss {total / len(x):.4f}")


def torch_logits(model, x):
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def accuracy(logits, y):
    return float((logits.argmax(1) == y).mean())


def report(what, acc):
    print(f"accuracy, {what + ':':42s} {acc:.4f}")


# --------------------------------------------------------------------------------------------
# 1. PyTorch QAT -> QDQ

class DigitsCNN(nn.Module):
    """The CNN of examples/digits/float.onnx, with the stubs eager-mode quantization needs."""

    def __init__(self):
        super().__init__()
        self.quant = torch.ao.quantization.QuantStub()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.relu2 = nn.ReLU()
        self.flat = nn.Flatten()
        self.fc = nn.Linear(256, 10)
        self.dequant = torch.ao.quantization.DeQuantStub()

    def forward(self, x):
        x = self.relu1(self.conv1(self.quant(x)))
        x = self.relu2(self.conv2(x))
        return self.dequant(self.fc(self.flat(x)))


def ort_logits(model, x):
    """ONNX Runtime (CPU, one thread, default optimizations) on a ModelProto, whole batch."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": x})[0]


def fold_weight_quantizers(model):
    """QuantizeLinear(float initializer W) -> an initializer of its codes (in place)."""
    g = model.graph
    init = {t.name: t for t in g.initializer}
    for n in list(g.node):
        if n.op_type != "QuantizeLinear" or n.input[0] not in init:
            continue
        w = numpy_helper.to_array(init[n.input[0]]).astype(np.float32)
        s = numpy_helper.to_array(init[n.input[1]]).astype(np.float32)
        z = numpy_helper.to_array(init[n.input[2]])
        axis = next((a.i for a in n.attribute if a.name == "axis"), 1)
        shape = [1] * w.ndim
        shape[axis] = -1
        info = np.iinfo(z.dtype)
        q = np.rint(w / s.reshape(shape)) + z.reshape(shape).astype(np.float32)
        codes = np.clip(q, info.min, info.max).astype(z.dtype)
        name = n.input[0] + "_quantized"
        g.initializer.append(numpy_helper.from_array(codes, name))
        for m in g.node:
            for k, v in enumerate(m.input):
                if v == n.output[0]:
                    m.input[k] = name
        g.node.remove(n)


def quantize_biases(model):
    """Float bias of a Conv/Gemm over dequantized operands -> int32 codes -> DequantizeLinear
    with scale s_x * s_w[c] (in place). s_x is found through Flatten/Reshape."""
    g = model.graph
    init = {t.name: t for t in g.initializer}
    prod = {o: n for n in g.node for o in n.output}

    def dq_scale(v):
        n = prod[v]
        while n.op_type in ("Flatten", "Reshape", "Identity"):
            n = prod[n.input[0]]
        assert n.op_type == "DequantizeLinear", f"{v}: produced by {n.op_type}"
        return numpy_helper.to_array(init[n.input[1]]).astype(np.float32)

    for n in list(g.node):
        if n.op_type not in ("Conv", "Gemm") or len(n.input) < 3 or n.input[2] not in init:
            continue
        b = numpy_helper.to_array(init[n.input[2]]).astype(np.float32)
        scale = (dq_scale(n.input[0]).reshape(()) * dq_scale(n.input[1])).astype(np.float32)
        codes = np.rint(b / scale).astype(np.int32)
        q, s, out = n.input[2] + "_quantized", n.input[2] + "_scale", n.input[2] + "_dequantized"
        g.initializer.extend([numpy_helper.from_array(codes, q), numpy_helper.from_array(scale, s)])
        g.node.insert(list(g.node).index(n),
                      helper.make_node("DequantizeLinear", [q, s], [out], name=n.name + "/bias_dq", axis=0))
        n.input[2] = out


def requantize_flatten(model):
    """DequantizeLinear -> Flatten -> X  becomes  DequantizeLinear -> Flatten -> QuantizeLinear
    -> DequantizeLinear -> X, with the first DequantizeLinear's parameters (in place)."""
    g = model.graph
    prod = {o: n for n in g.node for o in n.output}
    for n in list(g.node):
        dq = prod.get(n.input[0]) if n.op_type == "Flatten" else None
        if dq is None or dq.op_type != "DequantizeLinear":
            continue
        out = n.output[0]
        n.output[0] = out + "_float"
        k = list(g.node).index(n)
        g.node.insert(k + 1, helper.make_node("QuantizeLinear", [n.output[0], *dq.input[1:]], [out + "_q"],
                                              name=n.name + "/QuantizeLinear"))
        g.node.insert(k + 2, helper.make_node("DequantizeLinear", [out + "_q", *dq.input[1:]], [out],
                                              name=n.name + "/DequantizeLinear"))


def remove_unused_initializers(model):
    used = {v for n in model.graph.node for v in n.input}
    for t in list(model.graph.initializer):
        if t.name not in used:
            model.graph.initializer.remove(t)


def copy_model(model):
    m = onnx.ModelProto()
    m.CopyFrom(model)
    return m


def make_qdq(xtr, ytr, xte, yte, path):
    tq = torch.ao.quantization
    torch.manual_seed(SEED)
    model = DigitsCNN()
    print("PyTorch: float training")
    train(model, xtr, ytr, 15, 3e-3)
    acc_float = accuracy(torch_logits(model, xte), yte)

    print("PyTorch: quantization-aware training (fbgemm qconfig, FakeQuantize)")
    model.train()
    model.qconfig = tq.get_default_qat_qconfig("fbgemm", version=0)
    tq.fuse_modules_qat(model, [["conv1", "relu1"], ["conv2", "relu2"]], inplace=True)
    with warnings.catch_warnings():  # the fbgemm qconfig's reduce_range is deprecated in favour of
        warnings.simplefilter("ignore")  # quant_max 127, which it means
        tq.prepare_qat(model, inplace=True)
    train(model, xtr, ytr, 5, 5e-4)
    model.apply(tq.disable_observer)  # freeze the ranges: the export reads them as constants
    qat = torch_logits(model, xte)
    acc_qat = accuracy(qat, yte)

    tmp = path + ".raw"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, torch.zeros(1, 1, 8, 8), tmp, opset_version=OPSET, input_names=["input"],
                              output_names=["logits"], dynamic_axes=DYNAMIC_BATCH, dynamo=False)
        raw = onnx.load(tmp)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    acts = [n for n in raw.graph.node if n.op_type == "Clip"]
    assert acts, "the export has no Clip of the 7-bit activation codes"

    # ORT's outputs on the raw export and with the two changes ORT makes itself at load time
    folded = copy_model(raw)
    requantize_flatten(folded)
    want = ort_logits(folded, xte)
    fold_weight_quantizers(folded)
    quantize_biases(folded)
    remove_unused_initializers(folded)
    got = ort_logits(folded, xte)
    n_diff = int((want.view(np.uint32) != got.view(np.uint32)).sum())
    assert n_diff == 0, f"folding weights and biases changed {n_diff} of ORT's logits"
    raw_out = ort_logits(raw, xte)
    moved = int((raw_out.view(np.uint32) != got.view(np.uint32)).sum())

    folded.doc_string = ("8x8 digits CNN trained with PyTorch QAT (torch.ao.quantization, fbgemm qconfig), "
                         "exported by torch.onnx.export; weights folded to int8, biases to int32, a Q/DQ "
                         "pair after Flatten by scripts/make_qat_examples.py.")
    onnx.checker.check_model(folded)
    save_model(folded, path)
    raw_path = os.path.join(os.path.dirname(path), "qat_qdq_raw.onnx")
    save_model(raw, raw_path)  # what torch wrote, untouched: qmac takes it as it is too
    acc_raw, acc_ort = accuracy(raw_out, yte), accuracy(got, yte)
    disagree = int((qat.argmax(1) != got.argmax(1)).sum())
    report("float model (torch)", acc_float)
    report("QAT model (torch, fake quantization)", acc_qat)
    report("raw export (ONNX Runtime)", acc_raw)
    report(f"{os.path.basename(path)} (ONNX Runtime)", acc_ort)
    print(f"folding weights and biases: ORT's logits unchanged; the Flatten Q/DQ moved {moved} of "
          f"{got.size} logits (float Gemm -> QGemm)")
    print(f"torch QAT vs ORT on {os.path.basename(path)}: {disagree} of {len(yte)} images predicted "
          "differently")
    print(f"wrote {path} ({os.path.getsize(path)} bytes) and {raw_path} ({os.path.getsize(raw_path)} bytes)")


# --------------------------------------------------------------------------------------------
# 2. Brevitas QAT -> QONNX

def brevitas_net():
    import brevitas.nn as qnn
    from brevitas.quant import (Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint, Int32Bias,
                                SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst)

    class BrevitasDigits(nn.Module):
        def __init__(self):
            super().__init__()
            self.in_quant = qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, return_quant_tensor=True)
            self.conv1 = qnn.QuantConv2d(1, 16, 3, padding=1, bias=False,
                                         weight_quant=Int8WeightPerTensorFixedPoint)
            self.bn1 = nn.BatchNorm2d(16)
            self.act1 = qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=True)
            self.conv2 = qnn.QuantConv2d(16, 32, 3, stride=2, padding=0, bias=False,
                                         weight_quant=SignedBinaryWeightPerTensorConst)
            self.bn2 = nn.BatchNorm2d(32)
            self.act2 = qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=True)
            self.flat = nn.Flatten()
            self.fc = qnn.QuantLinear(32 * 3 * 3, 10, bias=True, weight_quant=Int8WeightPerTensorFixedPoint,
                                      bias_quant=Int32Bias)
            self.out_quant = qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint)

        def forward(self, x):
            x = self.act1(self.bn1(self.conv1(self.in_quant(x))))
            x = self.act2(self.bn2(self.conv2(x)))
            return self.out_quant(self.fc(self.flat(x)))

    return BrevitasDigits()


def qonnx_clean(path):
    """qonnx's cleanup, wide Quant nodes of constants folded, graph IO named input/logits."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_node
    from qonnx.transformation.general import RemoveUnusedTensors
    from qonnx.util.cleanup import cleanup_model

    m = cleanup_model(ModelWrapper(path))
    folded = []
    for n in list(m.graph.node):
        if n.op_type != "Quant" or any(m.get_initializer(v) is None for v in n.input):
            continue
        if float(m.get_initializer(n.input[3])) <= 8:
            continue  # weights: qmac reads their codes
        ctx = {v: m.get_initializer(v) for v in n.input}
        execute_node(n, ctx, m.graph, opset_version=OPSET)
        m.set_initializer(n.output[0], np.asarray(ctx[n.output[0]], np.float32))
        m.graph.node.remove(n)
        folded.append(f"{n.name} ({int(float(ctx[n.input[3]]))} bit)")
    m = m.transform(RemoveUnusedTensors())
    m.rename_tensor(m.graph.input[0].name, "input")
    m.rename_tensor(m.graph.output[0].name, "logits")
    return m.model, folded


def make_brevitas(xtr, ytr, xte, yte, path):
    from brevitas.export import export_qonnx

    torch.manual_seed(SEED)
    model = brevitas_net()
    print("Brevitas: quantization-aware training (int8 - binary - int8, power-of-two scales)")
    train(model, xtr, ytr, 30, 1e-2, cosine=True)
    ref = torch_logits(model, xte)
    acc_torch = accuracy(ref, yte)

    tmp = path + ".raw"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            export_qonnx(model, torch.zeros(1, 1, 8, 8), tmp, opset_version=OPSET, input_names=["input"],
                         output_names=["logits"], dynamic_axes=DYNAMIC_BATCH)
        clean, folded = qonnx_clean(tmp)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    clean.doc_string = ("8x8 digits CNN trained with Brevitas (int8 conv, binary conv, int8 linear, "
                        "power-of-two scales), exported by brevitas.export.export_qonnx, cleaned with "
                        "qonnx by scripts/make_qat_examples.py.")
    onnx.checker.check_model(clean)
    save_model(clean, path)
    got = qonnx_run(onnx.load(path), xte)
    acc_q = accuracy(got, yte)
    n_diff = int((got != ref).sum())
    print(f"folded into float constants: {', '.join(folded) or 'nothing'}")
    report("Brevitas model (torch)", acc_torch)
    report(f"{os.path.basename(path)} (qonnx)", acc_q)
    print(f"Brevitas vs qonnx: {n_diff} of {got.size} logits differ"
          + ("" if n_diff == 0 else f" (in {int((got != ref).any(axis=1).sum())} images)"))
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


# --------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "examples", "digits"))
    ap.add_argument("--only", choices=("qdq", "brevitas"), default=None)
    args = ap.parse_args()
    out = os.path.normpath(args.out)
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    # import-time and tracing notices of torch and Brevitas that say nothing about these models
    warnings.filterwarnings("ignore", message="fast_hadamard_transform package not found")
    warnings.filterwarnings("ignore", message="Named tensors and all their associated APIs")
    t0 = time.perf_counter()
    xtr, ytr, xte, yte = load_data()
    print(f"digits: {len(xtr)} training and {len(xte)} test images, seed {SEED}, torch {torch.__version__}")
    if args.only in (None, "qdq"):
        make_qdq(xtr, ytr, xte, yte, os.path.join(out, "qat_qdq.onnx"))
    if args.only in (None, "brevitas"):
        make_brevitas(xtr, ytr, xte, yte, os.path.join(out, "qat_brevitas.onnx"))
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

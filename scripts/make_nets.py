#!/usr/bin/env python3
"""make_nets.py - whole ImageNet networks with torchvision's architectures and random weights,
quantized by ONNX Runtime's quantize_static, for the network tests and benchmarks.

    .venv/bin/python scripts/make_nets.py --out DIR [--nets resnet18,mobilenetv2,resnet50]
                                          [--format qdq|qop] [--act uint8|int8] [--inputs 2] [--seed 1]

For each net writes DIR/<net>.float.onnx (the float graph), DIR/<net>.onnx (quantized),
DIR/<net>.in<k>.npy (float32 [1, 3, 224, 224] test inputs, not the calibration ones).

The float graphs are built layer for layer as torchvision defines them (models/resnet.py:
BasicBlock / Bottleneck with the stride on the 3x3 and a 1x1 projection shortcut; models/
mobilenetv2.py: inverted residuals with ReLU6, residual only at stride 1 with equal channels) and
as torch.onnx.export writes them in eval mode after ORT's pre-processing folds each BatchNorm into
its convolution: Conv (with bias), Relu / Clip(0, 6), MaxPool, Add, GlobalAveragePool, Flatten,
Gemm. torch itself is not installed: its Linux wheels from PyPI pull gigabytes of CUDA libraries,
and the graphs are fully determined by the architecture. Weights are He-normal (so activations
keep their scale through the depth), biases small; calibration reads 4 random images.
"""
import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Net:
    def __init__(self, name, rng):
        self.name, self.rng = name, rng
        self.nodes, self.inits, self.k = [], [], 0

    def uniq(self, base):
        self.k += 1
        return f"{base}_{self.k}"

    def const(self, base, arr):
        name = self.uniq(base)
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def conv(self, x, cin, cout, k, stride=1, groups=1, name="conv"):
        fan_in = cin // groups * k * k
        w = (self.rng.standard_normal((cout, cin // groups, k, k)) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        b = (self.rng.standard_normal(cout) * 0.05).astype(np.float32)
        y = self.uniq(name)
        self.nodes.append(helper.make_node("Conv", [x, self.const(name + ".weight", w), self.const(name + ".bias", b)],
                                           [y], name=y, kernel_shape=[k, k], strides=[stride, stride],
                                           pads=[k // 2] * 4, group=groups))
        return y

    def op(self, kind, ins, **attrs):
        y = self.uniq(kind.lower())
        self.nodes.append(helper.make_node(kind, ins, [y], name=y, **attrs))
        return y

    def relu(self, x):
        return self.op("Relu", [x])

    def relu6(self, x):
        return self.op("Clip", [x, self.const("min", np.array(0.0, np.float32)),
                                self.const("max", np.array(6.0, np.float32))])

    def head(self, x, cin, classes=1000):
        x = self.op("GlobalAveragePool", [x])
        x = self.op("Flatten", [x], axis=1)
        w = (self.rng.standard_normal((classes, cin)) * np.sqrt(1.0 / cin)).astype(np.float32)
        b = (self.rng.standard_normal(classes) * 0.05).astype(np.float32)
        return self.op("Gemm", [x, self.const("fc.weight", w), self.const("fc.bias", b)], transB=1)

    def model(self, x, y):
        g = helper.make_graph(self.nodes, self.name,
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 3, 224, 224])],
                              [helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, 1000])], self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        m.ir_version = 8
        onnx.checker.check_model(m)
        return m


def resnet(name, blocks, bottleneck, rng):
    n = Net(name, rng)
    x = n.relu(n.conv("input", 3, 64, 7, 2, name="conv1"))
    x = n.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin, exp = 64, 4 if bottleneck else 1
    for stage, (width, count) in enumerate(zip((64, 128, 256, 512), blocks)):
        for i in range(count):
            stride = 2 if stage > 0 and i == 0 else 1
            tag = f"layer{stage + 1}.{i}"
            if bottleneck:
                y = n.relu(n.conv(x, cin, width, 1, name=tag + ".conv1"))
                y = n.relu(n.conv(y, width, width, 3, stride, name=tag + ".conv2"))
                y = n.conv(y, width, width * exp, 1, name=tag + ".conv3")
            else:
                y = n.relu(n.conv(x, cin, width, 3, stride, name=tag + ".conv1"))
                y = n.conv(y, width, width, 3, name=tag + ".conv2")
            short = x
            if stride != 1 or cin != width * exp:
                short = n.conv(x, cin, width * exp, 1, stride, name=tag + ".downsample")
            x = n.relu(n.op("Add", [y, short]))
            cin = width * exp
    return n.model("input", n.head(x, cin))


def mobilenetv2(rng):
    n = Net("mobilenetv2", rng)
    x = n.relu6(n.conv("input", 3, 32, 3, 2, name="features.0"))
    cin = 32
    # (expansion t, channels c, repeats n, stride s) of torchvision's inverted_residual_setting
    for t, c, reps, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                          (6, 160, 3, 2), (6, 320, 1, 1)):
        for i in range(reps):
            stride = s if i == 0 else 1
            hidden = cin * t
            y = x
            if t != 1:
                y = n.relu6(n.conv(y, cin, hidden, 1, name="expand"))
            y = n.relu6(n.conv(y, hidden, hidden, 3, stride, groups=hidden, name="dw"))
            y = n.conv(y, hidden, c, 1, name="project")
            x = n.op("Add", [x, y]) if stride == 1 and cin == c else y
            cin = c
    x = n.relu6(n.conv(x, cin, 1280, 1, name="features.18"))
    return n.model("input", n.head(x, 1280))


def build(net, rng):
    if net == "resnet18":
        return resnet(net, (2, 2, 2, 2), False, rng)
    if net == "resnet50":
        return resnet(net, (3, 4, 6, 3), True, rng)
    if net == "mobilenetv2":
        return mobilenetv2(rng)
    raise SystemExit(f"make_nets: unknown net {net!r} (resnet18, resnet50, mobilenetv2)")


def quantize(src, dst, fmt, act, rng):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.data = iter([{"input": rng.standard_normal((1, 3, 224, 224)).astype(np.float32)}
                              for _ in range(4)])

        def get_next(self):
            return next(self.data, None)

    quantize_static(src, dst, Reader(), quant_format=QuantFormat.QDQ if fmt == "qdq" else QuantFormat.QOperator,
                    activation_type=QuantType.QUInt8 if act == "uint8" else QuantType.QInt8,
                    weight_type=QuantType.QInt8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--nets", default="resnet18,mobilenetv2")
    ap.add_argument("--format", choices=("qdq", "qop"), default="qdq")
    ap.add_argument("--act", choices=("uint8", "int8"), default="uint8")
    ap.add_argument("--inputs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for net in a.nets.split(","):
        rng = np.random.default_rng(a.seed)
        fp = os.path.join(a.out, f"{net}.float.onnx")
        onnx.save(build(net, rng), fp)
        quantize(fp, os.path.join(a.out, f"{net}.onnx"), a.format, a.act, rng)
        for k in range(a.inputs):
            np.save(os.path.join(a.out, f"{net}.in{k}.npy"), rng.standard_normal((1, 3, 224, 224)).astype(np.float32))
        print(f"make_nets: {net} -> {a.out}/{net}.onnx ({a.format}, {a.act} activations)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""make_binary_example.py - build the bundled binary network: a QONNX MLP for the 8x8 digits.

    .venv/bin/python scripts/make_binary_example.py [--out examples/digits] [--epochs 40]
                                                    [--hidden 128]

1. Trains in pure numpy (float64, Adam, fixed seeds) on the train/test split of
   scripts/make_example.py's load_data (pixels k/16, so the 8-bit input quantizer with scale
   1/16 represents them exactly):
       input [N,1,8,8] -> Flatten -> Quant(1/16) -> 64
         -> H (int8 weights)   -> BatchNorm -> sign
         -> H (binary weights) -> BatchNorm -> sign
         -> H (binary weights) -> BatchNorm -> sign
         -> 10 (int8 weights, bias) -> Quant(s_out, 8 bit) -> logits [N,10]
   Straight-through estimators: sign passes the gradient where |x| <= 1; binary layers keep
   latent float weights clipped to [-1, 1]; int8 layers fake-quantize their weights with a
   power-of-two scale per output column, 2^ceil(log2(max|W[:,c]| / 127)). Batch norm uses
   batch statistics in training and the running averages in the exported model.
2. Exports it with scripts/qonnx_export.py's build_mlp (QONNX: Quant, BipolarQuant,
   BatchNormalization, MatMul, Add; opset 13) with the last layer's bias rounded to a multiple
   of its accumulator scale s_w[c] (the inputs are +-1) and s_out the power of two that covers
   the training set's logits, and writes OUT/binary.onnx.
3. Prints the accuracy on the test images of the numpy forward pass with all the quantizers
   (scripts/qonnx_export.py's mlp_ref) and of binary.onnx executed by qonnx, and how many
   logits differ between the two (only float rounding in BatchNormalization could make them),
   and how close the sign decision nearest to its threshold comes to such a rounding flip.

The training uses float64 numpy with BLAS matmuls, so a different BLAS/CPU can change the last
bits of the trained weights (and then flip some signs); the committed binary.onnx is the
reference, regenerate only on purpose.
"""
import argparse
import os
import sys
import time

import numpy as np
import onnx

from make_example import load_data
from qonnx_export import bn_threshold, build_mlp, mlp_ref, pow2_scale, qonnx_run, save_model, weight_scale

SEED = 4321
IN_SCALE = 1 / 16
EPS = 1e-5        # BatchNormalization epsilon (training and export)
MOMENTUM = 0.1    # weight of the current batch in the running statistics
KINDS = ("int8", "binary", "binary", "int8")
BATCH = 32
LR = 1e-2


# --------------------------------------------------------------------------------------------
# training (float64)

def sign(v):
    return np.where(v >= 0, 1.0, -1.0)


def fq_int8(w):
    """w fake-quantized as the export does: int8 narrow, power-of-two scale per column."""
    s = weight_scale(w).astype(np.float64)
    return np.clip(np.round(w / s), -127, 127) * s


def init_params(rng, hidden):
    widths = (64, hidden, hidden, hidden, 10)
    p = {}
    for i, kind in enumerate(KINDS, 1):
        k, m = widths[i - 1], widths[i]
        if kind == "binary":
            p[f"w{i}"] = rng.uniform(-0.1, 0.1, (k, m))  # latent weights, only their sign is used
        else:
            p[f"w{i}"] = rng.normal(0.0, np.sqrt(2.0 / k), (k, m))
        if i < len(KINDS):
            p[f"g{i}"], p[f"b{i}"] = np.ones(m), np.zeros(m)
    p["b4"] = np.zeros(10)
    stats = {}
    for i in range(1, len(KINDS)):
        stats[f"mean{i}"], stats[f"var{i}"] = np.zeros(hidden), np.ones(hidden)
    return p, stats


def quantized_weights(p, i):
    return fq_int8(p[f"w{i}"]) if KINDS[i - 1] == "int8" else sign(p[f"w{i}"])


def loss_and_grads(p, stats, x, y):
    """Cross-entropy loss and gradients for one batch (batch-norm in training mode); updates
    the running statistics."""
    n = len(x)
    h = x.reshape(n, -1)
    cache = []
    for i in range(1, len(KINDS)):
        wq = quantized_weights(p, i)
        z = h @ wq
        mu, var = z.mean(axis=0), z.var(axis=0)
        stats[f"mean{i}"] = (1 - MOMENTUM) * stats[f"mean{i}"] + MOMENTUM * mu
        stats[f"var{i}"] = (1 - MOMENTUM) * stats[f"var{i}"] + MOMENTUM * var
        inv = 1.0 / np.sqrt(var + EPS)
        zh = (z - mu) * inv
        bn = p[f"g{i}"] * zh + p[f"b{i}"]
        cache.append((h, wq, zh, inv, bn))
        h = sign(bn)
    wq4 = quantized_weights(p, 4)
    logits = h @ wq4 + p["b4"]

    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob = e / e.sum(axis=1, keepdims=True)
    loss = -np.log(prob[np.arange(n), y] + 1e-12).mean()
    dl = prob
    dl[np.arange(n), y] -= 1.0
    dl /= n
    # straight-through: the gradient of a quantized weight goes to its float weight unchanged
    g = {"w4": h.T @ dl, "b4": dl.sum(axis=0)}
    dh = dl @ wq4.T
    for i in range(len(KINDS) - 1, 0, -1):
        h_in, wq, zh, inv, bn = cache[i - 1]
        dbn = dh * (np.abs(bn) <= 1.0)  # straight-through sign
        g[f"g{i}"], g[f"b{i}"] = (dbn * zh).sum(axis=0), dbn.sum(axis=0)
        dzh = dbn * p[f"g{i}"]
        dz = inv / n * (n * dzh - dzh.sum(axis=0) - zh * (dzh * zh).sum(axis=0))
        g[f"w{i}"] = h_in.T @ dz
        dh = dz @ wq.T
    return loss, g


def train(xtr, ytr, epochs, hidden, rng):
    p, stats = init_params(rng, hidden)
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(val) for k, val in p.items()}
    b1, b2, eps, t = 0.9, 0.999, 1e-8, 0
    x64, steps = xtr.astype(np.float64), epochs * -(-len(xtr) // BATCH)
    for ep in range(epochs):
        perm = rng.permutation(len(x64))
        total = 0.0
        for s in range(0, len(perm), BATCH):
            idx = perm[s:s + BATCH]
            loss, g = loss_and_grads(p, stats, x64[idx], ytr[idx])
            total += loss * len(idx)
            lr = LR * 0.5 * (1 + np.cos(np.pi * t / steps))  # cosine decay to 0
            t += 1
            for k in p:
                m[k] = b1 * m[k] + (1 - b1) * g[k]
                v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
                p[k] -= lr * (m[k] / (1 - b1 ** t)) / (np.sqrt(v[k] / (1 - b2 ** t)) + eps)
            for i, kind in enumerate(KINDS, 1):
                if kind == "binary":
                    np.clip(p[f"w{i}"], -1.0, 1.0, out=p[f"w{i}"])
        print(f"  epoch {ep + 1:2d}/{epochs}: loss {total / len(perm):.4f}")
    return p, stats


def export_layers(p, stats):
    """The layer list of qonnx_export.build_mlp (float32; BN with the running statistics)."""
    layers = []
    for i, kind in enumerate(KINDS, 1):
        layer = {"w": p[f"w{i}"].astype(np.float32), "kind": kind}
        if i < len(KINDS):
            layer.update(gamma=p[f"g{i}"], beta=p[f"b{i}"], mean=stats[f"mean{i}"],
                         var=stats[f"var{i}"], eps=EPS)
        else:
            layer["bias"] = p["b4"]  # build_mlp rounds it to a multiple of s_w[c]
        layers.append(layer)
    return layers


def bn_margin(layers):
    """How close the signs after the BatchNormalizations come to a float rounding flip. For
    each hidden channel: the accumulator value nearest to the BN's zero crossing that the grid
    allows (layer 1: multiples of s_in * s_w[c]; binary layers: K - 2j, sums of K terms +-1),
    and its BN output |y| in float32 ulps of the largest term of onnxruntime's fused form
    x * scale + (beta - mean * scale). Returns the smallest as (layer, channel, ulps): at a few
    ulps, a float32 BN and an exact threshold could disagree on an input that hits that value."""
    best = (0, 0, np.inf)
    for i, layer in enumerate(layers[:-1], 1):
        gamma, beta, mean, var = (np.asarray(layer[k], np.float32).astype(np.float64)
                                  for k in ("gamma", "beta", "mean", "var"))
        scale = gamma / np.sqrt(var + np.float32(EPS))
        t = bn_threshold(gamma, beta, mean, var, EPS)
        if i == 1:  # inputs: the input quantizer's codes
            step, off = IN_SCALE * weight_scale(layer["w"]).reshape(-1).astype(np.float64), 0.0
        else:
            step, off = 2.0, layer["w"].shape[0]
        v = np.round((t - off) / step) * step + off
        y = (v - mean) * scale + beta
        big = np.maximum.reduce([np.abs(v * scale), np.abs(mean * scale), np.abs(beta)])
        ulps = np.abs(y) / np.spacing(big.astype(np.float32)).astype(np.float64)
        c = int(ulps.argmin())
        if ulps[c] < best[2]:
            best = (i, c, float(ulps[c]))
    return best


# --------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "examples", "digits"))
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--hidden", type=int, default=128)
    args = ap.parse_args()
    out = os.path.normpath(args.out)
    t0 = time.perf_counter()

    xtr, ytr, xte, yte = load_data()
    print(f"digits: {len(xtr)} training and {len(xte)} test images; "
          f"64 -> {args.hidden} -> {args.hidden} -> {args.hidden} -> 10, seed {SEED}")
    p, stats = train(xtr, ytr, args.epochs, args.hidden, np.random.default_rng(SEED))
    layers = export_layers(p, stats)

    s_out = float(pow2_scale(np.abs(mlp_ref(layers, xtr, IN_SCALE, None)).max(), 127))
    n_clip = int((np.abs(mlp_ref(layers, xte, IN_SCALE, None)) > 127 * s_out).sum())
    ref = mlp_ref(layers, xte, IN_SCALE, s_out)
    acc_ref = float((ref.argmax(1) == yte).mean())
    print(f"output scale s_out = {s_out} ({n_clip} test logits beyond its range, clamped)")
    print(f"accuracy, numpy with the fake quantizers: {acc_ref:.4f}")
    layer, chan, ulps = bn_margin(layers)
    print(f"sign closest to a float rounding flip: bn{layer} channel {chan}, {ulps:.1f} float32 ulps")

    model = build_mlp(layers, (1, 8, 8), IN_SCALE, s_out,
                      name="digits_binary_mlp",
                      doc=f"8x8 digits MLP 64-{args.hidden}-{args.hidden}-{args.hidden}-10: int8 "
                          "first and last layer, binary middle layers, bipolar activations. "
                          "Generated by scripts/make_binary_example.py.")
    model.producer_name = "qmac scripts/make_binary_example.py"
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "binary.onnx")
    save_model(model, path)

    got = qonnx_run(onnx.load(path), xte)
    acc_q = float((got.argmax(1) == yte).mean())
    n_diff = int((got != ref).sum())
    print(f"accuracy, {path} executed by qonnx: {acc_q:.4f}")
    print(f"numpy vs qonnx: {n_diff} of {got.size} logits differ"
          + ("" if n_diff == 0 else f" (in {int((got != ref).any(axis=1).sum())} images)"))
    print(f"wrote {path} ({os.path.getsize(path)} bytes) in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Bad-input and CLI-contract tests for `qmac run` / `check-vectors` / `info` / `asm` / `disasm` / `sim`.

Every case builds its inputs in a fresh temp directory, runs the qmac binary, and checks:
  - the exit status (2 for bad or unsupported input, 0 for success);
  - that stderr names the culprit (a node, a tensor, a file, an op);
  - that no crash happened (no signal, no sanitizer report) and no output file was left behind.
Usage: test_cli.py --qmac build/qmac
"""
import argparse
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)]


def qconv_model(x_scale=0.05, w_zp_dtype=np.int8, op_type="QLinearConv", extra_nodes=(), x_shape=(1, 2, 5, 5)):
    """A one-node QLinearConv model (uint8 activations, int8 weights)."""
    rng = np.random.default_rng(0)
    w = rng.integers(-20, 20, size=(3, x_shape[1], 3, 3)).astype(np.int8)
    inits = [
        numpy_helper.from_array(np.array(x_scale, dtype=np.float32), "xs"),
        numpy_helper.from_array(np.array(128, dtype=np.uint8), "xz"),
        numpy_helper.from_array(w, "w"),
        numpy_helper.from_array(np.array(0.01, dtype=np.float32), "ws"),
        numpy_helper.from_array(np.array(0, dtype=w_zp_dtype), "wz"),
        numpy_helper.from_array(np.array(0.1, dtype=np.float32), "ys"),
        numpy_helper.from_array(np.array(100, dtype=np.uint8), "yz"),
    ]
    node = helper.make_node(op_type, ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"], name="conv1",
                            pads=[1, 1, 1, 1])
    g = helper.make_graph([node, *extra_nodes], "g",
                          [helper.make_tensor_value_info("x", TensorProto.UINT8, list(x_shape))],
                          [helper.make_tensor_value_info("y", TensorProto.UINT8, None)], inits)
    m = helper.make_model(g, opset_imports=OPSET)
    m.ir_version = 8
    return m


def npy_bytes(arr):
    import io
    b = io.BytesIO()
    np.save(b, arr)
    return b.getvalue()


class Runner:
    def __init__(self, qmac):
        self.qmac = os.path.abspath(qmac)
        self.passed = 0
        self.failed = 0

    def run(self, name, args, want_rc, want_msg=(), cwd=None, outdir=None):
        p = subprocess.run([self.qmac, *args], capture_output=True, text=True, cwd=cwd, timeout=60)
        problems = []
        if p.returncode != want_rc:
            problems.append(f"exit {p.returncode}, expected {want_rc}")
        if p.returncode < 0 or "Sanitizer" in p.stderr or "runtime error" in p.stderr:
            problems.append("crash or sanitizer report")
        for m in want_msg:
            if m not in p.stderr + p.stdout:
                problems.append(f"stderr lacks {m!r}")
        if want_rc != 0 and outdir and os.path.isdir(outdir):
            left = os.listdir(outdir)
            if left:
                problems.append(f"left files behind: {left}")
        if want_rc != 0 and not (p.stderr + p.stdout).strip():
            problems.append("no error message")
        if problems:
            self.failed += 1
            print(f"FAIL {name}: {'; '.join(problems)}\n  cmd: {self.qmac} {' '.join(args)}\n  stderr: {p.stderr.strip()}")
        else:
            self.passed += 1
            print(f"ok   {name}" + (f"  [{p.stderr.strip().splitlines()[0]}]" if p.stderr.strip() else ""))
        return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qmac", default="build/qmac")
    a = ap.parse_args()
    r = Runner(a.qmac)
    tmp = tempfile.mkdtemp(prefix="qmac-cli-")

    def path(*p):
        return os.path.join(tmp, *p)

    def save_model(name, m):
        with open(path(name), "wb") as f:
            f.write(m.SerializeToString())
        return path(name)

    def write(name, data):
        with open(path(name), "wb") as f:
            f.write(data)
        return path(name)

    good = save_model("good.onnx", qconv_model())
    x = np.random.default_rng(1).integers(0, 255, size=(1, 2, 5, 5)).astype(np.uint8)
    xin = write("x.npy", npy_bytes(x))
    out = path("out")

    # the contract itself
    r.run("help", ["help"], 0)
    r.run("run_ok", ["run", good, "--input", xin, "--output", out], 0)
    if not os.path.isfile(os.path.join(out, "y.npy")):
        r.failed += 1
        print("FAIL run_ok: y.npy not written")
    r.run("unknown_command", ["frobnicate"], 2, ["frobnicate"])
    r.run("unknown_option", ["run", good, "--bogus"], 2, ["--bogus"])
    r.run("bad_backend", ["run", good, "--input", xin, "--output", path("o1"), "--backend", "fpga"], 2, ["fpga"])
    r.run("bad_rule", ["run", good, "--input", xin, "--output", path("o2"), "--requant", "banker"], 2, ["banker"])
    r.run("missing_output_flag", ["run", good, "--input", xin], 2)

    # malformed ONNX
    data = open(good, "rb").read()
    o = path("o_bad")
    os.makedirs(o)
    r.run("onnx_missing_file", ["run", path("nope.onnx"), "--input", xin, "--output", o], 2, ["nope.onnx"], outdir=o)
    r.run("onnx_empty", ["run", write("empty.onnx", b""), "--input", xin, "--output", o], 2, ["empty.onnx"], outdir=o)
    r.run("onnx_truncated", ["run", write("trunc.onnx", data[: len(data) // 2]), "--input", xin, "--output", o], 2,
          ["trunc.onnx"], outdir=o)
    r.run("onnx_garbage", ["run", write("garbage.onnx", os.urandom(4096)), "--input", xin, "--output", o], 2,
          ["garbage.onnx"], outdir=o)
    r.run("onnx_text", ["run", write("text.onnx", b"this is not a model\n" * 20), "--input", xin, "--output", o], 2,
          ["text.onnx"], outdir=o)

    # unsupported op, named
    sm = helper.make_model(helper.make_graph(
        [helper.make_node("Softmax", ["x"], ["y"], name="the_softmax")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])]), opset_imports=OPSET)
    sm.ir_version = 8
    fx = write("f.npy", npy_bytes(np.zeros((1, 4), np.float32)))
    r.run("unsupported_op", ["run", save_model("softmax.onnx", sm), "--input", fx, "--output", o], 2,
          ["Softmax", "the_softmax"], outdir=o)
    # a float Conv (a float model's) runs on the reference backend in float32 and is refused by
    # name, with nothing written, by the compiled backends
    fc = helper.make_model(helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="float_conv")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32), "w")]), opset_imports=OPSET)
    fc.ir_version = 8
    fx2 = write("f2.npy", npy_bytes(np.zeros((1, 1, 3, 3), np.float32)))
    fo = os.path.join(tmp, "float_out")
    fxv = (np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3) - 4) / 3
    fx2 = write("f2.npy", npy_bytes(fxv))
    fconv = save_model("fconv.onnx", fc)
    r.run("float_conv_ref", ["run", fconv, "--input", fx2, "--output", fo], 0)
    y = np.load(os.path.join(fo, "y.npy")) if os.path.exists(os.path.join(fo, "y.npy")) else None
    if y is None or not np.array_equal(y, fxv):  # a 1x1 kernel of ones: y == x exactly
        r.failed += 1
        print(f"FAIL float_conv_ref: output {y} is not the input")
    r.run("float_conv_golden", ["run", fconv, "--input", fx2, "--output", o, "--backend", "golden"], 2,
          ["float_conv", "qmac quantize"], outdir=o)

    # bad quantization parameters
    r.run("nan_scale", ["run", save_model("nan.onnx", qconv_model(x_scale=float("nan"))), "--input", xin,
                        "--output", o], 2, ["xs", "scale"], outdir=o)
    r.run("zero_scale", ["run", save_model("zero.onnx", qconv_model(x_scale=0.0)), "--input", xin, "--output", o], 2,
          ["xs"], outdir=o)
    r.run("negative_scale", ["run", save_model("neg.onnx", qconv_model(x_scale=-0.5)), "--input", xin, "--output", o],
          2, ["xs"], outdir=o)
    r.run("zp_type_mismatch", ["run", save_model("zpt.onnx", qconv_model(w_zp_dtype=np.uint8)), "--input", xin,
                               "--output", o], 2, ["wz"], outdir=o)
    # int32 zero point of a DequantizeLinear must be 0
    dq = helper.make_model(helper.make_graph(
        [helper.make_node("DequantizeLinear", ["x", "s", "z"], ["y"], name="dq32")], "g",
        [helper.make_tensor_value_info("x", TensorProto.INT32, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
        [numpy_helper.from_array(np.array(0.5, np.float32), "s"), numpy_helper.from_array(np.array(3, np.int32), "z")]),
        opset_imports=OPSET)
    dq.ir_version = 8
    r.run("zp_out_of_range", ["run", save_model("dq32.onnx", dq), "--input",
                              write("i32.npy", npy_bytes(np.zeros(4, np.int32))), "--output", o], 2, ["dq32"], outdir=o)

    # a scale computed by a node (a Reshape of a constant) is a run-time parameter the cleanup keeps:
    # round(x / 0.1) + 3 clamped, back to float: ONNX Runtime's [0.1, -0.4, 1.0, 0.2]
    rtp = helper.make_model(helper.make_graph(
        [helper.make_node("Reshape", ["s0", "shp"], ["s"], name="rs"),
         helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="q"),
         helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], name="dq")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
        [numpy_helper.from_array(np.array([0.1], np.float32), "s0"), numpy_helper.from_array(np.zeros(0, np.int64), "shp"),
         numpy_helper.from_array(np.array(3, np.int8), "z")]), opset_imports=OPSET)
    rtp.ir_version = 8
    ro = path("rtp_out")
    r.run("runtime_scale_from_node", ["run", save_model("rtp.onnx", rtp), "--input",
                                      write("rtx.npy", npy_bytes(np.array([0.1, -0.35, 1.0, 0.15], np.float32))),
                                      "--output", ro], 0)
    got = np.load(os.path.join(ro, "y.npy")) if os.path.exists(os.path.join(ro, "y.npy")) else None
    if got is None or not np.array_equal(got, np.array([0.1, -0.4, 1.0, 0.2], np.float32)):
        r.failed += 1
        print(f"FAIL runtime_scale_from_node: output {got}")

    # shape and type mismatches of inputs
    r.run("input_shape_mismatch", ["run", good, "--input", write("xs.npy", npy_bytes(x[:, :, :4])), "--output", o], 2,
          ["shape", "x"], outdir=o)
    r.run("input_dtype_mismatch", ["run", good, "--input", write("xf.npy", npy_bytes(x.astype(np.float32))),
                                   "--output", o], 2, ["float32"], outdir=o)
    r.run("input_count_mismatch", ["run", good, "--input", xin, "--input", xin, "--output", o], 2, ["input"],
          outdir=o)
    # weights that do not fit the input channels (model without declared input shape)
    wide = qconv_model(x_shape=(1, 3, 5, 5))
    wide.graph.input[0].type.tensor_type.ClearField("shape")
    r.run("weight_shape_mismatch", ["run", save_model("wide.onnx", wide), "--input", xin, "--output", o], 2, ["conv1"],
          outdir=o)

    # malformed .npy
    good_npy = npy_bytes(x)
    r.run("npy_missing", ["run", good, "--input", path("none.npy"), "--output", o], 2, ["none.npy"], outdir=o)
    r.run("npy_bad_magic", ["run", good, "--input", write("magic.npy", b"\x93NUMPX" + good_npy[6:]), "--output", o],
          2, ["magic.npy"], outdir=o)
    r.run("npy_truncated", ["run", good, "--input", write("trunc.npy", good_npy[:-7]), "--output", o], 2,
          ["trunc.npy"], outdir=o)
    r.run("npy_fortran", ["run", good, "--input", write("fort.npy", npy_bytes(np.asfortranarray(
        np.zeros((1, 2, 5, 5), np.uint8)[..., ::1].transpose(0, 1, 3, 2)))), "--output", o], 2, ["fort.npy"], outdir=o)
    r.run("npy_bad_dtype", ["run", good, "--input", write("cplx.npy", npy_bytes(np.zeros((1, 2, 5, 5), np.complex64))),
                            "--output", o], 2, ["cplx.npy"], outdir=o)
    hdr_garbage = good_npy[:10] + b"{'descr': '|u1', 'shape': (1, 2, 5, 5), 'fortran_order': False, 'x'" + b" " * 10
    r.run("npy_bad_header", ["run", good, "--input", write("hdr.npy", hdr_garbage), "--output", o], 2, ["hdr.npy"],
          outdir=o)

    # outputs: an existing file where the directory should be; nothing half-written on failure
    blocker = write("blocker", b"x")
    r.run("output_not_dir", ["run", good, "--input", xin, "--output", blocker], 2, ["blocker"])

    # check-vectors on an empty folder, on a malformed case
    ev = path("vec_empty")
    os.makedirs(ev)
    r.run("vectors_empty_dir", ["check-vectors", ev], 2, ["vec_empty"])
    bv = path("vec_bad")
    os.makedirs(bv)
    with open(os.path.join(bv, "broken.json"), "w") as f:
        f.write('{"name": "broken", "op": "conv2d", "params": {')
    r.run("vectors_malformed", ["check-vectors", bv], 1, ["broken.json", "0 passed, 1 failed"])
    r.run("vectors_missing_dir", ["check-vectors", path("no_such_dir")], 2, ["no_such_dir"])

    # qmac asm / qmac disasm: bad sources name file, line and culprit; nothing is left behind
    qasm_good = (b"# every opcode\nNOP\nEND\nFENCE\n"
                 b"CONFIG act_signed=1 wgt_signed=1 rule=TFLITE omode=S8 clamp_min=-128 clamp_max=127\n"
                 b"4: LOAD buf=WGT dram=0x1000 x_size=16 y_size=1 z_size=1 x_stride=16\n"
                 b"STORE buf=OUT dram=0x1400 x_size=4 y_size=1 z_size=1 x_stride=16\n"
                 b"GEMM post=1 count0=4 count1=1 inp_s0=1 acc_s0=1 out_s0=1\n"
                 b"POST acc=1 count0=2\nPARAM acc=8\nVALU alu=MBQM a_buf=INP imm=-1 shift=-3\n"
                 b".word 0xff 0 0 0 0 0 0 0   # an illegal opcode\nEND\n")
    src = write("good.qasm", qasm_good)
    ao = path("asm_out")
    os.makedirs(ao)
    r.run("asm_ok", ["asm", src, "-o", os.path.join(ao, "a.qbin")], 0)
    r.run("disasm_ok", ["disasm", os.path.join(ao, "a.qbin"), "-o", os.path.join(ao, "a.qasm")], 0)
    r.run("asm_listing_ok", ["asm", os.path.join(ao, "a.qasm"), "-o", os.path.join(ao, "b.qbin")], 0)
    p = r.run("disasm_stdout", ["disasm", os.path.join(ao, "b.qbin")], 0)
    a_bytes = open(os.path.join(ao, "a.qbin"), "rb").read() if os.path.isfile(os.path.join(ao, "a.qbin")) else b""
    b_bytes = open(os.path.join(ao, "b.qbin"), "rb").read() if os.path.isfile(os.path.join(ao, "b.qbin")) else b""
    listing = open(os.path.join(ao, "a.qasm")).read() if os.path.isfile(os.path.join(ao, "a.qasm")) else ""
    # hand-checked: CONFIG word 0 = op 3 | act_signed << 9 | wgt_signed << 10, word 1 = 0x7f << 8 | 0x80
    want_config = struct.pack("<8I", 0x603, 0x7f80, 0, 0, 0, 0, 0, 0)
    if (len(a_bytes) != 12 * 32 or a_bytes != b_bytes or p.stdout != listing
            or a_bytes[3 * 32:4 * 32] != want_config or "# illegal: OPCODE op" not in listing):
        r.failed += 1
        print(f"FAIL asm_round_trip: {len(a_bytes)} / {len(b_bytes)} bytes, listing:\n{listing}")
    else:
        r.passed += 1
        print("ok   asm_round_trip")
    bo = path("asm_bad")
    os.makedirs(bo)
    bad_sources = [
        ("asm_unknown_field", b"NOP\n\nGEMM acc=1 zz=3\n", ["bad1.qasm:3:", "'zz'", "GEMM"]),
        ("asm_unknown_opcode", b"FROB\n", ["bad2.qasm:1:", "'FROB'"]),
        ("asm_bad_number", b"NOP\nLOAD dram=0x12g\n", ["bad3.qasm:2:", "'0x12g'", "dram"]),
        ("asm_out_of_range", b"# c\nVALU shift=200\n", ["bad4.qasm:2:", "'200'", "shift"]),
        ("asm_unknown_enum", b"LOAD buf=DRAM\n", ["bad5.qasm:1:", "'DRAM'"]),
        ("asm_duplicate_field", b"GEMM acc=1 acc=1\n", ["bad6.qasm:1:", "'acc'"]),
        ("asm_missing_eq", b"GEMM acc\n", ["bad7.qasm:1:", "'acc'"]),
        ("asm_index_mismatch", b"0: NOP\n2: END\n", ["bad8.qasm:2:", "'2:'"]),
        ("asm_word_count", b".word 1 2 3\n", ["bad9.qasm:1:", ".word", "got 3"]),
        ("asm_no_insn", b"# nothing\n", ["bad10.qasm", "no instructions"]),
        ("asm_nul_byte", b"NOP\nEND\x00\n", ["bad11.qasm:2:", "NUL"]),
    ]
    for k, (name, text, want) in enumerate(bad_sources, 1):
        r.run(name, ["asm", write(f"bad{k}.qasm", text), "-o", os.path.join(bo, "out.qbin")], 2, want, outdir=bo)
    r.run("asm_missing_file", ["asm", path("nope.qasm"), "-o", os.path.join(bo, "out.qbin")], 2, ["nope.qasm"],
          outdir=bo)
    r.run("asm_no_output_flag", ["asm", src], 2, ["-o"])
    r.run("asm_output_dir_missing", ["asm", src, "-o", path("no_dir", "x.qbin")], 2, ["x.qbin"])
    r.run("disasm_33_bytes", ["disasm", write("b33.qbin", bytes(33)), "-o", os.path.join(bo, "out.qasm")], 2,
          ["b33.qbin", "33"], outdir=bo)
    r.run("disasm_empty", ["disasm", write("b0.qbin", b""), "-o", os.path.join(bo, "out.qasm")], 2,
          ["b0.qbin", "size 0"], outdir=bo)
    r.run("disasm_missing_file", ["disasm", path("nope.qbin")], 2, ["nope.qbin"])
    r.run("disasm_unknown_option", ["disasm", os.path.join(ao, "a.qbin"), "--frob"], 2, ["--frob"])

    # qmac sim: a 16x16x16 int8 matmul on the golden + cycle model, checked with numpy here
    so = path("sim_out")
    os.makedirs(so)
    sim_src = write("mm.qasm", b"CONFIG act_signed=1 wgt_signed=1\n"
                    b"LOAD buf=INP dram=0x10000 x_size=16 y_size=1 z_size=1 x_stride=16\n"
                    b"LOAD buf=WGT dram=0x11000 x_size=16 y_size=1 z_size=1 x_stride=16\n"
                    b"GEMM count0=16 count1=1 inp_s0=1 acc_s0=1\n"
                    b"STORE buf=ACC dram=0x12000 x_size=16 y_size=1 z_size=1 x_stride=64\n"
                    b"END\n")
    sim_bin = os.path.join(so, "mm.qbin")
    r.run("sim_asm", ["asm", sim_src, "-o", sim_bin], 0)
    rng = np.random.default_rng(7)
    ma = rng.integers(-128, 128, size=(16, 16)).astype(np.int8)
    mb = rng.integers(-128, 128, size=(16, 16)).astype(np.int8)
    fa, fb, fc = write("ma.bin", ma.tobytes()), write("mb.bin", mb.tobytes()), os.path.join(so, "mc.bin")
    r.run("sim_gemm", ["sim", sim_bin, "--load", f"0x10000={fa}", "--load", f"0x11000={fb}",
                       "--dump", f"0x12000:1024={fc}"], 0, ["END after", "retired 6"])
    got = np.fromfile(fc, dtype="<i4").reshape(16, 16) if os.path.isfile(fc) else None
    want = ma.astype(np.int32) @ mb.astype(np.int32)
    if got is None or not (got == want).all():
        r.failed += 1
        print("FAIL sim_gemm_result: the dumped ACC rows differ from numpy's matmul")
    else:
        r.passed += 1
        print("ok   sim_gemm_result")
    # a window that stops before the weights: fault WINDOW at instruction 2, exit 4, dump still written
    r.run("sim_fault", ["sim", sim_bin, "--window", "0:0x10fff", "--dump", f"0x0:64={os.path.join(so, 'f.bin')}"],
          4, ["fault WINDOW at instruction 2", "LOAD buf=WGT"])
    r.run("sim_out_of_cycles", ["sim", sim_bin, "--max-cycles", "10"], 4, ["did not reach END"])
    bad = path("sim_bad")
    os.makedirs(bad)
    for name, args, want in [
        ("sim_bad_mem", ["--mem", "5"], ["--mem"]),
        ("sim_bad_build", ["--build", "huge"], ["huge"]),
        ("sim_bad_load", ["--load", "0x10"], ["--load"]),
        ("sim_load_missing", ["--load", f"0x10000={path('nope.bin')}"], ["nope.bin"]),
        ("sim_load_too_big", ["--mem", "0:4096", "--load", f"0xf80={fa}"], ["ma.bin", "do not fit"]),
        ("sim_dump_outside", ["--dump", f"0xffffff0:64={os.path.join(bad, 'x.bin')}"], ["x.bin", "not inside"]),
        ("sim_unknown_option", ["--frob", "1"], ["--frob"]),
    ]:
        r.run(name, ["sim", sim_bin] + args, 2, want, outdir=bad)
    r.run("sim_bad_program", ["sim", write("b31.qbin", bytes(31))], 2, ["b31.qbin"])

    # the compiler: qmac compile writes the three files; run --backend golden equals --backend ref
    cdir = path("compiled")
    r.run("compile_ok", ["compile", good, "-o", cdir, "--config", "small"], 0, ["conv1", "total:"])
    import json
    try:
        man = json.load(open(os.path.join(cdir, "manifest.json")))
        prog = os.path.getsize(os.path.join(cdir, "model.qbin"))
        data = os.path.getsize(os.path.join(cdir, "model.data"))
        ok = (man["hw"]["dim"] == 4 and man["memory"]["prog_instructions"] * 32 == prog and
              man["memory"]["data_size"] == data and man["layers"][0]["name"] == "conv1" and
              man["layers"][0]["cycles"] > 0 and man["inputs"][0]["name"] == "x" and
              # 2 channels, 3x3: the host writes the windows, 18 channels per output pixel
              man["inputs"][0]["im2col"] == {"kernel": [3, 3], "strides": [1, 1], "dilations": [1, 1],
                                             "pads_begin": [1, 1], "out": [5, 5]} and
              man["inputs"][0]["channels"] == 18 and man["inputs"][0]["pixels"] == 25)
    except (OSError, ValueError, KeyError, IndexError) as e:
        ok = False
        print(f"  manifest: {e}")
    r.passed += ok
    r.failed += not ok
    print(("ok   " if ok else "FAIL ") + "compile_outputs (manifest, program and data sizes agree, im2col input)")
    og = path("out_golden")
    r.run("run_golden", ["run", good, "--input", xin, "--output", og, "--backend", "golden", "--report"], 0,
          ["conv1"])
    same = os.path.isfile(os.path.join(og, "y.npy")) and (np.load(os.path.join(og, "y.npy")) ==
                                                          np.load(os.path.join(out, "y.npy"))).all()
    r.passed += same
    r.failed += not same
    print(("ok   " if same else "FAIL ") + "run_golden_equals_ref")
    cbad = path("c_bad")
    os.makedirs(cbad)
    fmp = save_model("fmaxpool.onnx", helper.make_model(helper.make_graph(
        [helper.make_node("MaxPool", ["x"], ["y"], name="float_pool", kernel_shape=[2, 2])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]), opset_imports=OPSET))
    r.run("compile_unsupported", ["compile", fmp, "-o", cbad], 2, ["float_pool", "not lowered"], outdir=cbad)
    # an add broadcast along the width (not per channel) is refused, named, nothing written
    qadd_inits = [numpy_helper.from_array(np.array(v, dtype=t), nm) for nm, v, t in
                  [("s", 0.1, np.float32), ("z", 128, np.uint8)]]
    badd = save_model("badd.onnx", helper.make_model(helper.make_graph(
        [helper.make_node("QLinearAdd", ["a", "s", "z", "b", "s", "z", "s", "z"], ["y"], name="wide_add",
                          domain="com.microsoft")], "g",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [1, 2, 4, 4]),
         helper.make_tensor_value_info("b", TensorProto.UINT8, [1, 1, 1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.UINT8, None)], qadd_inits), opset_imports=OPSET))
    r.run("compile_add_spatial_broadcast", ["compile", badd, "-o", cbad], 2, ["wide_add", "broadcasts", "'b'"],
          outdir=cbad)
    r.run("compile_bad_config", ["compile", good, "-o", cbad, "--config", write("hw.json", b'{"dim": 3}')], 2,
          ["hw.json"], outdir=cbad)
    r.run("compile_config_key", ["compile", good, "-o", cbad, "--config", write("hw2.json", b'{"lanes": 16}')], 2,
          ["lanes"], outdir=cbad)
    r.run("compile_config_json", ["compile", good, "-o", cbad, "--config", write("hw3.json", b'{"dim": ')], 2,
          ["hw3.json"], outdir=cbad)
    r.run("compile_missing_model", ["compile", path("nope.onnx"), "-o", cbad], 2, ["nope.onnx"], outdir=cbad)
    r.run("compile_no_output", ["compile", good], 2, ["usage"])
    r.run("compile_output_is_file", ["compile", good, "-o", xin], 2, ["x.npy"])
    r.run("run_golden_unsupported", ["run", fmp, "--input", write("f.npy", npy_bytes(np.zeros((1, 1, 4, 4),
          np.float32))), "--output", cbad, "--backend", "golden"], 2, ["float_pool", "not lowered"], outdir=cbad)

    print(f"{r.passed} passed, {r.failed} failed")
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main())

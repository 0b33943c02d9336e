#!/usr/bin/env python3
"""run_conformance.py - randomized conformance of `qmac run` against ONNX Runtime.

    run_conformance.py --qmac build/qmac --count N [--seed S] [--keep DIR] [--jobs J]

Case i uses seed S+i (S is printed; by default it comes from the clock). For each case the
generator (gen_models.py) builds a small quantized model and its inputs, ONNX Runtime (CPU EP,
default session options) computes the expected outputs, and `qmac run MODEL --input ... --output
OUT` must write OUT/<output name>.npy with the same dtype, shape and every value bit-identical.
Each failure prints one line with its seed, category, op summary and the command that reproduces
it; --keep DIR saves the failing case (model, inputs, expected and actual outputs, commands) under
DIR/<seed>/. The last line is exactly "N passed, N failed"; the exit code is 1 on any failure.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import gen_models  # noqa: E402

_G = {}  # per-worker settings


def cpu_vnni_flags():
    """The VNNI flags of this CPU as Linux reports them (/proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return sorted(flags & {"avx512_vnni", "avx_vnni"}), "avx2" in flags
    except OSError:
        pass
    return [], False


def sanitize(name):
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


# Ops that compute in floating point when ORT leaves them in the optimized graph (i.e. it did not
# fuse the DQ -> op -> Q group into an integer kernel). Relu/MaxPool/Concat/reshapes are exact.
FLOAT_COMPUTE_OPS = {"Conv", "ConvTranspose", "MatMul", "Gemm", "Add", "Sub", "Mul", "Div", "Sum", "Mean",
                     "AveragePool", "GlobalAveragePool", "ReduceMean", "Softmax", "Sigmoid", "HardSigmoid",
                     "LeakyRelu", "FusedConv", "FusedGemm", "FusedMatMul", "Tanh", "Erf", "Gelu"}


def _session_options():
    """Default SessionOptions, plus any --ort-config KEY=VALUE entries."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    for kv in _G.get("ort_config") or []:
        k, v = kv.split("=", 1)
        so.add_session_config_entry(k, v)
    return so


def ort_float_ops(model_bytes, work):
    """Float compute ops that remain after ORT's default graph optimizations (a second session
    that saves its optimized graph)."""
    import onnx
    import onnxruntime as ort

    path = os.path.join(work, "ort_optimized.onnx")
    so = _session_options()
    so.optimized_model_filepath = path
    so.log_severity_level = 3
    ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])
    m = onnx.load(path)
    os.remove(path)
    return sorted({n.op_type for n in m.graph.node if n.op_type in FLOAT_COMPUTE_OPS})


def _worker_init(settings):
    _G.update(settings)
    import onnxruntime as ort

    ort.set_default_logger_severity(3)


def _rel(path):
    """A path as the user would type it from the repository root, when it lies inside it."""
    ap = os.path.abspath(path)
    if ap.startswith(REPO + os.sep):
        return os.path.relpath(ap, REPO)
    return path


def repro_command(seed):
    py = _rel(sys.executable) if os.path.abspath(sys.executable).startswith(REPO + os.sep) else "python"
    parts = [py, "tests/conformance/run_conformance.py", "--qmac", _G["qmac_display"], "--count", "1",
             "--seed", str(seed), "--keep", _G.get("keep_hint") or "/tmp/case"]
    if not _G["allow_u8s8"]:
        parts += ["--vnni", "no"]
    for c in _G["categories"] or []:
        parts += ["--category", c]
    for a in _G["qmac_args"]:
        parts += [f"--qmac-arg={a}"]
    for kv in _G.get("ort_config") or []:
        parts += ["--ort-config", kv]
    return " ".join(shlex.quote(p) for p in parts)


def _values_equal(exp, act):
    if exp.dtype.kind == "f":
        return np.array_equal(exp.view(np.uint32 if exp.itemsize == 4 else np.uint64),
                              act.view(np.uint32 if act.itemsize == 4 else np.uint64))
    return np.array_equal(exp, act)


def _describe_mismatch(exp, act):
    if exp.dtype.kind == "f":
        bad = exp.view(np.uint32) != act.view(np.uint32)
    else:
        bad = exp != act
    idx = np.argwhere(bad)
    n = int(bad.sum())
    first = tuple(int(i) for i in idx[0])
    diff = np.abs(exp.astype(np.float64) - act.astype(np.float64))
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(np.where(bad, diff, -1))), exp.shape)) \
        if exp.ndim else ()
    return (f"{n}/{exp.size} values differ; first at {list(first)}: expected {exp[first]!r} got {act[first]!r}; "
            f"max |diff| {float(diff[bad].max()):.6g} at {list(worst)}")


def run_case(seed):
    import onnx
    import onnxruntime as ort

    r = dict(seed=seed, category="?", summary="", status="pass", kind="", reason="", n_out=0, n_sat=0,
             t_gen=0.0, t_ort=0.0, t_qmac=0.0, kept="", ort_float=[])
    t0 = time.perf_counter()
    try:
        case = gen_models.generate_case(seed, allow_u8s8=_G["allow_u8s8"], categories=_G["categories"])
    except Exception as e:  # a generator bug, not a qmac failure, but it must not pass silently
        r.update(status="error", kind="generator error", reason=f"{type(e).__name__}: {e}")
        return r
    r.update(category=case.category, summary=case.summary)
    t1 = time.perf_counter()
    r["t_gen"] = t1 - t0
    names = case.input_names()
    try:
        sess = ort.InferenceSession(case.model.SerializeToString(), _session_options(),
                                    providers=["CPUExecutionProvider"])
        expected = sess.run(None, dict(zip(names, case.inputs)))
    except Exception as e:
        r.update(status="error", kind="onnxruntime error", reason=f"{type(e).__name__}: {str(e)[:300]}")
        return r
    t2 = time.perf_counter()
    r["t_ort"] = t2 - t1
    out_names = case.output_names()
    for arr, sat in zip(expected, case.sat):
        if sat is not None:
            r["n_out"] += arr.size
            r["n_sat"] += int(np.count_nonzero((arr == np.asarray(sat[0]).astype(arr.dtype)) |
                                               (arr == np.asarray(sat[1]).astype(arr.dtype))))

    work = tempfile.mkdtemp(prefix=f"qmac-conf-{seed}-", dir=_G["tmp_root"])
    try:
        if case.category.endswith("_net"):
            try:
                r["ort_float"] = ort_float_ops(case.model.SerializeToString(), work)
            except Exception as e:  # informational only
                r["ort_float"] = [f"?({type(e).__name__})"]
            if r["ort_float"]:
                r["summary"] += f" [ORT runs in float: {','.join(r['ort_float'])}]"
        model_path = os.path.join(work, "model.onnx")
        onnx.save(case.model, model_path)
        in_paths = []
        for i, arr in enumerate(case.inputs):
            p = os.path.join(work, f"input_{i}.npy")
            np.save(p, arr)
            in_paths.append(p)
        out_dir = os.path.join(work, "out")
        os.makedirs(out_dir)
        cmd = [_G["qmac"], "run", model_path]
        for p in in_paths:
            cmd += ["--input", p]
        cmd += ["--output", out_dir] + list(_G["qmac_args"])
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=_G["timeout"])
            rc, stderr = proc.returncode, proc.stderr.decode(errors="replace")
        except subprocess.TimeoutExpired:
            rc, stderr = None, f"timed out after {_G['timeout']} s"
        except OSError as e:
            rc, stderr = None, f"cannot run qmac: {e}"
        r["t_qmac"] = time.perf_counter() - t2
        last = " | ".join(stderr.strip().splitlines()[-2:])[:300]
        if rc is None:
            r.update(status="fail", kind="timeout/exec", reason=stderr)
        elif rc != 0:
            kind = {2: "exit 2 (rejected input)", 1: "exit 1 (internal error)"}.get(
                rc, f"exit {rc}" + (" (signal)" if rc < 0 else ""))
            r.update(status="fail", kind=kind, reason=f"qmac exited {rc}: {last}")
        else:
            for name, exp in zip(out_names, expected):
                p = os.path.join(out_dir, sanitize(name) + ".npy")
                if not os.path.exists(p):
                    r.update(status="fail", kind="missing output", reason=f"no {sanitize(name)}.npy written")
                    break
                try:
                    act = np.load(p, allow_pickle=False)
                except Exception as e:
                    r.update(status="fail", kind="unreadable output", reason=f"{sanitize(name)}.npy: {e}")
                    break
                if act.dtype != exp.dtype:
                    r.update(status="fail", kind="dtype", reason=f"output {name}: dtype {act.dtype}, expected {exp.dtype}")
                    break
                if act.shape != exp.shape:
                    r.update(status="fail", kind="shape",
                             reason=f"output {name}: shape {list(act.shape)}, expected {list(exp.shape)}")
                    break
                if not _values_equal(exp, act):
                    r.update(status="fail", kind="values", reason=f"output {name}: {_describe_mismatch(exp, act)}")
                    break
        # ORT computed part of this model with float kernels (an unfused DQ->op->Q group or a float
        # island): there is no integer oracle to be bit-exact with. qmac either refuses the float
        # op cleanly (exit 2 naming it) or computes the integer semantics; neither is compared.
        real_float = [op for op in r["ort_float"] if not op.startswith("?")]
        if real_float and r["status"] == "fail" and r["kind"] in ("exit 2 (rejected input)", "values"):
            r["skip_kind"] = ("rejected float op" if r["kind"].startswith("exit 2") else
                              "integer result differs from ORT's float kernels")
            r["status"] = "skip"
        # --allow-refusals (the compiled backends): a node the compiler refuses to lower, with its
        # "not lowered" error naming it, is counted apart; in a --require-lowered category it fails.
        if (_G.get("allow_refusals") and r["status"] == "fail" and r["kind"] == "exit 2 (rejected input)"
                and "not lowered" in r["reason"] and r["category"] not in (_G.get("require_lowered") or [])):
            r["status"] = "refused"
            m = re.search(r"\(([^()]*)\): (.*)", r["reason"])
            r["refusal"] = (f"{m.group(1)}: {m.group(2)}" if m else r["reason"])[:110]
        if (r["status"] not in ("pass", "skip", "refused") and _G["keep"]) or _G["keep_all"]:
            r["kept"] = _keep(case, work, expected, out_names, cmd, r)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return r


def _keep(case, work, expected, out_names, cmd, r):
    dest = os.path.join(_G["keep"], str(case.seed))
    if os.path.exists(dest):
        shutil.rmtree(dest)
    shutil.copytree(work, dest)
    exp_dir = os.path.join(dest, "expected")
    os.makedirs(exp_dir)
    for name, arr in zip(out_names, expected):
        np.save(os.path.join(exp_dir, sanitize(name) + ".npy"), arr)
    if os.path.isdir(os.path.join(dest, "out")):
        os.rename(os.path.join(dest, "out"), os.path.join(dest, "actual"))
    qcmd = [_G["qmac_display"], "run", os.path.join(dest, "model.onnx")]
    for i in range(len(case.inputs)):
        qcmd += ["--input", os.path.join(dest, f"input_{i}.npy")]
    qcmd += ["--output", os.path.join(dest, "actual")] + list(_G["qmac_args"])
    with open(os.path.join(dest, "case.txt"), "w") as f:
        f.write(f"seed: {case.seed}\ncategory: {case.category}\nsummary: {r['summary']}\n")
        f.write(f"inputs: {', '.join(f'{n} {a.dtype}{list(a.shape)}' for n, a in zip(case.input_names(), case.inputs))}\n")
        f.write(f"outputs: {', '.join(out_names)} (expected/<name>.npy from onnxruntime)\n")
        f.write(f"result: {r['status']} {r['kind']}: {r['reason']}\n")
        f.write(f"qmac command: {' '.join(shlex.quote(c) for c in qcmd)}\n")
        f.write(f"regenerate: {repro_command(case.seed)}\n")
    return dest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qmac", required=True, help="path of the qmac binary")
    ap.add_argument("--count", type=int, required=True, help="number of cases")
    ap.add_argument("--seed", type=int, help="base seed (default: from the clock)")
    ap.add_argument("--keep", help="save failing cases under this directory (DIR/<seed>/)")
    ap.add_argument("--keep-all", action="store_true", help="with --keep, save passing cases too")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: cores)")
    ap.add_argument("--category", action="append", choices=gen_models.CATEGORIES,
                    help="only these categories (repeatable; changes which case a seed gives)")
    ap.add_argument("--vnni", choices=["auto", "yes", "no"], default="auto",
                    help="whether ORT's u8 x s8 kernels are exact here (auto: /proc/cpuinfo)")
    ap.add_argument("--qmac-arg", action="append", default=[], help="extra argument for `qmac run` (repeatable)")
    ap.add_argument("--ort-config", action="append", default=[], metavar="KEY=VALUE",
                    help="ORT session config entry (repeatable), e.g. session.qdqisint8allowed=1 "
                         "(int8 QDQ kernels as on ARM instead of x86's uint8 rewrite)")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per qmac invocation")
    ap.add_argument("--max-fail-lines", type=int, default=200, help="print at most this many failure lines")
    ap.add_argument("--allow-refusals", action="store_true",
                    help="count cases qmac refuses with a 'not lowered' error (compiled backends) as refused, "
                         "not failed; they are listed by reason")
    ap.add_argument("--require-lowered", action="append", default=[], choices=gen_models.CATEGORIES,
                    help="with --allow-refusals: a refusal in this category is a failure (repeatable)")
    args = ap.parse_args(argv)

    if args.count < 0:
        ap.error("--count must be >= 0")
    qmac = os.path.abspath(args.qmac)
    if not (os.path.isfile(qmac) and os.access(qmac, os.X_OK)):
        print(f"run_conformance: qmac binary not found or not executable: {args.qmac}", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    args.jobs = max(1, min(args.jobs, args.count))
    base = args.seed if args.seed is not None else int(time.time() * 1000) % 1_000_000_000
    flags, has_avx2 = cpu_vnni_flags()
    if args.vnni == "auto":
        allow = bool(flags) or not has_avx2  # non-x86 (no avx2 flag at all): ORT has no vpmaddubsw path
    else:
        allow = args.vnni == "yes"
    print(f"ORT conformance: {args.count} cases, base seed {base} (case i uses seed {base}+i), "
          f"{args.jobs} jobs, qmac {args.qmac}")
    print(f"CPU VNNI flags: {' '.join(flags) if flags else 'none'}")
    if not allow:
        bar = "!" * 78
        print(bar)
        why = "--vnni no was given" if args.vnni == "no" else "this CPU has no AVX512-VNNI / AVX-VNNI"
        print(f"!!! NOTICE: {why}. Without VNNI, ONNX Runtime's uint8 x int8 matmul/conv")
        print("!!! kernels then use vpmaddubsw, which saturates pairs of products to int16: ORT is not exact")
        print("!!! integer arithmetic there and cannot serve as the oracle. NO uint8-activation x int8-weight")
        print("!!! cases are generated (u8 x u8 and s8 x s8 only; quantize_static nets use QUInt8 weights).")
        print(bar)

    for kv in args.ort_config:
        if "=" not in kv:
            ap.error(f"--ort-config needs KEY=VALUE, got {kv!r}")
    if args.ort_config:
        print(f"ORT session config: {' '.join(args.ort_config)}")
    settings = dict(ort_config=args.ort_config, qmac=qmac, qmac_display=args.qmac, qmac_args=args.qmac_arg, allow_u8s8=allow,
                    categories=args.category, keep=os.path.abspath(args.keep) if args.keep else None,
                    keep_hint=args.keep, keep_all=args.keep_all and bool(args.keep), timeout=args.timeout,
                    tmp_root=None, allow_refusals=args.allow_refusals, require_lowered=args.require_lowered)
    _worker_init(settings)
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)

    t_start = time.perf_counter()
    results = []
    shown = 0
    ctx = mp.get_context("spawn")  # no fork after ORT has been imported
    with tempfile.TemporaryDirectory(prefix="qmac-conf-") as tmp_root:
        settings["tmp_root"] = tmp_root
        _G["tmp_root"] = tmp_root
        pool = None if args.jobs <= 1 else ctx.Pool(args.jobs, initializer=_worker_init, initargs=(settings,))
        try:
            # Draw seeds base, base+1, ... until `count` cases were compared (skipped ones, where ORT
            # itself computes in float, do not count), with a cap so a generator change cannot loop.
            next_seed, compared = base, 0
            while compared < args.count and next_seed - base < 4 * args.count + 100:
                batch = list(range(next_seed, next_seed + (args.count - compared)))
                next_seed += len(batch)
                it = map(run_case, batch) if pool is None else pool.imap_unordered(run_case, batch, chunksize=1)
                for r in it:
                    results.append(r)
                    if r["status"] != "skip":
                        compared += 1
                    if r["status"] not in ("pass", "skip", "refused"):
                        shown += 1
                        if shown <= args.max_fail_lines:
                            tag = "FAIL" if r["status"] == "fail" else "ERROR"
                            print(f"{tag} seed={r['seed']} [{r['category']}] {r['summary']} :: {r['kind']}: "
                                  f"{r['reason']}\n    reproduce: {repro_command(r['seed'])}"
                                  + (f"\n    kept: {r['kept']}" if r["kept"] else ""), flush=True)
        finally:
            if pool is not None:
                pool.close()
                pool.join()
    wall = time.perf_counter() - t_start

    results.sort(key=lambda r: r["seed"])
    per = defaultdict(Counter)
    kinds = defaultdict(Counter)
    for r in results:
        per[r["category"]][r["status"]] += 1
        if r["status"] not in ("pass", "refused"):
            kinds[r["category"]][r["kind"]] += 1
    print()
    fl = defaultdict(Counter)
    for r in results:
        if r["ort_float"]:
            fl[r["category"]]["cases"] += 1
            fl[r["category"]]["failed"] += r["status"] not in ("pass", "skip")
            fl[r["category"]]["skipped"] += r["status"] == "skip"
    sat_n, sat_k = Counter(), Counter()
    for r in results:
        sat_n[r["category"]] += r["n_out"]
        sat_k[r["category"]] += r["n_sat"]
    refused_any = any(r["status"] == "refused" for r in results)
    print(f"{'category':22s} {'cases':>6s} {'passed':>7s} {'failed':>7s} "
          f"{'refused' if refused_any else '':>7s} {'sat%':>6s}  failure kinds")
    for cat in sorted(per, key=lambda c: (gen_models.CATEGORIES.index(c) if c in gen_models.CATEGORIES else 99)):
        c = per[cat]
        nfail = c["fail"] + c["error"]
        if c["skip"]:
            kinds[cat].pop("exit 2 (rejected input)", None)
            kinds[cat].pop("values", None)
        kd = ", ".join(f"{k} x{v}" for k, v in kinds[cat].most_common())
        sp = f"{100.0 * sat_k[cat] / sat_n[cat]:6.2f}" if sat_n[cat] else f"{'-':>6s}"
        rf = f"{c['refused']:7d}" if refused_any else f"{'':7s}"
        print(f"{cat:22s} {sum(c.values()) - c['skip']:6d} {c['pass']:7d} {nfail:7d} {rf} {sp}  {kd}")
        if fl[cat]["cases"]:
            print(f"{'':22s} ({fl[cat]['cases']} of these run float compute ops in ORT (unfused DQ->op->Q or float islands); "
                  f"{fl[cat]['skipped']} not compared, {fl[cat]['failed']} failed)")
    n_out = sum(r["n_out"] for r in results)
    n_sat = sum(r["n_sat"] for r in results)
    if n_out:
        print(f"saturation: {n_sat}/{n_out} quantized output values ({100.0 * n_sat / n_out:.2f}%) are at the "
              f"range limits")
    tg, to, tq = (sum(r[k] for r in results) for k in ("t_gen", "t_ort", "t_qmac"))
    print(f"time: {wall:.1f} s wall for {len(results)} cases with {args.jobs} jobs "
          f"(cpu in workers: generate {tg:.1f} s, onnxruntime {to:.1f} s, qmac {tq:.1f} s)")
    skipped = [r for r in results if r["status"] == "skip"]
    if skipped:
        sk = Counter(r["skip_kind"] for r in skipped)
        print(f"not compared: {len(skipped)} case(s) where ORT computes part of the model with float kernels "
              f"({', '.join(f'{k} x{v}' for k, v in sk.most_common())}); seeds "
              f"{' '.join(str(r['seed']) for r in skipped[:20])}{' ...' if len(skipped) > 20 else ''}")
    refused = [r for r in results if r["status"] == "refused"]
    if refused:
        rk = Counter(r["refusal"] for r in refused)
        print(f"refused (not lowered, named by qmac): {len(refused)} case(s)")
        for k, v in rk.most_common():
            print(f"  x{v:<4d} {k}")
    passed = sum(1 for r in results if r["status"] == "pass")
    failed = len(results) - passed - len(skipped) - len(refused)
    if failed and shown > args.max_fail_lines:
        print(f"({shown - args.max_fail_lines} more failure lines not shown)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

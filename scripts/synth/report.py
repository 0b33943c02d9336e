#!/usr/bin/env python3
"""report.py - turn the raw outputs of scripts/synth.sh into hw/synth/REPORT.md (on stdout).

    report.py OUTDIR RUN...

Each RUN is a directory under OUTDIR with config.txt, stat.json (Yosys `stat -json`) and, for
place-and-route runs, pnr.json (nextpnr `--report`). The text holds no dates, paths or run
times, so regenerating the report only changes it when the numbers change.
"""
import json
import os
import re
import sys

# iCE40 device capacities (logic cells, SB_MAC16 DSPs) from the Lattice data sheets.
DEVICES = {"hx8k": ("iCE40HX8K", 7680, 0), "up5k": ("iCE40UP5K", 5280, 8)}

# What each accelerator module is, for the per-module table.
ROLES = {
    "qmac_top": "top: AXI4 master mux, trace port",
    "qmac_core": "buffers' port muxes, unit queues' wiring, counters",
    "qmac_csr": "AXI4-Lite CSRs, cycle and performance counters",
    "qmac_fetch": "instruction prefetch, 4-entry FIFO",
    "qmac_dispatch": "unit queues (6 slots), footprint hazard check",
    "qmac_decode": "decode and fault checks: footprint products (16x16, 16x32)",
    "qmac_axi_rd_arb": "AR arbiter (fetch, load)",
    "qmac_load": "load unit: 3-D strides, padding",
    "qmac_store": "store unit: read FIFO, W channel",
    "qmac_dma_burst": "burst splitter (16 beats, 4 KiB)",
    "qmac_compute": "compute control, VALU lanes, ACC forwarding",
    "qmac_array": "MAC array control and skew",
    "qmac_pe": "processing element: int8 MAC, XNOR-popcount",
    "qmac_delay": "skew delay lines",
    "qmac_requant": "requantization rules A, B, C (float) and binary thresholds, per lane",
    "qmac_mbqm": "VALU MBQM and MUL, one per lane",
    "qmac_sram": "buffer (INP, WGT, ACC x2, OUT)",
}


def load_stat_json(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    # Yosys 0.23 leaves a comma after the last module of `stat -json` without a top
    return json.loads(re.sub(r",(\s*})", r"\1", text))


def base_module(name):
    """'$paramod$<hash>\\qmac_sram' or '$paramod\\qmac_pe\\PsumW=...' -> the module's name."""
    name = re.sub(r"^\$paramod(\$[0-9a-f]+)?\\", "", name)
    return name.lstrip("\\").split("\\")[0]


def load_run(out, name):
    d = os.path.join(out, name)
    run = {"name": name}
    with open(os.path.join(d, "config.txt"), encoding="utf-8") as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            run[k] = v
    run["params"] = dict(kv.split("=") for kv in run["params"].split(","))
    stat = load_stat_json(os.path.join(d, "stat.json"))
    run["modules"] = stat["modules"]
    run["stat"] = stat["design"] if "design" in stat else next(iter(stat["modules"].values()))
    elab = os.path.join(d, "elab_stat.json")
    if os.path.exists(elab):
        with open(elab, encoding="utf-8") as f:
            e = json.load(f)
        run["elab"] = e["design"] if "design" in e else next(iter(e["modules"].values()))
        with open(os.path.join(d, "mul_9x9.txt"), encoding="utf-8") as f:
            m = re.search(r"(\d+) objects", f.read())
        run["mul_9x9"] = int(m.group(1)) if m else 0
    pnr = os.path.join(d, "pnr.json")
    if os.path.exists(pnr):
        with open(pnr, encoding="utf-8") as f:
            run["pnr"] = json.load(f)
    return run


def cells(run):
    return run["stat"]["num_cells_by_type"]


def count(run, pred):
    return sum(n for t, n in cells(run).items() if pred(t))


def is_ff(t):
    return "DFF" in t or t in ("$adff", "$dff", "$adffe", "$dffe", "$sdff", "$sdffe")


def shape(run):
    p = run["params"]
    if "Rows" in p:
        return f"{p['Rows']}x{p['Cols']}"
    return ", ".join(f"{k}={v}" for k, v in p.items())


def ice40_counts(run):
    return {
        "lut": count(run, lambda t: t == "SB_LUT4"),
        "ff": count(run, lambda t: t.startswith("SB_DFF")),
        "dsp": count(run, lambda t: t == "SB_MAC16"),
        "carry": count(run, lambda t: t == "SB_CARRY"),
    }


def clean_clock(name):
    name = re.sub(r"^(posedge|negedge) ", "", name)
    name = name.replace("$SB_IO_IN_$glb_clk", "").replace("_$glb_clk", "")
    return "DSP (constant clock)" if name == "$PACKER_GND_NET" else name


def path_summary(p):
    by = {}
    for step in p["path"]:
        by[step["type"]] = by.get(step["type"], 0.0) + step["delay"]
    total = sum(by.values())
    # packed cell names are opaque; the first and last routed nets name the RTL signals
    nets = [step["net"] for step in p["path"] if step["type"] == "routing" and "net" in step]
    src = nets[0] if nets else "?"
    dst = nets[-1] if nets else "?"
    return total, by, src, dst


def main():
    out, names = sys.argv[1], sys.argv[2:]
    runs = {n: load_run(out, n) for n in names}
    with open(os.path.join(out, "versions.txt"), encoding="utf-8") as f:
        versions = [line.strip() for line in f if line.strip()]
    # "nextpnr-ice40 -- Next Generation Place and Route (Version 0.4-1+b1)" -> "nextpnr-ice40 0.4-1+b1"
    versions = [re.sub(r"^(\S+) -- .*\(Version ([^)]*)\)$", r"\1 \2", v) for v in versions]

    w = []
    w.append("# Synthesis report")
    w.append("")
    w.append("Generated by `make synth` (scripts/synth.sh); do not edit. Raw logs are in")
    w.append("`$(BUILD)/synth/<run>/`. Tools: " + ", ".join(versions) + ".")
    w.append("Deterministic: Yosys/ABC have no randomness and nextpnr runs with a fixed seed.")
    w.append("")

    # ------------------------------------------------------------------ generic
    gen = [r for r in runs.values() if r["flow"] == "generic"]
    hier = [r for r in runs.values() if r["flow"] == "ice40_hier"]
    if gen:
        w.append("## Generic synthesis (Yosys `synth -flatten`, technology independent)")
        w.append("")
        w.append("Yosys internal gate library; `$_DFF*` and `$_SDFF*` are flip-flops. The transistor estimate is")
        w.append("`stat -tech cmos`: combinational gates only (Yosys has no CMOS figure for flip-flops")
        w.append("with reset, hence the `+`). Multipliers are counted after elaboration,")
        w.append("before `alumacc` folds them into `$macc` cells: one 9x9 signed `$mul` per PE.")
        w.append("")
        types = sorted({t for r in gen for t in cells(r)})
        w.append("| cell | " + " | ".join(f"`{r['top']}` {shape(r)}" for r in gen) + " |")
        w.append("|---|" + "---:|" * len(gen))
        for t in types:
            w.append(f"| `{t}` | " + " | ".join(str(cells(r).get(t, 0)) for r in gen) + " |")
        w.append("| **cells** | " + " | ".join(f"**{r['stat']['num_cells']}**" for r in gen) + " |")
        w.append("| flip-flops | " + " | ".join(str(count(r, is_ff)) for r in gen) + " |")
        w.append("| gates (non-FF) | "
                 + " | ".join(str(r["stat"]["num_cells"] - count(r, is_ff)) for r in gen) + " |")
        w.append("| transistors (cmos, comb.) | "
                 + " | ".join(str(r["stat"].get("estimated_num_transistors", "?")) for r in gen)
                 + " |")
        w.append("| `$mul` after elaboration | "
                 + " | ".join(str(r["elab"]["num_cells_by_type"].get("$mul", 0)) for r in gen)
                 + " |")
        w.append("| of which 9x9 signed after `wreduce` | "
                 + " | ".join(str(r.get("mul_9x9", "?")) for r in gen) + " |")
        w.append("")

    # ------------------------------------------------------------------ whole accelerator
    for r in hier:
        p = {k: int(v) for k, v in r["params"].items()}
        n = p["ArrayDim"]
        # module keys keep Yosys's leading backslash on public names, cell types do not
        mods = {m.lstrip("\\"): v for m, v in r["modules"].items()}
        top = next(m for m in mods if base_module(m) == r["top"])
        # instances of each module under the top
        inst = {}

        def visit(m, k):
            inst[m] = inst.get(m, 0) + k
            for t, c in mods[m]["num_cells_by_type"].items():
                if t in mods:
                    visit(t, k * c)

        visit(top, 1)
        own = {}  # base module name -> [instances, lut, ff, carry, bram] (totals)
        for m, k in inst.items():
            by = mods[m]["num_cells_by_type"]
            row = own.setdefault(base_module(m), [0, 0, 0, 0, 0])
            row[0] += k
            row[1] += k * by.get("SB_LUT4", 0)
            row[2] += k * sum(c for t, c in by.items() if t.startswith("SB_DFF"))
            row[3] += k * by.get("SB_CARRY", 0)
            row[4] += k * by.get("SB_RAM40_4K", 0)
        tot = [sum(v[i] for v in own.values()) for i in range(1, 5)]
        hx_lc = DEVICES["hx8k"][1]
        buf_kbit = ((p["InpRows"] + p["WgtRows"] + p["OutRows"]) * n * 8 + 2 * p["AccRows"] * n * 32) // 1024
        w.append(f"## The whole accelerator, small build, iCE40 (`{r['top']}` {shape(r)})")
        w.append("")
        w.append("`synth_ice40 -noflatten` (`scripts/synth/ice40_hier.ys`): ABC maps each module on its")
        w.append("own, so nothing is optimized across module boundaries (a constant or unused port) and")
        w.append("the counts are an upper bound. Multipliers are built from LUTs and carry chains. The")
        w.append(f"buffers ({buf_kbit} kbit: INP, WGT and OUT of {n} bytes per row, ACC of {n} int32 lanes")
        w.append("kept twice) map to SB_RAM40_4K block RAMs; the instruction FIFO and the unit queues are")
        w.append(f"flip-flops. At {tot[0]} LUT4 the design is {tot[0] / hx_lc:.1f} times the largest iCE40")
        w.append(f"(iCE40HX8K, {hx_lc} logic cells, 32 block RAMs), so it is not placed and routed and has")
        w.append("no Fmax here; the array's Fmax is below.")
        w.append("")
        w.append("| module | what | instances | SB_LUT4 | FF | SB_CARRY | SB_RAM40_4K | LUT4 share |")
        w.append("|---|---|---:|---:|---:|---:|---:|---:|")
        for name, (k, lut, ff, carry, bram) in sorted(own.items(), key=lambda kv: (-kv[1][1], kv[0])):
            w.append(f"| `{name}` | {ROLES.get(name, '')} | {k} | {lut} | {ff} | {carry} | {bram} | "
                     f"{100 * lut / tot[0]:.1f}% |")
        w.append(f"| **total** | | | **{tot[0]}** | **{tot[1]}** | **{tot[2]}** | **{tot[3]}** | |")
        w.append("")

    # ------------------------------------------------------------------ iCE40 synthesis
    ice = [r for r in runs.values() if r["flow"].startswith("ice40") and r["top"] == "qmac_array"]
    if ice:
        w.append("## iCE40 synthesis (Yosys `synth_ice40`, bare `qmac_array`)")
        w.append("")
        w.append("FF sums every `SB_DFF*` kind. With `-dsp` each PE's 9x9 multiplier goes to one")
        w.append("SB_MAC16 (UltraPlus parts only); without it the multipliers are built from LUTs and")
        w.append("carry chains. Capacity: iCE40HX8K 7680 logic cells, no DSP; iCE40UP5K 5280 logic")
        w.append("cells, 8 SB_MAC16. A logic cell holds one LUT4 and one flip-flop, so a design needs")
        w.append("at least max(LUT4, FF) cells, and a LUT4 share near 100% does not fit: not every")
        w.append("flip-flop can share a cell with a LUT, and the router needs slack. Place and route")
        w.append("(below) gives the real packing.")
        w.append("")
        w.append("| shape | PEs | multipliers | SB_LUT4 | FF | SB_MAC16 | SB_CARRY | LUT4 / HX8K | LUT4 / UP5K |")
        w.append("|---|---:|---|---:|---:|---:|---:|---:|---:|")
        for r in ice:
            c = ice40_counts(r)
            pes = int(r["params"]["Rows"]) * int(r["params"]["Cols"])
            mult = "SB_MAC16 (`-dsp`)" if r["flow"] == "ice40_dsp" else "LUTs"
            w.append(f"| {shape(r)} | {pes} | {mult} | {c['lut']} | {c['ff']} | {c['dsp']} | "
                     f"{c['carry']} | {100 * c['lut'] / 7680:.0f}% | {100 * c['lut'] / 5280:.0f}% |")
        w.append("")

    # ------------------------------------------------------------------ place and route
    pnr = [r for r in runs.values() if "pnr" in r]
    if pnr:
        w.append("## Place and route (nextpnr-ice40), Fmax")
        w.append("")
        w.append("nextpnr has no out-of-context mode and the array has hundreds of port bits, so these")
        w.append("runs place `qmac_array` inside `scripts/synth/qmac_synth_wrap.sv`: a serial shift")
        w.append("register (with enable) drives every input and a registered XOR folds every output,")
        w.append("five pins in all. The wrapper adds one flip-flop per input bit and a small XOR tree;")
        w.append("all array paths stay register to register. Pins are placed by nextpnr (no PCF).")
        target = next(iter(pnr[0]["pnr"]["fmax"].values()))["constraint"]
        w.append(f"Target frequency for timing-driven placement: {target:g} MHz.")
        w.append("")
        w.append("| shape | multipliers | device | logic cells | SB_MAC16 | Fmax (MHz) | critical path (ns): total = clk-to-q + logic + routing + setup |")
        w.append("|---|---|---|---:|---:|---:|---|")
        notes = []
        for r in pnr:
            args = r["nextpnr"].split()
            dev = next(a[2:] for a in args if a in ("--hx8k", "--up5k"))
            pkg = args[args.index("--package") + 1] if "--package" in args else "?"
            devname, _, _ = DEVICES[dev]
            util = r["pnr"]["utilization"]
            lc = util["ICESTORM_LC"]
            dsp = util.get("ICESTORM_DSP", {"used": 0, "available": 0})
            fmax = r["pnr"]["fmax"]
            clk = next(k for k in fmax if "GND" not in k)
            paths = r["pnr"]["critical_paths"]
            main_p = next(p for p in paths
                          if clean_clock(p["from"]) == clean_clock(p["to"]) == clean_clock(clk))
            total, by, src, dst = path_summary(main_p)
            mult = "SB_MAC16" if r["flow"] == "ice40_dsp" else "LUTs"
            w.append(f"| {shape(r)} | {mult} | {devname}-{pkg} | {lc['used']}/{lc['available']} "
                     f"({100 * lc['used'] / lc['available']:.0f}%) | {dsp['used']}/{dsp['available']} | "
                     f"{fmax[clk]['achieved']:.1f} | {total:.1f} = {by.get('clk-to-q', 0):.1f} + "
                     f"{by.get('logic', 0):.1f} + {by.get('routing', 0):.1f} + {by.get('setup', 0):.1f} |")
            notes.append(f"- {shape(r)} on {devname}: the critical path leaves the flop driving `{src}`"
                         f" and ends at `{dst}`.")
            # nextpnr 0.4 gives a combinational SB_MAC16 (clock input tied low) a clock domain of
            # its own, so paths through the DSP are reported as two halves, not in Fmax.
            to_dsp = [path_summary(p)[0] for p in paths
                      if clean_clock(p["to"]).startswith("DSP") and clean_clock(p["from"]) != "<async>"]
            from_dsp = [path_summary(p)[0] for p in paths
                        if clean_clock(p["from"]).startswith("DSP") and clean_clock(p["to"]) != "<async>"]
            if to_dsp and from_dsp:
                through = max(to_dsp) + max(from_dsp)
                notes.append(
                    f"  nextpnr 0.4 times the combinational SB_MAC16 as if it were clocked by its "
                    f"constant clock input, so paths through it are left out of Fmax and reported in "
                    f"two halves: register to DSP {max(to_dsp):.1f} ns, DSP to register "
                    f"{max(from_dsp):.1f} ns. Their sum, {through:.1f} ns "
                    f"({1000 / through:.1f} MHz), estimates the int8 path through the DSP (with "
                    f"the DSP's setup and clock-to-out standing in for its combinational delay).")
        w.append("")
        w.extend(notes)
        w.append("")
    sys.stdout.write("\n".join(w))


if __name__ == "__main__":
    main()

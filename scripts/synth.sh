#!/usr/bin/env bash
# synth.sh - Yosys synthesis and nextpnr-ice40 place-and-route of the qmac array, and iCE40
# synthesis of the whole accelerator in its small build; writes the raw logs under OUTDIR and a
# diff-stable summary to REPORT (the Makefile's `synth` target).
#
#   scripts/synth.sh OUTDIR REPORT RTL.sv...     (package file first: Yosys reads in order)
#
# Tools are overridable: YOSYS, NEXTPNR, PYTHON. Every run is deterministic (ABC is, and
# nextpnr gets a fixed seed), so REPORT changes only when the design or the tools change.
# Exits non-zero if any Yosys or nextpnr run fails.
set -euo pipefail

if [ $# -lt 3 ]; then
    echo "usage: $0 OUTDIR REPORT RTL.sv..." >&2
    exit 2
fi
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
REPORT=$2
shift 2
SRC=()
for f in "$@"; do SRC+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")"); done
WRAP="$ROOT/scripts/synth/qmac_synth_wrap.sv"
YOSYS=${YOSYS:-yosys}
NEXTPNR=${NEXTPNR:-nextpnr-ice40}
PYTHON=${PYTHON:-python3}
SEED=1
# nextpnr's timing-driven placement aims at this; the report gives the frequency achieved.
TARGET_MHZ=100

# The runs: NAME TOP PARAMS FLOW [NEXTPNR DEVICE ARGS]. The default 16x16 array is synthesized
# generically; small arrays go through iCE40 synthesis, and those that fit a part are placed and
# routed inside qmac_synth_wrap (an FPGA has too few pins for the bare array's ports). The whole
# accelerator (N 4, 256-row buffers) is mapped to iCE40 cells module by module (ice40_hier.ys);
# it is ten times larger than the largest iCE40, so it is not placed.
GENERIC_RUNS=(
    "generic_16x16 qmac_array Rows=16,Cols=16 generic"
    "generic_pe    qmac_pe    PsumW=22        generic"
    "accel_small   qmac_top   ArrayDim=4,InpRows=256,WgtRows=256,AccRows=256,OutRows=256 ice40_hier"
)
ICE40_RUNS=(
    "ice40_4x4     qmac_array Rows=4,Cols=4 ice40"
    "ice40_4x4_dsp qmac_array Rows=4,Cols=4 ice40_dsp"
    "ice40_8x8     qmac_array Rows=8,Cols=8 ice40"
    "ice40_8x8_dsp qmac_array Rows=8,Cols=8 ice40_dsp"
    "pnr_hx8k_4x4     qmac_synth_wrap Rows=4,Cols=4 ice40     --hx8k --package ct256"
    "pnr_up5k_2x4_dsp qmac_synth_wrap Rows=2,Cols=4 ice40_dsp --up5k --package sg48"
)

# run_one NAME TOP PARAMS FLOW [NEXTPNR ARGS...]: one Yosys run (+ nextpnr) in OUT/NAME
run_one() {
    local name=$1 top=$2 params=$3 flow=$4
    shift 4
    local dir="$OUT/$name" chparam="" kv t0 files
    t0=$(date +%s)
    rm -rf "$dir"
    mkdir -p "$dir"
    for kv in ${params//,/ }; do chparam+=" -chparam ${kv%%=*} ${kv#*=}"; done
    files="${SRC[*]}"
    [ "$top" = qmac_synth_wrap ] && files+=" $WRAP"
    printf '%s\n' "top=$top" "params=$params" "flow=$flow" "nextpnr=$*" >"$dir/config.txt"
    if ! (cd "$dir" && "$YOSYS" -q -l yosys.log \
            -p "read_verilog -sv $files; hierarchy -check -top $top$chparam; script $ROOT/scripts/synth/$flow.ys" \
            >/dev/null 2>&1); then
        tail -n 20 "$dir/yosys.log" >&2
        echo "synth: $name: Yosys failed (log: $dir/yosys.log)" >&2
        return 1
    fi
    if [ $# -gt 0 ]; then
        if ! (cd "$dir" && "$NEXTPNR" "$@" --json netlist.json --pcf-allow-unconstrained \
                --seed "$SEED" --freq "$TARGET_MHZ" --timing-allow-fail --report pnr.json \
                -q -l nextpnr.log >/dev/null 2>&1); then
            grep -E 'ERROR|utilisation|ICESTORM_LC|ICESTORM_DSP' "$dir/nextpnr.log" >&2 || true
            echo "synth: $name: nextpnr failed (log: $dir/nextpnr.log)" >&2
            return 1
        fi
    fi
    echo "$name $(($(date +%s) - t0))" >"$dir/seconds.txt"
    echo "synth: $name done in $(($(date +%s) - t0)) s"
}

t_start=$(date +%s)
{ "$YOSYS" -V; "$NEXTPNR" --version 2>&1 | head -n 1; } >"$OUT/versions.txt"

# The 16x16 generic run and the accelerator are the long ones: they go in the background while
# the rest run.
pids=()
for r in "${GENERIC_RUNS[@]}"; do
    # shellcheck disable=SC2086
    run_one $r &
    pids+=($!)
done
status=0
for r in "${ICE40_RUNS[@]}"; do
    # shellcheck disable=SC2086
    run_one $r || status=1
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
if [ $status -ne 0 ]; then
    echo "synth: FAILED" >&2
    exit 1
fi

mkdir -p "$(dirname "$REPORT")"
tmp="$REPORT.tmp.$$"
names=()
for r in "${GENERIC_RUNS[@]}" "${ICE40_RUNS[@]}"; do names+=("${r%% *}"); done
"$PYTHON" "$ROOT/scripts/synth/report.py" "$OUT" "${names[@]}" >"$tmp" || { rm -f "$tmp"; exit 1; }
mv -f "$tmp" "$REPORT"
cat "$OUT"/*/seconds.txt >"$OUT/seconds.txt"
echo "synth: wrote $REPORT (raw logs in $OUT) in $(($(date +%s) - t_start)) s"

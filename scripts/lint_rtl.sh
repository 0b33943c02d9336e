#!/usr/bin/env bash
# lint_rtl.sh - lint the RTL with Verilator and elaborate it with Yosys (the Makefile's `lint`).
#
#   scripts/lint_rtl.sh RTL.sv...     (package file first: Yosys reads files in order)
#
# Generate branches differ with the array shape and with +define+QMAC_FAULT_INJECT, so every
# shape in SHAPES is checked with and without it. Verilator runs `--lint-only -Wall` with the
# one waiver file hw/lint/verilator.vlt; Yosys 0.23 must parse, elaborate (hierarchy -check,
# proc) and pass `check -assert` with no warning at all (-e .), so SystemVerilog that only
# Verilator accepts is caught here rather than in `make synth`. The synthesis harness
# scripts/synth/qmac_synth_wrap.sv is checked too. Tools: VERILATOR, YOSYS.
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 RTL.sv..." >&2
    exit 2
fi
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERILATOR=${VERILATOR:-verilator}
YOSYS=${YOSYS:-yosys}
WAIVERS="$ROOT/hw/lint/verilator.vlt"
WRAP="$ROOT/scripts/synth/qmac_synth_wrap.sv"
SHAPES="16x16 4x4 1x1 8x16"
SRC=("$@")

ys=""
for shape in $SHAPES; do
    rows=${shape%x*}
    cols=${shape#*x}
    for def in "" "-DQMAC_FAULT_INJECT"; do
        what="qmac_array ${shape}${def:+ $def}"
        # shellcheck disable=SC2086
        if ! "$VERILATOR" --lint-only -Wall "$WAIVERS" $def -GRows="$rows" -GCols="$cols" \
                --top-module qmac_array "${SRC[@]}"; then
            echo "lint: verilator failed on $what" >&2
            exit 1
        fi
        ys+="design -reset; read_verilog -sv $def ${SRC[*]};"
        ys+=" hierarchy -check -top qmac_array -chparam Rows $rows -chparam Cols $cols;"
        ys+=" proc; check -assert; "
    done
done
# the post-processing unit at two widths, and qmac_mbqm (the VALU's MBQM) as a top of its own
for top in qmac_requant:16 qmac_requant:4 qmac_mbqm; do
    mod=${top%%:*}
    lanes=${top#"$mod"}
    lanes=${lanes#:}
    # shellcheck disable=SC2086
    if ! "$VERILATOR" --lint-only -Wall "$WAIVERS" ${lanes:+-GLanes="$lanes"} --top-module "$mod" "${SRC[@]}"; then
        echo "lint: verilator failed on $mod${lanes:+ Lanes=$lanes}" >&2
        exit 1
    fi
    ys+="design -reset; read_verilog -sv ${SRC[*]};"
    ys+=" hierarchy -check -top $mod${lanes:+ -chparam Lanes $lanes}; proc; check -assert; "
done
if ! "$VERILATOR" --lint-only -Wall "$WAIVERS" --top-module qmac_synth_wrap "${SRC[@]}" "$WRAP"; then
    echo "lint: verilator failed on qmac_synth_wrap" >&2
    exit 1
fi
ys+="design -reset; read_verilog -sv ${SRC[*]} $WRAP; hierarchy -check -top qmac_synth_wrap; proc; check -assert"

# The accelerator: qmac_top in the default build (N 16) and the small one (N 4, 256-row buffers),
# and the instruction decoder alone (its equivalence test drives it as a top, sim/decode_main.c).
SMALL="ArrayDim=4 InpRows=256 WgtRows=256 AccRows=256 OutRows=256"
for top in "qmac_top" "qmac_top $SMALL" "qmac_decode" "qmac_decode $SMALL"; do
    read -r -a words <<<"$top"
    gv=() chp=""
    for kv in "${words[@]:1}"; do
        gv+=("-G$kv")
        chp+=" -chparam ${kv%=*} ${kv#*=}"
    done
    if ! "$VERILATOR" --lint-only -Wall "$WAIVERS" "${gv[@]}" --top-module "${words[0]}" "${SRC[@]}"; then
        echo "lint: verilator failed on $top" >&2
        exit 1
    fi
    ys+="; design -reset; read_verilog -sv ${SRC[*]}; hierarchy -check -top ${words[0]}$chp; proc; check -assert"
done

log=$(mktemp /tmp/qmac-lint-yosys.XXXXXX)
if ! "$YOSYS" -q -e . -l "$log" -p "$ys" >/dev/null 2>&1; then
    grep -E -B2 -A2 'ERROR|Warning|warning' "$log" >&2 || tail -n 20 "$log" >&2
    echo "lint: yosys failed to elaborate the RTL (full log: $log)" >&2
    exit 1
fi
rm -f "$log"
echo "lint: RTL clean (verilator -Wall and yosys elaboration; qmac_array shapes $SHAPES, with and without QMAC_FAULT_INJECT; qmac_requant Lanes 16 and 4; qmac_mbqm; qmac_top and qmac_decode, default and small build)"

#!/usr/bin/env bash
# yosys_cosim.sh - co-simulate Yosys's own elaboration of qmac_top against the golden model.
#
#   scripts/yosys_cosim.sh [N [CASES [SEED]]]      N 4 (small build, default) or 16
#
# Lint proves that Yosys 0.23 accepts the RTL, not that it reads it the way Verilator does: some
# constructs elaborate silently to something else (e.g. '1 assigned to a variable indexed
# part-select becomes a single 1 bit). This script elaborates qmac_top with Yosys (read, hierarchy,
# proc; not flattened), writes the netlist as Verilog, verilates that netlist and runs the
# accelerator harness of sim/accel_main.c on it: directed programs, then random ones, in lock-step
# with the golden model and with the C cycle model (--cycle-model). Builds in
# $BUILD/yosys-cosim-N/ (BUILD defaults to build; the harness objects come from `make sim`'s
# accel build, which it makes first). Tools: YOSYS, VERILATOR, CXX, MAKE.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-4}
CASES=${2:-1000}
SEED=${3:-}
BUILD=${BUILD:-build}
YOSYS=${YOSYS:-yosys}
VERILATOR=${VERILATOR:-verilator}
CXX=${CXX:-g++}
MAKE=${MAKE:-make}
case "$N" in
    4) CFG=small PARAMS="-chparam ArrayDim 4 -chparam InpRows 256 -chparam WgtRows 256 -chparam AccRows 256 -chparam OutRows 256" ;;
    16) CFG=default PARAMS="" ;;
    *) echo "usage: $0 [4|16 [CASES [SEED]]]" >&2; exit 2 ;;
esac
D="$BUILD/yosys-cosim-$N"
mkdir -p "$D"
"$MAKE" -s BUILD="$BUILD" "$BUILD/sim/accel-$N/sim_accel" >/dev/null
SRC=(hw/rtl/qmac_pkg.sv)
for f in hw/rtl/*.sv; do [ "$f" = hw/rtl/qmac_pkg.sv ] || SRC+=("$f"); done

echo "yosys: elaborating qmac_top (N $N) -> $D/qmac_top_yosys.v"
"$YOSYS" -q -l "$D/yosys.log" -p "read_verilog -sv ${SRC[*]}; hierarchy -check -top qmac_top $PARAMS;
    proc; opt_clean; write_verilog -noattr $D/qmac_top_yosys.v"

echo "verilator: the netlist"
rm -rf "$D/vl"
"$VERILATOR" --cc -O3 --x-assign fast --x-initial fast --timescale 1ns/1ns -fno-dfg --prefix Vtop \
    --top-module qmac_top "$D/qmac_top_yosys.v" --Mdir "$D/vl" -Wno-fatal -Wno-lint -Wno-style >"$D/verilator.log" 2>&1
VR=$("$VERILATOR" --getenv VERILATOR_ROOT)
CXXF=(-I"$VR/include" -I"$VR/include/vltstd" -DVM_COVERAGE=0 -DVM_SC=0 -DVM_TRACE_VCD=0 -DVM_TRACE=0
      -DVM_TRACE_FST=0 -faligned-new -fcf-protection=none -w)
for f in "$D"/vl/*.cpp; do "$CXX" "${CXXF[@]}" -O1 -c "$f" -o "${f%.cpp}.o" & done
wait
rm -f "$D/libvtop.a"
ar rcs "$D/libvtop.a" "$D"/vl/*.o
"$CXX" -O2 "${CXXF[@]}" -Isw/include -Isim -I"$D/vl" -DQSIM_PORTS_H='"ports_qmac_top.h"' -DQSIM_DIM="$N" \
    -c sim/qsim_shim.cpp -o "$D/qsim_shim.o"
O="$BUILD/sim/obj"
"$CXX" -o "$D/sim_accel" "$O/simctl.o" "$O/accel_main.o" "$O/accel_harness.o" "$O/accel_progs.o" \
    "$D/qsim_shim.o" "$D/libvtop.a" "$VR/include/verilated.cpp" "$VR/include/verilated_threads.cpp" \
    "${CXXF[@]}" -O1 "$BUILD/libqmac.a" -lprotobuf-c -lcjson -lm -lz -pthread

echo "run: the Yosys netlist against the golden model and the cycle model"
"$D/sim_accel" --config "$CFG" --cases "$CASES" --len 60 --cycle-model --trace-dir "$D" ${SEED:+--seed "$SEED"}

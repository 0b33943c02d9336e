#!/usr/bin/env bash
# test_cosim.sh QMAC FAULT_SIM - `qmac cosim` on the bundled example: the reference, the golden
# model and the RTL (default and small builds) agree, exit 0; with the RTL build whose PE is
# miswired (QMAC_RTL_SIM=FAULT_SIM) it must exit 1 naming the RTL divergence, the instruction and
# the layer, with the lock-step report (disassembly, trace) above it.
set -u
qmac=$1
fault_sim=$2
ex=examples/digits
fails=0
passes=0
check() { # check NAME WANT_RC OUTPUT_FILE PATTERN...
    local name=$1 want=$2 out=$3 rc
    rc=$(cat "$out.rc")
    shift 3
    local ok=1
    [ "$rc" = "$want" ] || { echo "  exit $rc, expected $want"; ok=0; }
    for p in "$@"; do grep -q -- "$p" "$out" || { echo "  output lacks: $p"; ok=0; }; done
    if [ $ok = 1 ]; then echo "ok   $name"; passes=$((passes + 1)); else echo "FAIL $name"; sed 's/^/    /' "$out" | head -20; fails=$((fails + 1)); fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for cfg in default small; do
    for i in 00 07; do
        "$qmac" cosim "$ex/model.onnx" --input "$ex/inputs/$i.npy" --config "$cfg" >"$tmp/o" 2>&1
        echo $? >"$tmp/o.rc"
        check "cosim_${cfg}_$i" 0 "$tmp/o" "reference, golden model and RTL agree bit for bit"
    done
done
QMAC_RTL_SIM=$fault_sim "$qmac" cosim "$ex/model.onnx" --input "$ex/inputs/00.npy" --config small >"$tmp/f" 2>&1
echo $? >"$tmp/f.rc"
check cosim_fault_detected 1 "$tmp/f" "DIVERGENCE: RTL vs golden model at instruction" "layer 1 'conv2'" \
    "instruction .*: GEMM" "reproduce: " "trace: "
# the failed RTL run keeps its files (image, trace) and names the directory: remove that one
kept=$(sed -n 's/.*files in \(\/[^)]*qmac-rtl-[A-Za-z0-9]*\)).*/\1/p' "$tmp/f" | head -1)
[ -n "$kept" ] && rm -rf "$kept"
echo "$passes passed, $fails failed"
[ $fails = 0 ]

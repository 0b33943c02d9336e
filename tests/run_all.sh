#!/usr/bin/env bash
# run_all.sh - run qmac's test suites and print one closing line "N passed, N failed".
#   tests/run_all.sh unit   cmocka unit tests only
#   tests/run_all.sh sim    Verilator harness only: RTL vs C model per array shape (what `make sim` runs)
#   tests/run_all.sh all    every suite (what `make test` runs)
# Environment: BUILD (build dir), PYTHON (venv python), CONFORMANCE_SCALE (1, or 10 for test-long),
#              SEED (conformance and sim seed), SHARED (path of the shared/ folder, default ../shared),
#              SIM_SHAPES (array shapes built by make, default "4x4 8x16 16x16").
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-.venv/bin/python}
QMAC="$BUILD/qmac"
SCALE=${CONFORMANCE_SCALE:-1}
SHARED=${SHARED:-../shared}
what=${1:-all}

passed=0
failed=0
failed_names=()

suite() { # suite NAME CMD...
    local name=$1; shift
    echo "=== $name: $*"
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        echo "*** FAILED: $name (reproduce: $*)"
    fi
}

# Verilator differential tests (sim/README.md): every output of the RTL equals the C model's in
# every cycle, for thousands of random weight tiles, vectors and mode switches per shape; then the
# self-check: a build with one miswired PE must be caught with a mismatch report and a trace.
sim_cases() { # cases per shape: 1.5 to 10 s each on one core of the reference machine
    case $1 in
        4x4) echo 40000 ;;
        8x16) echo 15000 ;;
        16x16) echo 12000 ;;
        *) echo 2000 ;;
    esac
}
sim_suites() {
    local shape bin
    for shape in ${SIM_SHAPES:-4x4 8x16 16x16}; do
        bin="$BUILD/sim/array-$shape/sim_array"
        if [ -x "$bin" ]; then
            suite "sim:array-$shape" "$bin" --cases $(($(sim_cases "$shape") * SCALE)) \
                --trace-dir "$BUILD/sim" ${SEED:+--seed "$SEED"}
        else
            suite "sim:array-$shape" sh -c "echo '$bin is not built (make sim builds it)'; false"
        fi
    done
    # the post-processing unit vs qmac_rq_lane(): edge vectors, then random cases (~7 s each)
    for lanes in 16 4; do
        bin="$BUILD/sim/requant-$lanes/sim_requant"
        if [ -x "$bin" ]; then
            suite "sim:requant-$lanes" "$bin" --cases $(( (lanes == 16 ? 30000 : 100000) * SCALE)) \
                --trace-dir "$BUILD/sim" ${SEED:+--seed "$SEED"}
        else
            suite "sim:requant-$lanes" sh -c "echo '$bin is not built (make sim builds it)'; false"
        fi
    done
    # the instruction decoder vs qmac_insn_check() (~1 s each); the whole accelerator on the AXI
    # memory model vs the golden model in lock-step (every retirement: its written rows) and vs the
    # C cycle model (every retire cycle and counter): every directed program, then random ones
    local n cfg
    for n in 16 4; do
        cfg=default
        [ "$n" = 4 ] && cfg=small
        bin="$BUILD/sim/decode-$n/sim_decode"
        if [ -x "$bin" ]; then
            suite "sim:decode-$n" "$bin" --config "$cfg" --cases $((1000000 * SCALE)) ${SEED:+--seed "$SEED"}
        else
            suite "sim:decode-$n" sh -c "echo '$bin is not built (make sim builds it)'; false"
        fi
        bin="$BUILD/sim/accel-$n/sim_accel"
        if [ -x "$bin" ]; then
            suite "sim:accel-$n" "$bin" --config "$cfg" --cases $(( (n == 16 ? 2500 : 8000) * SCALE)) --len 60 \
                --trace-dir "$BUILD/sim" ${SEED:+--seed "$SEED"} --cycle-model
        else
            suite "sim:accel-$n" sh -c "echo '$bin is not built (make sim builds it)'; false"
        fi
    done
    suite sim:cli tests/sim/test_sim_cli.sh "$BUILD/sim/array-4x4-fault/sim_array"
    suite sim:fault-inject tests/sim/expect_mismatch.sh "$BUILD/sim/array-4x4-fault/sim_array" \
        --cases 200 --trace-dir "$BUILD/sim" ${SEED:+--seed "$SEED"}
    # the same miswired PE inside the whole accelerator: lock-step must stop at the first GEMM that
    # uses it, name the instruction, row and values, and trace only the last 100 cycles
    suite sim:accel-fault-inject tests/sim/expect_mismatch.sh "$BUILD/sim/accel-4-fault/sim_accel" \
        --config small --directed --trace-last 100 --trace-dir "$BUILD/sim" ${SEED:+--seed "$SEED"}
    # compiled programs on the RTL (qmac run --backend rtl: lock-step with the golden model): the
    # bundled example, `qmac cosim` (and its divergence report on the miswired build), and a
    # sample of the ORT conformance cases
    suite sim:example-rtl "$PYTHON" tests/example/check_example.py --qmac "$QMAC" --backend rtl
    suite sim:cosim tests/sim/test_cosim.sh "$QMAC" "$BUILD/sim/accel-4-fault/sim_accel"
    [ -f tests/conformance/run_conformance.py ] &&
        suite sim:ort-conformance-rtl "$PYTHON" tests/conformance/run_conformance.py --qmac "$QMAC" \
            --count $((200 * SCALE)) ${SEED:+--seed "$SEED"} --ort-config session.qdqisint8allowed=1 \
            --qmac-arg=--backend --qmac-arg=rtl --allow-refusals --require-lowered qlinearconv \
            --require-lowered qlinearglobalavgpool --require-lowered maxpool
}

if [ "$what" = sim ]; then
    sim_suites
else
    for t in "$BUILD"/tests/test_*; do
        [ -x "$t" ] || continue
        suite "unit:$(basename "$t")" "$t"
    done
fi

if [ "$what" = all ]; then
    suite cli "$PYTHON" tests/cli/test_cli.py --qmac "$QMAC"
    [ -f tests/onnx_node/run_node_tests.py ] &&
        suite onnx-node-tests "$PYTHON" tests/onnx_node/run_node_tests.py --qmac "$QMAC"
    [ -f tests/conformance/run_conformance.py ] &&
        # session.qdqisint8allowed=1: ORT runs int8 QDQ groups with its int8 kernels, as it does on
        # ARM; its x86 default rewrites them to uint8 or leaves them in float (docs/quantization.md).
        suite ort-conformance "$PYTHON" tests/conformance/run_conformance.py --qmac "$QMAC" \
            --count $((500 * SCALE)) ${SEED:+--seed "$SEED"} --ort-config session.qdqisint8allowed=1
    # the same generator through the compiler and the golden model (qmac run --backend golden):
    # every compiled case bit-exact; a node the compiler refuses ("not lowered", named) is listed
    # apart, except in the categories it lowers completely, where a refusal fails
    [ -f tests/conformance/run_conformance.py ] &&
        suite ort-conformance-golden "$PYTHON" tests/conformance/run_conformance.py --qmac "$QMAC" \
            --count $((500 * SCALE)) ${SEED:+--seed "$SEED"} --ort-config session.qdqisint8allowed=1 \
            --qmac-arg=--backend --qmac-arg=golden --allow-refusals --require-lowered qlinearconv \
            --require-lowered qlinearglobalavgpool --require-lowered maxpool --require-lowered quantizelinear \
            --require-lowered dequantizelinear
    if [ -d "$SHARED/vectors/tflite-int8" ]; then
        suite tflite-vectors "$QMAC" check-vectors "$SHARED/vectors/tflite-int8"
    else
        echo "!!! WARNING: $SHARED/vectors/tflite-int8 is absent: the TFLite reference vectors were NOT run."
        echo "!!! Set SHARED=/path/to/shared to run them."
    fi
    if [ -f tests/example/check_example.py ]; then
        suite example "$PYTHON" tests/example/check_example.py --qmac "$QMAC"
        suite example-golden "$PYTHON" tests/example/check_example.py --qmac "$QMAC" --backend golden
    fi
    # qmac quantize vs quantize_static: same ranges -> same parameters and ORT outputs (digits and
    # random CNNs), every calibration method, bad calibration input
    [ -f tests/quantize/test_quantize.py ] &&
        suite quantize "$PYTHON" tests/quantize/test_quantize.py --qmac "$QMAC" --nets $((8 * SCALE)) \
            ${SEED:+--seed "$SEED"}
    # qmac quantize --qonnx / --binary: QONNX models (power-of-two scales, binary layers) from
    # float ones, bit-exact against qonnx on ref and golden (rtl on a few images), the rule checked
    [ -f tests/quantize/test_quantize_qonnx.py ] &&
        suite quantize-qonnx "$PYTHON" tests/quantize/test_quantize_qonnx.py --qmac "$QMAC" --nets $((4 * SCALE)) \
            ${SEED:+--seed "$SEED"}
    # quantization-aware-trained digits models (scripts/make_qat_examples.py): PyTorch QAT exported
    # as QDQ equal to ONNX Runtime bit for bit, Brevitas QAT exported as QONNX equal to qonnx, on
    # ref, golden and rtl; qmac eval's accuracy
    [ -f tests/qat/test_qat.py ] &&
        suite qat "$PYTHON" tests/qat/test_qat.py --qmac "$QMAC"
    # binary networks from QONNX: the digits binary MLP and random QONNX MLPs on ref, golden and
    # rtl bit-exact vs qonnx's own execution; refusals named
    [ -f tests/binary/test_qonnx.py ] &&
        suite qonnx "$PYTHON" tests/binary/test_qonnx.py --qmac "$QMAC" --nets $((12 * SCALE)) \
            --rtl-nets $((2 * SCALE)) ${SEED:+--seed "$SEED"}
    # whole networks (torchvision's architectures, quantize_static) bit-exact vs ONNX Runtime, every
    # layer compiled: make test runs ResNet-18 and MobileNetV2 (QDQ, uint8) on the reference and
    # the golden model and MobileNetV2 on the RTL; test-long every format and activation type,
    # ResNet-50 too, two inputs, ResNet-18 on the RTL as well
    if [ "$SCALE" -gt 1 ]; then
        suite nets "$PYTHON" tests/nets/test_nets.py --qmac "$QMAC" --nets resnet18,mobilenetv2,resnet50 \
            --variants qdq-uint8,qdq-int8,qop-uint8,qop-int8 --inputs 2 --rtl-nets resnet18,mobilenetv2
    else
        suite nets "$PYTHON" tests/nets/test_nets.py --qmac "$QMAC" --rtl-nets mobilenetv2
    fi
    sim_suites
fi

echo
echo "suites: $passed passed, $failed failed"
for n in "${failed_names[@]:-}"; do [ -n "$n" ] && echo "  failed: $n"; done
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# run_all.sh - run qmac's test suites and print one closing line "N passed, N failed".
#   tests/run_all.sh unit   cmocka unit tests only
#   tests/run_all.sh all    every suite (what `make test` runs)
# Environment: BUILD (build dir), PYTHON (venv python), CONFORMANCE_SCALE (1, or 10 for test-long),
#              SEED (conformance seed), SHARED (path of the shared/ folder, default ../shared).
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

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    suite "unit:$(basename "$t")" "$t"
done

if [ "$what" = all ]; then
    suite cli "$PYTHON" tests/cli/test_cli.py --qmac "$QMAC"
    [ -f tests/onnx_node/run_node_tests.py ] &&
        suite onnx-node-tests "$PYTHON" tests/onnx_node/run_node_tests.py --qmac "$QMAC"
    [ -f tests/conformance/run_conformance.py ] &&
        # session.qdqisint8allowed=1: ORT runs int8 QDQ groups with its int8 kernels, as it does on
        # ARM; its x86 default rewrites them to uint8 or leaves them in float (docs/quantization.md).
        suite ort-conformance "$PYTHON" tests/conformance/run_conformance.py --qmac "$QMAC" \
            --count $((500 * SCALE)) ${SEED:+--seed "$SEED"} --ort-config session.qdqisint8allowed=1
    if [ -d "$SHARED/vectors/tflite-int8" ]; then
        suite tflite-vectors "$QMAC" check-vectors "$SHARED/vectors/tflite-int8"
    else
        echo "!!! WARNING: $SHARED/vectors/tflite-int8 is absent: the TFLite reference vectors were NOT run."
        echo "!!! Set SHARED=/path/to/shared to run them."
    fi
    [ -f tests/example/check_example.py ] &&
        suite example "$PYTHON" tests/example/check_example.py --qmac "$QMAC"
fi

echo
echo "suites: $passed passed, $failed failed"
for n in "${failed_names[@]:-}"; do [ -n "$n" ] && echo "  failed: $n"; done
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# test_sim_cli.sh - bad command lines of a sim binary: each must exit non-zero (2 usage, 3 error)
# with a one-line message naming the culprit, and leave no trace file behind.
#
#   tests/sim/test_sim_cli.sh SIM_BINARY
set -u
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

check() { # check EXPECTED_RC EXPECTED_TEXT ARGS...
    local want_rc=$1 want_text=$2
    shift 2
    local out rc
    out=$("$bin" "$@" 2>&1)
    rc=$?
    if [ "$rc" -ne "$want_rc" ] || ! grep -qF -- "$want_text" <<<"$out"; then
        echo "FAIL [$*]: exit $rc (want $want_rc), output: $out"
        failed=$((failed + 1))
    else
        echo "ok   [$*]: exit $rc: $out"
    fi
}

check 2 "--cases needs a valid value" --cases abc
check 2 "--seed needs a value" --seed
check 2 "unknown option --bogus" --bogus
check 3 "$tmp/no/dir/x.fst" --cases 1 --trace "$tmp/no/dir/x.fst"
check 3 "FST only" --cases 1 --trace "$tmp/x.vcd"
if [ -e "$tmp/x.vcd" ]; then
    echo "FAIL: a refused trace left $tmp/x.vcd behind"
    failed=$((failed + 1))
fi
check 0 "exit 0 pass" --help
[ "$failed" -eq 0 ]

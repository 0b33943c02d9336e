#!/usr/bin/env bash
# expect_mismatch.sh - the test suite's self-check: pass only when a sim binary CATCHES a fault.
#
#   tests/sim/expect_mismatch.sh SIM_BINARY [ARGS...]
#
# Runs the binary (built with a deliberately miswired PE) and passes only if it reports a
# mismatch the way every failure must be reported: exit code 1, a "MISMATCH RTL vs ..." line
# naming seed, case and cycle, a reproduce command, and a failure trace that exists.
#   - sim_array ("RTL vs C model: array ..."): the line also names column, expected and actual.
#   - sim_accel ("RTL vs golden model: ..."): the lines below it name the instruction index with
#     its disassembly, the buffer row, expected (golden) and actual (RTL) values; the trace holds
#     the last --trace-last N cycles up to the failing one (all of them when the run is shorter).
# Then it runs the printed reproduce command and requires the same mismatch again. A pass, a crash,
# a usage error or a report without trace all fail this check.
set -u

out=$("$@" 2>&1)
rc=$?
echo "$out" | head -n 12
fail() {
    echo "expect_mismatch: $*"
    exit 1
}
# the value of --trace-last in the arguments, if any
trace_last=
prev=
for a in "$@"; do
    [ "$prev" = --trace-last ] && trace_last=$a
    prev=$a
done

[ "$rc" -eq 1 ] || fail "exit code $rc, expected 1 (a mismatch): the broken RTL was NOT caught"
first=$(echo "$out" | grep -m1 '^MISMATCH RTL vs ')
[ -n "$first" ] || fail "exit code 1 but no 'MISMATCH RTL vs ...' report"
for word in seed case cycle; do
    echo "$first" | grep -q "$word" || fail "the report does not name the $word: $first"
done
case "$first" in
"MISMATCH RTL vs C model: array "*)
    for word in column expected actual; do
        echo "$first" | grep -q "$word" || fail "the report does not name the $word: $first"
    done
    ;;
"MISMATCH RTL vs golden model: "*)
    echo "$first" | grep -qE '(INP|WGT|ACC|OUT) row [0-9]+' || fail "the report names no buffer row: $first"
    echo "$out" | grep -qE '^  instruction [0-9]+: [A-Z]+' ||
        fail "the report does not name the instruction and its disassembly"
    echo "$out" | grep -q 'expected (golden) .* actual (RTL) ' ||
        fail "the report does not give expected and actual values"
    ;;
*) fail "unknown report: $first" ;;
esac
repro=$(echo "$out" | sed -n 's/^  reproduce: //p' | head -n 1)
[ -n "$repro" ] || fail "no reproduce command"
tline=$(echo "$out" | grep -m1 '^  trace: ')
trace=$(echo "$tline" | sed -n 's/^  trace: \([^ ]*\).*/\1/p')
[ -n "$trace" ] && [ -s "$trace" ] || fail "the failure trace '$trace' is missing or empty"
echo "$out" | grep -q 'did NOT reproduce' && fail "the traced replay did not reproduce the mismatch"
if [ -n "$trace_last" ]; then
    span=$(echo "$tline" | sed -n 's/.*(cycles \([0-9]*\) to \([0-9]*\) .*/\1 \2/p')
    [ -n "$span" ] || fail "the trace line does not say which cycles it holds: $tline"
    read -r from to <<<"$span"
    fcycle=$(echo "$first" | sed -n 's/.* cycle \([0-9]*\).*/\1/p')
    [ "$to" = "$fcycle" ] || fail "the trace ends at cycle $to, the mismatch is at cycle $fcycle"
    [ "$from" -eq 0 ] || [ $((to - from)) -eq "$trace_last" ] ||
        fail "the trace holds cycles $from..$to, not the last $trace_last"
fi

# the reproduce command alone must hit the same mismatch (same seed, case, cycle and column)
again=$($repro 2>&1)
rc2=$?
[ "$rc2" -eq 1 ] || fail "reproduce command '$repro' exited $rc2, expected 1"
echo "$again" | grep -qF "$first" || fail "reproduce command '$repro' reported a different mismatch"

echo "expect_mismatch: caught (exit 1, report, reproduce command re-hits it, trace $trace)"

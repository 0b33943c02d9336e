#!/usr/bin/env bash
# expect_mismatch.sh - the test suite's self-check: pass only when a sim binary CATCHES a fault.
#
#   tests/sim/expect_mismatch.sh SIM_BINARY [ARGS...]
#
# Runs the binary (built with a deliberately miswired PE) and passes only if it reports a
# mismatch the way every failure must be reported: exit code 1, a "MISMATCH RTL vs C model" line
# naming seed, shape, case, cycle and column, a reproduce command, and a failure trace that exists.
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

[ "$rc" -eq 1 ] || fail "exit code $rc, expected 1 (a mismatch): the broken RTL was NOT caught"
first=$(echo "$out" | grep -m1 '^MISMATCH RTL vs C model: array ')
[ -n "$first" ] || fail "exit code 1 but no 'MISMATCH RTL vs C model' report"
for word in seed case cycle column expected actual; do
    echo "$first" | grep -q "$word" || fail "the report does not name the $word: $first"
done
repro=$(echo "$out" | sed -n 's/^  reproduce: //p' | head -n 1)
[ -n "$repro" ] || fail "no reproduce command"
trace=$(echo "$out" | sed -n 's/^  trace: \([^ ]*\).*/\1/p' | head -n 1)
[ -n "$trace" ] && [ -s "$trace" ] || fail "the failure trace '$trace' is missing or empty"
echo "$out" | grep -q 'did NOT reproduce' && fail "the traced replay did not reproduce the mismatch"

# the reproduce command alone must hit the same mismatch (same seed, case, cycle and column)
again=$($repro 2>&1)
rc2=$?
[ "$rc2" -eq 1 ] || fail "reproduce command '$repro' exited $rc2, expected 1"
echo "$again" | grep -qF "$first" || fail "reproduce command '$repro' reported a different mismatch"

echo "expect_mismatch: caught (exit 1, report, reproduce command re-hits it, trace $trace)"

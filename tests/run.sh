#!/bin/sh
# Run every test binary of the given build directories (unit tests, then
# integration tests against that directory's starling binary), show cmocka's
# output, and end with one line "N passed, N failed" for the whole run.
# --fuzz-results FILE also counts the fuzzers' verdicts ("fuzz_X PASS" or
# "fuzz_X FAIL" lines) that `make fuzz-test` wrote there.
# A binary that crashes or times out counts its unfinished tests as failed.
set -u

total_pass=0
total_fail=0
total_skip=0
failed_bins=""

run_one() { # $1 = test binary, $2 = build dir
    bin=$1
    out=$(mktemp)
    echo "### $bin"
    STARLING_BIN="$2/starling" timeout --kill-after=10 300 "$bin" >"$out" 2>&1
    rc=$?
    cat "$out"
    planned=$(sed -n 's/^\[==========\] Running \([0-9]*\) test(s)\./\1/p' "$out" | head -n 1)
    passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' "$out" | head -n 1)
    skipped=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test(s), listed below:/\1/p' "$out" | head -n 1)
    rm -f "$out"
    planned=${planned:-1}
    passed=${passed:-0}
    skipped=${skipped:-0}
    failed=$((planned - passed - skipped))
    if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
    total_pass=$((total_pass + passed))
    total_fail=$((total_fail + failed))
    total_skip=$((total_skip + skipped))
    [ "$failed" -ne 0 ] && failed_bins="$failed_bins $bin"
    return 0
}

fuzz_results=""
if [ "${1:-}" = "--fuzz-results" ]; then
    fuzz_results=$2
    shift 2
fi

for dir in "$@"; do
    for bin in "$dir"/tests/unit/test_* "$dir"/tests/integration/test_*; do
        case "$bin" in *.d|*.o) continue ;; esac
        [ -x "$bin" ] && run_one "$bin" "$dir"
    done
done

if [ -n "$fuzz_results" ] && [ -f "$fuzz_results" ]; then
    while read -r name verdict; do
        if [ "$verdict" = PASS ]; then
            total_pass=$((total_pass + 1))
        else
            total_fail=$((total_fail + 1))
            failed_bins="$failed_bins $name"
        fi
    done <"$fuzz_results"
fi

[ -n "$failed_bins" ] && echo "failing binaries:$failed_bins"
if [ "$total_skip" -gt 0 ]; then
    echo "$total_pass passed, $total_fail failed, $total_skip skipped"
else
    echo "$total_pass passed, $total_fail failed"
fi
[ "$total_fail" -eq 0 ] && [ "$total_pass" -gt 0 ]

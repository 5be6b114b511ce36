#!/bin/sh
# tests/run.sh BUILD_DIR - runs every test of the suite and prints one summary line.
#
# Each test program (BUILD_DIR/tests/test_*) and each script (tests/cli/*.sh)
# prints one line per case: "ok NAME", "FAIL NAME: why" or "skip NAME: why".
# This runner shows failures and skips, counts all cases and ends with
#   tests: N passed, N failed, N skipped
# Its exit status is 0 only if no case failed and every program exited 0.
# Environment: HLZ_TEST_QUICK=1 shrinks the largest generated inputs (sanitizer runs).
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
export HLZ="$root/$build/hlz" HLZ_CONVERT="$root/$build/hlz-convert"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0

run_one() {
    name=$1; shift
    start=$(date +%s)
    if ! "$@" >"$log.out" 2>"$log.err"; then
        if ! grep -q '^FAIL ' "$log.out"; then
            echo "FAIL $name: exited with status $? without naming a failed case" >>"$log.out"
        fi
        status=1
    fi
    end=$(date +%s)
    cat "$log.out" >>"$log"
    grep -E '^(FAIL|skip) ' "$log.out"
    if grep -q '^FAIL ' "$log.out"; then
        echo "--- stderr of $name:"; tail -n 20 "$log.err"
    fi
    printf '  %-28s %3d ok  (%ds)\n' "$name" "$(grep -c '^ok ' "$log.out")" $((end - start))
    rm -f "$log.out" "$log.err"
}

for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" "$t"
done
for t in tests/cli/*.sh; do
    [ -f "$t" ] || continue
    # test_cli.sh checks the command's behaviour with the classical codecs
    # (fast); the model tests pick their models themselves.
    saved=${HLZ_MODEL-}
    case $t in */test_cli.sh) HLZ_MODEL=none ;; esac
    export HLZ_MODEL
    run_one "$(basename "$t")" sh "$t"
    HLZ_MODEL=$saved
done

passed=$(grep -c '^ok ' "$log")
failed=$(grep -c '^FAIL ' "$log")
skipped=$(grep -c '^skip ' "$log")
[ "$failed" -eq 0 ] || status=1
[ "$passed" -gt 0 ] || { echo "no test ran"; status=1; }
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit $status

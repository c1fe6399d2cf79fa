#!/bin/sh
# Test runner. Runs unit test binaries and every tests/*/suite.sh, each of which prints
# one line per test: "PASS: name", "FAIL: name: why" or "SKIP: name: why".
# Ends with "N passed, N failed, N skipped"; exits non-zero when anything failed.
#   tests/run.sh --unit BUILD_DIR      unit tests only
#   tests/run.sh --all BUILD_DIR       unit tests and every suite
#   tests/run.sh --suite NAME BUILD_DIR    one suite (tests/NAME/suite.sh)
set -u
mode=$1
build=$2
[ "$mode" = "--suite" ] && build=$3
top=$(cd "$(dirname "$0")/.." && pwd)
export LODGE="$top/$build/lodge"
export LODGE_TOP="$top"
export LODGE_BUILD="$top/$build"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run_unit() {
	for t in "$top/$build"/unit/test_*; do
		[ -x "$t" ] || continue
		"$t" || echo "FAIL: $(basename "$t"): exited with status $?"
	done
}

run_suite() {
	s="$top/tests/$1/suite.sh"
	echo "== suite $1"
	sh "$s" || echo "FAIL: suite $1: exited with status $?"
}

{
	case "$mode" in
	--unit) echo "== unit"; run_unit ;;
	--suite) run_suite "$2" ;;
	--all)
		echo "== unit"
		run_unit
		for s in "$top"/tests/*/suite.sh; do
			run_suite "$(basename "$(dirname "$s")")"
		done
		;;
	*) echo "usage: tests/run.sh --unit|--all BUILD_DIR" >&2; exit 2 ;;
	esac
} 2>&1 | tee "$log"

p=$(grep -c '^PASS: ' "$log")
f=$(grep -c '^FAIL: ' "$log")
s=$(grep -c '^SKIP: ' "$log")
if [ "$f" -gt 0 ]; then
	echo
	echo "Failures:"
	grep '^FAIL: ' "$log"
fi
echo "$p passed, $f failed, $s skipped"
[ "$f" -eq 0 ] && [ "$p" -gt 0 ]

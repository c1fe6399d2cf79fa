#!/bin/sh
# Test runner. Runs unit test binaries and every tests/*/suite.sh, each of which prints
# one line per test: "PASS: name", "FAIL: name: why" or "SKIP: name: why".
# Ends with "N passed, N failed, N skipped"; exits non-zero when anything failed.
#   tests/run.sh --unit BUILD_DIR      unit tests only
#   tests/run.sh --all BUILD_DIR       unit tests and every suite (LODGE_TEST_JOBS=1: one at
#                                      a time; 2, the default: a second lane, see below)
#   tests/run.sh --suite NAME BUILD_DIR    one suite (tests/NAME/suite.sh)
# A unit binary that exits non-zero without a FAIL line (a crash, a sanitizer report)
# and a unit binary or suite that reports nothing at all count as failures.
# LODGE_TEST_STRICT=1 (.ci/run sets it): a SKIP whose name is not listed in
# tests/skip-allow.txt counts as a failure, so a missing tool cannot pass unnoticed.
set -u
mode=$1
build=$2
[ "$mode" = "--suite" ] && build=$3
top=$(cd "$(dirname "$0")/.." && pwd)
export LODGE="$top/$build/lodge"
export LODGE_TOP="$top"
export LODGE_BUILD="$top/$build"
strict=${LODGE_TEST_STRICT:-0}
allow=$top/tests/skip-allow.txt
log=$(mktemp)
one=$(mktemp)
trap 'rm -f "$log" "$one" "$one.st"' EXIT

# reported FILE: whether FILE holds at least one result line
reported() {
	grep -qE '^(PASS|FAIL|SKIP): ' "$1"
}

# capture CMD...: runs CMD, its output shown as it comes and kept in $one; sets $st.
capture() {
	{
		"$@"
		echo $? >"$one.st"
	} 2>&1 | tee "$one"
	st=$(cat "$one.st")
}

run_unit() {
	for t in "$top/$build"/unit/test_*; do
		[ -x "$t" ] || continue
		capture "$t"
		if [ "$st" -ne 0 ] && ! grep -q '^FAIL: ' "$one"; then
			echo "FAIL: $(basename "$t"): exited with status $st"
		elif ! reported "$one"; then
			echo "FAIL: $(basename "$t"): reported no test"
		fi
	done
}

run_suite() {
	s="$top/tests/$1/suite.sh"
	echo "== suite $1"
	t0=$(date +%s)
	capture sh "$s"
	echo "== suite $1: $(($(date +%s) - t0)) s"
	if [ "$st" -ne 0 ]; then
		echo "FAIL: suite $1: exited with status $st"
	elif ! reported "$one"; then
		echo "FAIL: suite $1: reported no test"
	fi
}

{
	case "$mode" in
	--unit) echo "== unit"; run_unit ;;
	--suite) run_suite "$2" ;;
	--all)
		# Two lanes when LODGE_TEST_JOBS=2 (the default): the suites in $cpu_only
		# (no guest machine, no ports, namespaces or devices, nothing timed against
		# a bound the other lane's load could break) run one after the other in the
		# background, their output shown whole at the end; unit tests and every other
		# suite run in the foreground, as with LODGE_TEST_JOBS=1.
		cpu_only=" diff wasm3-spec wasm-spec wasi wasi-programs fuzz scripts "
		lane=$(mktemp)
		if [ "${LODGE_TEST_JOBS:-2}" -ge 2 ]; then
			(
				one=$(mktemp)
				for s in $cpu_only; do
					[ -f "$top/tests/$s/suite.sh" ] && run_suite "$s"
				done
				rm -f "$one" "$one.st"
			) >"$lane" 2>&1 &
			bg=$!
		else
			cpu_only=" "
		fi
		echo "== unit"
		run_unit
		for s in "$top"/tests/*/suite.sh; do
			s=$(basename "$(dirname "$s")")
			case "$cpu_only" in
			*" $s "*) ;;
			*) run_suite "$s" ;;
			esac
		done
		if [ "$cpu_only" != " " ]; then
			wait "$bg"
			echo "== the background lane (LODGE_TEST_JOBS=1 runs it in line):$cpu_only"
			cat "$lane"
		fi
		rm -f "$lane"
		;;
	*) echo "usage: tests/run.sh --unit|--all|--suite NAME BUILD_DIR" >&2; exit 2 ;;
	esac
} 2>&1 | tee "$log"

# Skips not on the allow-list (names only: "SKIP: NAME: why").
allowed() {
	[ -f "$allow" ] && sed 's/#.*//' "$allow" | awk -v n="$1" '$1 == n { f = 1 } END { exit !f }'
}
unlisted=
for name in $(sed -n 's/^SKIP: \([^: ]*\).*/\1/p' "$log" | sort -u); do
	allowed "$name" || unlisted="$unlisted $name"
done
if [ -n "$unlisted" ]; then
	echo
	if [ "$strict" = 1 ]; then
		for name in $unlisted; do
			why=$(grep -m 1 "^SKIP: $name: " "$log" | sed "s/^SKIP: $name: //")
			echo "FAIL: strict.$name: skipped ($why); LODGE_TEST_STRICT=1 allows only the skips in tests/skip-allow.txt" |
				tee -a "$log"
		done
	else
		echo "note: skipped, and not on tests/skip-allow.txt (LODGE_TEST_STRICT=1 fails these):$unlisted"
	fi
fi

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

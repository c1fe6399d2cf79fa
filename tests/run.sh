#!/bin/sh
# Test runner. Runs unit test binaries and every tests/*/suite.sh, each of which prints
# one line per test: "PASS: name", "FAIL: name: why" or "SKIP: name: why".
# Ends with "N passed, N failed, N skipped"; exits non-zero when anything failed.
#   tests/run.sh --unit BUILD_DIR      unit tests only
#   tests/run.sh --all BUILD_DIR       unit tests and every suite, in LODGE_TEST_JOBS lanes
#                                      (default 3; 1: one at a time), see below
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
q=$(mktemp -d) # --all's work list, lock and lanes' outputs
jobs=${LODGE_TEST_JOBS:-3}
case $jobs in
"" | *[!0-9]*)
	echo "tests/run.sh: LODGE_TEST_JOBS is the number of lanes (1, 2, 3...), not '$jobs'" >&2
	rm -rf "$log" "$one" "$q"
	exit 2
	;;
esac
trap 'rm -rf "$log" "$one" "$one".* "$q"' EXIT

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

# cpu: the CPU seconds (user and system) this shell's waited-for children used so far
# (not in $(...): a subshell has its own).
cpu() {
	times >"$one.t"
	awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); c += t[1] * 60 + t[2] }
		print c }' "$one.t"
}

# timed FILE FIFO: copies what comes through FIFO to its output as it comes, and to FILE;
# at its end prints the slowest cases, each timed from the result line before it (or the
# start). It opens FIFO itself, so the writer's open waits until it runs and the first
# lines are timed too. LODGE_TEST_TIMES=PATH appends every case's "seconds name" to PATH.
timed() {
	python3 -u -c '
import os, sys, time
keep, src = open(sys.argv[1], "wb"), open(sys.argv[2], "rb")
last, cases = time.time(), []
for line in iter(src.readline, b""):
    sys.stdout.buffer.write(line)
    keep.write(line)
    if line[:6] in (b"PASS: ", b"FAIL: ", b"SKIP: "):
        now = time.time()
        cases.append((now - last, line[6:].split(b":")[0].strip().decode(errors="replace")))
        last = now
cases.sort(reverse=True)
if cases:
    print("== slowest: " + ", ".join("%s %.1f s" % (n, t) for t, n in cases[:5]))
if os.environ.get("LODGE_TEST_TIMES"):
    with open(os.environ["LODGE_TEST_TIMES"], "a") as f:
        f.writelines("%.1f %s\n" % c for c in cases)
' "$1" "$2"
}

# took: "N s, CPU N s" from start_clock to stop_clock (wall; CPU of this shell's
# waited-for children: both called outside $(...))
start_clock() {
	date +%s.%N >"$one.t0"
	cpu >"$one.c0"
}
stop_clock() {
	date +%s.%N >"$one.t1"
	cpu >"$one.c1"
}
took() {
	awk -v t0="$(cat "$one.t0")" -v t1="$(cat "$one.t1")" -v c0="$(cat "$one.c0")" \
		-v c1="$(cat "$one.c1")" 'BEGIN { printf "%.0f s, CPU %.0f s", t1 - t0, c1 - c0 }'
}

run_suite() {
	s="$top/tests/$1/suite.sh"
	echo "== suite $1"
	start_clock
	if command -v python3 >/dev/null 2>&1; then
		rm -f "$one.fifo"
		mkfifo "$one.fifo"
		timed "$one" "$one.fifo" &
		tp=$!
		{
			sh "$s"
			echo $? >"$one.st"
		} >"$one.fifo" 2>&1
		wait "$tp"
		st=$(cat "$one.st")
	else
		capture sh "$s"
	fi
	stop_clock
	echo "== suite $1: $(took)"
	if [ "$st" -ne 0 ]; then
		echo "FAIL: suite $1: exited with status $st"
	elif ! reported "$one"; then
		echo "FAIL: suite $1: reported no test"
	fi
}

# run_item unit|SUITE: the unit tests (timed as a suite is) or one suite
run_item() {
	if [ "$1" = unit ]; then
		echo "== unit"
		start_clock
		run_unit
		stop_clock
		echo "== unit: $(took)"
	else
		run_suite "$1"
	fi
}

# The work of --all in the order lanes take it: unit tests and every suite, the longest
# first by tests/suite-times.txt (a suite not listed there before all others: it may be
# long). Ties keep the names' order.
work_order() {
	{
		echo unit
		for s in "$top"/tests/*/suite.sh; do
			basename "$(dirname "$s")"
		done
	} | awk -v times="$top/tests/suite-times.txt" '
		BEGIN { while ((getline l < times) > 0) { sub(/#.*/, "", l); n = split(l, f)
			if (n == 2) secs[f[2]] = f[1] } }
		{ printf "%d %06d %s\n", ($1 in secs) ? secs[$1] : 1000000, NR, $1 }' |
		sort -k1,1nr -k2,2n | awk '{ print $3 }'
}

# lane N: takes the next item of $q/queue until none is left; prints each item's output
# whole when it ends (and a line when it starts), under $q/lock so lanes do not interleave.
lock() {
	until mkdir "$q/lock" 2>/dev/null; do sleep 0.05; done
}
unlock() {
	rmdir "$q/lock"
}
lane() {
	one=$(mktemp)
	while :; do
		lock
		item=$(sed -n 1p "$q/queue")
		sed -i 1d "$q/queue"
		[ -z "$item" ] || echo "== lane $1 starts $item"
		unlock
		[ -n "$item" ] || break
		run_item "$item" >"$q/out.$1" 2>&1
		lock
		cat "$q/out.$1"
		unlock
	done
	rm -f "$one" "$one".*
}

{
	case "$mode" in
	--unit) echo "== unit"; run_unit ;;
	--suite) run_suite "$2" ;;
	--all)
		# LODGE_TEST_JOBS lanes (default 3: on 2 cores, one more than the cores, since
		# the suites that boot guests and daemons wait as much as they compute), each
		# taking the next suite of work_order when its last one ends. LODGE_TEST_JOBS=1:
		# one lane in the names' order, the output as it comes.
		if [ "$jobs" -le 1 ]; then
			run_item unit
			for s in "$top"/tests/*/suite.sh; do
				run_suite "$(basename "$(dirname "$s")")"
			done
		else
			work_order >"$q/queue"
			echo "== $jobs lanes (LODGE_TEST_JOBS), longest first: $(tr '\n' ' ' <"$q/queue")"
			n=1
			while [ "$n" -le "$jobs" ]; do
				lane "$n" &
				n=$((n + 1))
			done
			wait
		fi
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

#!/bin/sh
# Tests of the test machinery itself (issue 8): the unit harness (tests/unit/harness.h)
# and the runner (tests/run.sh), on a throw-away tree under $tmp with a copy of run.sh,
# fake suites and fake unit binaries built from the real harness.
#   harness_exit        a unit binary with a failing test exits non-zero (all pass: 0)
#   unit_crash          a unit binary that dies without a FAIL line is counted as failed
#   silent_suite        a suite that reports nothing is counted as failed
#   skip_lenient        a skip passes the run without LODGE_TEST_STRICT
#   skip_strict         with LODGE_TEST_STRICT=1 an unlisted skip fails the run, named
#   skip_allowed        ... and a skip on tests/skip-allow.txt does not
#   allow_list_entries  every entry of the real tests/skip-allow.txt has a reason
#   case_times          a suite's wall and CPU time, its slowest cases, LODGE_TEST_TIMES
#   lanes               --all runs suites side by side in LODGE_TEST_JOBS lanes, the longest
#                       first by tests/suite-times.txt, each suite's output whole; =1: in line
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pass() { echo "PASS: runner.$1"; }
fail() { echo "FAIL: runner.$1: $2"; }

# The real allow-list: "NAME reason...", a reason on every entry.
bad=$(sed 's/#.*//' "$top/tests/skip-allow.txt" | awk 'NF == 1 { print $1 }')
if [ -z "$bad" ]; then
	pass allow_list_entries
else
	fail allow_list_entries "entries without a reason in tests/skip-allow.txt: $bad"
fi

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "SKIP: runner.harness: no C compiler ($cc; scripts/install-deps.sh installs build-essential)"
	exit 0
fi

# unit NAME BODY: builds $tmp/t/build/unit/test_NAME with a test table whose one test
# runs BODY (C statements ending in a return).
unit() {
	mkdir -p "$tmp/t/build/unit"
	cat >"$tmp/$1.c" <<EOF
#include <stdlib.h>
#include "harness.h"
static int t_ok(void) { return 0; }
static int t_body(void) { $2 }
static const struct unit_test tests[] = { {"ok", t_ok}, {"body", t_body} };
UNIT_MAIN("$1", tests)
EOF
	"$cc" -I"$top/tests/unit" -o "$tmp/t/build/unit/test_$1" "$tmp/$1.c" 2>"$tmp/cc.err" ||
		fail "$1" "cannot build: $(head -c 200 "$tmp/cc.err")"
}

unit passing 'return 0;'
"$tmp/t/build/unit/test_passing" >/dev/null
ok=$?
unit failing 'CHECK(1 + 1 == 3); return 0;'
"$tmp/t/build/unit/test_failing" >"$tmp/failing.out"
st=$?
if [ "$ok" -eq 0 ] && [ "$st" -ne 0 ] && grep -q '^FAIL: failing.body: ' "$tmp/failing.out"; then
	pass harness_exit
else
	fail harness_exit "exit $ok with all passing (want 0), $st with a failure (want non-zero)"
fi

# The fake tree: a copy of run.sh and suites of our own.
mkdir -p "$tmp/t/tests/quiet" "$tmp/t/tests/tools"
cp "$top/tests/run.sh" "$tmp/t/tests/run.sh"
rm -f "$tmp/t/build/unit/test_failing"

# runner ARGS...: runs the copy; output in $tmp/run.out, status in $st
runner() {
	sh "$tmp/t/tests/run.sh" "$@" >"$tmp/run.out" 2>&1
	st=$?
}

unit crash 'abort();'
runner --unit build
if [ "$st" -ne 0 ] && grep -q '^FAIL: test_crash: exited with status' "$tmp/run.out" &&
	grep -q '^3 passed, 1 failed' "$tmp/run.out"; then
	pass unit_crash
else
	fail unit_crash "status $st; $(tail -n 1 "$tmp/run.out")"
fi
rm -f "$tmp/t/build/unit/test_crash"

echo 'echo "nothing to see"' >"$tmp/t/tests/quiet/suite.sh"
runner --suite quiet build
if [ "$st" -ne 0 ] && grep -q '^FAIL: suite quiet: reported no test' "$tmp/run.out"; then
	pass silent_suite
else
	fail silent_suite "status $st; $(tail -n 1 "$tmp/run.out")"
fi
rm -rf "$tmp/t/tests/quiet"

cat >"$tmp/t/tests/tools/suite.sh" <<'EOF'
echo "PASS: tools.present"
echo "SKIP: tools.frob: frobnicate not installed"
EOF
LODGE_TEST_STRICT= runner --all build
if [ "$st" -eq 0 ] && grep -q '^3 passed, 0 failed, 1 skipped' "$tmp/run.out" &&
	grep -q '^note: .*tools.frob' "$tmp/run.out"; then
	pass skip_lenient
else
	fail skip_lenient "status $st; $(tail -n 1 "$tmp/run.out")"
fi

LODGE_TEST_STRICT=1 runner --all build
if [ "$st" -ne 0 ] && grep -q '^FAIL: strict.tools.frob: skipped (frobnicate not installed)' "$tmp/run.out" &&
	grep -q '^3 passed, 1 failed, 1 skipped' "$tmp/run.out"; then
	pass skip_strict
else
	fail skip_strict "status $st; $(tail -n 1 "$tmp/run.out")"
fi

printf '# comment\ntools.other\tanother reason\ntools.frob\tfrob needs hardware we do not have # why\n' \
	>"$tmp/t/tests/skip-allow.txt"
LODGE_TEST_STRICT=1 runner --all build
if [ "$st" -eq 0 ] && grep -q '^3 passed, 0 failed, 1 skipped' "$tmp/run.out"; then
	pass skip_allowed
else
	fail skip_allowed "status $st; $(tail -n 1 "$tmp/run.out")"
fi

# case_times: each suite's last line has its wall and CPU seconds (its loop takes about
# 2 s of CPU: a CPU figure of 0 fails), a "== slowest:" line
# the cases by the time since the result before them; LODGE_TEST_TIMES=FILE gets them all.
mkdir -p "$tmp/t/tests/slow"
cat >"$tmp/t/tests/slow/suite.sh" <<'EOF'
echo "PASS: slow.quick"
i=0
while [ $i -lt 1500000 ]; do i=$((i + 1)); done
sleep 3
echo "FAIL: slow.late: on purpose"
EOF
LODGE_TEST_TIMES=$tmp/times runner --suite slow build
late=$(awk '$2 == "slow.late" { print $1 }' "$tmp/times" 2>/dev/null)
if grep -q '^== slowest: slow.late [0-9.]* s, slow.quick [0-9.]* s$' "$tmp/run.out" &&
	grep -q '^== suite slow: [0-9]* s, CPU [1-9][0-9]* s$' "$tmp/run.out" &&
	[ "$(wc -l <"$tmp/times")" -eq 2 ] && awk -v t="${late:-0}" 'BEGIN { exit !(t >= 2) }'; then
	pass case_times
else
	fail case_times "$(grep '^== ' "$tmp/run.out" | tr '\n' ' '); times: $(tr '\n' ' ' <"$tmp/times")"
fi

# lanes: three suites, each of which passes only when all three have started (it waits
# up to 60 s for the others' marks): in 3 lanes they run side by side, start in the
# order of the recorded times (lc, lb listed; unit tests and la not, so before them),
# and each suite's lines stay together between its "== suite" lines.
# LODGE_TEST_JOBS=1 runs them (not waiting) in the names' order.
rm -rf "$tmp/t/tests/slow" "$tmp/t/tests/tools"
mkdir -p "$tmp/marks"
for s in la lb lc; do
	mkdir -p "$tmp/t/tests/$s"
	cat >"$tmp/t/tests/$s/suite.sh" <<EOF
echo "PASS: $s.one"
touch "$tmp/marks/$s"
i=0
while [ "\${LANES_WAIT:-1}" = 1 ] && [ \$(ls "$tmp/marks" | wc -l) -lt 3 ] && [ \$i -lt 600 ]; do
	sleep 0.1
	i=\$((i + 1))
done
if [ "\${LANES_WAIT:-1}" = 0 ] || [ \$(ls "$tmp/marks" | wc -l) -ge 3 ]; then
	echo "PASS: $s.together"
else
	echo "FAIL: $s.together: the other suites did not start beside it"
fi
EOF
done
printf '# seconds suite\n9 lc # the longest\n5 lb\n' >"$tmp/t/tests/suite-times.txt"
LODGE_TEST_JOBS=3 runner --all build
# whole: no line of another suite between a suite's "== suite X" and "== suite X: ..."
whole=$(awk '/^== suite [^:]*$/ { in_ = $3; next } /^== suite [^ ]*: / { in_ = ""; next }
	in_ != "" && /^(PASS|FAIL): / && index($2, in_ ".") != 1 { print "mixed: " $0 }' "$tmp/run.out")
if [ "$st" -eq 0 ] && grep -q '^8 passed, 0 failed, 0 skipped' "$tmp/run.out" && [ -z "$whole" ] &&
	grep -q '^== 3 lanes (LODGE_TEST_JOBS), longest first: unit la lc lb $' "$tmp/run.out"; then
	pass lanes
else
	fail lanes "status $st, $whole; $(grep '^== [0-9]* lanes' "$tmp/run.out"); $(grep '^FAIL' "$tmp/run.out" | head -n 1); $(tail -n 1 "$tmp/run.out")"
fi
LANES_WAIT=0 LODGE_TEST_JOBS=1 runner --all build
order=$(sed -n 's/^== suite \([^:]*\)$/\1/p' "$tmp/run.out" | tr '\n' ' ')
if [ "$st" -eq 0 ] && [ "$order" = "la lb lc " ] && ! grep -q '^== [0-9]* lanes' "$tmp/run.out"; then
	pass lanes_one
else
	fail lanes_one "status $st, suites in the order: $order (want la lb lc)"
fi
exit 0

#!/bin/sh
# WebAssembly spec suites, run with $LODGE_BUILD/wasm-spec/spec_runner, which reads the
# .wast scripts itself (Lodge's own text front end: text, binary and quoted modules; no
# converter), twice per file: interpreted only (-n) and with the JIT tier forced (-j: every
# function translated at its first call or loop). One line per .wast file and mode: PASS
# when every command passed, FAIL with counts otherwise. WASM_SPEC_VERBOSE=1 prints each
# failing command under its FAIL line.
#
#   suite.sh      the 2.0 suite, ../shared/wasm-testsuite: lines "wasm-spec.NAME" and
#                 "wasm-spec-jit.NAME", known differences in known-differences.txt
#   suite.sh 3    the 3.0 suite, ../shared/wasm-testsuite-3 (tests/wasm3-spec/suite.sh):
#                 lines "wasm3-spec.NAME" and "wasm3-spec-jit.NAME", known differences in
#                 known-differences-3.txt. wasm3-files.txt says which files need which
#                 3.0 proposals; a file runs strictly when all of them are in IMPLEMENTED
#                 below (proposals/threads/ files, all needing threads, as
#                 "wasm3-spec.threads.NAME"). The rest run once, interpreted, for
#                 "info:" lines: per proposal, how many of its files pass already. Those
#                 are no results (WASM3_SPEC_INFO=0 leaves them out). Lodge's own
#                 .wast tests of 3.0 features (tests/wasm-spec/wasm3/, for proposals
#                 whose suite files also need unimplemented ones, and relaxed SIMD's
#                 exact choices where the suite accepts several) run strictly too, as
#                 "wasm3-spec.lodge.NAME".
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${LODGE_BUILD:-$top/build/release}
runner=$build/wasm-spec/spec_runner
here=$top/tests/wasm-spec

# The 3.0 proposals the engine implements completely (decoder, validator, interpreter,
# and the JIT or an exact per-function fallback to the interpreter).
IMPLEMENTED="tail-call extended-const multi-memory memory64 memory64-tables module-definition relaxed-simd threads function-references exceptions gc script3 messages3"

if [ "${1:-}" = 3 ]; then
	suite=$top/../shared/wasm-testsuite-3
	known=$here/known-differences-3.txt
	prefix=wasm3-spec
else
	suite=$top/../shared/wasm-testsuite
	known=$here/known-differences.txt
	prefix=wasm-spec
fi
if [ ! -d "$suite" ]; then
	echo "SKIP: $prefix: $suite is missing"
	exit 0
fi
if [ ! -x "$runner" ]; then
	echo "FAIL: $prefix: $runner not built (run make unit or make spec)"
	exit 0
fi
verbose=
[ "${WASM_SPEC_VERBOSE:-0}" = 1 ] && verbose=-v

# proposals NAME.wast: the 3.0 proposals the file needs, one per line (none: 2.0 only)
proposals() {
	awk -v f="$1" '$1 == f { n = split($2, p, ","); for (i = 1; i <= n; i++) print p[i] }' \
		"$here/wasm3-files.txt"
}

# strict NAME.wast: whether every proposal the file needs is implemented
strict() {
	for p in $(proposals "$1"); do
		case " $IMPLEMENTED " in
		*" $p "*) ;;
		*) return 1 ;;
		esac
	done
	return 0
}

run_file() { # FILE [NAME]: both modes, one result line each
	name=${2:-$(basename "$1" .wast)}
	for mode in n j; do
		test=$prefix.$name
		[ $mode = j ] && test=$prefix-jit.$name
		out=$(timeout 300 "$runner" $verbose -$mode -k "$known" "$1" 2>&1)
		rc=$?
		result=$(printf '%s\n' "$out" | sed -n 's/^RESULT [^ ]* //p')
		if [ $rc -eq 0 ] && [ -n "$result" ]; then
			echo "PASS: $test ($result)"
		elif [ -n "$result" ]; then
			echo "FAIL: $test: $result"
			[ -n "$verbose" ] && printf '%s\n' "$out" | grep -v '^RESULT'
		else
			echo "FAIL: $test: runner exited with status $rc"
			printf '%s\n' "$out" | tail -5
		fi
	done
}

if [ "${1:-}" != 3 ]; then
	for w in "$suite"/*.wast; do
		run_file "$w"
	done
	exit 0
fi

echo "$prefix: proposals run strictly: ${IMPLEMENTED:-none} (and every file of 2.0 features)"
info=$(mktemp)
trap 'rm -f "$info"' EXIT
for w in "$suite"/*.wast; do
	f=$(basename "$w")
	if strict "$f"; then
		run_file "$w"
	else
		echo "$f $(proposals "$f" | tr '\n' ',')" >>"$info"
	fi
done
# Lodge's own tests of implemented proposals whose suite files need more (wasm3/)
for w in "$here"/wasm3/*.wast; do
	run_file "$w" "lodge.$(basename "$w" .wast)"
done
# the threads proposal's own files (proposals/threads/), "wasm3-spec.threads.NAME", with
# their own known differences (their names are the core suite's). They were written in
# WebAssembly 1.0's text format, whose "(data 0 offset ...)" and "(elem 0 offset ...)"
# (a bare memory or table index 0) 2.0 and 3.0 write without the index: it is dropped
# in a copy (lines unchanged), the rest runs as it stands.
known3=$known
known=$here/known-differences-threads.txt
tdir=$(mktemp -d)
trap 'rm -f "$info"; rm -rf "$tdir"' EXIT
for w in "$suite"/proposals/threads/*.wast; do
	[ -f "$w" ] || continue
	case " $IMPLEMENTED " in
	*" threads "*)
		t=$tdir/$(basename "$w")
		sed -e 's/(data 0 (/(data (/' -e 's/(elem 0 (/(elem (/' "$w" >"$t"
		run_file "$t" "threads.$(basename "$w" .wast)"
		;;
	*) echo "threads/$(basename "$w") threads," >>"$info" ;;
	esac
done
known=$known3
[ "${WASM3_SPEC_INFO:-1}" = 0 ] && exit 0
# informational: files of proposals not implemented yet, interpreted only
while read -r f props; do
	w=$suite/$f
	[ "${f#threads/}" != "$f" ] && w=$suite/proposals/$f
	ok=0
	timeout 60 "$runner" -n -k "$known" "$w" >/dev/null 2>&1 && ok=1
	echo "$props $ok"
done <"$info" | awk '{
	n = split($1, p, ",")
	for (i = 1; i <= n; i++) if (p[i] != "") { tot[p[i]]++; pass[p[i]] += $2 }
} END {
	for (k in tot) printf "info: %s: not yet run strictly: %s: %d of %d files pass (interpreted)\n", \
		"'"$prefix"'", k, pass[k], tot[k]
}' | sort

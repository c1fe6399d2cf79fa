#!/bin/sh
# WebAssembly 2.0 spec suite: runs every .wast of ../shared/wasm-testsuite with
# $LODGE_BUILD/wasm-spec/spec_runner, which reads the scripts itself (Lodge's own text
# front end: text, binary and quoted modules; no converter), twice: interpreted only (-n,
# lines "wasm-spec.NAME") and with the JIT tier forced (-j: every function translated at
# its first call or loop, lines "wasm-spec-jit.NAME"). One line per .wast file and mode:
# PASS when every command passed, FAIL with counts otherwise. WASM_SPEC_VERBOSE=1 prints
# each failing command under its FAIL line.
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${LODGE_BUILD:-$top/build/release}
suite=$top/../shared/wasm-testsuite
runner=$build/wasm-spec/spec_runner
known=$top/tests/wasm-spec/known-differences.txt

if [ ! -d "$suite" ]; then
	echo "SKIP: wasm-spec: $suite is missing"
	exit 0
fi
if [ ! -x "$runner" ]; then
	echo "FAIL: wasm-spec: $runner not built (run make unit or make spec)"
	exit 0
fi
verbose=
[ "${WASM_SPEC_VERBOSE:-0}" = 1 ] && verbose=-v
for w in "$suite"/*.wast; do
	name=$(basename "$w" .wast)
	for mode in n j; do
		test=wasm-spec.$name
		[ $mode = j ] && test=wasm-spec-jit.$name
		out=$(timeout 300 "$runner" $verbose -$mode -k "$known" "$w" 2>&1)
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
done

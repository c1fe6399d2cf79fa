#!/bin/sh
# WebAssembly 2.0 spec suite: converts each .wast of ../shared/wasm-testsuite with wast2json
# (cached in build/wasm-spec-json/, regenerated when the .wast is newer) and runs every
# command with $LODGE_BUILD/wasm-spec/spec_runner. One line per .wast file: PASS when every
# command passed, FAIL with counts otherwise, SKIP when the file cannot be converted.
# WASM_SPEC_VERBOSE=1 prints each failing command under its FAIL line.
#
# wabt 1.0.32's text parser lacks two abbreviations, so before conversion we expand them
# exactly as the text format defines them (the binary modules are unaffected):
#   table_*.wast: an omitted table index means table 0 ("table.size" -> "table.size 0");
#   if.wast: one folded if with two condition expressions is written unfolded.
# comments.wast only exercises the text lexer (it crashes wast2json) and stays skipped.
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${LODGE_BUILD:-$top/build/release}
suite=$top/../shared/wasm-testsuite
runner=$build/wasm-spec/spec_runner
cache=$top/build/wasm-spec-json
known=$top/tests/wasm-spec/known-differences.txt

if [ ! -d "$suite" ]; then
	echo "SKIP: wasm-spec: $suite is missing"
	exit 0
fi
if ! command -v wast2json >/dev/null 2>&1; then
	echo "SKIP: wasm-spec: wast2json not installed (apt-get install wabt)"
	exit 0
fi
if [ ! -x "$runner" ]; then
	echo "FAIL: wasm-spec: $runner not built (run make unit or make spec)"
	exit 0
fi
mkdir -p "$cache"
for w in "$suite"/*.wast; do
	name=$(basename "$w" .wast)
	dir=$cache/$name
	json=$dir/$name.json
	if [ -f "$dir/unconvertible" ] && [ ! "$w" -nt "$dir/unconvertible" ]; then
		:
	elif [ ! -f "$json" ] || [ "$w" -nt "$json" ]; then
		rm -rf "$dir"
		mkdir -p "$dir"
		sed -E -e 's/\((table\.(get|set|size|grow|fill))([[:space:]]*[()])/(\1 0\3/g' \
			-e 's/([[:space:]])table\.size\)/\1table.size 0)/g' \
			-e 's/\(if \(i32\.const 1\) \(i32\.eqz\) \(then\) \(else\)\)/(i32.const 1) (i32.eqz) (if (then) (else))/' \
			"$w" >"$dir/$name.wast"
		# the subshell waits for wast2json (no exec: a command follows), so its report of a
		# crash ("Aborted") goes to the log rather than to our output
		(cd "$dir" && wast2json "$name.wast" -o "$name.json"; echo $? >rc) >"$dir/convert.log" 2>&1
		if [ "$(cat "$dir/rc" 2>/dev/null)" != 0 ]; then
			rm -f "$json"
			touch "$dir/unconvertible"
		fi
	fi
	if [ ! -f "$json" ]; then
		echo "SKIP: wasm-spec.$name: wast2json (wabt) cannot convert this file"
		continue
	fi
	verbose=
	[ "${WASM_SPEC_VERBOSE:-0}" = 1 ] && verbose=-v
	out=$(timeout 300 "$runner" $verbose -k "$known" "$json" 2>&1)
	rc=$?
	result=$(printf '%s\n' "$out" | sed -n 's/^RESULT [^ ]* //p')
	if [ $rc -eq 0 ] && [ -n "$result" ]; then
		echo "PASS: wasm-spec.$name ($result)"
	elif [ -n "$result" ]; then
		echo "FAIL: wasm-spec.$name: $result"
		[ -n "$verbose" ] && printf '%s\n' "$out" | grep -v '^RESULT'
	else
		echo "FAIL: wasm-spec.$name: runner exited with status $rc"
		printf '%s\n' "$out" | tail -5
	fi
done

#!/bin/sh
# Fuzzing regressions: every input in tests/fuzz/regressions/ once made a fuzz target
# crash (the file's comment line in regressions/README says which bug). Each is replayed
#   - through `$LODGE wasm FILE`, which must end cleanly: a load or link error (125), a
#     trap (134 with lodge's own "trap:" message), or the program's exit status, never a
#     signal, a timeout or a sanitizer report;
#   - through both libFuzzer-free replay drivers (build/<mode>/fuzz/replay_wasm_*, built
#     by `make unit`), which must exit 0 without a sanitizer report.
# The seed corpora go through the replay drivers too, and the text front end's inputs
# (corpus/fuzz_wat, regressions/wat) through replay_wat. qcow2 inputs (fuzz_qcow2.c) live in
# regressions/qcow2/: each goes through `$LODGE disk info FILE` (0 or 125, never a signal
# or a sanitizer report) and, with the qcow2 seeds, through replay_qcow2. Virtio inputs
# (fuzz_virtq.c) live in regressions/virtq/ and go, with their seeds, through
# replay_virtq. WebAssembly snapshot inputs (fuzz_wsnap.c, whose checksums only the
# target makes good) live in regressions/wsnap/ and go, with the seed snapshots, through
# replay_wsnap.
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${LODGE_BUILD:-$top/build/release}
lodge=${LODGE:-$build/lodge}
here=$top/tests/fuzz
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ ! -x "$lodge" ]; then
	echo "FAIL: fuzz: $lodge not built"
	exit 0
fi

sanitizer_report() {
	grep -qE 'ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|runtime error:' "$1"
}

n=0
for f in "$here"/regressions/*.wasm; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	name=fuzz.regression.$(basename "$f" .wasm)
	timeout 60 "$lodge" wasm "$f" >/dev/null 2>"$tmp/err"
	st=$?
	if sanitizer_report "$tmp/err"; then
		echo "FAIL: $name: sanitizer report: $(grep -m1 -E 'Sanitizer|runtime error' "$tmp/err")"
	elif [ $st -eq 124 ]; then
		echo "FAIL: $name: lodge wasm timed out"
	elif [ $st -gt 128 ] && ! { [ $st -eq 134 ] && grep -q ': trap: ' "$tmp/err"; }; then
		echo "FAIL: $name: lodge wasm died with status $st: $(head -c 200 "$tmp/err")"
	else
		echo "PASS: $name (lodge wasm exit $st)"
	fi
done
[ $n -gt 0 ] || echo "SKIP: fuzz.regressions: none recorded yet"

for t in decode run; do
	r=$build/fuzz/replay_wasm_$t
	if [ ! -x "$r" ]; then
		echo "FAIL: fuzz.replay-$t: $r not built (run make unit)"
		continue
	fi
	set -- "$here"/corpus/fuzz_wasm_$t/* "$here"/regressions/*.wasm
	files=
	for f in "$@"; do
		[ -f "$f" ] && files="$files $f"
	done
	# shellcheck disable=SC2086 # file names from our own tree, no spaces
	timeout 300 "$r" $files >/dev/null 2>"$tmp/err"
	st=$?
	if sanitizer_report "$tmp/err" || [ $st -ne 0 ]; then
		echo "FAIL: fuzz.replay-$t: status $st: $(grep -m1 -E 'Sanitizer|runtime error|SUMMARY' "$tmp/err")"
	else
		echo "PASS: fuzz.replay-$t ($(echo $files | wc -w) inputs)"
	fi
done

# the text front end: its seeds and regressions (regressions/wat/, .wat or .wast text)
# through replay_wat, which reads each as a module and as a script
r=$build/fuzz/replay_wat
if [ ! -x "$r" ]; then
	echo "FAIL: fuzz.replay-wat: $r not built (run make unit)"
else
	set -- "$here"/corpus/fuzz_wat/* "$here"/regressions/wat/*
	files=
	for f in "$@"; do
		[ -f "$f" ] && [ "${f##*/}" != README ] && files="$files $f"
	done
	# shellcheck disable=SC2086 # file names from our own tree, no spaces
	timeout 300 "$r" $files >/dev/null 2>"$tmp/err"
	st=$?
	if sanitizer_report "$tmp/err" || [ $st -ne 0 ]; then
		echo "FAIL: fuzz.replay-wat: status $st: $(grep -m1 -E 'Sanitizer|runtime error|SUMMARY|fuzz_wat' "$tmp/err")"
	else
		echo "PASS: fuzz.replay-wat ($(echo $files | wc -w) inputs)"
	fi
fi

n=0
for f in "$here"/regressions/qcow2/*; do
	[ -f "$f" ] || continue
	case $f in */README) continue ;; esac
	n=$((n + 1))
	name=fuzz.regression.qcow2.$(basename "$f")
	timeout 60 "$lodge" disk info --format qcow2 "$f" >/dev/null 2>"$tmp/err"
	st=$?
	if sanitizer_report "$tmp/err"; then
		echo "FAIL: $name: sanitizer report: $(grep -m1 -E 'Sanitizer|runtime error' "$tmp/err")"
	elif [ $st -ne 0 ] && [ $st -ne 125 ]; then
		echo "FAIL: $name: lodge disk info exit $st: $(head -c 200 "$tmp/err")"
	else
		echo "PASS: $name (lodge disk info exit $st)"
	fi
done
[ $n -gt 0 ] || echo "SKIP: fuzz.regressions.qcow2: none recorded yet"

r=$build/fuzz/replay_qcow2
if [ ! -x "$r" ]; then
	echo "FAIL: fuzz.replay-qcow2: $r not built (run make unit)"
else
	set -- "$here"/corpus/fuzz_qcow2/* "$here"/regressions/qcow2/*
	files=
	for f in "$@"; do
		[ -f "$f" ] && [ "${f##*/}" != README ] && files="$files $f"
	done
	# shellcheck disable=SC2086 # file names from our own tree, no spaces
	timeout 300 "$r" $files >/dev/null 2>"$tmp/err"
	st=$?
	if sanitizer_report "$tmp/err" || [ $st -ne 0 ]; then
		echo "FAIL: fuzz.replay-qcow2: status $st: $(grep -m1 -E 'Sanitizer|runtime error|SUMMARY' "$tmp/err")"
	else
		echo "PASS: fuzz.replay-qcow2 ($(echo $files | wc -w) inputs)"
	fi
fi

# The API's request parser: its seed corpus and regressions (regressions/http-*).
r=$build/fuzz/replay_http_request
if [ ! -x "$r" ]; then
	echo "FAIL: fuzz.replay-http_request: $r not built (run make unit)"
else
	files=
	for f in "$here"/corpus/fuzz_http_request/* "$here"/regressions/http-*; do
		[ -f "$f" ] && files="$files $f"
	done
	# shellcheck disable=SC2086 # file names from our own tree, no spaces
	timeout 300 "$r" $files >/dev/null 2>"$tmp/err"
	st=$?
	if sanitizer_report "$tmp/err" || [ $st -ne 0 ]; then
		echo "FAIL: fuzz.replay-http_request: status $st: $(grep -m1 -E 'Sanitizer|runtime error|SUMMARY' "$tmp/err")"
	else
		echo "PASS: fuzz.replay-http_request ($(echo $files | wc -w) inputs)"
	fi
fi

# replay_target T PATTERN: every input in regressions/T/ one by one, then the seed corpus
# corpus/fuzz_T/ at once, through replay_T; PATTERN picks the line of its error output
# that a failure quotes.
replay_target() {
	r=$build/fuzz/replay_$1
	if [ ! -x "$r" ]; then
		echo "FAIL: fuzz.replay-$1: $r not built (run make unit)"
		return
	fi
	for f in "$here"/regressions/$1/*; do
		[ -f "$f" ] || continue
		name=fuzz.regression.$1.$(basename "$f")
		timeout 60 "$r" "$f" >/dev/null 2>"$tmp/err"
		st=$?
		if sanitizer_report "$tmp/err" || [ $st -ne 0 ]; then
			echo "FAIL: $name: status $st: $(grep -m1 -E "$2" "$tmp/err")"
		else
			echo "PASS: $name"
		fi
	done
	timeout 300 "$r" "$here"/corpus/fuzz_$1/* >/dev/null 2>"$tmp/err"
	st=$?
	if sanitizer_report "$tmp/err" || [ $st -ne 0 ]; then
		echo "FAIL: fuzz.replay-$1: status $st: $(grep -m1 -E "$2" "$tmp/err")"
	else
		echo "PASS: fuzz.replay-$1 ($(ls "$here"/corpus/fuzz_$1 | wc -l) inputs)"
	fi
}

# The virtio devices (fuzz_virtq.c): replay_virtq aborts when an invariant of the
# transport breaks.
replay_target virtq 'Sanitizer|runtime error|invariant|fuzz_virtq'
# Restoring WebAssembly snapshots (fuzz_wsnap.c): replay_wsnap repairs the inputs'
# checksums and restores them.
replay_target wsnap 'Sanitizer|runtime error|SUMMARY'

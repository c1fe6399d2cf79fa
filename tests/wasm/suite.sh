#!/bin/sh
# lodge wasm end-to-end tests: WASI output and exit status, --invoke with typed arguments,
# trap reports, limits (--fuel, --timeout, --stack, --max-memory), bad input, and the WASI
# capability model (no path escapes a --dir preopen). Test modules are .wat files here,
# assembled with wat2wasm (wabt) into $LODGE_BUILD/wasm-tests/.
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${LODGE_BUILD:-$top/build/release}
lodge=$build/lodge
here=$top/tests/wasm
out=$build/wasm-tests

if ! command -v wat2wasm >/dev/null 2>&1; then
	echo "SKIP: wasm-cli: wat2wasm not installed (apt-get install wabt)"
	exit 0
fi
if [ ! -x "$lodge" ]; then
	echo "FAIL: wasm-cli: $lodge not built"
	exit 0
fi
mkdir -p "$out"
for w in "$here"/*.wat; do
	wat2wasm "$w" -o "$out/$(basename "$w" .wat).wasm" || echo "FAIL: wasm-cli: cannot assemble $w"
done

# check NAME WANT_STATUS WANT_OUTPUT_SUBSTRING -- lodge wasm arguments...
check() {
	name=$1 want=$2 text=$3
	shift 4
	got=$(timeout 60 "$lodge" wasm "$@" 2>&1)
	st=$?
	if [ "$st" != "$want" ]; then
		echo "FAIL: wasm-cli.$name: exit status $st, want $want: $(printf '%s' "$got" | head -3)"
	elif [ -n "$text" ] && ! printf '%s' "$got" | grep -qF -- "$text"; then
		echo "FAIL: wasm-cli.$name: output lacks '$text': $(printf '%s' "$got" | head -3)"
	else
		echo "PASS: wasm-cli.$name"
	fi
}

m=$out/cli.wasm
check hello-exit-status 7 "hello, lodge" -- "$m"
check args-env 0 "VAR=x y" -- --env "VAR=x y" --invoke show "$m"
check invoke-fib 0 "6765" -- --invoke fib "$m" 20
check invoke-i64 0 "-5000000000" -- --invoke add64 "$m" -10000000000 5000000000
check invoke-float 0 "7.5" -- --invoke mulf "$m" 2.5 3
check invoke-bad-arg 2 "cannot use" -- --invoke fib "$m" xyz
check invoke-arity 2 "takes 1 arguments" -- --invoke fib "$m"
check invoke-missing 125 "no exported function" -- --invoke nope "$m"
check trap-unreachable 134 "trap: unreachable in function" -- --invoke boom "$m"
check trap-div-zero 134 "integer divide by zero" -- --invoke div "$m" 1 0
check trap-int-overflow 134 "integer overflow" -- --invoke div "$m" -2147483648 -1
check trap-oob 134 "out of bounds memory access" -- --invoke oob "$m"
check stack-exhaustion 134 "call stack exhausted" -- --invoke rec "$m"
check stack-small 134 "call stack exhausted" -- --stack 64K --invoke rec "$m"
check fuel 134 "fuel exhausted" -- --fuel 100000 --invoke spin "$m"
check fuel-enough 0 "55" -- --fuel 1000 --invoke fib "$m" 10
check timeout 124 "timed out" -- --timeout 0.2 --invoke spin "$m"
check max-memory-grow 0 "-1" -- --max-memory 128K --invoke grow "$m" 2
check max-memory-ok 0 "1" -- --max-memory 128K --invoke grow "$m" 1
check max-memory-initial 125 "above the memory limit" -- --max-memory 32K "$m"
check unknown-import 125 "unknown import" -- "$out/bad_import.wasm"
check no-file 125 "cannot open" -- "$out/does-not-exist.wasm"
check bad-option 2 "unknown option" -- --frobnicate "$m"
check help 0 "--max-memory SIZE" -- --help

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
head -c 200 /dev/urandom >"$tmp/garbage.wasm"
printf '\0asm\1\0\0\0\1\5\1\140' >"$tmp/truncated.wasm"
printf '\0asm\1\0\0\0\12\4\1\2\0\13' >"$tmp/invalid.wasm"
check garbage 125 "magic header not detected" -- "$tmp/garbage.wasm"
check truncated 125 "malformed module" -- "$tmp/truncated.wasm"
check function-without-code 125 "malformed module" -- "$tmp/invalid.wasm"

mkdir -p "$tmp/box" "$tmp/outside"
echo secret >"$tmp/outside/secret"
ln -s .. "$tmp/box/uplink"
ln -s /etc "$tmp/box/link"
check wasi-files 0 "" -- --dir "$tmp/box::/sandbox" "$out/files.wasm"
if [ -e "$tmp/escape.txt" ] || [ -e "$tmp/box/out.txt" ]; then
	echo "FAIL: wasm-cli.wasi-no-escape: a file appeared outside the sandbox or was not removed"
else
	echo "PASS: wasm-cli.wasi-no-escape"
fi
check bad-dir 125 "No such file" -- --dir "$tmp/nope" "$m"

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

f=$out/fusion.wasm
check fused-wrap-load 0 "42" -- --invoke wrap_load "$f" -8
check fused-wrap-load-oob 134 "out of bounds memory access" -- --invoke wrap_load "$f" 65520
check fused-wrap-offset-oob 134 "out of bounds memory access" -- --invoke wrap_off "$f" -8
check fused-wrap-offset 0 "134678021" -- --invoke wrap_off "$f" -4
check fused-load-operand 0 "3.5" -- --invoke wrap_fused "$f" -8 2
check fused-load-operand-oob 134 "out of bounds memory access" -- --invoke wrap_fused "$f" 65500 2
check fused-indexed 0 "42" -- --invoke idx_load "$f" 4 1
check fused-indexed-wrap 0 "42" -- --invoke idx_load "$f" 4 1073741825
check fused-indexed-oob 134 "out of bounds memory access" -- --invoke idx_load "$f" 65534 0
check fused-indexed-byte 0 "42" -- --invoke idx_byte "$f" 3 4
check fused-sub-load 0 "-40" -- --invoke sub_load "$f" 2 8
check fused-mul-load 0 "1735313087256921603" -- --invoke mul_load "$f" 0 3
check fused-rotate-xor 0 "-402856210" -- --invoke sigma0 "$f" 305419896
check fused-xorshift64 0 "-6441007381159778052" -- --invoke xorshift "$f" 81985529216486895
check fused-and-not 0 "15728880" -- --invoke andn "$f" 16711935 252645135
check fused-mac 0 "68" -- --invoke mac "$f" 5 7 9
check fused-mac64 0 "16000000000000" -- --invoke mac64 "$f" 1000000000000 3000000000000 5
check fused-majority 0 "14" -- --invoke maj "$f" 12 10 6
check fused-store-indexed 0 "1234" -- --invoke store_idx "$f" 5 1234
check fused-moves 0 "132" -- --invoke rot3 "$f" 1 2 3
check fused-increments 0 "60" -- --invoke steps "$f" 5
check known-zero-locals 0 "6" -- --invoke zeros "$f" 3
check fused-copy-indexed 0 "43" -- --invoke copy_idx "$f" 4 1
check fused-copy-indexed-oob 134 "out of bounds memory access" -- --invoke copy_idx "$f" 65532 1
check fused-count 0 "8" -- --invoke count_ge "$f" -1 5 7

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

#!/bin/sh
# lodge wasm end-to-end tests: WASI output and exit status, --invoke with typed arguments,
# trap reports (with hostile function names), limits (--fuel, --timeout also while a WASI
# call blocks, --stack, --max-memory over memories and tables), bad input, and the WASI
# capability model (no path escapes a --dir preopen), text modules run directly (.wat:
# errors at line and column), WebAssembly 3.0 features (wasm3/*.wat, run as text). Checks of results, traps and limits
# run twice (check2): interpreted (--no-jit) and with the JIT tier forced (--jit-hot 1,
# test names "wasm-cli.jit.NAME"), and must give the same output; jit.wat adds cases
# aimed at the JIT (exact fuel, depth limits, deep recursion, OSR, NaN payloads), jit_simd.wat
# v128 ops it runs as SSE instructions (NaN payloads, operand order), jit_float.wat floats
# kept in xmm registers (payloads across calls and C helpers, -0.0, min/max, traps), jit_rot.wat
# rotates by constants (rorx), jit_addr.wat and jit_addr2.wat addresses in registers with
# their upper half set. Test modules are .wat files here,
# assembled with wat2wasm (wabt) into $LODGE_BUILD/wasm-tests/; lodge runs in that
# directory so that messages name the modules as "cli.wasm". Outputs are compared whole.
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
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() {
	(cd "$dir" && timeout 60 "$lodge" wasm "$@" 2>&1)
}

# check NAME WANT_STATUS WANT_OUTPUT -- lodge wasm arguments...
#   the whole output (stdout and stderr) must be WANT_OUTPUT, line for line
check() {
	name=$1 want=$2 text=$3
	shift 4
	got=$(run "$@")
	st=$?
	if [ "$st" != "$want" ]; then
		echo "FAIL: wasm-cli.$name: exit status $st, want $want: $(printf '%s' "$got" | head -3)"
	elif [ "$got" != "$text" ]; then
		echo "FAIL: wasm-cli.$name: output '$(printf '%s' "$got" | head -5)', want '$text'"
	else
		echo "PASS: wasm-cli.$name"
	fi
}

# check2 NAME WANT_STATUS WANT_OUTPUT -- lodge wasm arguments...
#   check, once interpreted only and once with every function translated
check2() {
	c2_name=$1 c2_want=$2 c2_text=$3
	shift 4
	check "$c2_name" "$c2_want" "$c2_text" -- --no-jit "$@"
	check "jit.$c2_name" "$c2_want" "$c2_text" -- --jit-hot 1 "$@"
}

# check_line NAME WANT_STATUS LINE -- lodge wasm arguments...
#   LINE must be one whole line of the output (for long outputs such as --help)
check_line() {
	name=$1 want=$2 text=$3
	shift 4
	got=$(run "$@")
	st=$?
	if [ "$st" != "$want" ]; then
		echo "FAIL: wasm-cli.$name: exit status $st, want $want: $(printf '%s' "$got" | head -3)"
	elif ! printf '%s\n' "$got" | grep -qxF -- "$text"; then
		echo "FAIL: wasm-cli.$name: no line '$text' in: $(printf '%s' "$got" | head -3)"
	else
		echo "PASS: wasm-cli.$name"
	fi
}

dir=$out
m=cli.wasm
check2 hello-exit-status 7 "hello, lodge" -- $m
check2 args-env 0 "VAR=x y" -- --env "VAR=x y" --invoke show $m
check2 invoke-fib 0 "6765" -- --invoke fib $m 20
check2 invoke-i64 0 "-5000000000" -- --invoke add64 $m -10000000000 5000000000
check2 invoke-float 0 "7.5" -- --invoke mulf $m 2.5 3
# NaN results show their sign and payload (nan:0xPAYLOAD; the canonical NaN is "nan"),
# and --invoke reads that notation back
check2 invoke-nan32-payload 0 "nan:0x200000" -- --invoke f32_bits nan.wasm 0x7fa00000
check2 invoke-nan32-canonical 0 "nan" -- --invoke f32_bits nan.wasm 0x7fc00000
check2 invoke-nan32-negative 0 "-nan:0x1" -- --invoke f32_bits nan.wasm 0xff800001
check2 invoke-nan64-payload 0 "-nan:0x8000000000001" -- --invoke f64_bits nan.wasm 0xfff8000000000001
check2 invoke-nan64-canonical 0 "-nan" -- --invoke f64_bits nan.wasm 0xfff8000000000000
check2 invoke-nan64-quiet-payload 0 "nan:0xc000000000000" -- --invoke f64_bits nan.wasm 0x7ffc000000000000
check2 invoke-nan-pair 0 "nan:0x4
-inf" -- --invoke f64_pair nan.wasm nan:0x4 -inf
check2 invoke-nan32-arg 0 "-8388607" -- --invoke f32_of nan.wasm -nan:0x1
check2 invoke-nan64-arg 0 "9221120237041090560" -- --invoke f64_of nan.wasm +nan:0x8000000000000
check2 invoke-nan-plain-arg 0 "nan" -- --invoke f32_id nan.wasm nan
check2 invoke-inf 0 "-inf" -- --invoke f32_id nan.wasm -inf
check invoke-nan-zero-payload 2 "lodge wasm: argument 1: cannot use 'nan:0x0' as a f32" \
	-- --invoke f32_id nan.wasm nan:0x0
check invoke-nan-wide-payload 2 "lodge wasm: argument 1: cannot use 'nan:0x800000' as a f32" \
	-- --invoke f32_id nan.wasm nan:0x800000
check invoke-arity 2 "lodge wasm: cli.wasm: 'fib' takes 1 arguments, 0 given" -- --invoke fib $m
check invoke-missing 125 "lodge wasm: cli.wasm: no exported function 'nope'" -- --invoke nope $m
check2 trap-unreachable 134 \
	"lodge wasm: cli.wasm: trap: unreachable in function 16 (boom) at offset 0x2e1" \
	-- --invoke boom $m
check2 trap-div-zero 134 \
	"lodge wasm: cli.wasm: trap: integer divide by zero in function 14 (div) at offset 0x2d3" \
	-- --invoke div $m 1 0
check2 trap-int-overflow 134 \
	"lodge wasm: cli.wasm: trap: integer overflow in function 14 (div) at offset 0x2d3" \
	-- --invoke div $m -2147483648 -1
check2 trap-oob 134 \
	"lodge wasm: cli.wasm: trap: out of bounds memory access in function 15 (oob) at offset 0x2db" \
	-- --invoke oob $m
check2 stack-exhaustion 134 \
	"lodge wasm: cli.wasm: trap: call stack exhausted in function 13 (rec) at offset 0x2c7" \
	-- --invoke rec $m
check2 stack-small 134 \
	"lodge wasm: cli.wasm: trap: call stack exhausted in function 13 (rec) at offset 0x2c7" \
	-- --stack 64K --invoke rec $m
check2 fuel 134 "lodge wasm: cli.wasm: trap: fuel exhausted in function 12 (spin) at offset 0x2c1" \
	-- --fuel 100000 --invoke spin $m
check2 fuel-enough 0 "55" -- --fuel 1000 --invoke fib $m 10
check2 timeout 124 "lodge wasm: cli.wasm: timed out after 0.2 seconds" -- --timeout 0.2 --invoke spin $m
check unknown-import 125 \
	'lodge wasm: bad_import.wasm: link error: section import, unknown import: "env"."missing"' \
	-- bad_import.wasm
check no-file 125 "lodge wasm: does-not-exist.wasm: cannot open: No such file or directory" \
	-- does-not-exist.wasm
check bad-option 2 "lodge wasm: unknown option '--frobnicate' (try 'lodge wasm --help')" \
	-- --frobnicate $m
check_line help 0 "  --max-memory SIZE    memory budget for all the module makes lodge allocate:" \
	-- --help
check_line help-exit-codes 0 "exit status: the program's proc_exit code when it is 0..255, 255 for any" \
	-- --help

# --max-memory is one budget for everything the module makes lodge allocate. cli.wasm
# under 192K: a 12K value stack (charged twice), a few K of bookkeeping, one 64K page.
check2 max-memory-grow 0 "-1" -- --max-memory 192K --invoke grow $m 2
check2 max-memory-ok 0 "1" -- --max-memory 192K --invoke grow $m 1
check max-memory-initial 125 "lodge wasm: cli.wasm: implementation limit: section memory, memory 0 of 1 pages needs 65536 bytes, more than the 21380 left of the memory budget (32768 bytes) (--max-memory sets the budget)" \
	-- --max-memory 32K $m
check max-memory-table-grow 0 "-1" -- --max-memory 1M --invoke tgrow $m 1000000
check max-memory-table-ok 0 "0" -- --max-memory 1M --invoke tgrow $m 1000
check max-memory-stack 125 "lodge wasm: the value stack and its call frames (twice --stack) do not fit in --max-memory: raise --max-memory or lower --stack" \
	-- --max-memory 1M --stack 1M $m
# the default stack (no --stack given): the message does not ask to lower it
check max-memory-tiny 125 "lodge wasm: --max-memory is too small for the value stack and its call frames (8 KiB at the least): raise --max-memory" \
	-- --max-memory 4K $m
# 16 tables grown to 10M elements and filled: 1.25 GB if tables escape the budget
"$here/measure.py" "$tmp/tables.out" sh -c "cd '$out' && exec '$lodge' wasm --max-memory 1M tables.wasm" \
	>"$tmp/tables.m" </dev/null
read -r st ms kb <"$tmp/tables.m"
want="lodge wasm: tables.wasm: trap: out of bounds table access in function 1 (_start) at offset 0x77"
if [ "$st" != 134 ] || [ "$(cat "$tmp/tables.out")" != "$want" ]; then
	echo "FAIL: wasm-cli.max-memory-tables: status $st: $(head -c 300 "$tmp/tables.out")"
elif [ "$kb" -gt 200000 ] || [ "$ms" -gt 10000 ]; then
	echo "FAIL: wasm-cli.max-memory-tables: peak RSS $kb KiB, $ms ms (want < 200 MB, < 10 s)"
else
	echo "PASS: wasm-cli.max-memory-tables ($kb KiB, $ms ms)"
fi
# a 6 KB module declaring 1000 tables of 10M elements (80 GB) is refused before any is made
{
	echo "(module"
	i=0
	while [ $i -lt 1000 ]; do
		echo "(table 10000000 funcref)"
		i=$((i + 1))
	done
	echo '(func (export "_start")))'
} >"$tmp/huge.wat"
wat2wasm "$tmp/huge.wat" -o "$out/huge_tables.wasm"
"$here/measure.py" "$tmp/huge.out" sh -c "cd '$out' && exec '$lodge' wasm huge_tables.wasm" \
	>"$tmp/huge.m" </dev/null
read -r st ms kb <"$tmp/huge.m"
want="lodge wasm: huge_tables.wasm: implementation limit: section table, table 53 of 10000000 elements needs 80000000 bytes, more than the 46566824 left of the memory budget (4294967296 bytes) (--max-memory sets the budget)"
if [ "$st" != 125 ] || [ "$(cat "$tmp/huge.out")" != "$want" ]; then
	echo "FAIL: wasm-cli.huge-tables-refused: status $st: $(head -c 300 "$tmp/huge.out")"
elif [ "$kb" -gt 200000 ]; then
	echo "FAIL: wasm-cli.huge-tables-refused: peak RSS $kb KiB (want < 200 MB)"
else
	echo "PASS: wasm-cli.huge-tables-refused"
fi

# proc_exit: 0..255 pass through, larger codes give 255 (never 0), also from a start function
x=exit.wasm
check exit-0 0 "" -- --invoke exit $x 0
check exit-7 7 "" -- --invoke exit $x 7
check exit-255 255 "" -- --invoke exit $x 255
check exit-256 255 "" -- --invoke exit $x 256
check exit-65536 255 "" -- --invoke exit $x 65536
check exit-max 255 "" -- --invoke exit $x 4294967295
for code in 0 3 256; do
	sed -e 's/(func (export "_start"))/(func $s (call $exit (i32.const '$code'))) (start $s)/' \
		"$here/exit.wat" >"$tmp/start_exit.wat"
	wat2wasm "$tmp/start_exit.wat" -o "$out/start_exit_$code.wasm"
done
check start-exit-0 0 "" -- start_exit_0.wasm
check start-exit-3 3 "" -- start_exit_3.wasm
check start-exit-256 255 "" -- start_exit_256.wasm
check start-exit-invoke 3 "" -- --invoke exit start_exit_3.wasm 9

# module-provided names reach the terminal escaped: one line, no control bytes
check name-newline 134 'lodge wasm: names.wasm: trap: unreachable in function 0 (x\x0alodge wasm: names.wasm: exited normally) at offset 0x8e' \
	-- --invoke nl names.wasm
check name-escapes 134 'lodge wasm: names.wasm: trap: unreachable in function 1 (\x1b]0;owned\x07\x1b[2J\x1b[31mred\u{9b}31m\u{202e}evil) at offset 0x92' \
	-- --invoke esc names.wasm
check name-controls 134 'lodge wasm: names.wasm: trap: unreachable in function 2 (tab\x09nul\x00bs\\q\") at offset 0x96' \
	-- --invoke bad names.wasm
# a 1 MB function name is cut to 255 bytes with "..."
big=$(head -c 1000000 /dev/zero | tr '\0' A)
printf '(module (func $f unreachable) (export "%s" (func $f)) (export "_start" (func $f)))\n' \
	"$big" >"$tmp/bigname.wat"
wat2wasm "$tmp/bigname.wat" -o "$out/bigname.wasm"
check name-huge 134 "lodge wasm: bigname.wasm: trap: unreachable in function 0 ($(printf '%s' "$big" | head -c 252)...) at offset 0xf426a" \
	-- bigname.wasm

# --timeout ends the program within ~0.1 s of the deadline, even while a WASI call blocks.
# The bound is 1 s + 600 ms + what starting and ending lodge costs right now (a run of the
# same module that returns at once, measured first): a loaded host, or ASan, makes the
# start slow, not the watchdog.
# timed NAME MODULE -- command...
timed() {
	name=$1
	want="lodge wasm: $2: timed out after 1 seconds"
	shift 3
	"$here/measure.py" "$tmp/$name.out" "$@" >"$tmp/$name.m"
	read -r st ms kb <"$tmp/$name.m"
	if [ "$st" != 124 ] || [ "$(cat "$tmp/$name.out")" != "$want" ]; then
		echo "FAIL: wasm-cli.$name: status $st: $(head -c 300 "$tmp/$name.out")"
	elif [ "$ms" -ge $((3000 + base_ms)) ]; then
		echo "FAIL: wasm-cli.$name: took $ms ms with --timeout 1 (want < $((3000 + base_ms)): 3000 + $base_ms for a run that returns at once; a loaded host delays the exit)"
	else
		echo "PASS: wasm-cli.$name ($ms ms)"
	fi
}
cd "$out" || exit 0
"$here/measure.py" "$tmp/base.out" "$lodge" wasm --timeout 1 --invoke add64 cli.wasm 1 2 >"$tmp/base.m"
read -r st base_ms kb <"$tmp/base.m"
[ "$st" = 0 ] || base_ms=0
timed timeout-sleep block.wasm -- timeout 20 "$lodge" wasm --timeout 1 --invoke sleep block.wasm </dev/null
mkfifo "$tmp/pipe"
# the FIFO open for reading and writing: a pipe with a writer that never writes
timed timeout-read-pipe block.wasm -- timeout 20 "$lodge" wasm --timeout 1 --invoke read_stdin block.wasm \
	<>"$tmp/pipe"
mkdir "$tmp/fifobox"
mkfifo "$tmp/fifobox/fifo"
timed timeout-open-fifo block.wasm -- timeout 20 "$lodge" wasm --timeout 1 --dir "$tmp/fifobox" \
	--invoke open_fifo block.wasm </dev/null
timed timeout-spin cli.wasm -- timeout 20 "$lodge" wasm --timeout 1 --invoke spin cli.wasm </dev/null
# a thread blocked in memory.atomic.wait with no timeout (threads proposal)
cp "$here/wasm3/atomics.wat" "$out/"
timed timeout-atomic-wait atomics.wat -- timeout 20 "$lodge" wasm --timeout 1 --invoke wait_forever \
	atomics.wat </dev/null

# a watchdog that cannot be started is an error, not a run without --timeout: under a 1 TB
# stack limit glibc cannot map a thread's stack (unless the kernel overcommits everything)
if [ "$(cat /proc/sys/vm/overcommit_memory 2>/dev/null)" = 1 ]; then
	echo "SKIP: wasm-cli.timeout-no-watchdog: vm.overcommit_memory=1 maps any thread stack"
else
	got=$(cd "$out" && ulimit -s 1000000000 && "$lodge" wasm --timeout 5 --invoke fib cli.wasm 5 2>&1)
	st=$?
	want="lodge wasm: cannot start the --timeout watchdog thread: Resource temporarily unavailable"
	if [ "$st" = 125 ] && [ "$got" = "$want" ]; then
		echo "PASS: wasm-cli.timeout-no-watchdog"
	else
		echo "FAIL: wasm-cli.timeout-no-watchdog: status $st: $got"
	fi
fi

# ----- the JIT tier gives the interpreter's answers (jit.wat) -----
j=jit.wasm
check2 jit-count 0 "1000" -- --invoke count $j 1000
# count(1000) takes 2001 units of fuel: the entry, 1000 calls, 1000 loop back-edges
check2 jit-fuel-exact 0 "1000" -- --fuel 2001 --invoke count $j 1000
check2 jit-fuel-short 134 "lodge wasm: jit.wasm: trap: fuel exhausted in function 3 (count) at offset 0x11e" \
	-- --fuel 2000 --invoke count $j 1000
# --stack 64K: 2048 call frames; 8192 value slots, 17 per level of big()
check2 jit-depth-frames 0 "2048" -- --stack 64K --invoke small $j 2048
check2 jit-depth-frames-over 134 "lodge wasm: jit.wasm: trap: call stack exhausted in function 4 (small) at offset 0x144" \
	-- --stack 64K --invoke small $j 2049
check2 jit-depth-slots 0 "480" -- --stack 64K --invoke big $j 480
check2 jit-depth-slots-over 134 "lodge wasm: jit.wasm: trap: call stack exhausted in function 5 (big) at offset 0x15c" \
	-- --stack 64K --invoke big $j 481
# deeper than translated calls may nest on the host stack (16 bytes a level): the rest
# runs interpreted, with the same result
check2 jit-deep-recursion 0 "3000000" -- --stack 1G --invoke small $j 3000000
# self-calls pass parameters and the result in registers (jit_self.wat); from the floor on
# the callee runs interpreted and the result comes through memory
check2 jit-self-sum 0 "55" -- --invoke sum jit_self.wasm 10
check2 jit-self-sum-deep 0 "-1124226208" -- --stack 1G --invoke sum jit_self.wasm 3000000
check2 jit-self-wide 0 "117" -- --invoke wide jit_self.wasm 10 7
check2 jit-self-mix 0 "$(printf '170\n5.25')" -- --invoke mix jit_self.wasm 10 5 0.25
check2 jit-self-mix-deep 0 "$(printf '1500001500005\n500000.25')" -- --stack 1G \
	--invoke mix jit_self.wasm 1000000 5 0.25
check2 jit-self-depth-over 134 "lodge wasm: jit_self.wasm: trap: call stack exhausted in function 0 (sum) at offset 0xac" \
	-- --stack 64K --invoke sum jit_self.wasm 2049
# early returns taken in line at self-calls (jit_self.wat: fib, down, wrap, walk, konst),
# each call still checked and charged one unit of fuel: fib(10) takes 177 units, the
# last of them at a call whose callee returns at once
check2 jit-leaf-fib 0 "6765" -- --invoke fib jit_self.wasm 20
check2 jit-leaf-fib-fuel 0 "55" -- --fuel 177 --invoke fib jit_self.wasm 10
check2 jit-leaf-fib-fuel-short 134 "lodge wasm: jit_self.wasm: trap: fuel exhausted in function 3 (fib) at offset 0x13c" \
	-- --fuel 176 --invoke fib jit_self.wasm 10
check2 jit-leaf-fib-fuel-shorter 134 "lodge wasm: jit_self.wasm: trap: fuel exhausted in function 3 (fib) at offset 0x135" \
	-- --fuel 175 --invoke fib jit_self.wasm 10
check2 jit-leaf-i64 0 "4886718405" -- --invoke down jit_self.wasm 10 5
check2 jit-leaf-i64-at-once 0 "4886718340" -- --invoke down jit_self.wasm -3 -5
check2 jit-leaf-wrap 0 "-35" -- --invoke wrap jit_self.wasm 9 5
check2 jit-leaf-wrap-over 0 "557" -- --invoke wrap jit_self.wasm 30 -2147483000
check2 jit-leaf-void 0 "93" -- --invoke walk jit_self.wasm 12
check2 jit-leaf-const 0 "4294967356" -- --invoke konst jit_self.wasm 10
# a self-call in dead code after a block that returns (jit_self_dead.wat): translating
# it crashed Lodge once
check2 jit-self-dead 0 "7" -- --invoke g jit_self_dead.wasm 3
check2 jit-self-dead-hot 0 "35000" -- --invoke run jit_self_dead.wasm 5000
check jit-self-dead-default 0 "35000" -- --invoke run jit_self_dead.wasm 5000
# sum(2048) nests 2049 levels, sum(2049) one more: the call that overflows the value
# stack is one whose callee returns at once, so it traps where the interpreter does
check2 jit-self-depth-edge 0 "2098176" -- --stack 64K --invoke sum jit_self.wasm 2048
check2 jit-memory-grows 0 "561" -- --invoke grow_write $j 20
check2 jit-indirect 0 "6" -- --invoke indirect $j 0
check2 jit-indirect-type 134 "lodge wasm: jit.wasm: trap: indirect call type mismatch in function 8 (indirect) at offset 0x1c9" \
	-- --invoke indirect $j 1
check2 jit-indirect-null 134 "lodge wasm: jit.wasm: trap: uninitialized element in function 8 (indirect) at offset 0x1c9" \
	-- --invoke indirect $j 3
check2 jit-indirect-range 134 "lodge wasm: jit.wasm: trap: undefined element in function 8 (indirect) at offset 0x1c9" \
	-- --invoke indirect $j 9
# the default threshold: osr() is translated while its loop runs and finishes there,
# with fuel exact across the switch (1 + 1000000 calls + 999999 back-edges)
check jit-osr 0 "1758643931607998734" -- --invoke osr $j 1000000
check jit-osr-fuel 0 "1758643931607998734" -- --fuel 2000000 --invoke osr $j 1000000
check jit-osr-fuel-short 134 "lodge wasm: jit.wasm: trap: fuel exhausted in function 9 (osr) at offset 0x1f4" \
	-- --fuel 1999999 --invoke osr $j 1000000
check2 jit-nan-add 0 "2145386497" -- --invoke nan_add $j
check2 jit-nan-sub 0 "9222246136947933185" -- --invoke nan_sub $j
check2 jit-nan-bits 0 "-2143289342" -- --invoke nan_bits $j
check2 jit-nan-store 0 "9218868437227405317" -- --invoke nan_store $j
check2 jit-nan-ceil 0 "2145386497" -- --invoke nan_ceil $j
check2 jit-nan-demote 0 "2145386496" -- --invoke nan_demote $j
check2 jit-nan-simd32-lo 0 "-18014327644618751" -- --invoke nan_simd32 jit_simd.wasm 0
check2 jit-nan-simd32-hi 0 "-4647714811155578880" -- --invoke nan_simd32 jit_simd.wasm 1
check2 jit-nan-simd64-lo 0 "-2251799813685239" -- --invoke nan_simd64 jit_simd.wasm 0
check2 jit-nan-simd64-hi 0 "9222246136947933191" -- --invoke nan_simd64 jit_simd.wasm 1
check2 jit-andnot 0 "67555025218437360" -- --invoke andnot jit_simd.wasm
check2 jit-rotates 0 "6846980297710171119" -- --invoke rotates jit_rot.wasm 100
# addresses in cache registers whose upper half is set (jit_addr.wat): zero-extended
# before they index memory (else a fault outside the guard region, a crash)
ja=jit_addr.wasm
check2 jit-addr-wrapped 0 "-7440854127026314633" -- --invoke wrapped $ja 1000
check2 jit-addr-stack 0 "6197433808036861769" -- --invoke stack $ja 1000
check2 jit-addr-end 0 "0" -- --invoke wrapped_oob $ja 65528
check2 jit-addr-oob 134 "lodge wasm: jit_addr.wasm: trap: out of bounds memory access in function 4 (wrapped_oob) at offset 0x17c" \
	-- --invoke wrapped_oob $ja 65529
# more ways into an address register with its upper half set (jit_addr2.wat)
ja2=jit_addr2.wasm
check2 jit-addr2-sel-100-1 0 "0" -- --invoke sel $ja2 100 1
check2 jit-addr2-sel-65530-1 134 "lodge wasm: jit_addr2.wasm: trap: out of bounds memory access in function 3 (sel) at offset 0x116" \
	-- --invoke sel $ja2 65530 1
check2 jit-addr2-brif-100-1 0 "0" -- --invoke brif $ja2 100 1
check2 jit-addr2-brif-65533-1 134 "lodge wasm: jit_addr2.wasm: trap: out of bounds memory access in function 4 (brif) at offset 0x134" \
	-- --invoke brif $ja2 65533 1
check2 jit-addr2-brtab-64-1 0 "0" -- --invoke brtab $ja2 64 1
check2 jit-addr2-brtab-65535-2 134 "lodge wasm: jit_addr2.wasm: trap: out of bounds memory access in function 5 (brtab) at offset 0x168" \
	-- --invoke brtab $ja2 65535 2
check2 jit-addr2-loopp-16 0 "65" -- --invoke loopp $ja2 16
check2 jit-addr2-multi-65530 134 "lodge wasm: jit_addr2.wasm: trap: out of bounds memory access in function 7 (multi) at offset 0x1b4" \
	-- --invoke multi $ja2 65530
check2 jit-addr2-bulk-100 0 "462350" -- --invoke bulk $ja2 100
check2 jit-addr2-simd-65530 134 "lodge wasm: jit_addr2.wasm: trap: out of bounds memory access in function 9 (simd) at offset 0x21f" \
	-- --invoke simd $ja2 65530
check2 jit-addr2-backedge-1000 0 "0" -- --invoke backedge $ja2 1000
check2 jit-addr2-backedge-65480 134 "lodge wasm: jit_addr2.wasm: trap: out of bounds memory access in function 10 (backedge) at offset 0x271" \
	-- --invoke backedge $ja2 65480
check2 jit-addr2-fold-2147549168 0 "0" -- --invoke fold $ja2 2147549168
check2 jit-addr2-fold-2147483656 134 "lodge wasm: jit_addr2.wasm: trap: out of bounds memory access in function 11 (fold) at offset 0x29b" \
	-- --invoke fold $ja2 2147483656
check2 jit-addr2-fold2-8 134 "lodge wasm: jit_addr2.wasm: trap: out of bounds memory access in function 12 (fold2) at offset 0x2af" \
	-- --invoke fold2 $ja2 8
check2 jit-addr2-fusefold-2147549184-3 134 "lodge wasm: jit_addr2.wasm: trap: out of bounds memory access in function 14 (fusefold) at offset 0x2f8" \
	-- --invoke fusefold $ja2 2147549184 3
check2 jit-addr2-fuse64-65528 134 "lodge wasm: jit_addr2.wasm: trap: out of bounds memory access in function 15 (fuse64) at offset 0x344" \
	-- --invoke fuse64 $ja2 65528
check2 jit-addr2-reuse-65535 134 "lodge wasm: jit_addr2.wasm: trap: out of bounds memory access in function 16 (reuse) at offset 0x384" \
	-- --invoke reuse $ja2 65535
check2 jit-addr2-shifts-100-32 0 "0" -- --invoke shifts $ja2 100 32
check2 jit-addr2-shifts-40000-1 134 "lodge wasm: jit_addr2.wasm: trap: out of bounds memory access in function 17 (shifts) at offset 0x3a2" \
	-- --invoke shifts $ja2 40000 1
check2 jit-addr2-cmpaddr-65535 134 "lodge wasm: jit_addr2.wasm: trap: out of bounds memory access in function 18 (cmpaddr) at offset 0x3c7" \
	-- --invoke cmpaddr $ja2 65535
# floats in the xmm cache registers (jit_float.wat)
jf=jit_float.wasm
check2 jit-float-nan-call64 0 "-9218915789241843421" -- --invoke nan_call64 $jf 50
check2 jit-float-nan-call32 0 "-2139104107" -- --invoke nan_call32 $jf 50
check2 jit-float-nan-arith 0 "-2251797668296836" -- --invoke nan_arith $jf 10
check2 jit-float-neg-zero 0 "-9223372036854251521" -- --invoke neg_zero $jf 20
check2 jit-float-minmax-nan 0 "-9008865941217258950" -- --invoke minmax_nan $jf 20
check2 jit-float-trunc-trap 134 "lodge wasm: jit_float.wasm: trap: integer overflow in function 7 (trunc_trap) at offset 0x2e0" \
	-- --invoke trunc_trap $jf 40
check2 jit-float-trunc-nan 134 "lodge wasm: jit_float.wasm: trap: invalid conversion to integer in function 8 (trunc_nan) at offset 0x339" \
	-- --invoke trunc_nan $jf 5 0
check2 jit-float-trunc-sat 0 "0" -- --invoke trunc_nan $jf 5 1
check2 jit-float-nan-mem 0 "-3325425716476252133" -- --invoke nan_mem $jf 9
# the JIT's code buffer is set up before the seccomp filter (which has no memfd_create);
# LeakSanitizer's check at exit (asan builds) needs system calls the filter forbids
asan_saved=${ASAN_OPTIONS-}
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
check2 jit-seccomp 0 "1758643931607998734" -- --seccomp --invoke osr $j 1000000
export ASAN_OPTIONS="$asan_saved"
check2 jit-load-wrap 0 "0" -- --invoke load_at $j -16
check2 jit-load-end 0 "0" -- --invoke load_at $j 65508
check2 jit-load-oob 134 "lodge wasm: jit.wasm: trap: out of bounds memory access in function 16 (load_at) at offset 0x29f" \
	-- --invoke load_at $j 65509
check2 jit-load-wrap-oob 134 "lodge wasm: jit.wasm: trap: out of bounds memory access in function 16 (load_at) at offset 0x29f" \
	-- --invoke load_at $j -20
check2 jit-div-zero 134 "lodge wasm: jit.wasm: trap: integer divide by zero in function 17 (divs) at offset 0x2a9" \
	-- --invoke divs $j 7 0
check2 jit-div-overflow 134 "lodge wasm: jit.wasm: trap: integer overflow in function 17 (divs) at offset 0x2a9" \
	-- --invoke divs $j -2147483648 -1
check2 jit-rem-minus-one 0 "0" -- --invoke rems $j -9223372036854775808 -1
check2 jit-trunc-overflow 134 "lodge wasm: jit.wasm: trap: integer overflow in function 19 (trunc) at offset 0x2b7" \
	-- --invoke trunc $j 3e10
check2 jit-trunc-nan 134 "lodge wasm: jit.wasm: trap: invalid conversion to integer in function 19 (trunc) at offset 0x2b7" \
	-- --invoke trunc $j nan
check_line help-jit 0 "  --no-jit             interpret everything (the results are the same)" -- --help
check bad-jit-hot 2 "lodge wasm: bad --jit-hot count '0' (1 or more) (try 'lodge wasm --help')" \
	-- --jit-hot 0 $m
# --no-jit, --jit-eager and --jit-hot contradict each other: two of them are refused
jit_why="(--no-jit: interpret everything; --jit-eager: translate every function at the start; --jit-hot N: translate a function after N calls or loop iterations): pass only one of them (try 'lodge wasm --help')"
check jit-modes-no-eager 2 "lodge wasm: --no-jit and --jit-eager contradict each other $jit_why" \
	-- --no-jit --jit-eager $m
check jit-modes-hot-no 2 "lodge wasm: --jit-hot and --no-jit contradict each other $jit_why" \
	-- --jit-hot=5 --no-jit $m
check jit-modes-no-hot 2 "lodge wasm: --no-jit and --jit-hot contradict each other $jit_why" \
	-- --no-jit --jit-hot 5 $m
check jit-modes-eager-hot 2 "lodge wasm: --jit-eager and --jit-hot contradict each other $jit_why" \
	-- --jit-eager --jit-hot 5 $m

# the module argument must be a regular file; a FIFO is refused without blocking
dir=$tmp
mkdir "$tmp/adir"
check not-a-directory 125 "lodge wasm: adir: is a directory, not a module file (give a WebAssembly module, APP.wasm or APP.wat)" \
	-- adir
check not-a-device 125 "lodge wasm: /dev/zero: is a character device, not a module file (give a WebAssembly module, APP.wasm or APP.wat)" \
	-- /dev/zero
check not-a-fifo 125 "lodge wasm: pipe: is a FIFO (named pipe), not a module file (give a WebAssembly module, APP.wasm or APP.wat)" \
	-- pipe

# text modules run as they are (src/wasm/text): the same module as cli.wasm, errors at
# FILE:LINE:COLUMN, a trap also at the instruction's line and column
dir=$here
check wat-run 7 "hello, lodge" -- cli.wat
check wat-invoke 0 "6765" -- --invoke fib cli.wat 20
check wat-trap-position 134 \
	"lodge wasm: cli.wat: trap: unreachable in function 16 (boom) at offset 0x2e1 (cli.wat:55:25)" \
	-- --invoke boom cli.wat
dir=$tmp
printf '(module\n  (func (export "f") (result i32)\n    i32.frob 1))\n' >"$tmp/syntax.wat"
check wat-syntax-error 125 "lodge wasm: syntax.wat:3:5: unknown operator i32.frob" -- syntax.wat
printf '(module\n  (func (export "f") (result i32)\n    (i64.const 1)))\n' >"$tmp/typeerr.wat"
check wat-invalid-position 125 \
	"lodge wasm: typeerr.wat:3:6: invalid module: section code, function 0, offset 0x22, type mismatch: branch operand" \
	-- --invoke f typeerr.wat
# an invalid immediate is found after reading it, at the next instruction's offset: the
# line and column are still those of the instruction that has it, not of the next one
printf '(module\n  (func (export "f")\n    (drop (local.get 5))\n    (call 9)\n    nop))\n' >"$tmp/immerr.wat"
check wat-invalid-immediate-position 125 \
	"lodge wasm: immerr.wat:3:12: invalid module: section code, function 0, offset 0x20, unknown local 5" \
	-- --invoke f immerr.wat
printf '(module\n  (func (export "f")\n    (call 9)\n    nop))\n' >"$tmp/immerr2.wat"
check wat-invalid-call-position 125 \
	"lodge wasm: immerr2.wat:3:6: invalid module: section code, function 0, offset 0x20, unknown function 9" \
	-- --invoke f immerr2.wat
# an invalid type definition is reported at its (type ...) field, also inside a rec group
printf '(module\n  (type $x (array i8))\n  (rec\n    (type $a (sub (struct (field i32))))\n    (type $b (sub $a (struct (field i64))))))\n' >"$tmp/typeerr2.wat"
check wat-invalid-type-position 125 \
	"lodge wasm: typeerr2.wat:5:5: invalid module: section type, offset 0x1d, sub type 2 does not match type 1" \
	-- typeerr2.wat
printf '(module\n  (type $t (struct (field (ref null $u))))\n  (type $u (array i8)))\n' >"$tmp/typeerr3.wat"
check wat-forward-type-position 125 \
	"lodge wasm: typeerr3.wat:2:3: invalid module: section type, offset 0xf, unknown type 1" \
	-- typeerr3.wat
# the text front end's limit: 128 distinct reference types (ref $t) in one module
{
	echo '(module'
	i=0
	while [ $i -lt 129 ]; do
		echo "  (type \$t$i (func))"
		i=$((i + 1))
	done
	printf '  (func (param'
	i=0
	while [ $i -lt 129 ]; do
		printf ' (ref $t%d)' $i
		i=$((i + 1))
	done
	echo '))'
	echo ')'
} >"$tmp/reftypes.wat"
check wat-reftype-limit 125 "lodge wasm: reftypes.wat:131:1442: more than 128 reference types in one module" \
	-- reftypes.wat
printf '(module (func (export "f") (result i32) (i32.const 0x7fff_ffff)))' >"$tmp/noext"
check wat-by-content 0 "2147483647" -- --invoke f noext
printf '(module (func (export "f") (result f64) (f64.const 0x1.8p1)))' >"$tmp/quoted.wasm"
check wat-named-wasm 125 "lodge wasm: quoted.wasm: malformed module: offset 0x0, magic header not detected" \
	-- --invoke f quoted.wasm
printf '(module\n  (func (export "f") (result i32)\n    (i32.const 1) "x"))\n' >"$tmp/str.wat"
check wat-unexpected-token 125 'lodge wasm: str.wat:3:19: unexpected token "x"' -- str.wat
# a .wast script is not a module: the error says so at the first command after the module
printf '(module (func (export "f")))\n(assert_return (invoke "f"))\n' >"$tmp/script.wast"
check wat-script-not-module 125 "lodge wasm: script.wast:2:1: unexpected token ( after the module: a module file holds one module (a .wast script's commands, such as register or assert_return, are not a module)" \
	-- script.wast
# nesting: text and binary take the same depth of blocks, up to one limit (50000,
# WASM_MAX_NESTING), beyond which both say so; the text parser keeps its open blocks on
# the heap, so neither deep input nor a small C stack crashes it.
# deep N: deepN.wasm, deepN.wat (plain blocks) and deepN-folded.wat in $tmp, each a module
# whose export f nests N empty blocks and returns 7
deep() {
	LC_ALL=C awk -v n="$1" -v o="$tmp/deep$1" '
	function leb(x,  s, b) {
		s = ""
		do { b = x % 128; x = int(x / 128); if (x) b += 128; s = s sprintf("%c", b) } while (x)
		return s
	}
	BEGIN {
		f = o ".wasm"
		printf "%casm%c%c%c%c", 0, 1, 0, 0, 0 >f
		printf "%c%c%c%c%c%c%c", 1, 5, 1, 96, 0, 1, 127 >f  # type () -> i32
		printf "%c%c%c%c", 3, 2, 1, 0 >f                    # func 0: type 0
		printf "%c%c%c%c%c%c%c", 7, 5, 1, 1, 102, 0, 0 >f   # export "f"
		blen = 3 * n + 4                                     # locals, blocks, ends, i32.const 7, end
		l = leb(blen)
		printf "%c%s%c%s%c", 10, leb(1 + length(l) + blen), 1, l, 0 >f
		for (i = 0; i < n; i++) printf "%c%c", 2, 64 >f
		for (i = 0; i < n; i++) printf "%c", 11 >f
		printf "%c%c%c", 65, 7, 11 >f
		f = o ".wat"
		print "(module (func (export \"f\") (result i32)" >f
		for (i = 0; i < n; i++) print "block" >f
		for (i = 0; i < n; i++) print "end" >f
		print "i32.const 7))" >f
		f = o "-folded.wat"
		print "(module (func (export \"f\") (result i32)" >f
		for (i = 0; i < n; i++) printf "(block " >f
		for (i = 0; i < n; i++) printf ")" >f
		print "\ni32.const 7))" >f
	}'
}
dir=$tmp
deep 5000
deep 50000
deep 50001
for form in wasm wat folded.wat; do
	f=deep5000.$form
	[ "$form" = folded.wat ] && f=deep5000-folded.wat
	check2 nest-5000-$form 0 "7" -- --invoke f $f
done
check2 nest-50000-wasm 0 "7" -- --invoke f deep50000.wasm
check nest-50000-wat 0 "7" -- --invoke f deep50000.wat
check nest-50000-folded 0 "7" -- --invoke f deep50000-folded.wat
nest_msg="blocks nested too deeply: more than 50000 (Lodge's limit, binary or text)"
check2 nest-limit-wasm 125 \
	"lodge wasm: deep50001.wasm: implementation limit: section code, function 0, offset 0x186c5, $nest_msg" \
	-- --invoke f deep50001.wasm
check nest-limit-wat 125 "lodge wasm: deep50001.wat:50002:1: $nest_msg" -- --invoke f deep50001.wat
check nest-limit-folded 125 "lodge wasm: deep50001-folded.wat:2:350002: $nest_msg" \
	-- --invoke f deep50001-folded.wat
# a small C stack is enough for the text parser however deep the nesting
got=$(cd "$tmp" && ulimit -s 256 && timeout 60 "$lodge" wasm --invoke f deep50000-folded.wat 2>&1)
if [ "$got" = 7 ]; then
	echo "PASS: wasm-cli.nest-small-stack"
else
	echo "FAIL: wasm-cli.nest-small-stack: output '$(printf '%s' "$got" | head -3)', want 7"
fi

# the legacy exception-handling instructions (try, catch, catch_all, delegate, rethrow;
# replaced by try_table in WebAssembly 3.0) are refused by name, in text and in binary;
# try_table's catch and catch_all clauses still work (eh-try-table)
eh_hint="is not supported: use try_table (WebAssembly 3.0 exceptions)"
printf '(module\n  (tag $e)\n  (func (export "f")\n    try\n    catch $e\n    end))\n' >"$tmp/eh_try.wat"
check eh-legacy-try-text 125 \
	"lodge wasm: eh_try.wat:4:5: unknown operator try: legacy exception-handling instruction 'try' (0x06) $eh_hint" \
	-- eh_try.wat
printf '(module\n  (tag $e)\n  (func (export "f")\n    block\n    catch $e\n    end))\n' >"$tmp/eh_catch.wat"
check eh-legacy-catch-text 125 \
	"lodge wasm: eh_catch.wat:5:5: unexpected token catch: legacy exception-handling instruction 'catch' (0x07) $eh_hint" \
	-- eh_catch.wat
printf '(module\n  (func (export "f")\n    (block (catch_all (nop)))))\n' >"$tmp/eh_catch_all.wat"
check eh-legacy-catch-all-text 125 \
	"lodge wasm: eh_catch_all.wat:3:13: unexpected token catch_all: legacy exception-handling instruction 'catch_all' (0x19) $eh_hint" \
	-- eh_catch_all.wat
printf '(module\n  (func (export "f")\n    (block (delegate 0))))\n' >"$tmp/eh_delegate.wat"
check eh-legacy-delegate-text 125 \
	"lodge wasm: eh_delegate.wat:3:13: unknown operator delegate: legacy exception-handling instruction 'delegate' (0x18) $eh_hint" \
	-- eh_delegate.wat
printf '(module\n  (func (export "f")\n    rethrow 0))\n' >"$tmp/eh_rethrow.wat"
check eh-legacy-rethrow-text 125 \
	"lodge wasm: eh_rethrow.wat:3:5: unknown operator rethrow: legacy exception-handling instruction 'rethrow' (0x09) $eh_hint" \
	-- eh_rethrow.wat
# binary: a function whose body is OP 0x40 end end, OP at offset 0x18
for eh in 006:06:try 007:07:catch 011:09:rethrow 030:18:delegate 031:19:catch_all; do
	oct=${eh%%:*} rest=${eh#*:}
	hex=${rest%%:*} nm=${rest#*:}
	printf "\\000asm\\001\\000\\000\\000\\001\\004\\001\\140\\000\\000\\003\\002\\001\\000\\012\\007\\001\\005\\000\\$oct\\100\\013\\013" \
		>"$tmp/eh_$hex.wasm"
	check eh-legacy-binary-$nm 125 \
		"lodge wasm: eh_$hex.wasm: malformed module: section code, function 0, offset 0x18, illegal opcode $hex: legacy exception-handling instruction '$nm' $eh_hint" \
		-- eh_$hex.wasm
done
printf '(module\n  (tag $e (param i32))\n  (func (export "f") (result i32)\n    (block $all\n      (block $h (result i32)\n        (try_table (catch $e $h) (catch_all $all)\n          (throw $e (i32.const 42)))\n        (i32.const 0))\n      (return))\n    (i32.const -1)))\n' >"$tmp/eh_table.wat"
check eh-try-table 0 "42" -- --invoke f eh_table.wat

dir=$out
f=fusion.wasm
check2 fused-wrap-load 0 "42" -- --invoke wrap_load $f -8
check2 fused-wrap-load-oob 134 "lodge wasm: fusion.wasm: trap: out of bounds memory access in function 0 (wrap_load) at offset 0x117" \
	-- --invoke wrap_load $f 65520
check2 fused-wrap-offset-oob 134 "lodge wasm: fusion.wasm: trap: out of bounds memory access in function 1 (wrap_off) at offset 0x122" \
	-- --invoke wrap_off $f -8
check2 fused-wrap-offset 0 "134678021" -- --invoke wrap_off $f -4
check2 fused-load-operand 0 "3.5" -- --invoke wrap_fused $f -8 2
check2 fused-load-operand-oob 134 "lodge wasm: fusion.wasm: trap: out of bounds memory access in function 2 (wrap_fused) at offset 0x12f" \
	-- --invoke wrap_fused $f 65500 2
check2 fused-indexed 0 "42" -- --invoke idx_load $f 4 1
check2 fused-indexed-wrap 0 "42" -- --invoke idx_load $f 4 1073741825
check2 fused-indexed-oob 134 "lodge wasm: fusion.wasm: trap: out of bounds memory access in function 3 (idx_load) at offset 0x13e" \
	-- --invoke idx_load $f 65534 0
check2 fused-indexed-byte 0 "42" -- --invoke idx_byte $f 3 4
check2 fused-sub-load 0 "-40" -- --invoke sub_load $f 2 8
check2 fused-mul-load 0 "1735313087256921603" -- --invoke mul_load $f 0 3
check2 fused-rotate-xor 0 "-402856210" -- --invoke sigma0 $f 305419896
check2 fused-xorshift64 0 "-6441007381159778052" -- --invoke xorshift $f 81985529216486895
check2 fused-and-not 0 "15728880" -- --invoke andn $f 16711935 252645135
check2 fused-mac 0 "68" -- --invoke mac $f 5 7 9
check2 fused-mac64 0 "16000000000000" -- --invoke mac64 $f 1000000000000 3000000000000 5
check2 fused-majority 0 "14" -- --invoke maj $f 12 10 6
check2 fused-store-indexed 0 "1234" -- --invoke store_idx $f 5 1234
check2 fused-moves 0 "132" -- --invoke rot3 $f 1 2 3
check2 fused-increments 0 "60" -- --invoke steps $f 5
check2 known-zero-locals 0 "6" -- --invoke zeros $f 3
check2 fused-copy-indexed 0 "43" -- --invoke copy_idx $f 4 1
check2 fused-copy-indexed-oob 134 "lodge wasm: fusion.wasm: trap: out of bounds memory access in function 16 (copy_idx) at offset 0x246" \
	-- --invoke copy_idx $f 65532 1
check2 fused-count 0 "8" -- --invoke count_ge $f -1 5 7

# WebAssembly 3.0 features, as text (wasm3/): tail calls run in constant space (--stack
# 64K holds some 2000 frames), also into a host function; traps name the callee
dir=$here/wasm3
t=tail.wat
check2 tail-call-deep 0 "0" -- --stack 64K --invoke even $t 10000001
check2 tail-call-indirect-deep 0 "1" -- --stack 64K --invoke even_indirect $t 1000000
check2 tail-call-bigger-frame 0 "500000500000" -- --stack 64K --invoke sum $t 1000000 0
check2 tail-call-from-translated 0 "101" -- --stack 64K --invoke calls_even $t 100000
check2 tail-call-host 9 "" -- --invoke exit_tail $t 9
check2 tail-call-trap 134 "lodge wasm: tail.wat: trap: unreachable in function 9 (boom) at offset 0x166 (tail.wat:49:41)" \
	-- --invoke trap_tail $t 1
check2 tail-call-indirect-range 134 "lodge wasm: tail.wat: trap: undefined element in function 11 (bad_indirect) at offset 0x175 (tail.wat:52:6)" \
	-- --invoke bad_indirect $t 5
# fuel: one unit per tail call, as per call: even(1000) takes the entry and 1000 tail calls
check2 tail-call-fuel-exact 0 "1" -- --fuel 1001 --invoke even $t 1000
check2 tail-call-fuel-short 134 "lodge wasm: tail.wat: trap: fuel exhausted in function 2 (odd) at offset 0xf8 (tail.wat:19:14)" \
	-- --fuel 1000 --invoke even $t 1000
# through references (tail_ref.wat)
tr=tail_ref.wat
check2 tail-call-ref-deep 0 "0" -- --stack 64K --invoke even $tr 1000001
check2 tail-call-ref-null 134 "lodge wasm: tail_ref.wat: trap: null function reference in function 2 (null) at offset 0x6d (tail_ref.wat:16:6)" \
	-- --invoke null $tr 5
check2 tail-call-ref-fuel-exact 0 "1" -- --fuel 101 --invoke even $tr 100
check2 tail-call-ref-fuel-short 134 "lodge wasm: tail_ref.wat: trap: fuel exhausted in function 1 (odd) at offset 0x63 (tail_ref.wat:14:14)" \
	-- --fuel 100 --invoke even $tr 100
# extended constant expressions in a global and a data segment's offset
check2 extended-const-global 0 "999999999999" -- --invoke g const.wat
check2 extended-const-data 0 "7" -- --invoke byte const.wat 101
# multiple memories: each access, bulk op and data segment on its own memory, with its
# own bounds; --max-memory covers every memory (memory 2 grows by 20 pages: 1.25 MiB)
mm=multimem.wat
check2 multi-memory-data 0 "67305985" -- --invoke seg $mm
check2 multi-memory-store 0 "1234605616436508552" -- --invoke store $mm 16
check2 multi-memory-loop 0 "3000" -- --invoke fill_sum $mm 1000
check2 multi-memory-copy 0 "67305985" -- --invoke copy $mm
check2 multi-memory-init 0 "48042" -- --invoke init $mm
check2 multi-memory-size 0 "110" -- --invoke sizes $mm
check2 multi-memory-grow 0 "1" -- --invoke grow_b $mm 1
check2 multi-memory-grow-max 0 "-1" -- --invoke grow_b $mm 2
check2 multi-memory-bounds 0 "0" -- --invoke load_b $mm 65532
check2 multi-memory-oob 134 "lodge wasm: multimem.wat: trap: out of bounds memory access in function 10 (load_b) at offset 0x186 (multimem.wat:44:53)" \
	-- --invoke load_b $mm 65533
check2 multi-memory-empty 134 "lodge wasm: multimem.wat: trap: out of bounds memory access in function 11 (load_c) at offset 0x18f (multimem.wat:45:53)" \
	-- --invoke load_c $mm 0
check2 multi-memory-max-memory 0 "-1" -- --max-memory 1M --invoke grow_c $mm 20
check2 multi-memory-max-memory-ok 0 "0" -- --max-memory 4M --invoke grow_c $mm 20
# 64-bit memories: i64 addresses and offsets, bounds checked without overflow (an offset
# of 2**64-16 from address 16 wraps: out of bounds), i64 size and grow, bulk ops
m64=mem64.wat
check2 memory64-load 0 "67305985" -- --invoke load $m64 65532
check2 memory64-load-end 134 "lodge wasm: mem64.wat: trap: out of bounds memory access in function 0 (load) at offset 0x9a (mem64.wat:8:51)" \
	-- --invoke load $m64 65533
check2 memory64-load-4g 134 "lodge wasm: mem64.wat: trap: out of bounds memory access in function 0 (load) at offset 0x9a (mem64.wat:8:51)" \
	-- --invoke load $m64 4294967296
check2 memory64-load-minus-one 134 "lodge wasm: mem64.wat: trap: out of bounds memory access in function 0 (load) at offset 0x9a (mem64.wat:8:51)" \
	-- --invoke load $m64 -1
check2 memory64-offset-wraps 134 "lodge wasm: mem64.wat: trap: out of bounds memory access in function 1 (load_off) at offset 0xa2 (mem64.wat:10:6)" \
	-- --invoke load_off $m64 16
check2 memory64-store 0 "-5" -- --invoke store_load $m64 100 -5
check2 memory64-size 0 "1" -- --invoke size $m64
check2 memory64-grow 0 "1" -- --invoke grow $m64 2
check2 memory64-grow-max 0 "-1" -- --invoke grow $m64 4
check2 memory64-grow-huge 0 "-1" -- --invoke grow $m64 4294967297
check2 memory64-fill 0 "7" -- --invoke fill $m64 10 100
check2 memory64-fill-oob 134 "lodge wasm: mem64.wat: trap: out of bounds memory access in function 6 (fill) at offset 0xd9 (mem64.wat:18:6)" \
	-- --invoke fill $m64 1 -1
check2 memory64-copy 0 "67305985" -- --invoke copy $m64 0 65532 4
check2 memory64-copy-oob 134 "lodge wasm: mem64.wat: trap: out of bounds memory access in function 7 (copy) at offset 0xea (mem64.wat:21:6)" \
	-- --invoke copy $m64 0 65533 4
check2 memory64-max-memory 0 "-1" -- --max-memory 1M --invoke grow_n $m64 20
check2 memory64-max-memory-ok 0 "0" -- --max-memory 4M --invoke grow_n $m64 20
# tables with i64 indices: an index past 2^32-1 traps as any out-of-range one
t64=table64.wat
check2 table64-call 0 "8" -- --invoke call $t64 2
check2 table64-call-null 134 "lodge wasm: table64.wat: trap: uninitialized element in function 2 (call) at offset 0x80 (table64.wat:10:51)" \
	-- --invoke call $t64 0
check2 table64-call-4g 134 "lodge wasm: table64.wat: trap: undefined element in function 2 (call) at offset 0x80 (table64.wat:10:51)" \
	-- --invoke call $t64 4294967298
check2 table64-get-4g 134 "lodge wasm: table64.wat: trap: out of bounds table access in function 3 (is_null) at offset 0x88 (table64.wat:11:67)" \
	-- --invoke is_null $t64 4294967296
check2 table64-size 0 "4" -- --invoke size $t64
check2 table64-grow 0 "4" -- --invoke grow $t64 100
check2 table64-grow-4g 0 "-1" -- --invoke grow $t64 4294967296
check2 table64-fill 0 "8" -- --invoke fill $t64 3 1
check2 table64-fill-oob 134 "lodge wasm: table64.wat: trap: out of bounds table access in function 6 (fill) at offset 0xa4 (table64.wat:15:6)" \
	-- --invoke fill $t64 3 2
check2 table64-max-memory 0 "-1" -- --max-memory 1M --invoke grow $t64 1000000
# threads: atomics on a shared memory; a misaligned one traps, wait blocks until its
# timeout (0.2 s here), and waiting on an unshared memory traps
a=atomics.wat
check2 atomic-add 0 "0" -- --invoke add $a 4 5
check2 atomic-misaligned 134 "lodge wasm: atomics.wat: trap: unaligned atomic in function 0 (add) at offset 0x7f (atomics.wat:8:6)" \
	-- --invoke add $a 2 5
check2 atomic-misaligned-offset 134 "lodge wasm: atomics.wat: trap: unaligned atomic in function 1 (load64) at offset 0x88 (atomics.wat:10:6)" \
	-- --invoke load64 $a 4
check2 atomic-oob 134 "lodge wasm: atomics.wat: trap: out of bounds memory access in function 1 (load64) at offset 0x88 (atomics.wat:10:6)" \
	-- --invoke load64 $a 65528
check2 atomic-wait-timeout 0 "2" -- --invoke wait $a 200000000
check2 atomic-notify-none 0 "0" -- --invoke notify $a -1
check2 atomic-wait-unshared 134 "lodge wasm: atomics.wat: trap: expected shared memory in function 4 (wait_unshared) at offset 0xb1 (atomics.wat:18:6)" \
	-- --invoke wait_unshared $a
# exception handling: an uncaught exception is reported as a trap at its throw, one caught
# after crossing a (translated) frame is not; a million throws stay within 8 MiB
ex=exn.wat
check2 exn-caught 0 "5" -- --invoke caught $ex 5
check2 exn-uncaught 134 "lodge wasm: exn.wat: trap: uncaught exception in function 0 (thrower) at offset 0x59 (exn.wat:9:31)" \
	-- --invoke uncaught $ex 5
check2 exn-many 0 "1784293664" -- --max-memory 8M --invoke many $ex 1000000
# a chain of live exceptions past the budget: the throw says what ran out
check2 exn-over-budget 134 "lodge wasm: exn.wat: trap: out of memory: a thrown exception would exceed the memory budget (--max-memory) even after a collection in function 4 (hoard) at offset 0xae (exn.wat:28:42)" \
	-- --max-memory 8M --invoke hoard $ex 1000000
# GC (gc.wat): ten million short-lived structs within 16 MiB (without a collector they
# need some 500 MB), a deep list surviving the collections its building causes, garbage
# cycles, lists reachable only from a global and a table, a list held only by a frame of
# a function the JIT translates, references of every kind in fields and elements, and a
# live heap past the budget, which traps
g=gc.wat
check2 gc-churn 0 "49999995000000" -- --max-memory 16M --invoke churn $g 10000000
check2 gc-deep-list 0 "5000050000" -- --max-memory 16M --invoke deep $g 100000 1000000
check2 gc-deep-list-frame 0 "5000050000" -- --max-memory 16M --invoke deep_plain $g 100000 1000000
check2 gc-cycles 0 "1" -- --max-memory 16M --invoke cycles $g 1000000
check2 gc-rooted 0 "2500050000" -- --max-memory 16M --invoke rooted $g 50000 1000000
check2 gc-mixed-refs 0 "53" -- --max-memory 16M --invoke mixed $g 1000000
check2 gc-over-budget 134 "lodge wasm: gc.wat: trap: out of memory: the GC heap (structs and arrays) would exceed the memory budget (--max-memory) even after a collection in function 1 (list) at offset 0x105 (gc.wat:38:16)" \
	-- --max-memory 16M --invoke hoard $g 1000000
# GC objects and exceptions under one collector (gc_exn.wat): half a million cycles of a struct
# whose exnref field holds the exception carrying it (some 60 MB) within 8 MiB, where
# two collectors, each taking the other's heap as roots, freed none; exceptions held only
# by a field, a global or a translated frame's local survive the churn and are rethrown
# and caught with their payloads; and the same small with a collection at every
# allocation and throw
ge=gc_exn.wat
check2 gc-exn-cycles 0 "124999750001" -- --max-memory 8M --invoke cycles $ge 500000
check2 gc-exn-held 0 "142" -- --max-memory 8M --invoke held $ge 500000
check2 gc-exn-held-frame 0 "42" -- --max-memory 8M --invoke held_plain $ge 500000
export LODGE_TEST_HOOK=gc-stress
check2 gc-stress-exn-cycles 0 "499501" -- --invoke cycles $ge 1000
check2 gc-stress-exn-held 0 "142" -- --invoke held $ge 1000
check2 gc-stress-exn-held-frame 0 "42" -- --invoke held_plain $ge 1000
unset LODGE_TEST_HOOK
# where an exception (and the struct it carries) is all that holds the other while the
# collections of a churn of objects and throws run (gc_exn_roots.wat): an exnref table's
# slot, an operand catch_ref left below a call, a caller's local, an operand of a
# translated frame, a collecting throw's values caught past other tags' handlers,
# struct.new / array.new_fixed / array.new operands, an array.new_default filled later,
# an exception caught from the flight throw_ref put it in, a payload with references
# after a v128 and a funcref, a chain of exceptions each held only by the next one's
# values; each checksum needs intact payloads. Past the 8 MiB budget, and with a
# collection at every allocation and throw
gx=gc_exn_roots.wat
for gxc in table:22 operand:18 caller:26 plain_operand:34 unwind:42 alloc_operands:249 \
	array_default:276 inflight:74 mixed:334; do
	check2 "gc-exn-root-${gxc%:*}" 0 "${gxc#*:}" -- --max-memory 8M --invoke "${gxc%:*}" $gx 200000
	export LODGE_TEST_HOOK=gc-stress
	check2 "gc-stress-exn-root-${gxc%:*}" 0 "${gxc#*:}" -- --invoke "${gxc%:*}" $gx 40
	unset LODGE_TEST_HOOK
done
check2 gc-exn-root-uncaught 134 "lodge wasm: gc_exn_roots.wat: trap: uncaught exception in function 9 (thrower) at offset 0x236 (gc_exn_roots.wat:95:6)" \
	-- --max-memory 8M --invoke uncaught $gx 200000
check2 gc-exn-root-chain 0 "799980000" -- --max-memory 8M --invoke chain $gx 20000
export LODGE_TEST_HOOK=gc-stress
check2 gc-stress-exn-root-chain 0 "3160" -- --invoke chain $gx 40
unset LODGE_TEST_HOOK
# precise stack roots (gc_roots.wat): a list held only as an operand below a call, as
# a callee's argument, or in a translated frame two calls up, survives the collections the call causes, interpreted and with the JIT
gr=gc_roots.wat
check2 gc-root-operand 0 "5000050000" -- --max-memory 16M --invoke operand $gr 100000 1000000
check2 gc-root-argument 0 "5000050000" -- --max-memory 16M --invoke argument $gr 100000 1000000
check2 gc-root-translated 0 "5000050000" -- --max-memory 16M --invoke translated $gr 100000 1000000
# the same through call_indirect/call_ref, a return_call chain, a hot loop, 40 levels of
# recursion, and translated code in two stretches with an interpreted frame between
check2 gc-root-indirect 0 "5000050000" -- --max-memory 16M --invoke indirect $gr 100000 1000000
check2 gc-root-tail 0 "5000050000" -- --max-memory 16M --invoke tail $gr 100000 1000000
check2 gc-root-loop 0 "5000050000" -- --max-memory 16M --invoke loop $gr 100000 1000000
check2 gc-root-recursive 0 "5000050000" -- --max-memory 16M --invoke recursive $gr 100000 1000000
check2 gc-root-nested 0 "15000150000" -- --max-memory 16M --invoke nested $gr 100000 1000000
# an interpreted function tail-called by translated code the interpreter entered
check2 gc-root-tail-entry 0 "5000050000" -- --max-memory 16M --invoke tailentry $gr 100000 1000000
# the same with a collection at every allocation and throw (the test build's hook; elsewhere
# it runs as above): a slot missing from a stack map frees a live node at once
export LODGE_TEST_HOOK=gc-stress
check2 gc-stress-root-operand 0 "500500" -- --invoke operand $gr 1000 5000
check2 gc-stress-root-argument 0 "500500" -- --invoke argument $gr 1000 5000
check2 gc-stress-root-translated 0 "500500" -- --invoke translated $gr 1000 5000
check2 gc-stress-root-indirect 0 "500500" -- --invoke indirect $gr 1000 5000
check2 gc-stress-root-tail 0 "500500" -- --invoke tail $gr 1000 5000
check2 gc-stress-root-loop 0 "500500" -- --invoke loop $gr 1000 5000
check2 gc-stress-root-recursive 0 "500500" -- --invoke recursive $gr 1000 5000
check2 gc-stress-root-nested 0 "1501500" -- --invoke nested $gr 1000 5000
check2 gc-stress-root-tail-entry 0 "500500" -- --invoke tailentry $gr 1000 5000
unset LODGE_TEST_HOOK
# typed function references: call_ref through a typed table, null references trapping
# where they are used
ty=typed.wat
check2 typed-call-ref 0 "42" -- --invoke apply $ty 1 6 7
check2 typed-call-ref-add 0 "13" -- --invoke apply $ty 0 6 7
check2 typed-table-bounds 134 "lodge wasm: typed.wat: trap: out of bounds table access in function 2 (apply) at offset 0x9a (typed.wat:12:48)" \
	-- --invoke apply $ty 2 6 7
check2 typed-call-null 134 "lodge wasm: typed.wat: trap: null function reference in function 3 (call_null) at offset 0xa7 (typed.wat:14:6)" \
	-- --invoke call_null $ty 1
check2 typed-as-non-null 134 "lodge wasm: typed.wat: trap: null reference in function 4 (as_non_null) at offset 0xae (typed.wat:16:19)" \
	-- --invoke as_non_null $ty
check2 typed-br-on-null 0 "-1" -- --invoke or_default $ty 5
# a br_on_null back to its loop counts fuel (it ran on without it, past any --fuel)
check2 typed-br-on-null-loop-fuel 134 "lodge wasm: typed_fuel.wat: trap: fuel exhausted in function 0 (spin_on_null) at offset 0x34 (typed_fuel.wat:7:23)" \
	-- --timeout 20 --fuel 100000 --invoke spin_on_null typed_fuel.wat

# the JIT translates atomics and typed references (jit_atomics.wat): the same answers and
# traps both ways, and (LODGE_PERF_MAP's symbols) the functions really were translated
ja=jit_atomics.wat
check2 jit-atomic-mix 0 "-239051238895804880" -- --invoke mix $ja 64 -8142508126285856632
check2 jit-atomic-mix-zero 0 "8923130653579262039" -- --invoke mix $ja 128 0
check2 jit-atomic-loop 0 "307124383963706409" -- --invoke loop $ja 1000
check2 jit-atomic-rmw16-end 0 "0" -- --invoke rmw16 $ja 65532
check2 jit-atomic-rmw16-misaligned 134 "lodge wasm: jit_atomics.wat: trap: unaligned atomic in function 6 (rmw16) at offset 0x3b7 (jit_atomics.wat:98:6)" \
	-- --invoke rmw16 $ja 65533
check2 jit-atomic-rmw16-oob 134 "lodge wasm: jit_atomics.wat: trap: out of bounds memory access in function 6 (rmw16) at offset 0x3b7 (jit_atomics.wat:98:6)" \
	-- --invoke rmw16 $ja 65534
check2 jit-atomic-cmpxchg-misaligned 134 "lodge wasm: jit_atomics.wat: trap: unaligned atomic in function 7 (cmpxchg64) at offset 0x3c4 (jit_atomics.wat:100:6)" \
	-- --invoke cmpxchg64 $ja 65532
check2 jit-atomic-cmpxchg-oob 134 "lodge wasm: jit_atomics.wat: trap: out of bounds memory access in function 7 (cmpxchg64) at offset 0x3c4 (jit_atomics.wat:100:6)" \
	-- --invoke cmpxchg64 $ja 65536
check2 jit-atomic-and-oob 134 "lodge wasm: jit_atomics.wat: trap: out of bounds memory access in function 8 (and32) at offset 0x3cf (jit_atomics.wat:102:6)" \
	-- --invoke and32 $ja 65532
check2 jit-atomic-store8-end 0 "" -- --invoke store8 $ja 0
check2 jit-atomic-store8-oob 134 "lodge wasm: jit_atomics.wat: trap: out of bounds memory access in function 9 (store8) at offset 0x3da (jit_atomics.wat:104:6)" \
	-- --invoke store8 $ja 1
check2 jit-atomic-notify-misaligned 134 "lodge wasm: jit_atomics.wat: trap: unaligned atomic in function 10 (notify) at offset 0x3e7 (jit_atomics.wat:106:6)" \
	-- --invoke notify $ja 2
check2 jit-atomic-wait-not-equal 0 "1" -- --invoke wait $ja 0
check2 jit-atomic-wait-misaligned 134 "lodge wasm: jit_atomics.wat: trap: unaligned atomic in function 11 (wait) at offset 0x3f4 (jit_atomics.wat:108:6)" \
	-- --invoke wait $ja 1
check2 jit-call-ref 0 "42" -- --invoke apply $ja 1 6 7
check2 jit-call-ref-loop 0 "-8899706457346306584" -- --invoke apply_sum $ja 1000
check2 jit-call-ref-null 134 "lodge wasm: jit_atomics.wat: trap: null function reference in function 14 (call_null) at offset 0x436 (jit_atomics.wat:121:6)" \
	-- --invoke call_null $ja 1
check2 jit-as-non-null-null 134 "lodge wasm: jit_atomics.wat: trap: null reference in function 15 (as_non_null) at offset 0x448 (jit_atomics.wat:124:19)" \
	-- --invoke as_non_null $ja 0
check2 jit-as-non-null 0 "0" -- --invoke as_non_null $ja 1
check2 jit-call-ref-host 7 "" -- --invoke exit_ref $ja 7
# translated NAME SYMBOLS -- lodge wasm arguments: with --jit-hot 1, each of SYMBOLS
# ("wasm:INDEX:NAME") is in perf's map of translated code (/tmp/perf-PID.map)
translated() {
	name=$1 syms=$2
	shift 3
	# exec: lodge keeps the subshell's pid (so no timeout(1) in between; these runs are short)
	(cd "$dir" && exec env LODGE_PERF_MAP=1 "$lodge" wasm --jit-hot 1 "$@" >/dev/null 2>&1) &
	pid=$!
	wait $pid
	map=/tmp/perf-$pid.map
	missing=
	for sym in $syms; do
		grep -q " $sym\$" "$map" 2>/dev/null || missing="$missing $sym"
	done
	rm -f "$map"
	if [ -n "$missing" ]; then
		echo "FAIL: wasm-cli.$name: not translated:$missing"
	else
		echo "PASS: wasm-cli.$name"
	fi
}
translated jit-atomic-translated "wasm:4:mix wasm:3:h" -- --invoke mix $ja 64 5
translated jit-atomic-loop-translated "wasm:5:loop" -- --invoke loop $ja 10
translated jit-atomic-wait-translated "wasm:11:wait" -- --invoke wait $ja 0
translated jit-call-ref-translated "wasm:13:apply_sum wasm:1:add wasm:2:mul" -- \
	--invoke apply_sum $ja 10
translated jit-as-non-null-translated "wasm:15:as_non_null" -- --invoke as_non_null $ja 1
# tail calls are translated too (the deep runs above then ran in constant host stack)
translated jit-tail-call-translated "wasm:1:even wasm:2:odd" -- --invoke even $t 100
# exceptions and the JIT (jit_exn.wat): thrown and caught in translated frames, through
# interpreted ones and back, payloads, rethrows, traps, exact fuel, chains of handlers a
# million frames deep, references across throws; functions with handlers are translated
je=jit_exn.wat
check2 jit-exn-local 0 "4294968794500" -- --invoke local $je 1000
check2 jit-exn-up 0 "5050" -- --invoke up $je 100
check2 jit-exn-mixed 0 "5050" -- --invoke mixed $je 100
check2 jit-exn-interp-catch 0 "5050" -- --invoke interp_catch $je 100
check2 jit-exn-payload 0 "9218868437227405316" -- --invoke payload $je 5 9218868437227405313
check2 jit-exn-rethrow 0 "5050" -- --invoke rethrow $je 100
check2 jit-exn-catch-all 0 "10" -- --invoke all $je 10
check2 jit-exn-uncaught 134 "lodge wasm: jit_exn.wat: trap: uncaught exception in function 0 (thrower) at offset 0xfa (jit_exn.wat:19:31)" \
	-- --invoke uncaught $je 3
check2 jit-exn-null-ref 134 "lodge wasm: jit_exn.wat: trap: null exception reference in function 16 (null_ref) at offset 0x2bf (jit_exn.wat:137:46)" \
	-- --invoke null_ref $je 0
check2 jit-exn-fuel-exact 0 "5050" -- --fuel 300 --invoke up $je 100
check2 jit-exn-fuel-short 134 "lodge wasm: jit_exn.wat: trap: fuel exhausted in function 1 (relay) at offset 0x104 (jit_exn.wat:21:6)" \
	-- --fuel 299 --invoke up $je 100
check2 jit-exn-rethrow-fuel-exact 0 "1275" -- --fuel 250 --invoke rethrow $je 50
check2 jit-exn-rethrow-fuel-short 134 "lodge wasm: jit_exn.wat: trap: fuel exhausted in function 1 (relay) at offset 0x104 (jit_exn.wat:21:6)" \
	-- --fuel 249 --invoke rethrow $je 50
check2 jit-exn-loop-fuel-short 134 "lodge wasm: jit_exn.wat: trap: fuel exhausted in function 5 (local) at offset 0x134 (jit_exn.wat:33:22)" \
	-- --fuel 500 --invoke local $je 1000
check2 jit-exn-chain 0 "1000" -- --invoke chain $je 1000
check2 jit-exn-chain-deep 0 "1000000" -- --stack 1G --invoke chain_ref $je 1000000
check2 jit-exn-chain-over 134 "lodge wasm: jit_exn.wat: trap: call stack exhausted in function 19 (rec_ref) at offset 0x311 (jit_exn.wat:158:10)" \
	-- --stack 64K --invoke chain_ref $je 100000
check2 jit-exn-roots 0 "109907" -- --invoke roots $je 100
export LODGE_TEST_HOOK=gc-stress
check2 gc-stress-jit-exn-roots 0 "389707" -- --invoke roots $je 300
unset LODGE_TEST_HOOK
# attacks (jit_exn_attack.wat): pads below operand-stack temporaries, multi-value blocks,
# v128/f64/externref payloads, return_call targets throwing, the stack limit tripping in
# a handler while unwinding, GC refs across throws, throw_ref uncaught, fuel at throws
ja2=jit_exn_attack.wat
check2 jit-exn-atk-height 0 "422477104" -- --invoke height $ja2 200
check2 jit-exn-atk-height-interp 0 "422477104" -- --invoke height_i $ja2 200
check2 jit-exn-atk-multi 0 "166666666750000" -- --invoke multi $ja2 100000
check2 jit-exn-atk-vpay 0 "6" -- --invoke vpay $ja2 5 9218868437227405313
check2 jit-exn-atk-tail 0 "5008" -- --invoke tail $ja2 100
check2 jit-exn-atk-deep 0 "500500" -- --invoke deep $ja2 1000
check2 jit-exn-atk-refs 0 "79500" -- --invoke refs $ja2 200
check2 jit-exn-atk-spin 0 "499500" -- --invoke spin $ja2 1000
check2 jit-exn-atk-rethrow-uncaught 134 "lodge wasm: jit_exn_attack.wat: trap: uncaught exception in function 17 (rethrow_uncaught) at offset 0x3e4 (jit_exn_attack.wat:182:6)" \
	-- --invoke rethrow_uncaught $ja2 3
check2 jit-exn-atk-unwind-fits 0 "124230" -- --stack 96K --invoke deep2 $ja2 3030
check2 jit-exn-atk-unwind-over 134 "lodge wasm: jit_exn_attack.wat: trap: call stack exhausted in function 19 (burn) at offset 0x41d (jit_exn_attack.wat:196:37)" \
	-- --stack 96K --invoke deep2 $ja2 3040
check2 jit-exn-atk-fuel-exact 0 "10" -- --fuel 10 --invoke fuelthrow $ja2 10
check2 jit-exn-atk-fuel-short 134 "lodge wasm: jit_exn_attack.wat: trap: fuel exhausted in function 18 (fuelthrow) at offset 0x3ee (jit_exn_attack.wat:188:10)" \
	-- --fuel 9 --invoke fuelthrow $ja2 10
# spin's loop (a try_table in a try_table) is entered by OSR at --jit-hot 100, fuel
# running out inside it after that
check jit.jit-exn-atk-osr 0 "12497500" -- --jit-hot 100 --invoke spin $ja2 5000
check jit.jit-exn-atk-osr-fuel 134 "lodge wasm: jit_exn_attack.wat: trap: fuel exhausted in function 15 (spin) at offset 0x392 (jit_exn_attack.wat:163:55)" \
	-- --jit-hot 100 --fuel 4999 --invoke spin $ja2 5000
check jit-exn-atk-osr-fuel 134 "lodge wasm: jit_exn_attack.wat: trap: fuel exhausted in function 15 (spin) at offset 0x392 (jit_exn_attack.wat:163:55)" \
	-- --no-jit --fuel 4999 --invoke spin $ja2 5000
export LODGE_TEST_HOOK=gc-stress
check2 gc-stress-jit-exn-atk-refs 0 "24750" -- --invoke refs $ja2 100
check2 gc-stress-jit-exn-atk-deep 0 "45150" -- --invoke deep $ja2 300
unset LODGE_TEST_HOOK
translated jit-exn-atk-translated "wasm:2:height wasm:0:thrower" -- --invoke height $ja2 3
translated jit-exn-atk-tail-translated "wasm:10:tail wasm:8:tail_b wasm:7:tail_a" -- --invoke tail $ja2 5
translated jit-exn-local-translated "wasm:5:local" -- --invoke local $je 10
translated jit-exn-translated "wasm:7:mixed wasm:0:thrower wasm:1:relay" -- --invoke mixed $je 10
translated jit-exn-rethrow-translated "wasm:13:rethrow wasm:12:catch_all_rethrow wasm:11:catch_rethrow" -- \
	--invoke rethrow $je 10
translated jit-exn-payload-translated "wasm:10:payload wasm:9:throw2" -- --invoke payload $je 1 2
translated jit-exn-chain-translated "wasm:19:rec_ref wasm:20:chain_ref" -- --invoke chain_ref $je 10
# GC ops are translated (C for the object ops, standing at the op with its stack map):
# gc.wat's and gc_roots.wat's cases above ran through them with the JIT forced
translated jit-gc-translated "wasm:3:deep wasm:1:list wasm:0:churn wasm:2:sum" -- \
	--max-memory 16M --invoke deep gc.wat 100 1000
translated jit-gc-refs-translated "wasm:8:mixed" -- --max-memory 16M --invoke mixed gc.wat 100
translated jit-tail-indirect-translated "wasm:3:even_i wasm:4:odd_i" -- \
	--invoke even_indirect $t 100
translated jit-tail-bigger-frame-translated "wasm:5:sum wasm:6:sum_big" -- --invoke sum $t 100 0
translated jit-tail-host-translated "wasm:8:exit_tail" -- --invoke exit_tail $t 0
translated jit-tail-ref-translated "wasm:0:even wasm:1:odd" -- --invoke even $tr 100
# slots written in C (jit_slots.wat): GC objects, i31 and casts, br_on_cast, extern
# conversions, exceptions' handlers, table and memory ops and atomics' wait/notify write
# their results to the frame; the translated code reloads every cached register those
# slots are in (and forgets that one held a zero-extended address), so each sum is the
# interpreter's
js=jit_slots.wat
check2 jit-slots-gc 0 "8641310512275788662" -- --invoke gc $js 1000
check2 jit-slots-casts 0 "2087219604832016290" -- --invoke casts $js 1000
check2 jit-slots-exn 0 "3764982882583501007" -- --invoke exn $js 1000
check2 jit-slots-tables 0 "-2998307670460247120" -- --invoke tables $js 1000
check2 jit-slots-mem 0 "3121101453930601504" -- --invoke mem $js 1000
check2 jit-slots-addr 0 "-3046192632535243582" -- --invoke addr $js 0
export LODGE_TEST_HOOK=gc-stress
check2 gc-stress-jit-slots-gc 0 "6952198319431985744" -- --invoke gc $js 300
check2 gc-stress-jit-slots-exn 0 "8209189485349245101" -- --invoke exn $js 300
unset LODGE_TEST_HOOK
translated jit-slots-gc-translated "wasm:3:gc" -- --invoke gc $js 10
translated jit-slots-casts-translated "wasm:4:casts" -- --invoke casts $js 10
translated jit-slots-exn-translated "wasm:5:exn wasm:2:throw" -- --invoke exn $js 10
translated jit-slots-tables-translated "wasm:6:tables wasm:0:f0 wasm:1:f1" -- --invoke tables $js 10
translated jit-slots-mem-translated "wasm:7:mem" -- --invoke mem $js 10
translated jit-slots-addr-translated "wasm:9:addr wasm:8:id32" -- --invoke addr $js 0

dir=$tmp
head -c 200 /dev/urandom >"$tmp/garbage.wasm"
printf '\0asm\1\0\0\0\1\5\1\140' >"$tmp/truncated.wasm"
printf '\0asm\1\0\0\0\12\4\1\2\0\13' >"$tmp/invalid.wasm"
check garbage 125 "lodge wasm: garbage.wasm: malformed module: offset 0x0, magic header not detected" \
	-- garbage.wasm
check truncated 125 "lodge wasm: truncated.wasm: malformed module: section type, offset 0xa, length out of bounds (section size 5, 2 bytes left)" \
	-- truncated.wasm
check function-without-code 125 "lodge wasm: invalid.wasm: malformed module: offset 0xe, function and code section have inconsistent lengths" \
	-- invalid.wasm

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
check bad-dir 125 "lodge wasm: --dir $tmp/nope: No such file or directory" -- --dir "$tmp/nope" "$out/cli.wasm"

# Lazy compilation: a function is compiled to the interpreter's code at its first call,
# after the whole module was validated at load (--compile lazy; auto, the default, is lazy
# for modules of 256 KiB or more). lazy.wat's _start calls one of its seven functions;
# LODGE_WASM_TIMES=1 reports how many were compiled.
dir=$out
compiled() {
	name=$1 c_want=$2
	shift 2
	got=$(cd "$dir" && LODGE_WASM_TIMES=1 timeout 60 "$lodge" wasm "$@" 2>&1 >/dev/null |
		grep '^lodge wasm: functions compiled:')
	if [ "$got" = "lodge wasm: functions compiled: $c_want" ]; then
		echo "PASS: wasm-cli.$name"
	else
		echo "FAIL: wasm-cli.$name: '$got', want '$c_want'"
	fi
}
compiled lazy-uncalled "2 of 7" --compile lazy lazy.wasm
compiled lazy-uncalled-jit "2 of 7" --compile lazy --jit-hot 1 lazy.wasm
compiled lazy-trap-path "3 of 7" --compile lazy --invoke trap lazy.wasm 0
compiled lazy-eager "7 of 7" --compile eager lazy.wasm
compiled lazy-jit-eager "7 of 7" --compile lazy --jit-eager lazy.wasm
compiled lazy-auto-small "7 of 7" lazy.wasm
# the same module with a passive data segment of 300 KB: auto compiles it lazily
{
	sed '$d' "$here/lazy.wat" # all but its closing parenthesis
	printf '  (data "'
	head -c 300000 /dev/zero | tr '\0' x
	printf '")\n)\n'
} >"$tmp/lazy_big.wat"
if wat2wasm "$tmp/lazy_big.wat" -o "$out/lazy_big.wasm"; then
	compiled lazy-auto-big "2 of 7" lazy_big.wasm
else
	echo "FAIL: wasm-cli.lazy-auto-big: cannot assemble lazy_big.wat"
fi
lz_want="lodge wasm: lazy.wasm: trap: integer divide by zero in function 4 at offset 0x69"
check2 lazy-trap-location 134 "$lz_want" -- --compile lazy --invoke trap lazy.wasm 0
check2 lazy-trap-location-eager 134 "$lz_want" -- --compile eager --invoke trap lazy.wasm 0
check2 lazy-result 0 "3" -- --compile lazy --invoke trap lazy.wasm 5
check lazy-bad-compile 2 "lodge wasm: bad --compile 'later' (auto, lazy or eager) (try 'lodge wasm --help')" \
	-- --compile later lazy.wasm
# an ill-typed function that is never called: refused at load all the same
dir=$here/lazy
lz_want="invalid module: section code, function 1, offset 0x2e, type mismatch: branch operand"
check lazy-invalid-uncalled 125 "lodge wasm: invalid_unused.wat:7:6: $lz_want" \
	-- --compile lazy invalid_unused.wat
check lazy-invalid-uncalled-eager 125 "lodge wasm: invalid_unused.wat:7:6: $lz_want" \
	-- --compile eager invalid_unused.wat
if wat2wasm --no-check "$here/lazy/invalid_unused.wat" -o "$tmp/invalid_unused.wasm"; then
	dir=$tmp
	check lazy-invalid-uncalled-binary 125 "lodge wasm: invalid_unused.wasm: $lz_want" \
		-- --compile lazy invalid_unused.wasm
else
	echo "FAIL: wasm-cli.lazy-invalid-uncalled-binary: cannot assemble invalid_unused.wat"
fi

# 3.0 text forms: annotations and $"..." identifiers, and their errors at line and column
dir=$here/wasm3
check2 text3-annotations 0 "7" -- --invoke f annot.wat
printf '(module\n  (@a \001)\n)\n' >"$tmp/annot_char.wat"
printf '(module\n  (func $"")\n)\n' >"$tmp/empty_id.wat"
printf '(module\n  (@x (y)\n' >"$tmp/annot_open.wat"
dir=$tmp
check text3-annotation-char 125 "lodge wasm: annot_char.wat:2:7: illegal character" -- annot_char.wat
check text3-empty-id 125 "lodge wasm: empty_id.wat:2:9: empty identifier" -- empty_id.wat
check text3-annotation-unclosed 125 "lodge wasm: annot_open.wat:2:3: unclosed annotation" -- annot_open.wat

# wasi-threads (threads/threads.wat, run as text: it imports its shared memory and
# thread-spawn as a wasm32-wasi-threads program does): shared counters with atomics and
# joins by wait/notify, output and files from several threads on one fd table, a trap or
# proc_exit in a thread ending the whole program, --max-threads and --max-memory over
# all threads, --timeout and --fuel; then the ThreadSanitizer build on the same programs.
dir=$here/threads
t=threads.wat
# check_sorted NAME WANT_STATUS WANT_OUTPUT -- args: check with the output lines sorted
check_sorted() {
	name=$1 want=$2 text=$3
	shift 4
	got=$(run "$@")
	st=$?
	got=$(printf '%s\n' "$got" | sort)
	if [ "$st" != "$want" ]; then
		echo "FAIL: wasm-cli.$name: exit status $st, want $want: $(printf '%s' "$got" | head -3)"
	elif [ "$got" != "$text" ]; then
		echo "FAIL: wasm-cli.$name: output '$(printf '%s' "$got" | head -6)', want '$text'"
	else
		echo "PASS: wasm-cli.$name"
	fi
}
check2 threads-counter 0 "counter 8000" -- $t c
check_sorted threads-output 0 "joined
thread 1
thread 2
thread 3
thread 4" -- $t o
check_sorted threads-output-jit 0 "joined
thread 1
thread 2
thread 3
thread 4" -- --jit-hot 1 $t o
check2 threads-trap 134 "lodge wasm: threads.wat: trap: unreachable in function 13 (wasi_thread_start) at offset 0x324 (threads.wat:121:13)" -- $t t
check2 threads-proc-exit 7 "" -- $t x
check2 threads-max-default 0 "started 64" -- $t m
check2 threads-max 0 "started 3" -- --max-threads 3 $t m
check2 threads-max-zero 0 "started 0" -- --max-threads 0 $t m
# each thread's store (1 MiB of value stack and as much of frames under a 16M budget)
# counts against the one --max-memory: six fit beside the main thread's and the memory
check2 threads-max-memory 0 "started 6" -- --max-memory 16M $t m
# spawns that find the budget held while every thread blocks for good: the first waits
# (2 s) for one to end, the next fail at once until one does (each waited 2 s: 22 s here)
check2 threads-spawn-fails-at-once 0 "started 6" -- --max-memory 16M --timeout 12 $t M
# threads that ended are joined and freed at the next spawn: 300 in a row fit the budget
# that holds six at once
check2 threads-reap 0 "started 300" -- --max-memory 16M $t r
# the same with each thread slow to end after it signalled its joiner (the test build's
# hook; elsewhere it runs as above): a spawn that finds the budget held waits for one to end
export LODGE_TEST_HOOK=slow-thread-end
check2 threads-reap-slow 0 "started 300" -- --max-memory 16M $t r
unset LODGE_TEST_HOOK
check2 threads-timeout 124 "lodge wasm: threads.wat: timed out after 0.3 seconds" -- --timeout 0.3 $t w
check2 threads-fuel 134 "lodge wasm: threads.wat: trap: fuel exhausted in function 13 (wasi_thread_start) at offset 0x2ec (threads.wat:110:18)" -- --fuel 500 $t c
# under the seccomp filter, as the daemon runs them (LeakSanitizer's exit-time prctl is
# not in the filter, as for jit-seccomp above); with the JIT, each thread's store makes its
# code buffer (memfd_create) after the filter is in, at its first translation: the
# threads' entry is translated (perf's map, LODGE_PERF_MAP, names it), nothing is killed
asan_saved=${ASAN_OPTIONS-}
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
check threads-seccomp 0 "counter 8000" -- --seccomp $t c
# the filter's preadv2 and pwritev2 take RWF_NOWAIT and RWF_APPEND (WASI's reads and
# writes that wait, appends to stdio) and no other flag: the test hook (builds with
# LODGE_TEST_HOOKS) makes an allowed pwritev2, then a preadv2 with RWF_HIPRI: SIGSYS
if grep -q "test hook: pwritev2" "$lodge"; then # (a build with the hooks: asan)
	(cd "$dir" && LODGE_TEST_HOOK=rwf-flags timeout 60 "$lodge" wasm --seccomp $t c) >"$tmp/rwf.out" 2>&1
	rwf_rc=$?
	if [ $rwf_rc -eq $((128 + 31)) ] && grep -q "test hook: pwritev2 with RWF_NOWAIT | RWF_APPEND allowed" "$tmp/rwf.out" &&
		! grep -q "test hook: the forbidden\|RWF_APPEND: " "$tmp/rwf.out"; then
		echo "PASS: wasm-cli.seccomp-rwf-flags"
	else
		echo "FAIL: wasm-cli.seccomp-rwf-flags: exit $rwf_rc (SIGSYS wanted): $(head -c 300 "$tmp/rwf.out")"
	fi
fi
check threads-seccomp-jit 0 "counter 8000" -- --seccomp --jit-hot 1 $t c
(cd "$dir" && LODGE_PERF_MAP=1 timeout 60 sh -c 'echo $$ >"$1"; shift; exec "$@"' sh \
	"$tmp/tsj.pid" "$lodge" wasm --seccomp --jit-hot 1 $t c >"$tmp/tsj.out" 2>&1
	echo $? >"$tmp/tsj.rc")
tsj_pid=$(cat "$tmp/tsj.pid")
tsj_map=/tmp/perf-$tsj_pid.map
if [ "$(cat "$tmp/tsj.rc")" != 0 ] || [ "$(cat "$tmp/tsj.out")" != "counter 8000" ]; then
	echo "FAIL: wasm-cli.threads-seccomp-translated: exit $(cat "$tmp/tsj.rc"): $(head -3 "$tmp/tsj.out")"
elif ! grep -q ':wasi_thread_start$' "$tsj_map" 2>/dev/null; then
	echo "FAIL: wasm-cli.threads-seccomp-translated: no thread translated (perf map: $(grep -c . "$tsj_map" 2>/dev/null))"
else
	echo "PASS: wasm-cli.threads-seccomp-translated"
fi
rm -f "$tsj_map"
export ASAN_OPTIONS="$asan_saved"
check_sorted threads-sleep 0 "main
slept" -- $t s
check threads-bad-max 2 "lodge wasm: bad --max-threads count '-1' (0 to 4096) (try 'lodge wasm --help')" \
	-- --max-threads -1 $t m
mkdir -p "$tmp/files"
check2 threads-files 0 "files" -- --dir "$tmp/files" $t f
got=$(cat "$tmp/files/f1" "$tmp/files/f2" "$tmp/files/f3" "$tmp/files/f4" 2>&1)
if [ "$got" = xxxx ]; then
	echo "PASS: wasm-cli.threads-files-content"
else
	echo "FAIL: wasm-cli.threads-files-content: '$got', want xxxx"
fi
tsan=$top/build/tsan/lodge
if [ -x "$tsan" ]; then
	for a in "c" "o" "t" "x" "s" "f" "m" "r"; do
		got=$(cd "$dir" && TSAN_OPTIONS=halt_on_error=1 timeout 120 "$tsan" wasm \
			--max-threads 8 --dir "$tmp/files" $t $a 2>&1)
		if printf '%s' "$got" | grep -q ThreadSanitizer; then
			echo "FAIL: wasm-cli.threads-tsan-$a: $(printf '%s' "$got" | grep -m3 -A3 WARNING)"
		else
			echo "PASS: wasm-cli.threads-tsan-$a"
		fi
	done
else
	echo "SKIP: wasm-cli.threads-tsan: $tsan not built (make tsan; make test builds it)"
fi

# SIGTERM and SIGINT to a plain run (no --api, --exit-file or --seccomp), served by a
# handler instead of a signal thread: a clean stop running (interpreted and translated,
# also sent to a wasi-threads thread), 5 s of grace in a blocked host call, a second
# signal at once, and the end at once while loading (tests/wasm/signals.py)
mkdir -p "$tmp/signals"
"$here/signals.py" "$lodge" "$here/threads/threads.wat" "$tmp/signals"

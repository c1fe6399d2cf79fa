#!/bin/sh
# Guest program suite: runs every build/guests/*.elf (make guests) with
# `$LODGE run --bare FILE --timeout T` and compares the exit status, and stdout where the
# table in tests/guests/expect says so (default: status 0, timeout 20 s, stdout unchecked).
# Prints one line per program: PASS: guests.NAME / FAIL: guests.NAME: why / SKIP: ...
#   tests/guests/suite.sh          under lodge ($LODGE, set by tests/run.sh; else build/lodge)
#   tests/guests/suite.sh --qemu   under qemu-system-riscv64 -M virt, the reference
#   tests/guests/suite.sh [--qemu] NAME...   only those programs
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
lodge=${LODGE:-$top/build/lodge}
dir=$top/build/guests
table=$top/tests/guests/expect
runner=lodge
if [ "${1:-}" = --qemu ]; then
	runner=qemu
	shift
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# say TEXT: print one result line (printf, not echo: dash's echo expands backslashes).
say() {
	printf '%s\n' "$*"
}

if [ $# -eq 0 ]; then
	set -- $(cd "$dir" 2>/dev/null && ls -- *.elf 2>/dev/null | sed 's/\.elf$//')
fi
if [ $# -eq 0 ]; then
	say "SKIP: guests: no programs in build/guests (make guests; needs riscv64-linux-gnu-gcc)"
	exit 0
fi
if [ $runner = lodge ] && [ ! -x "$lodge" ]; then
	for name; do
		say "SKIP: guests.$name: no lodge binary at $lodge"
	done
	exit 0
fi
if [ $runner = qemu ] && ! command -v qemu-system-riscv64 >/dev/null; then
	say "SKIP: guests: qemu-system-riscv64 not installed"
	exit 0
fi

# parse_row NAME STATUS TIMEOUT STDOUT: one row of the table.
parse_row() {
	want=$2
	[ "$3" = - ] || tmo=$3
	shift 3
	want_out=$*
}

# run_one NAME SUFFIX FLAGS: one program under one runner configuration.
run_one() {
	name=$1 sfx=$2 flags=$3
	elf=$dir/$name.elf
	want=0 tmo=20 want_out=-
	row=
	if [ $runner = qemu ]; then
		row=$(grep "^qemu:$name[[:space:]]" "$table" 2>/dev/null | head -n 1)
	fi
	[ -n "$row" ] || row=$(grep "^$name[[:space:]]" "$table" 2>/dev/null | head -n 1)
	# shellcheck disable=SC2086
	[ -z "$row" ] || parse_row $row
	# The outer timeout (status 137) catches a runner that ignores its own time limit.
	if [ $runner = qemu ]; then
		timeout "$tmo" qemu-system-riscv64 -M virt -bios none -nographic -kernel "$elf" \
			</dev/null >"$tmp/out" 2>"$tmp/err"
	else
		timeout -s KILL $((tmo + 10)) "$lodge" run --bare "$elf" --timeout "$tmo" $flags \
			</dev/null >"$tmp/out" 2>"$tmp/err"
	fi
	got=$?
	if grep -q -e AddressSanitizer -e 'runtime error' "$tmp/err"; then
		say "FAIL: guests.$name$sfx: sanitizer report: $(grep -m 1 -e AddressSanitizer \
			-e 'runtime error' "$tmp/err")"
		return
	fi
	if [ "$got" -ne "$want" ]; then
		why="got status $got, expected $want"
		if [ $got -eq 137 ]; then
			why="$why (killed $((tmo + 10)) s after start)"
		fi
		# a hint: lodge's complaint, or the C runtime's failure report
		hint=$(head -n 1 "$tmp/err")
		[ -n "$hint" ] || hint=$(grep -m 1 -e '^FAIL(' -e '^unexpected trap' "$tmp/out")
		[ -z "$hint" ] || why="$why ($hint)"
		say "FAIL: guests.$name$sfx: $why"
		return
	fi
	case $want_out in
	-) ;;
	none)
		# QEMU has no HTIF: the tohost programs print a fallback note there.
		if [ $runner = lodge ] && [ -s "$tmp/out" ]; then
			say "FAIL: guests.$name$sfx: unexpected output: $(head -c 80 "$tmp/out" |
				tr '\n' ' ')"
			return
		fi
		;;
	*)
		printf '%b' "$want_out" >"$tmp/want"
		if ! cmp -s "$tmp/want" "$tmp/out"; then
			say "FAIL: guests.$name$sfx: stdout is '$(head -c 80 "$tmp/out" | od -An -c |
				tr -d '\n' | tr -s ' ')', expected '$want_out'"
			return
		fi
		;;
	esac
	# A "jit:NAME OPS" row: the translated run (--stats) must show none of those
	# operations among the JIT's hand-overs to the interpreter.
	if [ -n "$covers" ]; then
		exits=$(grep -a -m 1 'jit-exits' "$tmp/err")
		if [ -z "$exits" ]; then
			say "FAIL: guests.$name$sfx: no 'jit-exits' line from --stats"
			return
		fi
		for o in $(printf '%s' "$covers" | tr , ' '); do
			case " ${exits#*jit-exits} " in
			*" $o="*)
				say "FAIL: guests.$name$sfx: the JIT handed $o to the interpreter:" \
					"${exits#*jit-exits }"
				return
				;;
			esac
		done
	fi
	say "PASS: guests.$name$sfx"
}

# Under lodge each program runs twice: translated at once by the JIT (--jit-hot 1, so
# that even code run once is translated) and interpreted only (--no-jit, suffix .interp).
covers=
for name; do
	if [ $runner = qemu ]; then
		run_one "$name" "" ""
	else
		covers=$(grep "^jit:$name[[:space:]]" "$table" 2>/dev/null | awk '{ print $2 }')
		run_one "$name" "" "--jit-hot 1${covers:+ --stats}"
		covers=
		run_one "$name" .interp --no-jit
	fi
done
exit 0

#!/bin/sh
# Console tests (issue 8) for `lodge run`, with three bare-metal programs assembled here
# (tests/console/*.S, with riscv64-linux-gnu-gcc):
#   spam.S  writes 'x' forever     spin.S  prints "spin: ready", then loops
#   echo.S  a polling driver (FIFO on, RTS asserted, no interrupts) echoing its input
# Tests:
#   sigpipe          `lodge run --bare spam.elf | head -c 5`: the reader going away is a
#                    clean stop (--stats still printed) with status 141, not SIGPIPE death
#   input_early      input piped before the program runs comes back whole and in order
#   pty.* and pty_release.*  (pty.py) on a pseudo-terminal: raw mode, Ctrl-A keys, the
#                    termination signals (status 128 + n) and fatal ones, each leaving the
#                    terminal as it was; the fatal ones also with the release build
#                    (no sanitizer handlers in the way)
# Linux-guest console tests (the README's pipe example, many commands) are in tests/linux.
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
lodge=${LODGE:-$top/build/lodge}
rel=$top/build/release/lodge
here=$top/tests/console
cc=${GUEST_CC:-riscv64-linux-gnu-gcc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pass() { echo "PASS: console.$1"; }
fail() { echo "FAIL: console.$1: $2"; }
skip() { echo "SKIP: console.$1: $2"; }

if [ ! -x "$lodge" ]; then
	fail all "no lodge binary at $lodge (run make)"
	exit 0
fi
if ! command -v "$cc" >/dev/null 2>&1; then
	skip programs "$cc not installed (scripts/install-deps.sh installs gcc-riscv64-linux-gnu)"
	exit 0
fi
for p in spam spin echo; do
	if ! "$cc" -march=rv64gc -mabi=lp64d -nostdlib -nostartfiles -static -fno-pic -no-pie \
		-T "$here/link.ld" -Wl,--build-id=none -Wl,--no-warn-rwx-segments \
		-o "$tmp/$p.elf" "$here/$p.S" 2>"$tmp/cc.err"; then
		fail programs "cannot assemble $p.S: $(head -c 300 "$tmp/cc.err")"
		exit 0
	fi
done

sanitizer_clean() { ! grep -qE 'AddressSanitizer|runtime error|ThreadSanitizer' "$1"; }

# sigpipe: the status of lodge itself (not head's) goes through a file.
{
	"$lodge" run --bare "$tmp/spam.elf" --stats --timeout 60 2>"$tmp/sp.err"
	echo $? >"$tmp/sp.st"
} | head -c 5 >"$tmp/sp.out"
st=$(cat "$tmp/sp.st")
if [ "$st" -eq 141 ] && [ "$(cat "$tmp/sp.out")" = xxxxx ] &&
	grep -q 'lodge: stats: instret=' "$tmp/sp.err" && sanitizer_clean "$tmp/sp.err"; then
	pass sigpipe
else
	fail sigpipe "status $st (want 141 after a clean stop with --stats printed); stderr: $(head -c 300 "$tmp/sp.err")"
fi

# input_early: 3000 bytes piped at once, before the program has set the UART up.
awk 'BEGIN { for (i = 0; i < 300; i++) printf "line %04d\n", i }' >"$tmp/in.txt"
{
	cat "$tmp/in.txt"
	printf q
} | "$lodge" run --bare "$tmp/echo.elf" --timeout 60 >"$tmp/echo.out" 2>"$tmp/echo.err"
st=$?
printf q >>"$tmp/in.txt"
if [ "$st" -eq 0 ] && cmp -s "$tmp/in.txt" "$tmp/echo.out" && sanitizer_clean "$tmp/echo.err"; then
	pass input_early
else
	fail input_early "status $st, $(wc -c <"$tmp/echo.out") of $(wc -c <"$tmp/in.txt") bytes echoed back"
fi

if ! command -v python3 >/dev/null 2>&1; then
	skip pty "python3 not installed (scripts/install-deps.sh installs it)"
	exit 0
fi
python3 "$here/pty.py" "$lodge" "$tmp/spin.elf" console.pty raw_mode ctrl_a_keys \
	sigterm sighup sigint sigquit fatal_sigsegv fatal_sigabrt fatal_sigbus fatal_sigusr1 \
	fatal_sigalrm fatal_sigxcpu fatal_sigtrap fatal_sigrtmin
if [ -x "$rel" ]; then
	python3 "$here/pty.py" "$rel" "$tmp/spin.elf" console.pty_release sigterm \
		fatal_sigsegv fatal_sigabrt fatal_sigusr1 fatal_sigalrm
else
	skip pty_release "no release build at $rel (make test builds it)"
fi
exit 0

#!/bin/sh
# virtio-console end to end (issue 9): the default guest (guest-cache/out/initrd.img, a
# busybox shell on the console) booted with --virtio-console, so its console is hvc0:
#   pipe              commands piped before boot run on hvc0 (the default command line
#                     is console=hvc0); the UART still prints OpenSBI's banner; the
#                     guest sees hvc0 as its console and the device under virtio
#   many_commands     1500 commands piped at once, all run, in order (input kept in the
#                     backend until the guest has buffers and has opened the port)
#   input_after_prompt  a command typed after the prompt appeared
#   panic             a kernel panic seen through hvc0 stops the machine (status 121)
#   bad_args          --virtio-console=junk and a second --virtio-console are refused
#   pty.*             (pty_linux.py) on a pseudo-terminal: Ctrl-C reaches the guest's
#                     shell, Ctrl-A X quits, the terminal is restored
# Boots use the release build (one runs under ASan+UBSan). Needs `make guest`; without
# it, one SKIP naming the missing file.
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
rel=$top/build/release/lodge
asan=${LODGE:-$top/build/asan/lodge}
out=$top/guest-cache/out
here=$top/tests/vcon
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pass() { echo "PASS: vcon.$1"; }
fail() { echo "FAIL: vcon.$1: $2"; }
skip() { echo "SKIP: vcon.$1: $2"; }

for f in "$out/Image" "$out/fw_dynamic.bin" "$out/initrd.img"; do
	if [ ! -f "$f" ]; then
		skip "guest.$(basename "$f")" "${f#"$top"/} missing (make guest; needs Debian's package mirror)"
		exit 0
	fi
done
[ -x "$rel" ] || rel=$asan

sanitizer_clean() { ! grep -qE 'AddressSanitizer|runtime error|ThreadSanitizer' "$1"; }

# vcon BIN ARGS...: the default guest with --virtio-console, stdin as given
vcon() {
	bin=$1
	shift
	"$bin" run --kernel "$out/Image" --initrd "$out/initrd.img" --firmware "$out/fw_dynamic.bin" \
		--mem 256M --timeout 240 --virtio-console "$@"
}

# --- pipe: the README's example on hvc0, under ASan+UBSan -----------------------------
cat >"$tmp/pipe.in" <<'EOF'
echo "answer-$((6 * 7))"; echo "active=$(cat /sys/class/tty/console/active)"
echo "cmdline=$(cat /proc/cmdline)"; echo "virtio=$(cat /sys/bus/virtio/devices/*/device | tr '\n' ' ')"
[ -e /sys/class/tty/hvc0 ] && echo hvc0-present; poweroff -f
EOF
vcon "$asan" <"$tmp/pipe.in" >"$tmp/pipe.out" 2>"$tmp/pipe.err"
st=$?
tr -d '\r' <"$tmp/pipe.out" >"$tmp/pipe.txt"
why=
[ "$st" -eq 0 ] || why="exit status $st"
grep -qx 'answer-42' "$tmp/pipe.txt" || why="$why; no answer-42 line"
grep -qx 'active=hvc0' "$tmp/pipe.txt" || why="$why; the console is not hvc0"
grep -q '^cmdline=.*console=hvc0' "$tmp/pipe.txt" || why="$why; default command line not console=hvc0"
grep -q '^virtio=.*0x0003' "$tmp/pipe.txt" || why="$why; no virtio device 3 (console) in the guest"
grep -qx 'hvc0-present' "$tmp/pipe.txt" || why="$why; no /sys/class/tty/hvc0"
grep -q 'OpenSBI' "$tmp/pipe.txt" || why="$why; the UART no longer printed OpenSBI's banner"
sanitizer_clean "$tmp/pipe.err" || why="$why; sanitizer report"
if [ -z "$why" ]; then
	pass pipe
else
	fail pipe "${why#; } (output: $(tail -c 300 "$tmp/pipe.txt"))"
fi

# --- many_commands -----------------------------------------------------------------
# The guest's tty echoes input while commands run, which can split output lines, so the
# commands write to a file and the last line (read after all others) sums it.
awk 'BEGIN { for (i = 1; i <= 1500; i++) printf "echo line-%d >>/tmp/o\n", i }' >"$tmp/many.in"
want=$(awk 'BEGIN { for (i = 1; i <= 1500; i++) printf "line-%d\n", i }' | md5sum | cut -d' ' -f1)
echo 'echo "sum=$(md5sum </tmp/o) n=$(wc -l </tmp/o)"; poweroff -f' >>"$tmp/many.in"
vcon "$rel" --append "console=hvc0 quiet" <"$tmp/many.in" >"$tmp/many.out" 2>&1
st=$?
if [ "$st" -eq 0 ] && tr -d '\r' <"$tmp/many.out" | grep -q "^sum=$want  - n=1500$"; then
	pass many_commands
else
	fail many_commands "status $st, want 0 and sum=$want n=1500; got: $(tr -d '\r' <"$tmp/many.out" | grep -a '^sum=' | head -c 200)"
fi

# --- input_after_prompt ------------------------------------------------------------
: >"$tmp/late.out"
mkfifo "$tmp/fifo"
vcon "$rel" --append "console=hvc0 quiet" <"$tmp/fifo" >"$tmp/late.out" 2>&1 &
pid=$!
exec 3>"$tmp/fifo"
i=0
while [ $i -lt 240 ] && ! grep -q 'lodge:~# ' "$tmp/late.out" && kill -0 $pid 2>/dev/null; do
	sleep 1
	i=$((i + 1))
done
echo 'echo "late-$((6 * 7))"; poweroff -f' >&3
wait $pid
st=$?
exec 3>&-
if [ "$st" -eq 0 ] && tr -d '\r' <"$tmp/late.out" | grep -qx 'late-42'; then
	pass input_after_prompt
else
	fail input_after_prompt "status $st, want 0 and a line late-42: $(tail -c 200 "$tmp/late.out")"
fi

# --- panic: the panic watcher sees hvc0's output -------------------------------------
echo 'echo 1 >/proc/sys/kernel/sysrq; echo c >/proc/sysrq-trigger' |
	vcon "$rel" --append "console=hvc0 quiet" >"$tmp/panic.out" 2>"$tmp/panic.err"
st=$?
if [ "$st" -eq 121 ] && grep -q 'Kernel panic - not syncing' "$tmp/panic.out" &&
	grep -q 'panicked' "$tmp/panic.err"; then
	pass panic
else
	fail panic "status $st (want 121), or no panic text: $(tail -c 200 "$tmp/panic.out")"
fi

# --- bad_args: one clear line, status 125 ----------------------------------------------
# bad NAME ARGS...
bad() {
	name=$1
	shift
	"$asan" run --kernel "$out/Image" --firmware "$out/fw_dynamic.bin" "$@" </dev/null \
		>/dev/null 2>"$tmp/bad.err"
	s=$?
	lines=$(grep -c . "$tmp/bad.err")
	if [ "$s" -eq 125 ] && [ "$lines" -eq 1 ] && grep -q '^lodge: .*virtio-console' "$tmp/bad.err" &&
		sanitizer_clean "$tmp/bad.err"; then
		pass "bad_$name"
	else
		fail "bad_$name" "status $s (want 125), $lines stderr lines: $(head -c 300 "$tmp/bad.err")"
	fi
}
bad junk_arg --virtio-console=junk
bad twice --virtio-console --virtio-console

# --- pty ---------------------------------------------------------------------------
if ! command -v python3 >/dev/null 2>&1; then
	skip pty "python3 not installed (scripts/install-deps.sh installs it)"
	exit 0
fi
python3 "$here/pty_linux.py" "$rel" "$out" vcon.pty ctrl_c_and_quit
exit 0

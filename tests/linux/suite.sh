#!/bin/sh
# Linux boot tests (issue 3): boot Debian's kernel through OpenSBI with the test init
# (tests/linux/test-init.sh) and check what it reports; reboot, panic and command-line
# variants; --dump-dtb; bad input. Boots use the release build for speed (one boot also
# runs under the ASan+UBSan build); bad-input checks use $LODGE (the ASan build).
# Console tests (issue 8) on the default guest (guest-cache/out/initrd.img, a busybox
# shell on the console): the README's scripted example exactly as written, through
# `make run`; 1500 commands piped at once, all run in order; a command that arrives
# after the shell's prompt.
# Needs `make guest linux-initrds` (make test runs them); without them, one SKIP per
# missing file, naming it.
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
rel=$top/build/release/lodge
asan=${LODGE:-$top/build/asan/lodge}
out=$top/guest-cache/out
img=$top/build/linux
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pass() { echo "PASS: linux.$1"; }
fail() { echo "FAIL: linux.$1: $2"; }
skip() { echo "SKIP: linux.$1: $2"; }

missing=0
for f in "$out/Image" "$out/fw_dynamic.bin" "$out/fw_jump.bin" "$out/initrd.img" \
	"$img/test-initrd.img" "$img/test-initrd-reboot.img" "$img/test-initrd-panic.img"; do
	if [ ! -f "$f" ]; then
		skip "guest.$(basename "$f")" "${f#"$top"/} missing (make guest linux-initrds; needs Debian's package mirror)"
		missing=1
	fi
done
[ "$missing" -eq 0 ] || exit 0
[ -x "$rel" ] || rel=$asan

# boot NAME LODGE INITRD [ARGS...]: runs a guest, output in $tmp/NAME.out, status in $st
boot() {
	name=$1 bin=$2 initrd=$3
	shift 3
	"$bin" run --kernel "$out/Image" --firmware "$out/fw_dynamic.bin" --initrd "$initrd" \
		--timeout 240 "$@" </dev/null >"$tmp/$name.out" 2>"$tmp/$name.err"
	st=$?
	tr -d '\r' <"$tmp/$name.out" >"$tmp/$name.txt"
}

fact() { sed -n "s/^LODGE-TEST $2=//p" "$tmp/$1.txt" | head -n 1; }

sanitizer_clean() { ! grep -qE 'AddressSanitizer|runtime error|ThreadSanitizer' "$tmp/$1.err"; }

# check_facts NAME CPUS MEM_MB: the test init's report for a normal poweroff boot
check_facts() {
	name=$1 cpus=$2 mem_kb=$(($3 * 1024))
	now=$(date +%s)
	why=
	[ "$st" -eq 0 ] || why="exit status $st"
	grep -q '^LODGE-TEST done' "$tmp/$name.txt" || why="$why; no 'done' line"
	[ "$(fact "$name" nproc)" = "$cpus" ] || why="$why; nproc=$(fact "$name" nproc), want $cpus"
	m=$(fact "$name" memtotal_kb)
	if [ -z "$m" ] || [ "$m" -lt $((mem_kb * 6 / 10)) ] || [ "$m" -gt "$mem_kb" ]; then
		why="$why; memtotal_kb=$m not close to $mem_kb"
	fi
	d=$(fact "$name" date)
	if [ -z "$d" ] || [ $((now - d)) -gt 300 ] || [ $((d - now)) -gt 60 ]; then
		why="$why; guest date $d vs host $now"
	fi
	[ "$(fact "$name" tmpfs)" = ok ] || why="$why; tmpfs write-then-read failed"
	[ "$(fact "$name" modules_failed)" = none ] || why="$why; modules failed: $(fact "$name" modules_failed)"
	sanitizer_clean "$name" || why="$why; sanitizer report"
	if [ -z "$why" ]; then
		pass "$name"
	else
		fail "$name" "${why#; } (output: $tmp/$name.txt)"
		sed 's/^/    /' "$tmp/$name.err" | tail -n 5
	fi
}

for n in 1 2 4; do
	boot "boot_cpus$n" "$rel" "$img/test-initrd.img" --cpus "$n" --mem 256M \
		--append "console=ttyS0 quiet"
	check_facts "boot_cpus$n" "$n" 256
done

# The interpreter alone, and the JIT translating every block at its first run.
boot boot_interp "$rel" "$img/test-initrd.img" --no-jit --mem 256M --append "console=ttyS0 quiet"
check_facts boot_interp 1 256
boot boot_jit_hot1 "$rel" "$img/test-initrd.img" --jit-hot 1 --cpus 2 --mem 256M \
	--append "console=ttyS0 quiet"
check_facts boot_jit_hot1 2 256

# One boot under ASan+UBSan (slower; 2 harts to exercise cross-hart paths).
boot boot_asan "$asan" "$img/test-initrd.img" --cpus 2 --mem 192M --append "console=ttyS0 quiet"
check_facts boot_asan 2 192

# Reboot with --no-reboot: distinct status 120 after the init's report.
boot reboot_noreboot "$rel" "$img/test-initrd-reboot.img" --no-reboot --append "console=ttyS0 quiet"
if [ "$st" -eq 120 ] && grep -q '^LODGE-TEST end=reboot' "$tmp/reboot_noreboot.txt"; then
	pass reboot_noreboot
else
	fail reboot_noreboot "status $st (want 120)"
fi

# Reboot without --no-reboot: the machine starts again (two boots), until the timeout.
"$rel" run --kernel "$out/Image" --firmware "$out/fw_dynamic.bin" \
	--initrd "$img/test-initrd-reboot.img" --append "console=ttyS0 quiet" --timeout 200 \
	</dev/null >"$tmp/reboot.out" 2>&1 &
pid=$!
i=0
while [ $i -lt 200 ]; do
	n=$(grep -c 'LODGE-TEST init' "$tmp/reboot.out" 2>/dev/null)
	[ "${n:-0}" -ge 2 ] && break
	kill -0 $pid 2>/dev/null || break
	sleep 1
	i=$((i + 1))
done
inits=$(grep -c 'LODGE-TEST init' "$tmp/reboot.out")
kill $pid 2>/dev/null
wait $pid 2>/dev/null
if [ "$inits" -ge 2 ]; then
	pass reboot_restarts
else
	fail reboot_restarts "saw $inits boots of the init, want 2"
fi

# Kernel panic (sysrq crash): status 121, panic text shown.
boot panic "$rel" "$img/test-initrd-panic.img" --append "console=ttyS0 quiet"
if [ "$st" -eq 121 ] && grep -q 'Kernel panic - not syncing' "$tmp/panic.txt" &&
	grep -q 'panicked' "$tmp/panic.err"; then
	pass panic
else
	fail panic "status $st (want 121), or no panic text"
fi

# A different command line reaches the guest: lodge.end=exit makes init exit, which the
# kernel answers with "Attempted to kill init".
boot cmdline "$rel" "$img/test-initrd.img" --append "console=ttyS0 quiet lodge.end=exit"
if [ "$st" -eq 121 ] && grep -q 'Attempted to kill init' "$tmp/cmdline.txt" &&
	grep -q '^LODGE-TEST end=exit' "$tmp/cmdline.txt"; then
	pass cmdline_variant
else
	fail cmdline_variant "status $st, or the command line did not reach the guest"
fi

# fw_jump.bin boots the same kernel (jumps to 0x80200000, FDT in a1).
boot fw_jump "$rel" "$img/test-initrd.img" --firmware "$out/fw_jump.bin" --append "console=ttyS0 quiet"
if [ "$st" -eq 0 ] && grep -q '^LODGE-TEST done' "$tmp/fw_jump.txt"; then
	pass fw_jump
else
	fail fw_jump "status $st"
fi

# --dump-dtb writes the tree; dtc decodes it. With --initrd the chosen node names the
# initrd; without, it must not. Every check is its own: one failing fails the test.
# dtb NAME ARGS...: dumps the tree of a machine with ARGS into $tmp/NAME.dts
dtb() {
	name=$1
	shift
	"$asan" run --kernel "$out/Image" --firmware "$out/fw_dynamic.bin" \
		--dump-dtb "$tmp/$name.dtb" --timeout 0.5 "$@" </dev/null >/dev/null 2>&1
	dtc -I dtb -O dts -o "$tmp/$name.dts" "$tmp/$name.dtb" 2>"$tmp/$name.dtc"
}
if command -v dtc >/dev/null; then
	why=
	if dtb dtb_initrd --cpus 3 --initrd "$img/test-initrd.img"; then
		for want in riscv,isa-extensions cpu@2 ns16550a syscon-poweroff \
			sifive,plic-1.0.0 linux,initrd-start linux,initrd-end; do
			grep -q "$want" "$tmp/dtb_initrd.dts" || why="$why; no $want with --initrd"
		done
	else
		why="$why; dtc cannot read the tree: $(head -c 200 "$tmp/dtb_initrd.dtc")"
	fi
	if dtb dtb_plain; then
		! grep -q 'linux,initrd' "$tmp/dtb_plain.dts" || why="$why; linux,initrd without --initrd"
		grep -q 'ns16550a' "$tmp/dtb_plain.dts" || why="$why; no ns16550a without --initrd"
		! grep -q 'cpu@1' "$tmp/dtb_plain.dts" || why="$why; cpu@1 on a one-hart machine"
	else
		why="$why; dtc cannot read the tree: $(head -c 200 "$tmp/dtb_plain.dtc")"
	fi
	if [ -z "$why" ]; then
		pass dump_dtb
	else
		fail dump_dtb "${why#; }"
	fi
else
	skip dump_dtb "dtc not installed (scripts/install-deps.sh installs device-tree-compiler)"
fi

# --- the console, with the default guest's shell --------------------------------------
# The README's example, exactly, through make run (guest and build are up to date; the
# make variables of an enclosing make are dropped so that this make is a plain one).
(
	unset MAKEFLAGS MAKELEVEL MFLAGS
	cd "$top" && echo 'uname -a; nproc; poweroff -f' | timeout 300 make run CPUS=2
) >"$tmp/readme.out" 2>&1
st=$?
tr -d '\r' <"$tmp/readme.out" >"$tmp/readme.txt"
if [ "$st" -eq 0 ] && grep -q '^Linux lodge .* riscv64 GNU/Linux$' "$tmp/readme.txt" &&
	grep -qx 2 "$tmp/readme.txt"; then
	pass readme_pipe
else
	fail readme_pipe "status $st (want 0), or no uname line and '2': $(tail -c 300 "$tmp/readme.txt")"
fi

# shell ARGS...: the default guest as make run starts it, stdin from $tmp/in; status in $st
shell() {
	"$rel" run --kernel "$out/Image" --initrd "$out/initrd.img" --firmware "$out/fw_dynamic.bin" \
		--mem 256M --timeout 240 "$@"
}

# poweroff as people type it, without -f: busybox's applet signals PID 1, which in the
# default guest is its init script, not busybox init (nothing happened); the login
# shell's poweroff syncs and powers off at once. Lodge ends with status 0.
printf 'echo "pw-$((6 * 7))"; poweroff\n' >"$tmp/pw.in"
shell <"$tmp/pw.in" >"$tmp/pw.out" 2>&1
st=$?
if [ "$st" -eq 0 ] && grep -q 'pw-42' "$tmp/pw.out" && grep -q 'reboot: Power down' "$tmp/pw.out"; then
	pass poweroff_command
else
	fail poweroff_command "status $st (want 0), or no power down: $(tail -c 300 "$tmp/pw.out")"
fi

# Many commands piped at once, long before the shell starts: every one runs, in order.
# The guest's tty echoes input while commands run, which can split output lines, so
# the commands write to a file and the last line (read after all others) sums it.
awk 'BEGIN { for (i = 1; i <= 1500; i++) printf "echo line-%d >>/tmp/o\n", i }' >"$tmp/many.in"
awk 'BEGIN { for (i = 1; i <= 1500; i++) printf "line-%d\n", i }' | md5sum >"$tmp/many.want"
want=$(cut -d' ' -f1 "$tmp/many.want")
echo 'echo "sum=$(md5sum </tmp/o) n=$(wc -l </tmp/o)"; poweroff -f' >>"$tmp/many.in"
shell <"$tmp/many.in" >"$tmp/many.out" 2>&1
st=$?
if [ "$st" -eq 0 ] && tr -d '\r' <"$tmp/many.out" | grep -q "^sum=$want  - n=1500$"; then
	pass many_commands
else
	fail many_commands "status $st, want 0 and sum=$want n=1500; got: $(tr -d '\r' <"$tmp/many.out" | grep -a '^sum=' | head -c 200)"
fi

# A command typed after the shell's prompt appeared (nobody answers its cursor query).
mkfifo "$tmp/fifo"
shell <"$tmp/fifo" >"$tmp/late.out" 2>&1 &
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

# An idle guest gives its decoded blocks and translated code back to the host (cpu/exec.c,
# idle_trim): idle at its shell for a few seconds, the JIT's code memfd holds next to
# nothing (it held ~1.6 MiB, full since the boot, before), and --stats counts the trims.
# It does so once per idle period: 10 s more at its shell add no trim (it trimmed every
# second or two, decoding its timer interrupts' code afresh each time: ~10 trims here).
mkfifo "$tmp/idle.fifo"
"$rel" run --kernel "$out/Image" --initrd "$out/initrd.img" --firmware "$out/fw_dynamic.bin" \
	--mem 256M --timeout 240 --stats <"$tmp/idle.fifo" >"$tmp/idle.out" 2>"$tmp/idle.err" &
pid=$!
exec 4>"$tmp/idle.fifo"
i=0
while [ $i -lt 240 ] && ! grep -q 'lodge:~# ' "$tmp/idle.out" && kill -0 $pid 2>/dev/null; do
	sleep 1
	i=$((i + 1))
done
sleep 5
code_kb=$(awk '/lodge-jit/ { f = 1; next } f && /^Rss:/ { s += $2; f = 0 } END { print s + 0 }' \
	"/proc/$pid/smaps" 2>/dev/null)
sleep 10
# Busy again, it translates again at once (not only after its next sleep): a shell loop
# of a few seconds leaves more code than its idle wakes did.
echo 'i=0; while [ $i -lt 300000 ]; do i=$((i + 1)); done; echo busy-$((i / 1000))k' >&4
i=0
while [ $i -lt 120 ] && ! grep -q 'busy-300k' "$tmp/idle.out" && kill -0 $pid 2>/dev/null; do
	sleep 1
	i=$((i + 1))
done
busy_kb=$(awk '/lodge-jit/ { f = 1; next } f && /^Rss:/ { s += $2; f = 0 } END { print s + 0 }' \
	"/proc/$pid/smaps" 2>/dev/null)
echo 'poweroff -f' >&4
wait $pid
st=$?
exec 4>&-
trims=$(sed -n 's/.* trims=\([0-9]*\) .*/\1/p' "$tmp/idle.err" | head -n 1)
if [ "$st" -eq 0 ] && grep -q 'busy-300k' "$tmp/idle.out" && [ -n "$code_kb" ] &&
	[ "$code_kb" -le 256 ] && [ "${trims:-0}" -ge 1 ] && [ "${trims:-0}" -le 2 ] &&
	[ "${busy_kb:-0}" -ge $((code_kb + 64)) ]; then
	pass idle_trim
else
	fail idle_trim "status $st, code memfd ${code_kb:-?} KiB resident after 5 s idle (want <= 256), trims=${trims:-none} after 15 s idle (want 1 or 2), ${busy_kb:-?} KiB after a busy loop (want 64 more)"
fi

# Too little RAM for the kernel's memory map (docs/INTERNALS.md, "Small guests"): Debian's
# kernel in 64 MiB panics in sparse_init before its console starts (QEMU's virt machine
# the same), so the only word a user would get is the warning said before it runs; 256
# MiB gets none. Both stopped by --timeout (124) before the kernel gets far.
small_ram() {
	name=$1 mem=$2 want=$3
	"$asan" run --kernel "$out/Image" --firmware "$out/fw_dynamic.bin" --initrd "$out/initrd.img" \
		--mem "$mem" --timeout 1 </dev/null >"$tmp/$name.out" 2>"$tmp/$name.err"
	s=$?
	w=$(grep -c '^lodge: warning: --mem .* takes 32 MiB .* --mem 96M' "$tmp/$name.err")
	if [ "$s" -eq 124 ] && [ "$w" -eq "$want" ] && sanitizer_clean "$name"; then
		pass "$name"
	else
		fail "$name" "status $s (want 124), $w warnings (want $want): $(head -c 400 "$tmp/$name.err")"
	fi
}
small_ram mem_64m_warns 64M 1
small_ram mem_256m_quiet 256M 0

# Bad input: one clear line, non-zero status, no crash.
# bad NAME WANT_STATUS ARGS...
bad() {
	name=$1 want=$2
	shift 2
	"$asan" run "$@" </dev/null >"$tmp/bad.out" 2>"$tmp/bad.err"
	s=$?
	lines=$(grep -c . "$tmp/bad.err")
	if [ "$s" -eq "$want" ] && [ "$lines" -eq 1 ] && grep -q '^lodge: ' "$tmp/bad.err" &&
		sanitizer_clean bad 2>/dev/null; then
		pass "bad_$name"
	else
		fail "bad_$name" "status $s (want $want), $lines stderr lines: $(head -c 300 "$tmp/bad.err")"
	fi
}
head -c 100000 /dev/urandom >"$tmp/garbage"
truncate -s 300M "$tmp/huge-initrd"
K="--kernel $out/Image --firmware $out/fw_dynamic.bin"
bad missing_kernel 125 --kernel "$tmp/nonexistent" --firmware "$out/fw_dynamic.bin"
bad garbage_kernel 125 --kernel "$tmp/garbage" --firmware "$out/fw_dynamic.bin"
bad initrd_too_big 125 $K --initrd "$tmp/huge-initrd" --mem 256M
bad mem_too_small 125 $K --mem 8M
bad mem_absurd 2 $K --mem 1000T
bad cpus_zero 2 $K --cpus 0
bad cpus_1000 2 $K --cpus 1000
bad firmware_missing 125 --kernel "$out/Image" --firmware "$tmp/no-such-fw.bin"
bad firmware_directory 125 --kernel "$out/Image" --firmware "$tmp"
bad kernel_and_bare 2 $K --bare "$tmp/garbage"
exit 0

#!/bin/sh
# virtio-vsock and virtio-balloon end to end (issue 9): boots the default guest with
# tests/vsock/init.sh and a small AF_VSOCK program (tests/vsock/vsock-helper.c, built
# here for riscv64) and talks to it through the device's unix sockets
# (tests/vsock/host.py): connections both ways with data checked byte for byte; balloon
# inflation at boot and free page reporting, each checked against Lodge's RSS.
# Boots use the release build (RSS figures; speed). SKIPs without the default guest or the
# riscv64 cross compiler and C library.
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
rel=$top/build/release/lodge
out=$top/guest-cache/out
tmp=$(mktemp -d /tmp/lodge-vsock-suite.XXXXXX)
srv=
trap '[ -z "$srv" ] || kill $srv 2>/dev/null; rm -rf "$tmp"' EXIT

pass() { echo "PASS: vsock.$1"; }
fail() { echo "FAIL: vsock.$1: $2"; }
skip() { echo "SKIP: vsock.$1: $2"; }

if [ ! -f "$out/Image" ] || [ ! -f "$out/fw_dynamic.bin" ] || [ ! -f "$out/busybox" ]; then
	skip all "no default guest (run make guest; needs Debian's mirror)"
	exit 0
fi
if ! grep -q virtio_balloon "$out/modules/modules.load" 2>/dev/null; then
	skip all "the guest has no virtio_balloon module (run make guest again)"
	exit 0
fi
[ -x "$rel" ] || rel=${LODGE:-$top/build/asan/lodge}
if ! riscv64-linux-gnu-gcc -O2 -Wall -Wextra -Werror -static -pthread -o "$tmp/vsock-helper" \
	"$top/tests/vsock/vsock-helper.c" 2>"$tmp/cc.err"; then
	skip all "cannot build the riscv64 helper (install gcc-riscv64-linux-gnu and libc6-dev-riscv64-cross): $(head -n 1 "$tmp/cc.err")"
	exit 0
fi
if ! "$top/scripts/mkinitramfs.sh" --init "$top/tests/vsock/init.sh" --out "$tmp/initrd.img" \
	--extra "$tmp/vsock-helper:/bin/vsock-helper" >"$tmp/mk.out" 2>&1; then
	fail initramfs "$(tail -n 1 "$tmp/mk.out")"
	exit 0
fi

# start NAME TEST [ARGS...]: boots in the background with the vsock device on $tmp/v.sock
# and the host servers; sets $pid.
start() {
	name=$1 test=$2
	shift 2
	rm -f "$tmp/v.sock"*
	"$rel" run --kernel "$out/Image" --firmware "$out/fw_dynamic.bin" --initrd "$tmp/initrd.img" \
		--timeout 300 --vsock "3,$tmp/v.sock" --append "console=ttyS0 quiet lodge.test=$test" \
		"$@" </dev/null >"$tmp/$name.out" 2>"$tmp/$name.err" &
	pid=$!
	python3 "$top/tests/vsock/host.py" serve "$tmp/v.sock" "$pid" >"$tmp/$name.srv" 2>&1 &
	srv=$!
}

# finish NAME: waits for the guest, stops the servers; sets $st.
finish() {
	wait "$pid"
	st=$?
	kill "$srv" 2>/dev/null
	wait "$srv" 2>/dev/null
	srv=
	tr -d '\r' <"$tmp/$1.out" >"$tmp/$1.txt"
}

fact() { sed -n "s/^LODGE-TEST $2//p" "$tmp/$1.txt" | head -n 1; }

# report TEST BOOT WHY
report() {
	if [ -z "$3" ]; then
		pass "$1"
	else
		fail "$1" "${3#; }"
		sed 's/^/    /' "$tmp/$2.err" | tail -n 5
		grep 'LODGE-TEST' "$tmp/$2.txt" | sed 's/^/    /'
		# what a guest kernel said when it broke (it panicked once, after "done", in a
		# full run under load; not seen again in 42 runs)
		grep -B 5 -A 25 -m 1 -E 'Kernel panic|BUG:|Oops|Unable to handle' "$tmp/$2.txt" |
			sed 's/^/    console: /'
	fi
}

# --- connections both ways ---
start vsock vsock --mem 256M
host=$(python3 "$top/tests/vsock/host.py" connect "$tmp/v.sock" 6000 1048576 2>&1)
finish vsock
why=
[ "$st" -eq 0 ] || why="$why; exit status $st"
[ "$(fact vsock 'REPLY ')" = "hello from guest" ] || why="$why; guest -> host echo: '$(fact vsock 'REPLY ')'"
[ "$(fact vsock 'BIG OK ')" = 2097152 ] || why="$why; guest -> host 2 MiB: not echoed intact"
case $host in
"HOST OK "*) port=${host#HOST OK } ;;
*) why="$why; host -> guest 1 MiB: $host" port=0 ;;
esac
[ "$port" -ge 1073741824 ] 2>/dev/null || why="$why; assigned host port '$port' not from 2^30"
case $(fact vsock 'listener=') in
"0 LISTENING 6000") ;;
*) why="$why; guest listener: $(fact vsock 'listener=')" ;;
esac
grep -q '^LODGE-TEST done' "$tmp/vsock.txt" || why="$why; no 'done' line"
report connections vsock "$why"

# --- inflation at boot: 384 of 512 MiB go back to the host ---
start inflate inflate --mem 512M --balloon=size=384M
finish inflate
why=
m=$(fact inflate 'memtotal_kb=') r=$(fact inflate 'rss_kb=')
[ "$st" -eq 0 ] || why="$why; exit status $st"
[ -n "$m" ] && [ "$m" -le 160000 ] || why="$why; guest MemTotal $m kB: the balloon did not take 384 MiB"
# The guest zeroes each page it gives the balloon (init_on_alloc): without the device's
# MADV_DONTNEED they would stay in Lodge's RSS.
[ -n "$r" ] && [ "$r" -gt 0 ] && [ "$r" -lt 250000 ] || why="$why; Lodge RSS $r kB with 384 MiB ballooned"
report balloon_inflate inflate "$why"

# --- free page reporting: a 256 MiB file written and deleted ---
start report report --mem 512M --balloon
finish report
why=
p=$(fact report 'rss_peak_kb=') a=$(fact report 'rss_after_kb=')
[ "$st" -eq 0 ] || why="$why; exit status $st"
[ -n "$p" ] && [ "$p" -gt 262144 ] || why="$why; RSS $p kB after writing 256 MiB: too low to test"
[ -n "$a" ] && [ -n "$p" ] && [ "$a" -lt $((p - 150000)) ] || why="$why; RSS $p kB -> $a kB: not given back"
report balloon_free_page_reporting report "$why"

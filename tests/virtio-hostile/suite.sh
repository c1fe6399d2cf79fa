#!/bin/sh
# Hostile virtio driver (issue 9): build/virtio-hostile/hostile.elf (make guests) scans the
# virtio-mmio slots of a bare-metal machine and attacks every device it finds (see
# tests/virtio-hostile/hostile.c). Each run must exit 0 with "hostile: ok" on the console,
# without a sanitizer report, and Lodge's log must stay bounded: per device type at most
# one "device needs reset" line per reset cycle the program reports, and at most 32
# warning lines of any kind per device although the program breaks each device thousands
# of times and makes it drop hundreds of odd requests (the log is rate-limited). Runs:
# $LODGE (the ASan+UBSan build under make test) with only the always-present virtio-rng
# and with every optional virtio device attached (a raw disk, vsock, balloon; the disk
# image must keep its size and change only where the program writes); with them all, the
# release build translated at once (--jit-hot 1) and interpreted (--no-jit), and the
# ThreadSanitizer build (the I/O thread serves requests while the hart resets devices).
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
lodge=${LODGE:-$top/build/asan/lodge}
rel=$top/build/release/lodge
tsan=$top/build/tsan/lodge
elf=$top/build/virtio-hostile/hostile.elf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ ! -f "$elf" ]; then
	echo "SKIP: virtio-hostile: $elf not built (make guests; needs gcc-riscv64-linux-gnu)"
	exit 0
fi

# log_ok NAME: Lodge's log lines in $tmp/err against the program's report
# lines "hostile: device TYPE BASE attacks A broken B resets R" in $tmp/out.
log_ok() {
	grep '^hostile: device ' "$tmp/out" | tr -d '\r' >"$tmp/devs"
	if [ ! -s "$tmp/devs" ]; then
		echo "FAIL: $1: the program reported no devices"
		return 1
	fi
	for type in $(awk '{ print $3 }' "$tmp/devs" | sort -u); do
		ndev=$(awk -v t="$type" '$3 == t' "$tmp/devs" | wc -l)
		cycles=$(awk -v t="$type" '$3 == t { n += $10 + 1 } END { print n }' "$tmp/devs")
		lines=$(grep -c "^lodge: [a-z]*: $type[^:]*: .*device needs reset" "$tmp/err")
		if [ "$lines" -gt "$cycles" ]; then
			echo "FAIL: $1: $lines 'device needs reset' lines for $type, more than its $cycles reset cycles"
			return 1
		fi
		lines=$(grep -c "^lodge: [a-z]*: $type[^:]*: " "$tmp/err")
		if [ "$lines" -gt $((32 * ndev)) ]; then
			echo "FAIL: $1: $lines warnings for $type: not rate-limited (the commonest:" \
				"$(grep "^lodge: [a-z]*: $type[^:]*: " "$tmp/err" | sort | uniq -c |
					sort -rn | head -n 1 | sed 's/^ *//'))"
			return 1
		fi
	done
	total=$(grep -c '^lodge: ' "$tmp/err")
	ndevs=$(wc -l <"$tmp/devs")
	if [ "$total" -gt $((32 * ndevs)) ]; then
		echo "FAIL: $1: $total log lines: not rate-limited"
		return 1
	fi
	return 0
}

# run NAME LODGE [ARGS...]
run() {
	name=virtio-hostile.$1 bin=$2
	shift 2
	if [ ! -x "$bin" ]; then
		echo "SKIP: $name: $bin not built"
		return
	fi
	cp "$tmp/disk.orig" "$tmp/disk.img"
	TSAN_OPTIONS="halt_on_error=1 exitcode=66" timeout -s KILL 300 "$bin" run --bare "$elf" \
		--timeout 240 "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	st=$?
	if grep -qE 'Sanitizer|runtime error' "$tmp/err"; then
		echo "FAIL: $name: sanitizer report: $(grep -m 1 -E 'ERROR|WARNING|runtime error' "$tmp/err")"
	elif [ $st -ne 0 ] || ! grep -q '^hostile: ok' "$tmp/out"; then
		echo "FAIL: $name: status $st: $(grep -m 1 -e FAIL -e 'unexpected trap' "$tmp/out") $(grep -m 1 -v "device needs reset" "$tmp/err")"
	elif log_ok "$name" && disk_ok "$name"; then
		echo "PASS: $name ($(grep -c '^lodge: ' "$tmp/err") log lines;" \
			"$(grep '^hostile: device ' "$tmp/out" | awk '{ printf "%s%s: %s attacks", s, $3, $6; s = ", " }'))"
	fi
}

# The disk: random bytes that must be there afterwards, but for sector 2 (bytes 1024 to
# 1535), the one the program writes; and the image keeps its size.
head -c 1048576 /dev/urandom >"$tmp/disk.orig"
disk_ok() {
	if [ "$(stat -c %s "$tmp/disk.img")" -ne 1048576 ]; then
		echo "FAIL: $1: the disk image changed size: $(stat -c %s "$tmp/disk.img")"
		return 1
	fi
	bad=$(cmp -l "$tmp/disk.orig" "$tmp/disk.img" | awk '$1 <= 1024 || $1 > 1536' | head -n 1)
	if [ -n "$bad" ]; then
		echo "FAIL: $1: the disk image changed outside sector 2 (byte, old, new octal: $bad)"
		return 1
	fi
	return 0
}
all="--disk $tmp/disk.img --vsock 3,$tmp/vsock.sock --balloon"
run asan "$lodge"
# shellcheck disable=SC2086 # $all: options without blanks
run asan-all "$lodge" $all
# shellcheck disable=SC2086
run jit-all "$rel" --jit-hot 1 $all
# shellcheck disable=SC2086
run interp-all "$rel" --no-jit $all
# shellcheck disable=SC2086
run tsan-all "$tsan" $all
exit 0

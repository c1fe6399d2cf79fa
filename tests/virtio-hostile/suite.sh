#!/bin/sh
# Hostile virtio driver (issue 9): build/virtio-hostile/hostile.elf (make guests) scans the
# virtio-mmio slots of a bare-metal machine and attacks every device it finds (see
# tests/virtio-hostile/hostile.c). Each run must exit 0 with "hostile: ok" on the console,
# without a sanitizer report, and Lodge's "device needs reset" log lines must stay bounded:
# per device type at most one per reset cycle the program reports, and at most 32 per
# device although the program breaks each device thousands of times (the log is
# rate-limited). Runs: $LODGE (the ASan+UBSan build under make test), the release build
# translated at once (--jit-hot 1) and interpreted (--no-jit), and the ThreadSanitizer
# build (the I/O thread serves requests while the hart resets the device).
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

# log_ok NAME: the "device needs reset" lines in $tmp/err against the program's report
# lines "hostile: device TYPE BASE attacks A broken B resets R" in $tmp/out.
log_ok() {
	grep '^hostile: device ' "$tmp/out" | tr -d '\r' >"$tmp/devs"
	if [ ! -s "$tmp/devs" ]; then
		echo "FAIL: $1: the program reported no devices"
		return 1
	fi
	total=$(grep -c 'device needs reset' "$tmp/err")
	for type in $(awk '{ print $3 }' "$tmp/devs" | sort -u); do
		ndev=$(awk -v t="$type" '$3 == t' "$tmp/devs" | wc -l)
		cycles=$(awk -v t="$type" '$3 == t { n += $10 + 1 } END { print n }' "$tmp/devs")
		lines=$(grep -c "^lodge: [a-z]*: $type[0-9]*: .*device needs reset" "$tmp/err")
		if [ "$lines" -gt "$cycles" ]; then
			echo "FAIL: $1: $lines 'device needs reset' lines for $type, more than its $cycles reset cycles"
			return 1
		fi
		if [ "$lines" -gt $((32 * ndev)) ]; then
			echo "FAIL: $1: $lines 'device needs reset' lines for $type: not rate-limited"
			return 1
		fi
	done
	ndevs=$(wc -l <"$tmp/devs")
	if [ "$total" -gt $((32 * ndevs)) ]; then
		echo "FAIL: $1: $total 'device needs reset' lines: not rate-limited"
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
	TSAN_OPTIONS="halt_on_error=1 exitcode=66" timeout -s KILL 300 "$bin" run --bare "$elf" \
		--timeout 240 "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	st=$?
	if grep -qE 'Sanitizer|runtime error' "$tmp/err"; then
		echo "FAIL: $name: sanitizer report: $(grep -m 1 -E 'ERROR|WARNING|runtime error' "$tmp/err")"
	elif [ $st -ne 0 ] || ! grep -q '^hostile: ok' "$tmp/out"; then
		echo "FAIL: $name: status $st: $(grep -m 1 -e FAIL -e 'unexpected trap' "$tmp/out") $(grep -m 1 -v "device needs reset" "$tmp/err")"
	elif log_ok "$name"; then
		echo "PASS: $name ($(grep -c 'device needs reset' "$tmp/err") log lines;" \
			"$(grep '^hostile: device ' "$tmp/out" | awk '{ printf "%s%s: %s attacks", s, $3, $6; s = ", " }'))"
	fi
}

run asan "$lodge"
run jit "$rel" --jit-hot 1
run interp "$rel" --no-jit
run tsan "$tsan"
exit 0

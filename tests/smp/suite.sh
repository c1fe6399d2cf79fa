#!/bin/sh
# Multi-hart tests under the ASan+UBSan build ($LODGE) and the ThreadSanitizer build
# (build/tsan/lodge), so data races in the hart threads, the CLINT, the RTC (all harts
# read it at once) and the atomics show up as reports:
#   smp.S      4 harts: the CLINT, IPIs, the RTC and the atomics together
#   wtlb.S     a hart's write-TLB entry for a page another hart flags as code is dropped
#              (status 3: it was not); translated as configured, and at once
#   sb.S       `fence rw, rw` between a store and a load on two harts is a host barrier
#              (status 2: both harts' loads passed their stores); translated, interpreted
#   sb_amo.S   the same with the atomics' aq/rl bits as the barrier (status 3: an
#              lr.w.aqrl's load passed an earlier store; 4-6: the other phases)
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

# case NAME ELF CPUS TIMEOUT ORDER_LO ORDER_HI [LODGE OPTIONS...]: runs ELF on $bin; a
# status from ORDER_LO to ORDER_HI (0 0: none) is a lost store-load order.
case_() {
	name=$1 elf=$top/build/guests-smp/$2 cpus=$3 secs=$4 lo=$5 hi=$6
	shift 6
	if [ ! -f "$elf" ]; then
		echo "SKIP: $name: $elf not built (needs gcc-riscv64-linux-gnu)"
		return
	fi
	TSAN_OPTIONS="halt_on_error=1 exitcode=66" "$bin" run --bare "$elf" --cpus "$cpus" \
		--timeout "$secs" "$@" </dev/null >"$tmp" 2>&1
	st=$?
	if [ "$st" -eq 0 ] && ! grep -qE 'Sanitizer|runtime error' "$tmp"; then
		echo "PASS: $name"
	elif [ "$lo" -ne 0 ] && [ "$st" -ge "$lo" ] && [ "$st" -le "$hi" ]; then
		echo "FAIL: $name: both harts' loads saw 0 (status $st: store-load order lost)"
	else
		echo "FAIL: $name: status $st: $(grep -m3 -E 'WARNING|ERROR|error' "$tmp" | tr '\n' ' ')"
	fi
}

for v in asan tsan; do
	bin=$top/build/$v/lodge
	[ "$v" = asan ] && bin=${LODGE:-$bin}
	if [ ! -x "$bin" ]; then
		echo "SKIP: smp.cpus4_$v: $bin not built (make $v)"
		continue
	fi
	case_ "smp.cpus4_$v" smp.elf 4 120 0 0
	case_ "smp.wtlb_default_$v" wtlb.elf 2 60 0 0
	case_ "smp.wtlb_hot1_$v" wtlb.elf 2 60 0 0 --jit-hot 1
	case_ "smp.fence_sb_default_$v" sb.elf 2 120 2 2
	case_ "smp.fence_sb_nojit_$v" sb.elf 2 120 2 2 --no-jit
	case_ "smp.amo_sb_default_$v" sb_amo.elf 2 120 3 6
	case_ "smp.amo_sb_nojit_$v" sb_amo.elf 2 120 3 6 --no-jit
done
exit 0

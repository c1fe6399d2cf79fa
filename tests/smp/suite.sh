#!/bin/sh
# Multi-hart tests: tests/smp/smp.S with 4 harts (and wtlb.S, sb.S and sb_amo.S with 2) under the ASan+UBSan build ($LODGE) and
# the ThreadSanitizer build (build/tsan/lodge), so data races in the hart threads, the
# CLINT, the RTC (all harts read it at once) and the atomics show up as reports.
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
elf=$top/build/guests-smp/smp.elf
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
if [ ! -f "$elf" ]; then
	echo "SKIP: smp.all: $elf not built (needs gcc-riscv64-linux-gnu)"
	exit 0
fi
for v in asan tsan; do
	bin=$top/build/$v/lodge
	[ "$v" = asan ] && bin=${LODGE:-$bin}
	if [ ! -x "$bin" ]; then
		echo "SKIP: smp.cpus4_$v: $bin not built (make $v)"
		continue
	fi
	TSAN_OPTIONS="halt_on_error=1 exitcode=66" "$bin" run --bare "$elf" --cpus 4 --timeout 120 \
		</dev/null >"$tmp" 2>&1
	st=$?
	if [ "$st" -eq 0 ] && ! grep -qE 'Sanitizer|runtime error' "$tmp"; then
		echo "PASS: smp.cpus4_$v"
	else
		echo "FAIL: smp.cpus4_$v: status $st: $(grep -m3 -E 'WARNING|ERROR|error' "$tmp" | tr '\n' ' ')"
	fi
	# wtlb.S: a hart's write-TLB entry for a page another hart flags as code is dropped
	# (status 3: it was not). Translated as configured, and at once.
	wtlb=$top/build/guests-smp/wtlb.elf
	for jit in default hot1; do
		name=smp.wtlb_${jit}_$v
		if [ ! -f "$wtlb" ]; then
			echo "SKIP: $name: $wtlb not built (needs gcc-riscv64-linux-gnu)"
			continue
		fi
		set --
		[ "$jit" = hot1 ] && set -- --jit-hot 1
		TSAN_OPTIONS="halt_on_error=1 exitcode=66" "$bin" run --bare "$wtlb" --cpus 2 \
			--timeout 60 "$@" </dev/null >"$tmp" 2>&1
		st=$?
		if [ "$st" -eq 0 ] && ! grep -qE 'Sanitizer|runtime error' "$tmp"; then
			echo "PASS: $name"
		else
			echo "FAIL: $name: status $st: $(grep -m3 -E 'WARNING|ERROR|error' "$tmp" | tr '\n' ' ')"
		fi
	done
	# sb.S: `fence rw, rw` between a store and a load on two harts is a host barrier
	# (status 2: both harts' loads passed their stores), translated and interpreted.
	sb=$top/build/guests-smp/sb.elf
	for jit in default nojit; do
		name=smp.fence_sb_${jit}_$v
		if [ ! -f "$sb" ]; then
			echo "SKIP: $name: $sb not built (needs gcc-riscv64-linux-gnu)"
			continue
		fi
		set --
		[ "$jit" = nojit ] && set -- --no-jit
		TSAN_OPTIONS="halt_on_error=1 exitcode=66" "$bin" run --bare "$sb" --cpus 2 \
			--timeout 120 "$@" </dev/null >"$tmp" 2>&1
		st=$?
		if [ "$st" -eq 0 ] && ! grep -qE 'Sanitizer|runtime error' "$tmp"; then
			echo "PASS: $name"
		elif [ "$st" -eq 2 ]; then
			echo "FAIL: $name: both harts' loads saw 0 past 'fence rw, rw' (store-load order lost)"
		else
			echo "FAIL: $name: status $st: $(grep -m3 -E 'WARNING|ERROR|error' "$tmp" | tr '\n' ' ')"
		fi
	done
	# sb_amo.S: the same with the atomics' aq/rl bits as the barrier; status 3: an
	# lr.w.aqrl's load passed an earlier store (4-6: the other phases, sb_amo.S).
	sba=$top/build/guests-smp/sb_amo.elf
	for jit in default nojit; do
		name=smp.amo_sb_${jit}_$v
		if [ ! -f "$sba" ]; then
			echo "SKIP: $name: $sba not built (needs gcc-riscv64-linux-gnu)"
			continue
		fi
		set --
		[ "$jit" = nojit ] && set -- --no-jit
		TSAN_OPTIONS="halt_on_error=1 exitcode=66" "$bin" run --bare "$sba" --cpus 2 \
			--timeout 120 "$@" </dev/null >"$tmp" 2>&1
		st=$?
		if [ "$st" -eq 0 ] && ! grep -qE 'Sanitizer|runtime error' "$tmp"; then
			echo "PASS: $name"
		elif [ "$st" -ge 3 ] && [ "$st" -le 6 ]; then
			echo "FAIL: $name: both harts' loads saw 0 in phase $st (store-load order lost)"
		else
			echo "FAIL: $name: status $st: $(grep -m3 -E 'WARNING|ERROR|error' "$tmp" | tr '\n' ' ')"
		fi
	done
done
exit 0

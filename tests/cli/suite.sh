#!/bin/sh
# Bad-input tests for `lodge run`: missing, non-ELF, 32-bit, foreign-machine,
# truncated and corrupted ELFs, ELF tables at odd offsets, segments outside RAM,
# directories, devices, FIFOs and empty files given as --bare/--kernel/--firmware/
# --initrd, a too long --append, bad --mem/--timeout values and unknown options. Each must exit with the right status (125: the program or a resource
# could not be set up; 2: bad command line), print exactly one stderr line starting with
# "lodge: " that names the culprit, and must not crash (no sanitizer report). Plus a
# runaway program stopped by --timeout 1 (status 124), and --stats showing that the JIT
# translates by default and not with --no-jit, and that many hot blocks that overflow the
# code caches are not translated again and again. One line per test:
# PASS: cli.NAME / FAIL: cli.NAME: why / SKIP: cli.NAME: why. Needs `make guests`.
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
lodge=${LODGE:-$top/build/lodge}
elfs=$top/build/guests
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# say TEXT: print one result line (printf, not echo: dash's echo expands backslashes).
say() {
	printf '%s\n' "$*"
}

if [ ! -x "$lodge" ]; then
	say "SKIP: cli: no lodge binary at $lodge"
	exit 0
fi

# expect NAME STATUSES WORD -- ARGS...: run lodge ARGS; the status must be one of
# STATUSES (e.g. "125" or "2|125") and the single stderr line must contain WORD.
expect() {
	name=$1 want=$2 word=$3
	shift 4
	timeout -s KILL 60 "$lodge" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	got=$?
	lines=$(wc -l <"$tmp/err")
	first=$(head -n 1 "$tmp/err")
	if grep -q -e AddressSanitizer -e 'runtime error' -e LeakSanitizer "$tmp/err"; then
		say "FAIL: cli.$name: sanitizer report: $(grep -m 1 -e Sanitizer \
			-e 'runtime error' "$tmp/err")"
		return
	fi
	case "|$want|" in
	*"|$got|"*) ;;
	*)
		say "FAIL: cli.$name: got status $got, expected $want ($first)"
		return
		;;
	esac
	if [ "$lines" -ne 1 ]; then
		say "FAIL: cli.$name: $lines lines on stderr, expected 1"
		return
	fi
	case $first in
	"lodge: "*) ;;
	*)
		say "FAIL: cli.$name: stderr does not start with 'lodge: ': $first"
		return
		;;
	esac
	case $first in
	*"$word"*) ;;
	*)
		say "FAIL: cli.$name: stderr does not mention '$word': $first"
		return
		;;
	esac
	say "PASS: cli.$name"
}

# stat_of NAME [FILE]: the first value of NAME= in --stats output (default $tmp/err).
stat_of() { sed -n "s/.* $1=\([0-9K\/]*\) .*/\1/p" "${2:-$tmp/err}" | head -n 1; }

# need FILE NAME...: print SKIP lines for the named tests unless FILE exists.
need() {
	f=$1
	shift
	[ -f "$f" ] && return 0
	for n; do
		say "SKIP: cli.$n: $f missing (make guests)"
	done
	return 1
}

# le FILE OFFSET BYTES VALUE: overwrite BYTES bytes at OFFSET with VALUE, little-endian.
le() {
	i=0
	while [ $i -lt "$3" ]; do
		b=$((($4 >> (8 * i)) & 255))
		# shellcheck disable=SC2059
		printf "\\$(printf %o $b)"
		i=$((i + 1))
	done | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# u64 FILE OFFSET / u32 / u16: read a little-endian value (x86 hosts only run this).
u64() { od -An -tu8 -j "$2" -N8 "$1" | tr -d ' '; }
u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
u16() { od -An -tu2 -j "$2" -N2 "$1" | tr -d ' '; }

# corrupt NAME FIELD VALUE [FIELD VALUE]...: copy loop.elf to $tmp/NAME.elf, then set
# each FIELD (an ELF header field, or p_* of the first PT_LOAD) to VALUE.
corrupt() {
	f=$tmp/$1.elf
	shift
	cp "$elfs/loop.elf" "$f"
	phoff=$(u64 "$f" 32)
	phnum=$(u16 "$f" 56)
	ph=$phoff
	i=0
	while [ $i -lt "$phnum" ] && [ "$(u32 "$f" "$ph")" -ne 1 ]; do
		ph=$((ph + 56))
		i=$((i + 1))
	done
	while [ $# -ge 2 ]; do
		case $1 in
		e_phoff) le "$f" 32 8 "$2" ;;
		e_phnum) le "$f" 56 2 "$2" ;;
		p_offset) le "$f" $((ph + 8)) 8 "$2" ;;
		p_vaddr) le "$f" $((ph + 16)) 8 "$2" ;;
		p_paddr) le "$f" $((ph + 24)) 8 "$2" ;;
		p_filesz) le "$f" $((ph + 32)) 8 "$2" ;;
		p_memsz) le "$f" $((ph + 40)) 8 "$2" ;;
		esac
		shift 2
	done
}

# --- files that are not usable programs
expect missing_file 125 nonexistent.elf -- run --bare "$tmp/nonexistent.elf"
say "just text" >"$tmp/text.elf"
expect not_elf 125 text.elf -- run --bare "$tmp/text.elf"
: >"$tmp/empty.elf"
expect empty_file 125 empty.elf -- run --bare "$tmp/empty.elf"
mkdir "$tmp/dir.elf"
expect directory 125 dir.elf -- run --bare "$tmp/dir.elf"
if [ -f /bin/true ]; then
	expect x86_64_elf 125 /bin/true -- run --bare /bin/true
else
	say "SKIP: cli.x86_64_elf: no /bin/true"
fi
if need "$elfs/cli/rv32.elf" elf32; then
	expect elf32 125 rv32.elf -- run --bare "$elfs/cli/rv32.elf"
fi
if need "$elfs/cli/beyond_ram.elf" segment_beyond_ram; then
	expect segment_beyond_ram 125 beyond_ram.elf -- \
		run --bare "$elfs/cli/beyond_ram.elf" --mem 1M
fi
if need "$elfs/cli/unmapped.elf" segment_unmapped; then
	expect segment_unmapped 125 unmapped.elf -- run --bare "$elfs/cli/unmapped.elf"
fi

# --- hostile ELFs derived from loop.elf
if need "$elfs/loop.elf" truncated bad_phoff bad_phnum seg_offset_past_eof \
	seg_filesz_huge seg_memsz_huge seg_wraps; then
	head -c 100 "$elfs/loop.elf" >"$tmp/truncated.elf"
	expect truncated 125 truncated.elf -- run --bare "$tmp/truncated.elf"
	corrupt bad_phoff e_phoff 0x7fffffffffff0000
	expect bad_phoff 125 bad_phoff.elf -- run --bare "$tmp/bad_phoff.elf"
	corrupt bad_phnum e_phnum 0xffff
	expect bad_phnum 125 bad_phnum.elf -- run --bare "$tmp/bad_phnum.elf"
	corrupt seg_offset_past_eof p_offset 0x100000
	expect seg_offset_past_eof 125 seg_offset_past_eof.elf -- \
		run --bare "$tmp/seg_offset_past_eof.elf"
	corrupt seg_filesz_huge p_filesz 0x7fffffffffffffff
	expect seg_filesz_huge 125 seg_filesz_huge.elf -- run --bare "$tmp/seg_filesz_huge.elf"
	corrupt seg_memsz_huge p_memsz 0x7fffffffffffffff
	expect seg_memsz_huge 125 seg_memsz_huge.elf -- run --bare "$tmp/seg_memsz_huge.elf"
	corrupt seg_wraps p_vaddr -4096 p_paddr -4096 p_memsz 0x2000
	expect seg_wraps 125 seg_wraps.elf -- run --bare "$tmp/seg_wraps.elf"
fi

# --- ELF tables at odd file offsets: read without misaligned struct pointers (UBSan).
# Garbage tables fail cleanly (125); valid ones moved to odd offsets still load: the
# program runs, and htif_pass.elf ends through tohost, which needs its symbol table.
# append FILE SRC OFF LEN: append a pad byte (when the file size is even) and then LEN
# bytes of SRC from OFF to FILE; prints the offset they start at (odd).
append_odd() {
	size=$(wc -c <"$1")
	if [ $((size % 2)) -eq 0 ]; then
		printf 'P' >>"$1"
		size=$((size + 1))
	fi
	dd if="$2" bs=1 skip="$3" count="$4" 2>/dev/null >>"$1"
	echo "$size"
}
if need "$elfs/hello.elf" odd_phoff odd_shoff_garbage; then
	cp "$elfs/hello.elf" "$tmp/odd_phoff.elf"
	le "$tmp/odd_phoff.elf" 32 8 1
	expect odd_phoff 125 odd_phoff.elf -- run --bare "$tmp/odd_phoff.elf"
	cp "$elfs/hello.elf" "$tmp/odd_shoff.elf"
	le "$tmp/odd_shoff.elf" 40 8 1
	"$lodge" run --bare "$tmp/odd_shoff.elf" --timeout 10 </dev/null >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ $got -ne 0 ] || [ -s "$tmp/err" ]; then
		say "FAIL: cli.odd_shoff_garbage: status $got: $(head -n 1 "$tmp/err")"
	else
		say "PASS: cli.odd_shoff_garbage"
	fi
fi
if need "$elfs/htif_pass.elf" odd_tables; then
	f=$tmp/odd_tables.elf
	cp "$elfs/htif_pass.elf" "$f"
	phoff=$(u64 "$f" 32)
	shoff=$(u64 "$f" 40)
	shnum=$(u16 "$f" 60)
	# the symbol table's contents, then the section headers, then the program headers
	sh=$shoff
	i=0
	while [ $i -lt "$shnum" ] && [ "$(u32 "$f" $((sh + 4)))" -ne 2 ]; do
		sh=$((sh + 64))
		i=$((i + 1))
	done
	symoff=$(append_odd "$f" "$f" "$(u64 "$f" $((sh + 24)))" "$(u64 "$f" $((sh + 32)))")
	le "$f" $((sh + 24)) 8 "$symoff"
	le "$f" 40 8 "$(append_odd "$f" "$f" "$shoff" $((shnum * 64)))"
	le "$f" 32 8 "$(append_odd "$f" "$f" "$phoff" $(($(u16 "$f" 56) * 56)))"
	"$lodge" run --bare "$f" --timeout 10 </dev/null >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ $got -ne 0 ] || [ -s "$tmp/err" ] || [ -s "$tmp/out" ] ||
		[ $(($(u64 "$f" 32) % 2)) -ne 1 ]; then
		say "FAIL: cli.odd_tables: status $got: $(head -n 1 "$tmp/err")"
	else
		say "PASS: cli.odd_tables"
	fi
fi

# --- files that are not regular files, or empty, for every file option (125); a
# command line too long for any kernel (2). The message names what is wrong.
mkfifo "$tmp/fifo"
: >"$tmp/empty"
img=$tmp/text.elf # any regular file: these fail before the kernel is looked at
expect bare_chardev 125 "character device" -- run --bare /dev/zero
expect bare_fifo 125 FIFO -- run --bare "$tmp/fifo"
expect bare_dir 125 directory -- run --bare "$tmp/dir.elf"
expect kernel_chardev 125 "character device" -- run --kernel /dev/zero --firmware "$img"
expect kernel_dir 125 directory -- run --kernel "$tmp/dir.elf" --firmware "$img"
expect kernel_fifo 125 FIFO -- run --kernel "$tmp/fifo" --firmware "$img"
expect kernel_empty 125 "is empty" -- run --kernel "$tmp/empty" --firmware "$img"
expect firmware_chardev 125 "character device" -- run --kernel "$img" --firmware /dev/null
expect firmware_dir 125 directory -- run --kernel "$img" --firmware "$tmp/dir.elf"
expect firmware_fifo 125 FIFO -- run --kernel "$img" --firmware "$tmp/fifo"
expect firmware_empty 125 "is empty" -- run --kernel "$img" --firmware "$tmp/empty"
append=$(head -c 130000 /dev/zero | tr '\0' x)
expect append_too_long 2 "130000 bytes" -- run --kernel "$img" --append "$append"
kernel=$top/guest-cache/out/Image
firmware=$top/guest-cache/out/fw_dynamic.bin
if [ -f "$kernel" ] && [ -f "$firmware" ]; then
	expect initrd_fifo 125 FIFO -- run --kernel "$kernel" --firmware "$firmware" \
		--initrd "$tmp/fifo"
	expect initrd_empty 125 "is empty" -- run --kernel "$kernel" --firmware "$firmware" \
		--initrd "$tmp/empty"
	expect initrd_chardev 125 "character device" -- run --kernel "$kernel" \
		--firmware "$firmware" --initrd /dev/null
else
	for n in initrd_fifo initrd_empty initrd_chardev; do
		say "SKIP: cli.$n: no default guest in guest-cache/out (make guest)"
	done
fi

# --- bad command lines
prog=$elfs/hello.elf
[ -f "$prog" ] || prog=$tmp/text.elf
expect mem_zero 2 --mem -- run --bare "$prog" --mem 0
expect mem_huge "2|125" --mem -- run --bare "$prog" --mem 64T
expect mem_garbage 2 --mem -- run --bare "$prog" --mem garbage
expect mem_space_sign 2 --mem -- run --bare "$prog" --mem " -1"
expect mem_missing_value 2 --mem -- run --bare "$prog" --mem
expect timeout_garbage 2 --timeout -- run --bare "$prog" --timeout soon
expect timeout_zero 2 --timeout -- run --bare "$prog" --timeout 0
expect jit_hot_zero 2 --jit-hot -- run --bare "$prog" --jit-hot 0
expect jit_hot_garbage 2 --jit-hot -- run --bare "$prog" --jit-hot often
expect no_jit_jit_hot 2 "--no-jit and --jit-hot contradict" -- run --bare "$prog" --no-jit --jit-hot 5
expect jit_hot_no_jit 2 "--no-jit and --jit-hot contradict" -- run --bare "$prog" --jit-hot=5 --no-jit
expect jit_cache_small 2 --jit-cache -- run --bare "$prog" --jit-cache 512K
expect jit_cache_huge 2 --jit-cache -- run --bare "$prog" --jit-cache 2G
expect jit_cache_garbage 2 --jit-cache -- run --bare "$prog" --jit-cache lots
expect hugepages_garbage 2 --hugepages -- run --bare "$prog" --hugepages yes
expect hugepages_missing_value 2 --hugepages -- run --bare "$prog" --hugepages
expect unknown_option 2 --frobnicate -- run --bare "$prog" --frobnicate
expect no_program 2 --bare -- run
expect unknown_command 2 frobnicate -- frobnicate

# --- the engines: with the JIT (the default) a program's hot loop is translated
# (--stats reports jitblocks > 0), with --no-jit nothing is. Checks that the suites
# which run both really exercise both.
if need "$elfs/c_algo.elf" jit_engaged no_jit; then
	"$lodge" run --bare "$elfs/c_algo.elf" --stats </dev/null >/dev/null 2>"$tmp/err"
	got=$?
	n=$(stat_of jitblocks)
	if [ $got -ne 0 ] || [ -z "$n" ] || [ "$n" -eq 0 ]; then
		say "FAIL: cli.jit_engaged: status $got, jitblocks '$n' (want > 0)"
	else
		say "PASS: cli.jit_engaged"
	fi
	"$lodge" run --bare "$elfs/c_algo.elf" --stats --no-jit </dev/null >/dev/null 2>"$tmp/err"
	got=$?
	n=$(stat_of jitblocks)
	if [ $got -ne 0 ] || [ "$n" != 0 ]; then
		say "FAIL: cli.no_jit: status $got, jitblocks '$n' (want 0)"
	else
		say "PASS: cli.no_jit"
	fi
fi

# --- JIT thrashing: jit_thrash.elf's 30,000 small blocks, run 40 times, overflow the code
# caches on every pass. Under --jit-hot 1 they were translated again on each (1.2 million
# translations, 19x slower than interpreting). Translations that retire almost nothing
# now raise the hot threshold (jithot=) within the first pass: fewer translations than
# the program has blocks (2,048 today).
if need "$elfs/jit_thrash.elf" jit_thrash_bounded; then
	"$lodge" run --bare "$elfs/jit_thrash.elf" --jit-hot 1 --stats --timeout 120 \
		</dev/null >/dev/null 2>"$tmp/err"
	got=$?
	n=$(stat_of jitblocks)
	hot=$(stat_of jithot)
	if [ $got -ne 0 ] || [ -z "$n" ] || [ "$n" -ge 30000 ] || [ "${hot:-0}" -le 1 ]; then
		say "FAIL: cli.jit_thrash_bounded: status $got, jitblocks '$n' (want < 30000)," \
			"jithot '$hot' (want > 1)"
	else
		say "PASS: cli.jit_thrash_bounded"
	fi
fi

# --- cold code does not evict translated code: jit_cold.elf's 30,000 blocks run once per
# pass fill the block arena several times over; only its cold part is dropped, so the hot
# loop between passes is translated once (with everything dropped at each fill, it was
# translated again on every one of the 40 passes, after as many interpreted entries).
if need "$elfs/jit_cold.elf" jit_cold_kept; then
	"$lodge" run --bare "$elfs/jit_cold.elf" --stats --timeout 120 </dev/null >/dev/null \
		2>"$tmp/err"
	got=$?
	n=$(stat_of jitblocks)
	fl=$(stat_of flushes)
	cold=$(stat_of cold-flushes)
	if [ $got -ne 0 ] || [ -z "$n" ] || [ "$n" -lt 1 ] || [ "$n" -gt 4 ] || [ "$fl" != 0 ] ||
		[ "${cold:-0}" -lt 1 ]; then
		say "FAIL: cli.jit_cold_kept: status $got, jitblocks '$n' (want 1..4)," \
			"flushes '$fl' (want 0), cold-flushes '$cold' (want > 0)"
	else
		say "PASS: cli.jit_cold_kept"
	fi
fi

# --- translated blocks keep only their header in the arena's hot part: jit_headers.elf's
# 3,000 hot blocks all get translated without a full flush (as whole blocks they overflowed
# the hot part: one flush, after which the thrash guard stopped translating at ~1,760).
if need "$elfs/jit_headers.elf" jit_hot_headers; then
	"$lodge" run --bare "$elfs/jit_headers.elf" --stats --timeout 120 </dev/null >/dev/null \
		2>"$tmp/err"
	got=$?
	n=$(stat_of jitblocks)
	fl=$(stat_of flushes)
	if [ $got -ne 0 ] || [ -z "$n" ] || [ "$n" -lt 3000 ] || [ "$fl" != 0 ]; then
		say "FAIL: cli.jit_hot_headers: status $got, jitblocks '$n' (want >= 3000)," \
			"flushes '$fl' (want 0)"
	else
		say "PASS: cli.jit_hot_headers"
	fi
fi

# --- a recurring hand-over to the interpreter at a loop's first instruction (an inline
# fadd.d with a NaN result, once in 64 iterations) leaves the loop translated: the
# interpreter's scratch block goes back through the look-up (2.85 of 2.88 million
# instructions were interpreted when it looped on itself; about 45,000 now).
if need "$elfs/jit_handover.elf" jit_handover_loop; then
	"$lodge" run --bare "$elfs/jit_handover.elf" --stats --timeout 120 </dev/null >/dev/null \
		2>"$tmp/err"
	got=$?
	n=$(stat_of interpreted)
	if [ $got -ne 0 ] || [ -z "$n" ] || [ "$n" -gt 300000 ]; then
		say "FAIL: cli.jit_handover_loop: status $got, interpreted '$n' (want <= 300000)"
	else
		say "PASS: cli.jit_handover_loop"
	fi
fi

# --- --jit-cache sizes the code caches: jit_cold.elf fills the default arena's cold part
# (above); with 32M (each hart's share of both caches) it fits, and --stats reports the
# shares (cache=ARENA/CODE in KiB: 11/16 and 10/16 of a share). Two harts split it.
if need "$elfs/jit_cold.elf" jit_cache_size; then
	"$lodge" run --bare "$elfs/jit_cold.elf" --stats --timeout 120 --jit-cache 32M </dev/null \
		>/dev/null 2>"$tmp/err"
	got=$?
	cold=$(stat_of cold-flushes)
	cache=$(stat_of cache)
	"$lodge" run --bare "$elfs/hello.elf" --stats --cpus 2 --jit-cache 4M </dev/null \
		>/dev/null 2>"$tmp/err2"
	got2=$?
	cache2=$(sed -n 's/.* hart 1: .* cache=\([0-9K\/]*\) .*/\1/p' "$tmp/err2" | head -n 1)
	if [ $got -ne 0 ] || [ "$cold" != 0 ] || [ "$cache" != 22528K/20480K ] ||
		[ $got2 -ne 0 ] || [ "$cache2" != 1408K/1280K ]; then
		say "FAIL: cli.jit_cache_size: status $got, cold-flushes '$cold' (want 0), cache" \
			"'$cache' (want 22528K/20480K); 2 harts: status $got2, hart 1's cache" \
			"'$cache2' (want 1408K/1280K)"
	else
		say "PASS: cli.jit_cache_size"
	fi
fi

# --- warm code outlives a cold flush: jit_warm.elf's 200 blocks run 3 times a pass stay
# decoded when the cold part fills (about once a pass, from 1500 blocks run once), so 40
# passes decode about 40 x 1500 blocks; dropping every cold block decodes about 40 x 1700.
if need "$elfs/jit_warm.elf" jit_warm_kept; then
	"$lodge" run --bare "$elfs/jit_warm.elf" --stats --timeout 120 </dev/null >/dev/null \
		2>"$tmp/err"
	got=$?
	dec=$(stat_of decoded)
	cold=$(stat_of cold-flushes)
	if [ $got -ne 0 ] || [ -z "$dec" ] || [ "$dec" -gt 64000 ] || [ "${cold:-0}" -lt 20 ]; then
		say "FAIL: cli.jit_warm_kept: status $got, decoded '$dec' (want <= 64000)," \
			"cold-flushes '$cold' (want >= 20)"
	else
		say "PASS: cli.jit_warm_kept"
	fi
fi

# --- direct jumps between translated blocks outlive a fill of the cold part:
# jit_links_kept.elf's hot loop of 20 blocks is linked once (--stats' links), though the
# cold part fills about once a pass (40 passes). When every fill undid the jumps, they
# were written again each pass as far as the link budget allowed (128 in all).
if need "$elfs/jit_links_kept.elf" jit_links_kept; then
	"$lodge" run --bare "$elfs/jit_links_kept.elf" --stats --timeout 120 </dev/null \
		>/dev/null 2>"$tmp/err"
	got=$?
	links=$(stat_of links)
	cold=$(stat_of cold-flushes)
	if [ $got -ne 0 ] || [ -z "$links" ] || [ "$links" -gt 40 ] || [ "${cold:-0}" -lt 20 ]; then
		say "FAIL: cli.jit_links_kept: status $got, links '$links' (want <= 40)," \
			"cold-flushes '$cold' (want >= 20)"
	else
		say "PASS: cli.jit_links_kept"
	fi
fi

# --- the link budget grows with instructions retired, not with polls:
# jit_link_budget.elf polls (a CSR write) and flushes every direct jump (sfence.vma) each
# of its 100,000 iterations; a unit per poll wrote its 5 jumps again about every 32
# iterations (3,156 in all), a unit per 32,768 instructions writes about 34.
if need "$elfs/jit_link_budget.elf" jit_link_budget; then
	"$lodge" run --bare "$elfs/jit_link_budget.elf" --stats --timeout 120 </dev/null \
		>/dev/null 2>"$tmp/err"
	got=$?
	links=$(stat_of links)
	if [ $got -ne 0 ] || [ -z "$links" ] || [ "$links" -gt 200 ]; then
		say "FAIL: cli.jit_link_budget: status $got, links '$links' (want <= 200)"
	else
		say "PASS: cli.jit_link_budget"
	fi
fi

# --- the cold part has what the hot part does not use: arena_wide.elf's 1200 blocks
# (1.3 MB decoded) run once a pass did not fit a cold part fixed at a quarter of the
# hart's share (512 KiB) or at half of it (1 MiB): every pass decoded all of them again
# (48,000). With nothing translated (--jit-hot 1000) they now fit: decoded once each;
# translating them (--jit-hot 32) pushes some out once.
if need "$elfs/arena_wide.elf" arena_cold_grows; then
	bad=
	for mode in --jit-hot=1000 --jit-hot=32; do
		"$lodge" run --bare "$elfs/arena_wide.elf" $mode --stats --timeout 120 \
			</dev/null >/dev/null 2>"$tmp/err"
		got=$?
		dec=$(stat_of decoded)
		max=4000
		[ $mode = --jit-hot=1000 ] && max=1500
		if [ $got -ne 0 ] || [ -z "$dec" ] || [ "$dec" -gt $max ]; then
			bad="$bad $mode: status $got, decoded '$dec' (want <= $max);"
		fi
	done
	if [ -n "$bad" ]; then
		say "FAIL: cli.arena_cold_grows:$bad"
	else
		say "PASS: cli.arena_cold_grows"
	fi
fi

# --- a runaway program is stopped by --timeout (the outer timeout, status 137, catches
# a lodge that ignores it)
if need "$elfs/loop.elf" timeout; then
	start=$(date +%s)
	timeout -s KILL 15 "$lodge" run --bare "$elfs/loop.elf" --timeout 1 \
		</dev/null >"$tmp/out" 2>"$tmp/err"
	got=$?
	took=$(($(date +%s) - start))
	if grep -q -e Sanitizer -e 'runtime error' "$tmp/err"; then
		say "FAIL: cli.timeout: sanitizer report"
	elif [ $got -ne 124 ]; then
		say "FAIL: cli.timeout: got status $got, expected 124"
	elif [ $took -gt 5 ]; then
		say "FAIL: cli.timeout: took $took s for --timeout 1"
	else
		say "PASS: cli.timeout"
	fi
fi

# --- --hugepages: guest RAM (the one mapping of --mem's odd size, 34 MiB) is backed by
# transparent huge pages with on (the default) once touched (the loader wrote the program
# at its start), and not with off (MADV_NOHUGEPAGE, whatever the host's THP mode). smaps is read while the program spins; the polling
# waits for the loaded page, up to 30 s on a loaded host.
# ram_smaps PID: "RSS_KB HUGE_KB" of PID's mapping of 34 MiB (the most resident one, if
# an allocator maps that size too), or nothing.
ram_smaps() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / { m = 0; next }
		$1 == "Size:" && $2 == 34816 { m = 1 }
		m && $1 == "Rss:" { rss = $2 }
		m && $1 == "AnonHugePages:" && (best == "" || rss > best) { best = rss; huge = $2 }
		END { if (best != "") print best, huge }' "/proc/$1/smaps" 2>/dev/null
}
thp=$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)
if [ "$thp" != madvise ] && [ "$thp" != always ]; then
	say "SKIP: cli.hugepages_on: the host's THP mode is '$thp' (no huge pages)"
	say "SKIP: cli.hugepages_off: the host's THP mode is '$thp' (no huge pages)"
elif need "$elfs/loop.elf" hugepages_on hugepages_off; then
	for mode in on off; do
		"$lodge" run --bare "$elfs/loop.elf" --mem 34M --hugepages $mode --timeout 60 \
			</dev/null >/dev/null 2>"$tmp/err" &
		pid=$!
		got=
		i=0
		while [ $i -lt 300 ] && kill -0 $pid 2>/dev/null; do
			got=$(ram_smaps $pid)
			case $got in
			"" | "0 "*) ;;
			*) break ;;
			esac
			sleep 0.1
			i=$((i + 1))
		done
		kill $pid 2>/dev/null
		wait $pid 2>/dev/null
		huge=${got#* }
		if [ -z "$got" ] || [ "${got%% *}" = 0 ]; then
			say "FAIL: cli.hugepages_$mode: no touched 34 MiB RAM mapping seen ($(head -n 1 "$tmp/err"))"
		elif [ $mode = on ] && [ "$huge" -lt 2048 ]; then
			say "FAIL: cli.hugepages_on: AnonHugePages $huge kB of guest RAM (want >= 2048)"
		elif [ $mode = off ] && [ "$huge" -ne 0 ]; then
			say "FAIL: cli.hugepages_off: AnonHugePages $huge kB of guest RAM (want 0)"
		else
			say "PASS: cli.hugepages_$mode"
		fi
	done
fi

# Start-up cost (a guest is a new lodge process): the libraries Debian ships as PIC
# archives are linked in, and libslirp (with glib and pcre2) is loaded only for --net
# user, so the dynamic loader maps and relocates only libc, libm and cJSON (Makefile, LIBS).
rel=$top/build/release/lodge
[ -x "$rel" ] || rel=$lodge
if ! command -v readelf >/dev/null 2>&1; then
	say "SKIP: cli.startup_libraries: readelf not installed (binutils)"
else
	extra=$(readelf -d "$rel" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' |
		grep -E '^lib(fdt|uring|z|zstd|sqlite3|seccomp|slirp|glib-2\.0|pcre2-8)\.so' | tr '\n' ' ')
	if [ -z "$extra" ]; then
		say "PASS: cli.startup_libraries"
	else
		say "FAIL: cli.startup_libraries: $rel loads $extra at start (link them statically; libslirp is dlopen()ed by src/net/slirp.c)"
	fi
fi

# The PIE's relative relocations are packed (DT_RELR, -z pack-relative-relocs): the
# dynamic loader of every guest process reads ~1 KB of them instead of ~88 KB of RELA.
if command -v readelf >/dev/null 2>&1; then
	relr=$(readelf -d "$rel" | sed -n 's/.*(RELRSZ) *\([0-9]*\).*/\1/p')
	relasz=$(readelf -d "$rel" | sed -n 's/.*(RELASZ) *\([0-9]*\).*/\1/p')
	if [ -n "$relr" ] && [ "${relasz:-0}" -lt 16384 ]; then
		say "PASS: cli.packed_relocations"
	else
		say "FAIL: cli.packed_relocations: $rel has RELRSZ '${relr:-none}', RELASZ ${relasz:-?} bytes (link with -z pack-relative-relocs)"
	fi
fi

# No libgcc CPU-model constructor (__builtin_cpu_supports links it): it runs dozens of
# CPUID instructions, each a trap to the hypervisor in a VM, at every process's start; the
# RISC-V JIT asks CPUID itself when it is made (src/cpu/jit/x86_64.c, host_features).
if ! command -v nm >/dev/null 2>&1; then
	say "SKIP: cli.no_cpu_model_constructor: nm not installed (binutils)"
elif ! nm "$rel" 2>/dev/null | grep -q ' main$'; then
	say "SKIP: cli.no_cpu_model_constructor: $rel has no symbol table (stripped)"
elif nm "$rel" | grep -q ' __cpu_indicator_init$'; then
	say "FAIL: cli.no_cpu_model_constructor: $rel links libgcc's __cpu_indicator_init (a __builtin_cpu_supports/__builtin_cpu_is somewhere: ask CPUID where the answer is needed)"
else
	say "PASS: cli.no_cpu_model_constructor"
fi

# What a Wasm guest's process really loads (LD_DEBUG=libs: every object the dynamic
# loader initialises, dlopen()ed ones too): never libslirp, glib, pcre2 or SQLite.
printf '(module (memory 1) (func (export "_start")))\n' >"$tmp/empty.wat"
for b in "$lodge" "$rel"; do
	LD_DEBUG=libs "$b" wasm "$tmp/empty.wat" </dev/null >/dev/null 2>"$tmp/ldlibs.err"
	got=$?
	inits=$(sed -n 's/.*calling init: //p' "$tmp/ldlibs.err" | tr '\n' ' ')
	bad=$(echo "$inits" | tr ' ' '\n' | grep -E 'lib(slirp|glib-2\.0|pcre2-8|sqlite3)\.so' | tr '\n' ' ')
	if [ $got -ne 0 ] || [ -z "$inits" ]; then
		say "FAIL: cli.wasm_libraries.$(basename "$(dirname "$(readlink -f "$b")")"): $b wasm: status $got, no LD_DEBUG=libs output: $(head -c 300 "$tmp/ldlibs.err")"
	elif [ -n "$bad" ]; then
		say "FAIL: cli.wasm_libraries.$(basename "$(dirname "$(readlink -f "$b")")"): $b wasm loads $bad (only --net user may load libslirp)"
	else
		echo "cli: $b wasm initialises $inits"
		say "PASS: cli.wasm_libraries.$(basename "$(dirname "$(readlink -f "$b")")")"
	fi
done
exit 0

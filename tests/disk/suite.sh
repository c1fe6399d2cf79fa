#!/bin/sh
# Disk images (src/disk, `lodge disk`), with qemu-img and qemu-io as the reference:
#   - images `lodge disk create` makes pass `qemu-img check`, and `qemu-img info` agrees
#     on format, size and backing file;
#   - seeded random workloads (writes with several iovecs, reads, discards, write-zeroes,
#     flushes, up to 16 requests in flight) through the test driver (disktool, built by
#     `make unit`) leave images that `qemu-img check` finds clean and `qemu-img compare`
#     finds identical to a raw reference written with the same requests: qcow2 with 64 KiB,
#     512 B (the refcount table grows) and 2 MiB clusters, 1- and 64-bit refcounts, raw,
#     overlays over a base that must stay byte-identical, and qemu's compressed images;
#   - images qemu-img/qemu-io wrote (patterns, zero clusters, deflate and zstd compressed
#     clusters, backing chains, version 2) read back through Lodge as qemu reads them;
#   - discard deallocates (qemu-img map) and, over a backing file, reads as zeroes;
#   - a write whose flush completed survives kill -9 of the writer, and the image has at
#     most leaked clusters afterwards;
#   - bad input to `lodge disk info` (missing file, directory, truncated header, absurd
#     cluster bits, L1 table past the end, missing or looping backing file, an image
#     another process writes, unknown incompatible features) and a read-only file opened
#     for writing: exit 125, one line naming the file and the reason, files unchanged.
# One line per test: PASS: disk.NAME / FAIL: disk.NAME: why / SKIP: disk.NAME: why.
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${LODGE_BUILD:-$top/build/release}
lodge=${LODGE:-$build/lodge}
tool=$build/disk/disktool
tmp=$(mktemp -d)
holder=
trap '[ -n "$holder" ] && kill "$holder" 2>/dev/null; rm -rf "$tmp"' EXIT

pass() { printf 'PASS: disk.%s\n' "$1"; }
fail() { printf 'FAIL: disk.%s: %s\n' "$1" "$2"; }
skip() { printf 'SKIP: disk.%s: %s\n' "$1" "$2"; }

if [ ! -x "$lodge" ] || [ ! -x "$tool" ]; then
	fail all "$lodge or $tool not built (make unit)"
	exit 0
fi
if ! command -v qemu-img >/dev/null 2>&1 || ! command -v qemu-io >/dev/null 2>&1; then
	skip all "qemu-img/qemu-io not installed (apt-get install qemu-utils)"
	exit 0
fi
cd "$tmp" || exit 0

sanitized() { ! grep -qE 'Sanitizer|runtime error' "$1"; }

# check_clean NAME IMG [LEAKS_OK]: qemu-img check finds no error (or only leaks)
check_clean() {
	qemu-img check "$2" >check.out 2>&1
	st=$?
	[ $st -eq 0 ] && return 0
	[ $st -eq 3 ] && [ -n "${3:-}" ] && return 0
	fail "$1" "qemu-img check $2: status $st: $(grep -m2 -iE 'error|leak' check.out | tr '\n' ' ')"
	return 1
}

# same NAME IMG REF: qemu-img compare agrees
same() {
	if ! qemu-img compare "$2" "$3" >cmp.out 2>&1; then
		fail "$1" "qemu-img compare $2 $3: $(head -1 cmp.out)"
		return 1
	fi
}

# workload NAME IMG REF SEED OPS [MAXLEN]: the driver, then check and compare
workload() {
	name=$1
	shift
	if ! "$tool" workload "$@" >wl.out 2>&1 || ! sanitized wl.out; then
		fail "$name" "disktool workload: $(grep -v '^lodge: error: disk' wl.out | head -2 | tr '\n' ' ')"
		return 1
	fi
	check_clean "$name" "$1" && same "$name" "$1" "$2"
}

json_field() { sed -n "s/^ *\"$1\": \"*\([^\",]*\)\"*,*$/\1/p" "$2" | head -1; }

# ---- creating images ----

if "$lodge" disk create a.qcow2 1G >create.out 2>&1 && check_clean create-qcow2 a.qcow2; then
	qemu-img info --output=json a.qcow2 >info.json
	"$lodge" disk info a.qcow2 >linfo.out 2>&1
	if [ "$(json_field format info.json)" != qcow2 ] ||
		[ "$(json_field virtual-size info.json)" != 1073741824 ] ||
		[ "$(json_field cluster-size info.json)" != 65536 ] ||
		[ "$(json_field compat info.json)" != 1.1 ]; then
		fail create-qcow2 "qemu-img info disagrees: $(tr -d '\n' <info.json | head -c 300)"
	elif ! grep -q '^virtual size: 1073741824 bytes' linfo.out || ! grep -q '^format: qcow2' linfo.out; then
		fail create-qcow2 "lodge disk info: $(head -3 linfo.out | tr '\n' ' ')"
	else
		pass create-qcow2
	fi
else
	fail create-qcow2 "$(head -1 create.out)"
fi

if "$lodge" disk create r.img 100M --format raw >create.out 2>&1; then
	qemu-img info --output=json r.img >info.json
	blocks=$(stat -c %b r.img)
	if [ "$(json_field format info.json)" != raw ] || [ "$(json_field virtual-size info.json)" != 104857600 ]; then
		fail create-raw "qemu-img info disagrees"
	elif [ "$blocks" -gt 64 ]; then
		fail create-raw "not sparse: $blocks blocks"
	else
		pass create-raw
	fi
else
	fail create-raw "$(head -1 create.out)"
fi

mkdir sub
qemu-img create -q -f qcow2 sub/base.qcow2 48M
if "$lodge" disk create sub/ov.qcow2 --backing base.qcow2 >create.out 2>&1 && check_clean create-backing sub/ov.qcow2; then
	qemu-img info --output=json sub/ov.qcow2 >info.json
	if [ "$(json_field backing-filename info.json)" != base.qcow2 ] ||
		[ "$(json_field full-backing-filename info.json)" != sub/base.qcow2 ] ||
		[ "$(json_field backing-filename-format info.json)" != qcow2 ] ||
		[ "$(json_field virtual-size info.json)" != 50331648 ]; then
		fail create-backing "qemu-img info disagrees: $(tr -d '\n' <info.json | head -c 400)"
	else
		pass create-backing
	fi
else
	fail create-backing "$(head -1 create.out)"
fi

# expect NAME STATUS WORD -- lodge arguments: status, one stderr line containing WORD
expect() {
	name=$1 want=$2 word=$3
	shift 4
	"$lodge" "$@" >exp.out 2>exp.err
	st=$?
	if ! sanitized exp.err; then
		fail "$name" "sanitizer report: $(grep -m1 -E 'Sanitizer|runtime error' exp.err)"
	elif [ $st -ne "$want" ]; then
		fail "$name" "status $st, want $want: $(head -1 exp.err)"
	elif [ "$(wc -l <exp.err)" -ne 1 ] || ! grep -q -- "$word" exp.err; then
		fail "$name" "stderr is not one line with '$word': $(head -2 exp.err | tr '\n' '|')"
	else
		pass "$name"
	fi
}

expect create-exists 125 "already exists" -- disk create a.qcow2 1G
if "$lodge" disk create a.qcow2 2G --force 2>/dev/null &&
	[ "$(qemu-img info --output=json a.qcow2 | json_field virtual-size /dev/stdin)" = 2147483648 ]; then
	pass create-force
else
	fail create-force "--force did not replace the image"
fi
expect create-bad-size 2 "bad size" -- disk create x.qcow2 12Q
expect create-no-size 2 "SIZE" -- disk create x.qcow2
expect create-raw-backing 2 "backing" -- disk create x.img 1M --format raw --backing a.qcow2
expect create-missing-backing 125 "No such file" -- disk create x.qcow2 --backing nope.qcow2
expect create-cluster-size 2 "cluster-size" -- disk create x.qcow2 1M --cluster-size 3000
expect usage-none 2 "subcommand" -- disk
expect usage-unknown 2 "unknown subcommand" -- disk frob x
expect usage-option 2 "unknown option" -- disk info --frob a.qcow2
if "$lodge" disk --help | grep -q 'lodge disk create FILE'; then pass help; else fail help "no usage text"; fi
[ -e x.qcow2 ] && fail create-leftover "a failed create left x.qcow2 behind"

# ---- workloads against a raw reference ----

"$lodge" disk create w.qcow2 64M && truncate -s 64M w.ref
workload workload-qcow2 w.qcow2 w.ref 1 3000 && pass workload-qcow2
"$lodge" disk create w2.qcow2 64M && truncate -s 64M w2.ref
workload workload-qcow2-seed2 w2.qcow2 w2.ref 2 3000 1048576 && pass workload-qcow2-seed2
# sequential 1 MiB requests of 256 scattered pages, 8 plugged at once (a guest's fio/dd):
# fresh clusters in one write per request, a flush, half of it again in place
"$lodge" disk create sq.qcow2 64M
if "$tool" seqwrite sq.qcow2 sq.ref 40 >sq.out 2>&1 && sanitized sq.out; then
	check_clean seqwrite-qcow2 sq.qcow2 && same seqwrite-qcow2 sq.qcow2 sq.ref && pass seqwrite-qcow2
else
	fail seqwrite-qcow2 "disktool seqwrite: $(head -2 sq.out | tr '\n' ' ')"
fi
"$lodge" disk create s.qcow2 24M --cluster-size 512 && truncate -s 24M s.ref
workload workload-512b-clusters s.qcow2 s.ref 3 2000 && pass workload-512b-clusters
"$lodge" disk create big.qcow2 64M --cluster-size 2M && truncate -s 64M big.ref
workload workload-2m-clusters big.qcow2 big.ref 4 800 && pass workload-2m-clusters
qemu-img create -q -f qcow2 -o refcount_bits=1,cluster_size=4096 rc1.qcow2 16M && truncate -s 16M rc1.ref
workload workload-refcount-bits-1 rc1.qcow2 rc1.ref 5 1500 && pass workload-refcount-bits-1
qemu-img create -q -f qcow2 -o refcount_bits=64,cluster_size=4096 rc64.qcow2 16M && truncate -s 16M rc64.ref
workload workload-refcount-bits-64 rc64.qcow2 rc64.ref 6 1500 && pass workload-refcount-bits-64
"$lodge" disk create w.img 32M --format raw && truncate -s 32M wraw.ref
if workload_out=$("$tool" workload w.img wraw.ref 7 2000 2>&1) && cmp -s w.img wraw.ref; then
	pass workload-raw
else
	fail workload-raw "$(printf '%s' "$workload_out" | head -2) $(cmp w.img wraw.ref 2>&1)"
fi

# an overlay over a base qemu wrote: the base stays byte-identical
qemu-img create -q -f qcow2 base.qcow2 40M
qemu-io -f qcow2 -c 'write -P 0x11 0 4M' -c 'write -P 0x22 5M 3M' -c 'write -z 6M 64k' \
	-c 'write -P 0x33 20000000 1000000' base.qcow2 >/dev/null
qemu-img convert -O raw base.qcow2 ov.ref
sum_before=$(sha256sum base.qcow2)
"$lodge" disk create ov.qcow2 --backing base.qcow2 &&
	workload overlay ov.qcow2 ov.ref 8 2500 &&
	if [ "$(sha256sum base.qcow2)" != "$sum_before" ]; then
		fail overlay "the base image changed"
	else
		pass overlay
	fi
# larger than its base: past the base's end the overlay reads zeroes
qemu-img convert -O raw base.qcow2 ovbig.ref && truncate -s 56M ovbig.ref
"$lodge" disk create ovbig.qcow2 56M --backing base.qcow2 &&
	workload overlay-larger ovbig.qcow2 ovbig.ref 9 1500 && pass overlay-larger
# qemu's compressed clusters, partly overwritten (copy-on-write from compressed data)
for c in zlib zstd; do
	qemu-img convert -c -O qcow2 -o compression_type=$c ov.ref comp-$c.qcow2
	cp ov.ref comp-$c.ref
	workload "compressed-$c-write" "comp-$c.qcow2" "comp-$c.ref" 10 120 &&
		pass "compressed-$c-write"
done

# ---- what qemu wrote reads back through Lodge ----

# read_back NAME IMG: Lodge reads what qemu-img convert reads
read_back() {
	qemu-img convert -O raw "$2" rb.raw
	if "$tool" compare "$2" rb.raw >rb.out 2>&1; then
		pass "$1"
	else
		fail "$1" "$(head -1 rb.out)"
	fi
}

qemu-img create -q -f qcow2 q.qcow2 20M
qemu-io -f qcow2 -c 'write -P 0xaa 0 3M' -c 'write -P 0xbb 100000 7777' -c 'write -z 1M 1M' \
	-c 'discard 2M 128k' -c 'write -P 0xcc 19M 1M' q.qcow2 >/dev/null
read_back read-qemu-patterns q.qcow2
qemu-img convert -c -O qcow2 q.qcow2 qc.qcow2
read_back read-compressed-zlib qc.qcow2
qemu-img convert -c -O qcow2 -o compression_type=zstd q.qcow2 qz.qcow2
read_back read-compressed-zstd qz.qcow2
qemu-img create -q -f qcow2 -b q.qcow2 -F qcow2 qo.qcow2
qemu-io -f qcow2 -c 'write -P 0xdd 65000 200000' -c 'write -z 2500000 100000' qo.qcow2 >/dev/null
read_back read-qemu-backing-chain qo.qcow2
qemu-img create -q -f qcow2 -o compat=0.10 v2.qcow2 8M
qemu-io -f qcow2 -c 'write -P 0xee 4096 100000' v2.qcow2 >/dev/null
read_back read-version-2 v2.qcow2
# written to, a version 2 image is refused, saying how to open it (readonly=on) or upgrade it
if "$tool" ops v2.qcow2 write:0x11 0 4096 >v2w.out 2>&1; then
	fail write-version-2 "a version 2 image was opened writable"
elif grep -q 'give readonly=on, or upgrade it with qemu-img amend' v2w.out; then
	pass write-version-2
else
	fail write-version-2 "the refusal does not say what to do: $(head -c 300 v2w.out)"
fi
qemu-img create -q -f raw rbase.img 8M
qemu-io -f raw -c 'write -P 0x5a 0 8M' rbase.img >/dev/null
qemu-img create -q -f qcow2 -b rbase.img -F raw rov.qcow2 8M
qemu-io -f qcow2 -c 'write -P 0x6b 1000 2000' rov.qcow2 >/dev/null
read_back read-raw-backing rov.qcow2

# ---- discard and write-zeroes ----

"$lodge" disk create z.qcow2 4M && qemu-img create -q -f raw z.ref 4M
if "$tool" ops z.qcow2 write:0x11 0 4194304 discard 65536 131072 zeroes 300000 70000 \
	discard 1000000 1000 zeroes 2097152 1048576 flush 0 0 >ops.out 2>&1; then
	qemu-io -f raw -c 'write -P 0x11 0 4M' -c 'write -z 65536 131072' -c 'write -z 300000 70000' \
		-c 'write -z 1000000 1000' -c 'write -z 2M 1M' z.ref >/dev/null
	qemu-img map --output=json z.qcow2 >map.json
	if check_clean discard z.qcow2 && same discard z.qcow2 z.ref; then
		if grep '"start": 65536,' map.json | grep -q '"data": true'; then
			fail discard "the discarded clusters are still allocated: $(grep '"start": 65536' map.json)"
		else
			pass discard
		fi
	fi
else
	fail discard "$(head -1 ops.out)"
fi
# over a backing file: zeroes, not the base's data
"$lodge" disk create zo.qcow2 --backing base.qcow2 && qemu-img convert -O raw base.qcow2 zo.ref
if "$tool" ops zo.qcow2 discard 0 1048576 zeroes 5242880 65536 discard 100 1000 >ops.out 2>&1; then
	qemu-io -f raw -c 'write -z 0 1M' -c 'write -z 5M 64k' -c 'write -z 100 1000' zo.ref >/dev/null
	check_clean discard-backing zo.qcow2 && same discard-backing zo.qcow2 zo.ref &&
		pass discard-backing
else
	fail discard-backing "$(head -1 ops.out)"
fi

# ---- durability: kill -9 after a completed flush ----

# crash NAME IMG: disktool crashloop until 20 flushes are reported, kill -9, verify
crash() {
	"$tool" crashloop "$2" >crash.out 2>crash.err &
	pid=$!
	i=0
	while [ "$(grep -c '^flushed' crash.out)" -lt 20 ] && [ $i -lt 600 ] && kill -0 $pid 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	last=$(sed -n 's/^flushed //p' crash.out | tail -1)
	if [ -z "$last" ]; then
		fail "$1" "no flush reported: $(head -1 crash.err)"
	elif ! "$tool" crashcheck "$2" "$last" >cc.out 2>&1; then
		fail "$1" "$(head -1 cc.out)"
	elif [ "${2%.qcow2}" = "$2" ] || check_clean "$1" "$2" leaks-ok; then
		pass "$1"
	fi
}
"$lodge" disk create k.qcow2 64M && crash kill9-qcow2 k.qcow2
"$lodge" disk create kb.qcow2 --backing base.qcow2 && crash kill9-qcow2-overlay kb.qcow2
"$lodge" disk create k.img 64M --format raw && crash kill9-raw k.img

# ---- bad input: exit 125, one line, nothing written ----

# refused NAME WORD FILE...: lodge disk info FILE (the first) fails; all files unchanged
refused() {
	name=$1 word=$2
	shift 2
	sha256sum "$@" >sums 2>/dev/null
	expect "$name" 125 "$word" -- disk info "$1"
	if [ -s sums ] && ! sha256sum --quiet -c sums >/dev/null 2>&1; then
		fail "$name" "an image changed"
	fi
}

qemu-img create -q -f qcow2 good.qcow2 1M
refused bad-missing "No such file" missing.qcow2
mkdir adir.qcow2
refused bad-directory "directory" adir.qcow2
head -c 50 good.qcow2 >trunc.qcow2
refused bad-truncated-header "truncated qcow2 header" trunc.qcow2
cp good.qcow2 cb.qcow2
printf '\000\000\000\036' | dd of=cb.qcow2 bs=1 seek=20 conv=notrunc 2>/dev/null
refused bad-cluster-bits "cluster_bits 30" cb.qcow2
cp good.qcow2 l1.qcow2
printf '\000\000\000\000\001\000\000\000' | dd of=l1.qcow2 bs=1 seek=40 conv=notrunc 2>/dev/null
refused bad-l1-past-eof "L1 table" l1.qcow2
cp good.qcow2 feat.qcow2
printf '\000\000\000\000\000\000\000\200' | dd of=feat.qcow2 bs=1 seek=72 conv=notrunc 2>/dev/null
refused bad-incompatible-features "bit 7" feat.qcow2
qemu-img create -q -f qcow2 -b good.qcow2 -F qcow2 orphan.qcow2
mv good.qcow2 good2.qcow2
refused bad-missing-backing "backing file" orphan.qcow2
mv good2.qcow2 good.qcow2
qemu-img create -q -f qcow2 loopa.qcow2 1M
qemu-img create -q -f qcow2 -b loopa.qcow2 -F qcow2 loopb.qcow2
qemu-img rebase -u -b loopb.qcow2 -F qcow2 loopa.qcow2
refused bad-backing-loop "backing chain loops" loopa.qcow2 loopb.qcow2
"$tool" hold good.qcow2 60 >hold.out 2>&1 &
holder=$!
i=0
while ! grep -q locked hold.out && [ $i -lt 600 ]; do
	sleep 0.1
	i=$((i + 1))
done
refused bad-locked "in use" good.qcow2
# qemu sees the same lock
if qemu-img check good.qcow2 >qcheck.out 2>&1; then
	fail lock-qemu-sees-it "qemu-img check opened an image Lodge is writing"
else
	grep -qi "lock" qcheck.out && pass lock-qemu-sees-it ||
		fail lock-qemu-sees-it "$(head -1 qcheck.out)"
fi
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
holder=
# read-only file, opened for writing (root ignores file modes: run as nobody then)
cp good.qcow2 ro.qcow2 && chmod 444 ro.qcow2 && chmod 755 "$tmp"
run_as=
if [ "$(id -u)" -eq 0 ]; then
	command -v setpriv >/dev/null 2>&1 && run_as="setpriv --reuid=65534 --regid=65534 --clear-groups"
fi
if [ "$(id -u)" -eq 0 ] && [ -z "$run_as" ]; then
	skip bad-readonly-file "running as root without setpriv"
else
	sum=$(sha256sum ro.qcow2)
	$run_as "$tool" open-rw "$tmp/ro.qcow2" >ro.out 2>&1
	st=$?
	if [ $st -ne 125 ] || [ "$(wc -l <ro.out)" -ne 1 ] || ! grep -q "cannot open for writing" ro.out; then
		fail bad-readonly-file "status $st: $(head -2 ro.out | tr '\n' '|')"
	elif [ "$(sha256sum ro.qcow2)" != "$sum" ]; then
		fail bad-readonly-file "the image changed"
	else
		pass bad-readonly-file
	fi
fi
exit 0

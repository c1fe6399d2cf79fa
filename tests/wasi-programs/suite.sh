#!/bin/sh
# Real WASI programs: C sources here, built by programs.mk both with clang for wasm32-wasi
# (wasi-libc) and natively with gcc. Each runs under `$LODGE wasm` and natively, and the
# outputs (and exit statuses, and for dirwalk the resulting directory trees) must match.
# Every program runs under lodge twice: interpreted only (--no-jit, tests
# "wasi-programs.NAME") and with every function translated by the JIT tier (--jit-hot 1,
# tests "wasi-programs.jit.NAME").
# clockrand prints properties of clocks and random bytes rather than values; its one
# value line (the wall-clock second) is checked against the host clock instead.
# SKIP when the wasm32-wasi toolchain (clang, wasi-libc) is missing.
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
lodge=${LODGE:-$top/build/release/lodge}
here=$top/tests/wasi-programs
bin=$top/build/wasi-programs
case $lodge in /*) ;; *) lodge=$(pwd)/$lodge ;; esac

if [ ! -x "$lodge" ]; then
	echo "FAIL: wasi-programs: $lodge not built"
	exit 0
fi
if [ ! -f "$bin/clockrand.wasm" ] || [ ! -f "$bin/clockrand.native" ]; then
	if ! command -v clang >/dev/null 2>&1 || [ ! -f /usr/lib/wasm32-wasi/libc.a ]; then
		echo "SKIP: wasi-programs: clang or wasi-libc missing (scripts/install-deps.sh)"
		exit 0
	fi
	make -s -C "$top" wasi-programs >/dev/null 2>&1 || {
		echo "FAIL: wasi-programs: make wasi-programs failed"
		exit 0
	}
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# same NAME: compares $tmp/NAME.native.{out,rc} with $tmp/NAME.wasm.{out,rc}
same() {
	if [ "$(cat "$tmp/$1.native.rc")" != "$(cat "$tmp/$1.wasm.rc")" ]; then
		echo "FAIL: wasi-programs.${pfx}$1: exit status $(cat "$tmp/$1.wasm.rc") under lodge," \
			"$(cat "$tmp/$1.native.rc") natively: $(head -c 300 "$tmp/$1.wasm.err")"
		return 1
	fi
	if ! cmp -s "$tmp/$1.native.out" "$tmp/$1.wasm.out"; then
		echo "FAIL: wasi-programs.${pfx}$1: output differs from native:" \
			"$(diff "$tmp/$1.native.out" "$tmp/$1.wasm.out" | head -5 | tr '\n' ' ')"
		return 1
	fi
	return 0
}

for mode in --no-jit --jit-hot=1; do
pfx=
[ "$mode" = --no-jit ] || pfx=jit.

# ----- textstat: stdin plus files, a pattern, a missing file -----
mkdir -p "$tmp/text"
cp "$here"/data/*.txt "$here"/data/*.csv "$tmp/text/"
awk 'BEGIN { for (i = 1; i <= 3000; i++) printf "row %d w%d the %s\n", i, i % 37, (i % 5 ? "sea" : "land") }' \
	>"$tmp/stdin.txt"
for kind in native wasm; do
	(
		cd "$tmp/text" || exit 1
		if [ $kind = native ]; then
			"$bin/textstat.native" -p the poem.txt table.csv nothere.txt
		else
			timeout 120 "$lodge" wasm $mode --dir . "$bin/textstat.wasm" -p the poem.txt \
				table.csv nothere.txt 2>"$tmp/textstat.wasm.err"
		fi <"$tmp/stdin.txt" >"$tmp/textstat.$kind.out"
		echo $? >"$tmp/textstat.$kind.rc"
	)
done
if same textstat; then
	if ! grep -q "nothere.txt: cannot open: no such file" "$tmp/textstat.wasm.out" ||
		! grep -q "^-: 3000 lines" "$tmp/textstat.wasm.out"; then
		echo "FAIL: wasi-programs.${pfx}textstat: expected lines missing from the output"
	else
		echo "PASS: wasi-programs.${pfx}textstat"
	fi
fi

# ----- dirwalk: list, rename, delete, mkdir/rmdir in a preopened directory -----
make_tree() {
	mkdir -p "$1/sub/deep/deeper" "$1/empty" "$1/olddir/inner"
	printf 'hello\n' >"$1/a.txt"
	printf 'scratch' >"$1/tmp1"
	printf 'x\n' >"$1/sub/b.txt"
	printf 'old contents\n' >"$1/sub/old1.txt"
	printf 'zz' >"$1/sub/deep/tmpz"
	printf 'deep\n' >"$1/sub/deep/deeper/note.txt"
	head -c 100000 /dev/zero | tr '\0' 'k' >"$1/keep.dat"
	: >"$1/olddir/inner/tmp-empty"
}
rm -rf "$tmp/tree.native" "$tmp/tree.wasm"
make_tree "$tmp/tree.native"
make_tree "$tmp/tree.wasm"
"$bin/dirwalk.native" "$tmp/tree.native" >"$tmp/dirwalk.native.out" 2>&1
echo $? >"$tmp/dirwalk.native.rc"
timeout 120 "$lodge" wasm $mode --dir "$tmp/tree.wasm::/work" "$bin/dirwalk.wasm" /work \
	>"$tmp/dirwalk.wasm.out" 2>"$tmp/dirwalk.wasm.err"
echo $? >"$tmp/dirwalk.wasm.rc"
if same dirwalk; then
	a=$(cd "$tmp/tree.native" && find . | sort && cat log/summary)
	b=$(cd "$tmp/tree.wasm" && find . | sort && cat log/summary)
	if [ "$a" != "$b" ]; then
		echo "FAIL: wasi-programs.${pfx}dirwalk: the resulting trees differ"
	elif ! grep -q "renamed sub/old1.txt -> archive/old1.bak" "$tmp/dirwalk.wasm.out" ||
		[ -e "$tmp/tree.wasm/tmp1" ] || [ ! -f "$tmp/tree.wasm/a.bak" ]; then
		echo "FAIL: wasi-programs.${pfx}dirwalk: renames or deletions did not happen"
	else
		echo "PASS: wasi-programs.${pfx}dirwalk"
	fi
fi

# ----- clockrand: properties of clocks and random bytes -----
"$bin/clockrand.native" >"$tmp/clockrand.native.all" 2>&1
echo $? >"$tmp/clockrand.native.rc"
timeout 120 "$lodge" wasm $mode "$bin/clockrand.wasm" >"$tmp/clockrand.wasm.all" 2>"$tmp/clockrand.wasm.err"
echo $? >"$tmp/clockrand.wasm.rc"
for kind in native wasm; do
	grep -v '^realtime: ' "$tmp/clockrand.$kind.all" >"$tmp/clockrand.$kind.out"
done
if same clockrand; then
	guest=$(sed -n 's/^realtime: //p' "$tmp/clockrand.wasm.all")
	host=$(date +%s)
	if grep -q ': no$' "$tmp/clockrand.wasm.out" || [ "$(grep -c ': yes$' "$tmp/clockrand.wasm.out")" -lt 9 ]; then
		echo "FAIL: wasi-programs.${pfx}clockrand: $(grep ': no$' "$tmp/clockrand.wasm.out" | head -3 | tr '\n' ' ')"
	elif [ -z "$guest" ] || [ $((host - guest)) -gt 120 ] || [ $((guest - host)) -gt 120 ]; then
		echo "FAIL: wasi-programs.${pfx}clockrand: guest wall clock '$guest', host $host"
	else
		echo "PASS: wasi-programs.${pfx}clockrand"
	fi
fi
done

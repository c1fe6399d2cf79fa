#!/bin/sh
# WASI sandbox and host-resource tests for `lodge wasm`. Every tests/wasi/*.c but
# noopenat2.c is a program built with clang for wasm32-wasi (wasi-libc) into
# $LODGE_BUILD/wasi-tests/NAME.wasm; noopenat2 (runs a command under a seccomp filter that
# blocks openat2) and trailing are also built natively (NAME.native), dtunknown (readdir
# hiding entry types, for LD_PRELOAD) as dtunknown.so only. Each section below
# says what it checks. SKIP when clang/wasi-libc (scripts/install-deps.sh) are missing.
# rustfs.rs is a Rust std program, built with Debian's rustc for wasm32-wasi.
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${LODGE_BUILD:-$top/build/release}
lodge=$build/lodge
here=$top/tests/wasi
bin=$build/wasi-tests

if [ ! -x "$lodge" ]; then
	echo "FAIL: wasi: $lodge not built"
	exit 0
fi
if ! command -v clang >/dev/null 2>&1 || [ ! -f /usr/lib/wasm32-wasi/libc.a ]; then
	echo "SKIP: wasi: clang or wasi-libc missing (scripts/install-deps.sh)"
	exit 0
fi
mkdir -p "$bin"
built=true
for src in "$here"/*.c; do
	p=$(basename "$src" .c)
	[ $p = noopenat2 ] || [ $p = dtunknown ] || [ "$bin/$p.wasm" -nt "$src" ] && continue
	clang --target=wasm32-wasi -O2 -Wall -Wextra -Werror -o "$bin/$p.wasm" "$here/$p.c" ||
		{ echo "FAIL: wasi: cannot build $p.wasm"; built=false; }
done
for p in noopenat2 trailing; do
	[ "$bin/$p.native" -nt "$here/$p.c" ] && continue
	cc -O2 -Wall -Wextra -Werror -o "$bin/$p.native" "$here/$p.c" ||
		{ echo "FAIL: wasi: cannot build $p.native"; built=false; }
done
if [ ! "$bin/dtunknown.so" -nt "$here/dtunknown.c" ] &&
	! cc -O2 -Wall -Wextra -Werror -shared -fPIC -o "$bin/dtunknown.so" "$here/dtunknown.c"; then
	echo "FAIL: wasi: cannot build dtunknown.so"
	built=false
fi
$built || exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ----- escape suite -----
# wasi-escape.MODE.CASE: escape.c's cases (guest-made symlinks: absolute, relative, chains,
# dangling, "..", loops, links mid-path; every path_* call) in three modes: "openat2" (the
# normal path), "fallback" (openat2 answers ENOSYS under seccomp, so the by-hand walk must
# be detected and used) and "forced" (LODGE_WASI_NO_OPENAT2=1 under a filter that kills the
# process on any openat2 call). Each case checks the guest's errnos and, on the host, that
# nothing outside the preopen changed and no secret reached the output.
# $tmp/t/a/b/box is the preopen, $tmp/t/a/b/outside its sibling; escapes up to three
# levels land inside $tmp/t, which the snapshot covers.
setup_escape() {
	rm -rf "$tmp/t"
	mkdir -p "$tmp/t/a/b/box/sub/deeper" "$tmp/t/a/b/outside/dir" "$tmp/t/a/b/outside/dir2"
	o=$tmp/t/a/b/outside
	printf 'TOPSECRET\n' >"$o/secret"
	printf 'victim data\n' >"$o/victim"
	printf 'keep\n' >"$o/dir2/keep"
	ln -s secret "$o/outlink"
	printf 'inbox\n' >"$tmp/t/a/b/box/inbox.txt"
	printf 'sub file\n' >"$tmp/t/a/b/box/sub/file.txt"
	ln -s ../outside/secret "$tmp/t/a/b/box/hostrel"
	ln -s "$o/secret" "$tmp/t/a/b/box/hostabs"
	ln -s ../outside "$tmp/t/a/b/box/hostdir"
	ln -s ../outside/created-host "$tmp/t/a/b/box/hostdang"
	# old timestamps, so a changed mtime or ctime cannot hide in the same second
	touch -h -d '2001-02-03 04:05:06' "$o"/* "$o/dir2/keep" "$o" "$tmp/t/a/b" "$tmp/t/a" \
		"$tmp/t"
}

# everything outside the box: names, types, sizes, link counts, times, modes, link
# targets, contents
snapshot() {
	(
		cd "$tmp/t" || exit 1
		find . -path ./a/b/box -prune -o -printf '%p|%y|%s|%n|%T@|%C@|%m|%l\n' | sort
		find . -path ./a/b/box -prune -o -type f -exec md5sum {} + | sort
	)
}

# escape_case MODE CASE [PREFIX...]
escape_case() {
	mode=$1 name=$2
	shift 2
	setup_escape
	before=$(snapshot)
	got=$("$@" timeout 60 "$lodge" wasm --dir "$tmp/t/a/b/box::/box" "$bin/escape.wasm" \
		"$name" "$tmp/t/a/b/outside" 2>&1)
	st=$?
	after=$(snapshot)
	if [ "$before" != "$after" ]; then
		echo "FAIL: wasi-escape.$mode.$name: the host outside the preopen changed:" \
			"$(printf '%s\n' "$before" >"$tmp/before"; printf '%s\n' "$after" |
				diff "$tmp/before" - | grep '^[<>]' | head -4 | tr '\n' ' ')"
	elif printf '%s' "$got" | grep -q TOPSECRET; then
		echo "FAIL: wasi-escape.$mode.$name: the outside secret reached the guest"
	elif [ $st -ne 0 ] || ! printf '%s' "$got" | grep -qx "ok $name"; then
		echo "FAIL: wasi-escape.$mode.$name: exit status $st:" \
			"$(printf '%s' "$got" | head -4 | tr '\n' ' ')"
	else
		echo "PASS: wasi-escape.$mode.$name"
	fi
}

cases=$("$lodge" wasm "$bin/escape.wasm" list)
nosys="$bin/noopenat2.native enosys"
forced="$bin/noopenat2.native kill env LODGE_WASI_NO_OPENAT2=1"
seccomp=true
if ! "$bin/noopenat2.native" enosys true; then
	seccomp=false
	forced="env LODGE_WASI_NO_OPENAT2=1"
	echo "SKIP: wasi-escape.fallback: cannot install seccomp filters here"
fi
for name in $cases; do
	escape_case openat2 "$name"
	$seccomp && escape_case fallback "$name" $nosys
	escape_case forced "$name" $forced
done

# The modes above really differ: by default Lodge calls openat2 (the kill filter ends it),
# and a policy answering EPERM instead of ENOSYS is detected too.
if $seccomp; then
	setup_escape
	# (in a shell of its own, whose "Bad system call" report goes to /dev/null)
	st=$(sh -c '"$@" >/dev/null 2>&1; echo $?' sh "$bin/noopenat2.native" kill "$lodge" \
		wasm --dir "$tmp/t/a/b/box::/box" "$bin/escape.wasm" read-links \
		"$tmp/t/a/b/outside" 2>/dev/null)
	if [ "$st" = 159 ]; then
		echo "PASS: wasi-escape.openat2-is-used"
	else
		echo "FAIL: wasi-escape.openat2-is-used: exit status $st under a filter that" \
			"kills openat2 callers, want 159 (SIGSYS)"
	fi
	escape_case eperm read-dotdot-links "$bin/noopenat2.native" eperm
	# and only when a path is looked up: a program given no --dir makes no openat2 call,
	# not even the probe for it (a hello world's start-up saves the two calls)
	st=$(sh -c '"$@" >/dev/null 2>&1; echo $?' sh "$bin/noopenat2.native" kill "$lodge" \
		wasm "$bin/escape.wasm" list 2>/dev/null)
	if [ "$st" = 0 ]; then
		echo "PASS: wasi-escape.openat2-not-probed"
	else
		echo "FAIL: wasi-escape.openat2-not-probed: exit status $st under a filter that" \
			"kills openat2 callers, want 0 (no path looked up: no openat2 call)"
	fi
fi

# ----- trailing slashes: the same answers as Linux, with openat2 and without -----
# wasi-trailing-slash.MODE: "name/" on rename, link, symlink, unlink, rmdir, mkdir, stat and
# open of files, directories and links to them; trailing.c's output under lodge must be
# the native one.
trailing_case() {
	mode=$1
	shift
	rm -rf "$tmp/tr.native" "$tmp/tr.wasm"
	mkdir "$tmp/tr.native" "$tmp/tr.wasm"
	"$bin/trailing.native" "$tmp/tr.native" >"$tmp/tr.native.out" 2>&1
	"$@" timeout 60 "$lodge" wasm --dir "$tmp/tr.wasm::/tr" "$bin/trailing.wasm" /tr \
		>"$tmp/tr.wasm.out" 2>&1
	st=$?
	if [ $st -ne 0 ]; then
		echo "FAIL: wasi-trailing-slash.$mode: exit status $st:" \
			"$(head -3 "$tmp/tr.wasm.out" | tr '\n' ' ')"
	elif ! cmp -s "$tmp/tr.native.out" "$tmp/tr.wasm.out"; then
		echo "FAIL: wasi-trailing-slash.$mode: differs from Linux (< native, > lodge):" \
			"$(diff "$tmp/tr.native.out" "$tmp/tr.wasm.out" | grep '^[<>]' | head -6 |
				tr '\n' ' ')"
	else
		echo "PASS: wasi-trailing-slash.$mode"
	fi
}
trailing_case openat2
trailing_case forced $forced

# ----- preview1 conformance: rights, directory fds, trailing slashes, symlink targets,
# poll on stdio, sockets -----
# wasi-conform.CASE: conform.c's cases, each in a fresh empty preopen, stdout and stderr
# separate pipes (poll-stdio polls both); the path cases also with the by-hand walk
# (".forced"). sock-stdin gets a connected socket as stdin, whose other end says "ping",
# wants "pong" back and then end of file (the guest shut its write side down).
# times-sock and readdir-types get a Unix socket file "sock" in their preopen;
# readdir-types also runs with dtunknown.so preloaded (".dtunknown": every d_type
# DT_UNKNOWN; ASan must then be told its runtime is not first).
conform_case() {
	name=$1 label=$2
	shift 2
	rm -rf "$tmp/cbox" "$tmp/cerr.fifo"
	mkdir "$tmp/cbox"
	if [ "$name" = times-sock ] || [ "$name" = readdir-types ]; then
		python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
			"$tmp/cbox/sock" || echo "FAIL: wasi-conform.$label: cannot make a socket file"
	fi
	mkfifo "$tmp/cerr.fifo"
	cat "$tmp/cerr.fifo" >"$tmp/cerr" &
	cat_pid=$!
	got=$("$@" timeout 60 "$lodge" wasm --dir "$tmp/cbox::/box" "$bin/conform.wasm" "$name" \
		2>"$tmp/cerr.fifo" </dev/null | cat)
	wait $cat_pid
	if [ "$got" = "ok $name" ] && [ ! -s "$tmp/cerr" ]; then
		echo "PASS: wasi-conform.$label"
	else
		echo "FAIL: wasi-conform.$label: $(printf '%s\n' "$got" | head -4 | tr '\n' ' ')" \
			"$(head -c 200 "$tmp/cerr")"
	fi
}
for name in $("$lodge" wasm "$bin/conform.wasm" list); do
	[ "$name" = sock-stdin ] && continue
	conform_case "$name" "$name"
	case $name in
	rights-inherit | dir-ops | trailing | symlink-abs | times-sock)
		conform_case "$name" "$name.forced" $forced
		;;
	readdir-types)
		conform_case "$name" "$name.dtunknown" env LD_PRELOAD="$bin/dtunknown.so" \
			ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
		;;
	esac
done

# wasi-conform.oob.CALL.MODE: a call given a pointer outside memory traps (exit status 134,
# "out of bounds memory access") instead of returning; wasi-conform.mis.CALL.MODE: one given
# a pointer not aligned for the type it points to traps ("misaligned pointer") before doing
# anything. Interpreted and translated (the host call is made from JIT code at once with
# --jit-hot 1).
trap_cases() { # KIND MESSAGE
	for call in $("$lodge" wasm "$bin/conform.wasm" "list-$1"); do
		for mode in interp jit; do
			opt=--no-jit
			[ $mode = jit ] && opt="--jit-hot 1"
			rm -rf "$tmp/cbox"
			mkdir "$tmp/cbox"
			# shellcheck disable=SC2086 # $opt is one or two words
			got=$(timeout 60 "$lodge" wasm $opt --dir "$tmp/cbox::/box" "$bin/conform.wasm" \
				"$1" "$call" 2>"$tmp/trap.err" </dev/null)
			st=$?
			if [ $st -eq 134 ] && [ "$got" = calling ] &&
				grep -q "trap: $2" "$tmp/trap.err"; then
				echo "PASS: wasi-conform.$1.$call.$mode"
			else
				echo "FAIL: wasi-conform.$1.$call.$mode: exit status $st, want 134 (a trap:" \
					"$2): $(printf '%s' "$got" | tr '\n' ' ') $(head -c 200 "$tmp/trap.err")"
			fi
		done
	done
}
trap_cases oob 'out of bounds memory access'
trap_cases mis 'misaligned pointer'
got=$(python3 - "$lodge" "$bin/conform.wasm" <<'PY' 2>&1
import socket, subprocess, sys
a, b = socket.socketpair()
p = subprocess.Popen([sys.argv[1], "wasm", sys.argv[2], "sock-stdin"], stdin=b,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
b.close()
a.settimeout(60)
a.sendall(b"ping")
back = b""
while True:
    chunk = a.recv(100)
    if not chunk:
        break
    back += chunk
out = p.communicate(timeout=60)[0].decode(errors="replace").strip()
print("peer got %r, lodge said %r, exit %d" % (back, out, p.returncode))
PY
)
if [ "$got" = "peer got b'pong', lodge said 'ok sock-stdin', exit 0" ]; then
	echo "PASS: wasi-conform.sock-stdin"
else
	echo "FAIL: wasi-conform.sock-stdin: $got"
fi

# wasi-conform.rust-std: rustfs.rs, a Rust std program (Debian's rustc 1.63 and its
# wasm32-wasi std; the rustup toolchain has no wasm target offline) using the file system
# as programs do; its output must be rustfs.expected.
rustc_deb=/usr/bin/rustc
if [ ! -x "$rustc_deb" ] || [ ! -d /usr/lib/rustlib/wasm32-wasi ]; then
	echo "SKIP: wasi-conform.rust-std: rustc or libstd-rust-dev-wasm32 missing (scripts/install-deps.sh)"
else
	if [ ! "$bin/rustfs.wasm" -nt "$here/rustfs.rs" ] &&
		! RUSTC_BOOTSTRAP=1 "$rustc_deb" --edition 2021 --target wasm32-wasi -O \
			-o "$bin/rustfs.wasm" "$here/rustfs.rs" >"$tmp/rustc.log" 2>&1; then
		echo "FAIL: wasi-conform.rust-std: cannot build rustfs.wasm: $(head -c 300 "$tmp/rustc.log")"
	else
		rm -rf "$tmp/rbox"
		mkdir "$tmp/rbox"
		timeout 60 "$lodge" wasm --dir "$tmp/rbox::/box" "$bin/rustfs.wasm" >"$tmp/rustfs.out" 2>&1
		st=$?
		if [ $st -ne 0 ] || ! cmp -s "$here/rustfs.expected" "$tmp/rustfs.out"; then
			echo "FAIL: wasi-conform.rust-std: exit status $st, differs (< expected, > lodge):" \
				"$(diff "$here/rustfs.expected" "$tmp/rustfs.out" | grep '^[<>]' | head -6 |
					tr '\n' ' ')"
		else
			echo "PASS: wasi-conform.rust-std"
		fi
	fi
fi

# ----- fd_readdir + fd_close give back every host fd -----
# wasi-fd-leak: 5000 opendir/readdir/closedir cycles under ulimit -n 128.
mkdir -p "$tmp/leak/x" "$tmp/leak/y"
: >"$tmp/leak/z"
got=$(ulimit -n 128 && timeout 300 "$lodge" wasm --dir "$tmp/leak::/leak" "$bin/fdleak.wasm" \
	/leak 5000 2>&1)
st=$?
if [ $st -eq 0 ] && [ "$got" = "5000 cycles, 5 entries each" ]; then
	echo "PASS: wasi-fd-leak"
else
	echo "FAIL: wasi-fd-leak: exit status $st under ulimit -n 128: $(printf '%s' "$got" | head -3)"
fi

# ----- O_NONBLOCK for the guest never reaches the caller's stdin -----
# wasi-stdin-nonblock: the guest sees O_NONBLOCK work (EAGAIN), emulated.
# stdin is a FIFO the shell holds open as fd 3: the same open file description, whose
# flags /proc shows. (Octal; O_NONBLOCK is 04000.)
nonblock_set() {
	fl=$(sed -n 's/^flags:[[:space:]]*//p' "/proc/$$/fdinfo/3")
	[ $((0$fl & 04000)) -ne 0 ]
}
mkfifo "$tmp/stdin"
exec 3<>"$tmp/stdin"
timeout 120 "$lodge" wasm "$bin/nonblock.wasm" <&3 >"$tmp/nonblock.out" 2>&1 &
pid=$!
i=0
while ! grep -qs eagain "$tmp/nonblock.out" && kill -0 $pid 2>/dev/null && [ $i -lt 600 ]; do
	sleep 0.1
	i=$((i + 1))
done
during=clear
nonblock_set && during=set
echo hello >&3
wait $pid
st=$?
after=clear
nonblock_set && after=set
exec 3>&-
if [ $st -ne 0 ] || ! grep -q '^read: hello' "$tmp/nonblock.out"; then
	echo "FAIL: wasi-stdin-nonblock: exit status $st: $(head -3 "$tmp/nonblock.out" | tr '\n' ' ')"
elif [ $during != clear ] || [ $after != clear ]; then
	echo "FAIL: wasi-stdin-nonblock: O_NONBLOCK $during on the caller's stdin during the" \
		"run, $after after it"
else
	echo "PASS: wasi-stdin-nonblock"
fi

# wasi-stdout-append: the same for O_APPEND on stdout: the guest's writes append, the
# caller's flags stay.
exec 4>"$tmp/append.out"
timeout 60 "$lodge" wasm "$bin/nonblock.wasm" append >&4 2>"$tmp/append.err"
st=$?
fl=$(sed -n 's/^flags:[[:space:]]*//p' "/proc/$$/fdinfo/4")
exec 4>&-
if [ $st -ne 0 ] || [ "$(cat "$tmp/append.out")" != "$(printf 'first\nsecond')" ]; then
	echo "FAIL: wasi-stdout-append: exit status $st, output '$(cat "$tmp/append.out")'," \
		"want first and second: $(head -c 200 "$tmp/append.err")"
elif [ $((0$fl & 02000)) -ne 0 ]; then
	echo "FAIL: wasi-stdout-append: O_APPEND left set on the caller's stdout"
else
	echo "PASS: wasi-stdout-append"
fi
# wasi-stdout-nonblock-full: a non-blocking guest fills a pipe nobody reads: its writes stop
# with EAGAIN instead of blocking (the emulation writes at most what a ready pipe takes).
mkfifo "$tmp/full"
exec 5<>"$tmp/full"
timeout 60 "$lodge" wasm "$bin/nonblock.wasm" fill >&5 2>"$tmp/fill.err"
st=$?
fl=$(sed -n 's/^flags:[[:space:]]*//p' "/proc/$$/fdinfo/5")
exec 5>&-
if [ $st -ne 0 ] || ! grep -q '^filled [1-9]' "$tmp/fill.err"; then
	echo "FAIL: wasi-stdout-nonblock-full: exit status $st: $(head -c 200 "$tmp/fill.err")"
elif [ $((0$fl & 04000)) -ne 0 ]; then
	echo "FAIL: wasi-stdout-nonblock-full: O_NONBLOCK left set on the caller's stdout"
else
	echo "PASS: wasi-stdout-nonblock-full"
fi

# ----- poll_oneoff: clocks next to fds, long and absolute deadlines, > 64 subscriptions -----
# wasi-poll.CASE: pollclock.c's cases, each with the stdin it expects.
poll_report() {
	if [ "$2" -eq 0 ] && [ "$3" = "ok $1" ]; then
		echo "PASS: wasi-poll.$1"
	else
		echo "FAIL: wasi-poll.$1: exit status $2: $(printf '%s' "$3" | head -3 | tr '\n' ' ')"
	fi
}
# poll_now NAME INPUT: stdin is INPUT, there from the start ("" for none)
poll_now() {
	got=$(printf '%s' "$2" | timeout 60 "$lodge" wasm "$bin/pollclock.wasm" "$1" 2>/dev/null)
	poll_report "$1" $? "$got"
}
# poll_late NAME: stdin (a FIFO) gets data 1 s after the guest said it is polling
poll_late() {
	rm -f "$tmp/poll.in" "$tmp/poll.err"
	mkfifo "$tmp/poll.in"
	exec 6<>"$tmp/poll.in"
	timeout 60 "$lodge" wasm "$bin/pollclock.wasm" "$1" <&6 >"$tmp/poll.out" 2>"$tmp/poll.err" &
	pid=$!
	i=0
	while ! grep -qs polling "$tmp/poll.err" && kill -0 $pid 2>/dev/null && [ $i -lt 600 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	sleep 1
	printf x >&6
	wait $pid
	st=$?
	exec 6>&-
	poll_report "$1" $st "$(cat "$tmp/poll.out")"
}
poll_now clock-vs-fd x
poll_late ms-overflow
poll_now abs-max ""
poll_late abs-max-fd
poll_now many x
poll_now abs-past ""
poll_now rel-two ""

#!/bin/sh
# Network tests (issue 9): boot the default guest with the test init tests/net/init.sh
# and exercise virtio-net from inside Linux.
#   user: two NICs on user networking (the second with mac=); on eth0 DHCP, a download
#         from an HTTP server this script runs on 127.0.0.1 (the guest sees 10.0.2.2), an
#         upload to it, DNS, and two host port forwards to guest services (httpd, nc).
#         Runs under the ASan+UBSan build ($LODGE).
#   tap:  a network namespace with a tap in it (created and removed here; no traffic
#         leaves loopback and the namespace); lodge runs inside it with --net tap; ping,
#         download, upload and a connection into the guest; checks that the guest's TCP
#         super-frames (TSO through the virtio header) reached the tap.
#   rate: the NIC's token buckets: the same download (700000 bytes) and upload (1 MiB)
#         without limits and with bps=100K, timed in the guest. Release build.
#   bad input: a missing tap, a port forward whose port is taken, malformed options: one
#         line on stderr, exit 125.
# Needs `make guest net-initrd` (make test runs them); SKIPs without them, and the tap part
# SKIPs without root, ip(8) or /dev/net/tun.
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
rel=$top/build/release/lodge
asan=${LODGE:-$top/build/asan/lodge}
out=$top/guest-cache/out
initrd=$top/build/net/net-initrd.img
helper=$top/tests/net/helper.py
tmp=$(mktemp -d)
ns=
pids=

cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null
	done
	[ -z "$ns" ] || ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pass() { echo "PASS: net.$1"; }
fail() { echo "FAIL: net.$1: $2"; }
skip() { echo "SKIP: net.$1: $2"; }

if [ ! -f "$out/Image" ] || [ ! -f "$out/fw_dynamic.bin" ] || [ ! -f "$initrd" ]; then
	skip all "no default guest (run make guest net-initrd; needs Debian's mirror)"
	exit 0
fi
if ! command -v python3 >/dev/null; then
	skip all "python3 not installed (run scripts/install-deps.sh)"
	exit 0
fi
[ -x "$rel" ] || rel=$asan

# A name for the DNS test that this host resolves: its own apt mirror's host (the
# repository names no mirror host).
dnsname=$(sh "$top/scripts/debian-mirror.sh" 2>/dev/null | sed 's|^[a-z+]*://||; s|[/:].*||')
case $dnsname in *[!0-9.]*) ;; *) dnsname= ;; esac # an IP address tests nothing

mkdir -p "$tmp/www"
head -c 700000 /dev/urandom >"$tmp/www/file"
file_md5=$(md5sum <"$tmp/www/file" | cut -d' ' -f1)

# in_ns CMD...: runs CMD in the test's namespace when there is one.
in_ns() {
	if [ -n "$ns" ]; then ip netns exec "$ns" "$@"; else "$@"; fi
}

# bg_in_ns CMD... &: in_ns for a background job. The job's shell execs CMD (and ip netns
# exec execs it in turn), so $! is CMD's own pid and cleanup's kill reaches it, not only a
# subshell that would leave it running.
bg_in_ns() {
	if [ -n "$ns" ]; then exec ip netns exec "$ns" "$@"; else exec "$@"; fi
}

# start_server ADDR: the HTTP server and upload sink; sets $http and $up.
# The last server's serve.out goes first: the new one's redirection happens in the
# background job, which may run after the first look below.
start_server() {
	rm -f "$tmp/serve.out"
	bg_in_ns python3 -u "$helper" serve "$1" "$tmp/www" >"$tmp/serve.out" 2>&1 &
	pids="$pids $!"
	http= up=
	i=0
	while [ $i -lt 300 ] && ! grep -q 'up=' "$tmp/serve.out" 2>/dev/null; do
		sleep 0.2
		i=$((i + 1))
	done
	http=$(sed -n 's/^http=\([0-9]*\) .*/\1/p' "$tmp/serve.out")
	up=$(sed -n 's/.* up=\([0-9]*\)$/\1/p' "$tmp/serve.out")
	[ -n "$http" ] && [ -n "$up" ]
}

# boot NAME BIN MODE SVC_ADDR SVC_PORT DONE_PORT [ARGS...]: boots the test init, waits for
# its services, fetches index.html from SVC_ADDR:SVC_PORT (into $tmp/NAME.index), says
# "bye" on DONE_PORT, and waits for the machine. Output in $tmp/NAME.txt, status in $st.
boot() {
	name=$1 bin=$2 mode=$3 addr=$4 svc=$5 donep=$6
	shift 6
	bg_in_ns "$bin" run --kernel "$out/Image" --firmware "$out/fw_dynamic.bin" --initrd "$initrd" \
		--mem 256M --timeout 900 \
		--append "console=ttyS0 quiet lodge.net=$mode lodge.http=$http lodge.up=$up lodge.dns=$dnsname" \
		"$@" </dev/null >"$tmp/$name.out" 2>"$tmp/$name.err" &
	lp=$!
	pids="$pids $lp"
	i=0
	while [ $i -lt 900 ] && kill -0 $lp 2>/dev/null; do
		tr -d '\r' 2>/dev/null <"$tmp/$name.out" | grep -q '^LODGE-NET listening' && break
		sleep 1
		i=$((i + 1))
	done
	in_ns python3 "$helper" fetch "http://$addr:$svc/index.html" >"$tmp/$name.index" 2>&1
	in_ns python3 "$helper" send "$addr" "$donep" bye >/dev/null 2>&1
	wait $lp
	st=$?
	tr -d '\r' <"$tmp/$name.out" >"$tmp/$name.txt"
}

fact() { sed -n "s/^LODGE-NET .*\<$2=\([^ ]*\).*/\1/p" "$tmp/$1.txt" | head -n 1; }

sanitizer_clean() { ! grep -qE 'AddressSanitizer|runtime error|ThreadSanitizer' "$tmp/$1.err"; }

# check NAME TEST WHY-IF-FAILED CONDITION...
check() {
	n=$1 t=$2 why=$3
	shift 3
	if "$@"; then pass "$t"; else fail "$t" "$why (output: $tmp/$n.txt)"; fi
}

eq() { [ "$1" = "$2" ]; }

# ---- user networking ----
if start_server 127.0.0.1; then
	f1=$(python3 "$helper" freeport)
	f2=$(python3 "$helper" freeport)
	boot user "$asan" user 127.0.0.1 "$f1" "$f2" \
		--net "user,hostfwd=tcp:127.0.0.1:$f1-:8080,hostfwd=tcp::$f2-:8081" \
		--net user,mac=52:54:00:aa:bb:cc
	if [ "$st" -ne 0 ] || ! grep -q '^LODGE-NET done' "$tmp/user.txt"; then
		fail user_boot "status $st, or no 'done' line (output: $tmp/user.txt)"
		sed 's/^/    /' "$tmp/user.err" | tail -n 5
	else
		pass user_boot
	fi
	check user user_sanitizers "sanitizer report in $tmp/user.err" sanitizer_clean user
	check user user_two_nics "MACs $(fact user mac0) $(fact user mac1)" \
		eq "$(fact user mac0) $(fact user mac1)" "52:54:00:12:34:56 52:54:00:aa:bb:cc"
	check user user_dhcp "eth0 got '$(fact user ip)', want 10.0.2.15" eq "$(fact user ip)" 10.0.2.15
	check user user_wget "downloaded md5 '$(fact user wget)', want $file_md5" \
		eq "$(fact user wget)" "$file_md5"
	check user user_upload "the host got md5 '$(fact user upload)', want '$(fact user big)'" \
		eq "$(fact user upload)" "$(fact user big)"
	check user user_hostfwd "the forward to the guest's httpd gave '$(head -c 100 "$tmp/user.index")'" \
		grep -q 'served by the guest over user networking' "$tmp/user.index"
	check user user_hostfwd_any "the guest's nc on the all-interfaces forward got '$(fact user done)'" \
		eq "$(fact user done)" bye
	if [ -n "$dnsname" ] &&
		python3 -c 'import socket, sys; socket.gethostbyname(sys.argv[1])' "$dnsname" 2>/dev/null; then
		check user user_dns "nslookup $dnsname through 10.0.2.3: $(fact user dns)" \
			eq "$(fact user dns)" ok
	else
		skip user_dns "the host itself resolves no name (tried its apt mirror's: '$dnsname')"
	fi
else
	fail user_boot "the host-side server did not start: $(cat "$tmp/serve.out")"
fi
for p in $pids; do kill "$p" 2>/dev/null; done
pids=

# ---- rate limits: the same transfers with and without bps= ----
# At 100 KiB/s each way, after the full bucket's 100 KiB: the download (700000 bytes
# plus headers) takes >= 5.8 s, the upload (1 MiB) >= 9.2 s; without limits both are
# fast (the upload sink waits 1 s before it reads). Generous bounds: functional.
# rate_boot NAME NETSPEC: the timed transfers; output in $tmp/NAME.txt, status in $st.
rate_boot() {
	"$rel" run --kernel "$out/Image" --firmware "$out/fw_dynamic.bin" --initrd "$initrd" \
		--mem 256M --timeout 300 \
		--append "console=ttyS0 quiet lodge.net=user lodge.http=$http lodge.up=$up lodge.timed=1" \
		--net "$2" </dev/null >"$tmp/$1.out" 2>"$tmp/$1.err"
	st=$?
	tr -d '\r' <"$tmp/$1.out" >"$tmp/$1.txt"
}
if start_server 127.0.0.1; then
	rate_boot rate_none user
	rate_boot rate_100k user,bps=100K
	w0=$(fact rate_none wget_ms) u0=$(fact rate_none upload_ms)
	w1=$(fact rate_100k wget_ms) u1=$(fact rate_100k upload_ms)
	echo "net: rate: download ${w0}ms unlimited, ${w1}ms at 100K/s; upload ${u0}ms unlimited, ${u1}ms at 100K/s"
	ok=
	for n in rate_none rate_100k; do
		{ [ "$(fact $n wget)" = "$file_md5" ] && [ "$(fact $n upload)" = "$(fact $n big)" ]; } ||
			ok="$ok; $n: the transfers failed (status $st, output: $tmp/$n.txt)"
	done
	if [ -n "$ok" ] || [ -z "$w0$u0" ] || [ -z "$w1" ] || [ -z "$u1" ]; then
		fail rate_transfers "${ok#; }"
	else
		pass rate_transfers
		check rate_100k rate_rx_limited "download at 100K/s took ${w1} ms (want 4500..60000)" \
			[ "$w1" -ge 4500 -a "$w1" -lt 60000 ]
		check rate_100k rate_tx_limited "upload at 100K/s took ${u1} ms (want 7000..60000)" \
			[ "$u1" -ge 7000 -a "$u1" -lt 60000 ]
		check rate_none rate_unlimited "without limits: download ${w0} ms (want < 3000), upload ${u0} ms (want < 5000)" \
			[ "$w0" -lt 3000 -a "$u0" -lt 5000 ]
	fi
else
	fail rate_transfers "the host-side server did not start: $(cat "$tmp/serve.out")"
fi
for p in $pids; do kill "$p" 2>/dev/null; done
pids=

# ---- tap in a network namespace ----
tap_skip=
if [ "$(id -u)" -ne 0 ]; then
	tap_skip="needs root (network namespaces, tap devices)"
elif ! command -v ip >/dev/null; then
	tap_skip="ip(8) not installed"
elif [ ! -c /dev/net/tun ]; then
	tap_skip="no /dev/net/tun"
fi
if [ -z "$tap_skip" ]; then
	ns=lodge-net-$$
	if ! { ip netns add "$ns" && ip -n "$ns" link set lo up &&
		ip -n "$ns" tuntap add dev ltap0 mode tap &&
		ip -n "$ns" addr add 192.168.77.1/24 dev ltap0 &&
		ip -n "$ns" link set ltap0 up; } 2>"$tmp/ns.err"; then
		tap_skip="cannot set up a namespace with a tap: $(head -n 1 "$tmp/ns.err")"
	fi
fi
if [ -n "$tap_skip" ]; then
	skip tap "$tap_skip"
elif start_server 192.168.77.1; then
	ip netns exec "$ns" python3 -u "$helper" capture ltap0 >"$tmp/capture.out" 2>&1 &
	cap=$!
	pids="$pids $cap"
	i=0
	while [ $i -lt 50 ] && ! grep -q capturing "$tmp/capture.out"; do
		sleep 0.1
		i=$((i + 1))
	done
	boot tap "$rel" tap 192.168.77.2 8080 8081 --net tap,ifname=ltap0
	kill -TERM $cap 2>/dev/null
	wait $cap 2>/dev/null
	if [ "$st" -ne 0 ] || ! grep -q '^LODGE-NET done' "$tmp/tap.txt"; then
		fail tap_boot "status $st, or no 'done' line (output: $tmp/tap.txt)"
		sed 's/^/    /' "$tmp/tap.err" | tail -n 5
	else
		pass tap_boot
	fi
	check tap tap_ping "ping from the guest: $(fact tap ping)" eq "$(fact tap ping)" ok
	check tap tap_wget "downloaded md5 '$(fact tap wget)', want $file_md5" \
		eq "$(fact tap wget)" "$file_md5"
	check tap tap_upload "the host got md5 '$(fact tap upload)', want '$(fact tap big)'" \
		eq "$(fact tap upload)" "$(fact tap big)"
	check tap tap_inbound "the guest's httpd gave '$(head -c 100 "$tmp/tap.index")'" \
		grep -q 'served by the guest over tap networking' "$tmp/tap.index"
	# Without TSO every frame from the guest fits 1514 bytes; with it the guest hands over
	# super-frames of up to 64 KiB that the tap takes whole (the packet socket sees them).
	capline=$(grep frames= "$tmp/capture.out")
	echo "net: tap capture: $capline; guest $(grep -a "LODGE-NET features" "$tmp/tap.txt" | tr -d "\r")"
	supers=$(sed -n 's/.* super=\([0-9]*\) .*/\1/p' "$tmp/capture.out")
	check tap tap_tso "capture of the guest's frames: '${capline:-$(head -c 200 "$tmp/capture.out")}' (want super > 0)" \
		[ "${supers:-0}" -gt 0 ]
	ip netns del "$ns"
	ns=
	if ip netns list | grep -q "lodge-net-$$"; then
		fail tap_cleanup "namespace lodge-net-$$ still there"
	else
		pass tap_cleanup
	fi
else
	fail tap_boot "the server in the namespace did not start: $(cat "$tmp/serve.out")"
fi
for p in $pids; do kill "$p" 2>/dev/null; done
pids=

# ---- bad input: one clear line, status 125 ----
# bad NAME WANT_TEXT ARGS...
bad() {
	name=$1 want=$2
	shift 2
	"$asan" run --kernel "$out/Image" --firmware "$out/fw_dynamic.bin" --timeout 30 "$@" \
		</dev/null >"$tmp/bad.out" 2>"$tmp/bad.err"
	s=$?
	lines=$(grep -c . "$tmp/bad.err")
	if [ "$s" -eq 125 ] && [ "$lines" -eq 1 ] && grep -qF -- "$want" "$tmp/bad.err" &&
		sanitizer_clean bad; then
		pass "bad_$name"
	else
		fail "bad_$name" "status $s (want 125), $lines stderr lines: $(head -c 300 "$tmp/bad.err")"
	fi
}
bad tap_missing "--net tap: no interface 'lodgenosuch0'" --net tap,ifname=lodgenosuch0
python3 -c 'import socket,time,sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True); time.sleep(120)' >"$tmp/busy.port" &
busy=$!
pids="$pids $busy"
i=0
while [ $i -lt 100 ] && [ ! -s "$tmp/busy.port" ]; do
	sleep 0.2
	i=$((i + 1))
done
bp=$(cat "$tmp/busy.port")
bad hostfwd_port_in_use "--net user: hostfwd tcp 127.0.0.1:$bp: cannot listen: Address already in use" \
	--net "user,hostfwd=tcp:127.0.0.1:$bp-:22"
kill $busy 2>/dev/null
bad hostfwd_malformed "--net user: hostfwd 'tcp:2222:22': want [tcp|udp]:[ADDR]:PORT-" \
	--net user,hostfwd=tcp:2222:22
bad hostfwd_bad_port "bad host port" --net user,hostfwd=tcp::70000-:22
bad mac_multicast "mac=03:00:00:00:00:01" --net user,mac=03:00:00:00:00:01
bad unknown_backend "unknown backend 'vde'" --net vde
bad unknown_option "--net tap: unknown option 'hostfwd'" --net tap,ifname=x,hostfwd=tcp::1-:1
bad bad_rate "--net user: rx_pps=many: want a number" --net user,rx_pps=many
# libslirp is loaded only for --net user (src/net/slirp.c): when it cannot be, one line
# naming the package to install (the ASan build's test hook names a library not there).
export LODGE_TEST_LIBSLIRP=/nonexistent/libslirp.so.0
bad slirp_missing "--net user: cannot load /nonexistent/libslirp.so.0" --net user
if grep -qF "install Debian's libslirp0 package" "$tmp/bad.err"; then
	pass slirp_missing_package
else
	fail slirp_missing_package "the error names no package: $(head -c 300 "$tmp/bad.err")"
fi
unset LODGE_TEST_LIBSLIRP
exit 0

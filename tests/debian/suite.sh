#!/bin/sh
# The Debian disk (issue 9), run by `make test-debian` (not by make test: it needs the
# image from make debian, and a boot under systemd takes a minute or more):
#   boot      the image (through a copy-on-write overlay, so the cached image stays as
#             built) boots under systemd to a login prompt on the console
#   ssh       ssh root@127.0.0.1 through --net user,hostfwd on a free port, with the key
#             from guest-cache/debian/id_ed25519; systemctl is-system-running --wait says
#             "running"; uname and /etc/os-release say riscv64 Debian trixie
#   apt       apt-get update inside the guest over user networking (Debian's mirror)
#   poweroff  poweroff in the guest ends Lodge with status 0
#   persist   a file written in the first boot is there in the second
# Environment: LODGE (the lodge binary; tests/run.sh sets it), LODGE_DEBIAN_CPUS (2),
# LODGE_DEBIAN_MEM (1G), LODGE_DEBIAN_BOOT_TIMEOUT (seconds to ssh, 900).
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
lodge=${LODGE:-$top/build/release/lodge}
out=$top/guest-cache/out
ddir=$top/guest-cache/debian
cpus=${LODGE_DEBIAN_CPUS:-2}
mem=${LODGE_DEBIAN_MEM:-1G}
boot_timeout=${LODGE_DEBIAN_BOOT_TIMEOUT:-900}
tmp=$(mktemp -d)
pid=

pass() { echo "PASS: debian.$1"; }
fail() { echo "FAIL: debian.$1: $2"; }

if [ "${LODGE_DEBIAN_TEST:-0}" != 1 ]; then
	echo "SKIP: debian: run by make test-debian (boots the Debian disk from make debian)"
	exit 0
fi
cleanup() {
	[ -z "$pid" ] || kill "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

for f in "$out/Image" "$out/fw_dynamic.bin" "$ddir/initrd.img" "$ddir/debian.qcow2" \
	"$ddir/id_ed25519"; do
	if [ ! -f "$f" ]; then
		fail all "$f missing: run make debian"
		exit 0
	fi
done
for t in ssh python3; do
	if ! command -v $t >/dev/null; then
		fail all "$t not installed: run scripts/install-deps.sh"
		exit 0
	fi
done

# A free port on 127.0.0.1 for the forward to the guest's sshd.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
key=$tmp/id
cp "$ddir/id_ed25519" "$key" # ssh wants the key readable by its owner only
chmod 600 "$key"
disk=$tmp/disk.qcow2
"$lodge" disk create "$disk" --backing "$ddir/debian.qcow2" >/dev/null || {
	fail all "cannot create an overlay of $ddir/debian.qcow2"
	exit 0
}

gssh() {
	ssh -n -i "$key" -p "$port" -o BatchMode=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=20 \
		-o ServerAliveInterval=15 -o ServerAliveCountMax=8 root@127.0.0.1 "$@"
}

# boot N: starts Lodge on the overlay in the background, console in $tmp/console.N.
boot() {
	"$lodge" run --kernel "$out/Image" --firmware "$out/fw_dynamic.bin" \
		--initrd "$ddir/initrd.img" --cpus "$cpus" --mem "$mem" --timeout 3000 \
		--disk "$disk" --net "user,hostfwd=tcp:127.0.0.1:$port-:22" \
		--append "console=ttyS0" </dev/null >"$tmp/console.$1" 2>&1 &
	pid=$!
}

# wait_ssh N: waits until ssh runs a command (or Lodge ends, or the time is up).
wait_ssh() {
	t0=$(date +%s)
	while :; do
		if gssh true 2>/dev/null; then
			echo "debian: boot $1: ssh after $(($(date +%s) - t0)) s"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || return 1
		[ $(($(date +%s) - t0)) -lt "$boot_timeout" ] || return 1
		sleep 3
	done
}

# wait_exit: waits up to 300 s for Lodge to end; sets $status (999 if it did not).
wait_exit() {
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do
		sleep 1
		i=$((i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		wait "$pid"
		status=999
	else
		wait "$pid"
		status=$?
	fi
	pid=
}

tail_console() {
	tail -n 15 "$tmp/console.$1" | tr -d '\r' | sed 's/^/    /'
}

# --- first boot ---
boot 1
if ! wait_ssh 1; then
	fail boot "no ssh login within ${boot_timeout} s; console:"
	tail_console 1
	exit 0
fi
# sshd may answer before getty has printed its prompt on the console: give it up to
# 120 s more (systemd starts serial-getty@ttyS0 and ssh in parallel).
i=0
while ! grep -q 'login:' "$tmp/console.1" && [ $i -lt 120 ] && kill -0 "$pid" 2>/dev/null; do
	sleep 1
	i=$((i + 1))
done
if grep -q 'login:' "$tmp/console.1"; then
	[ $i -eq 0 ] || echo "debian: boot 1: console login prompt $i s after ssh"
	pass boot
else
	fail boot "ssh works but the console shows no login prompt 120 s later; console:"
	tail_console 1
fi

gssh 'systemctl is-system-running --wait; uname -a; cat /etc/os-release' >"$tmp/info" 2>&1
state=$(head -n 1 "$tmp/info")
if [ "$state" = running ] && grep -q 'riscv64' "$tmp/info" &&
	grep -q '^VERSION_CODENAME=trixie' "$tmp/info"; then
	pass ssh
	sed 's/^/    /' "$tmp/info" | head -n 3
else
	fail ssh "want 'running', riscv64, trixie; got: $(tr '\n' ' ' <"$tmp/info")"
	gssh 'systemctl --failed --no-legend' 2>&1 | sed 's/^/    failed unit: /'
fi

token=lodge-$$-$(date +%s)
gssh "echo $token >/root/lodge-persist && sync" || fail persist "cannot write /root/lodge-persist"

if gssh 'apt-get -q update' >"$tmp/apt" 2>&1 && ! grep -q '^[WE]:' "$tmp/apt"; then
	pass apt
else
	fail apt "apt-get update failed: $(tail -n 3 "$tmp/apt" | tr '\n' ' ')"
fi

gssh poweroff >/dev/null 2>&1
wait_exit
if [ "$status" -eq 0 ]; then
	pass poweroff
else
	fail poweroff "lodge exit status $status after poweroff; console:"
	tail_console 1
fi

# --- second boot: the file is still there ---
boot 2
if ! wait_ssh 2; then
	fail persist "no ssh login in the second boot; console:"
	tail_console 2
	exit 0
fi
got=$(gssh 'cat /root/lodge-persist' 2>&1)
if [ "$got" = "$token" ]; then
	pass persist
else
	fail persist "/root/lodge-persist holds '$got', want '$token'"
fi
gssh poweroff >/dev/null 2>&1
wait_exit
[ "$status" -eq 0 ] || fail persist "lodge exit status $status after the second poweroff"
exit 0

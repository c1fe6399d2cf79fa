#!/bin/sh
# Lodge as an OCI runtime (issue 13). Drives `lodge oci` (as build/<mode>/lodge-oci) the
# way engines do:
#   - bundles that are broken give runc's errors (missing config.json, invalid JSON, an
#     unknown ociVersion, no rootfs, an x86-64 or missing executable, a bind mount's
#     missing source), exit status 1;
#   - the life cycle create/start/state/kill/delete of a Wasm container, its state JSON
#     checked against the runtime-spec, --pid-file, --log-format json, --console-socket;
#   - a Wasm container's args, env, rootfs and volumes (WASI preopens), exit status, exec;
#   - a riscv64 container in a VM: args, env, cwd, user, hostname, volumes, read-only root,
#     rlimits, memory/CPU/pids limits (guest size, the host cgroup, the guest's pids
#     cgroup), exec, signals forwarded by kill, a terminal over the console socket;
#   - podman end to end with images built here (FROM scratch, no registry): a Wasm image
#     and a riscv64 busybox image with a volume; podman exec and podman stop;
#   - containerd: ctr run with the runc shim and Lodge as its runc binary.
# SKIPs name what is missing (the WASI toolchain, the default guest, the riscv64 cross
# compiler, podman or containerd, root). LODGE_OCI_TESTS="wasm vm ..." runs only those
# parts (bad wasm vm podman containerd), for working on one.
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
lodge=${LODGE:-$top/build/asan/lodge}
out=$top/guest-cache/out
help=$top/tests/oci/helper.py
tmp=$(mktemp -d /tmp/lodge-oci-suite.XXXXXX)
root=$tmp/state
ctd=
trap 'cleanup' EXIT

parts=${LODGE_OCI_TESTS:-bad wasm vm podman containerd}
want() { case " $parts " in *" $1 "*) return 0 ;; esac; return 1; }
pass() { echo "PASS: oci.$1"; }
fail() { echo "FAIL: oci.$1: $2"; }
skip() { echo "SKIP: oci.$1: $2"; }
# report NAME WHY: PASS when WHY is empty
report() { if [ -z "$2" ]; then pass "$1"; else fail "$1" "${2#; }"; fi; }

mkdir -p "$tmp/bin" "$root"
ln -s "$lodge" "$tmp/bin/lodge-oci"
rt=$tmp/bin/lodge-oci
oci() { "$rt" --root "$root" "$@"; }

cleanup() {
	for id in $(oci list -q 2>/dev/null); do oci delete --force "$id" >/dev/null 2>&1; done
	[ -z "$ctd" ] || { kill "$ctd" 2>/dev/null; wait "$ctd" 2>/dev/null; }
	if [ -n "${podman_ok:-}" ]; then
		$podman rm -a -f -t 0 >/dev/null 2>&1
		$podman rmi -a -f >/dev/null 2>&1
	fi
	rm -rf "$tmp" 2>/dev/null || { umount -R "$tmp"/* 2>/dev/null; rm -rf "$tmp"; }
}

# conf BUNDLE PYTHON: edits BUNDLE/config.json with Python statements on `c`.
conf() {
	python3 - "$1/config.json" "$2" <<'EOF'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
exec(sys.argv[2])
json.dump(c, open(p, "w"), indent=1)
EOF
}

# wait_for FILE TEXT SECONDS: until FILE holds TEXT
wait_for() {
	i=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt $(($3 * 10)) ] && return 1
		sleep 0.1
	done
}

# status_is ID STATUS SECONDS: until `state` says STATUS
status_is() {
	i=0
	while ! oci state "$1" 2>/dev/null | grep -q "\"status\": \"$2\""; do
		i=$((i + 1))
		[ $i -gt $(($3 * 10)) ] && return 1
		sleep 0.1
	done
}

# ---- bad bundles ------------------------------------------------------------------------
if want bad; then
b=$tmp/bad
mkdir -p "$b/rootfs"
# expect_error NAME TEXT ARGS...: create fails with status 1 and TEXT on stderr (plain, as
# with runc when --log takes the formatted lines) and in the JSON log
expect_error() {
	name=$1 text=$2
	shift 2
	rm -f "$tmp/err.log"
	"$rt" --root "$root" --log "$tmp/err.log" --log-format json create --bundle "$b" "$@" \
		>"$tmp/err.out" 2>&1
	st=$?
	why=
	[ "$st" -eq 1 ] || why="$why; exit status $st, want 1"
	grep -qF "$text" "$tmp/err.out" || why="$why; no '$text' in: $(head -c 300 "$tmp/err.out")"
	python3 -c "import json,sys; l=[json.loads(x) for x in open(sys.argv[1])]; sys.exit(not any(sys.argv[2] in x['msg'] and x['level'] == 'error' for x in l))" \
		"$tmp/err.log" "$text" || why="$why; not in the JSON log: $(head -c 300 "$tmp/err.log")"
	[ ! -e "$root/badc" ] || why="$why; $root/badc left behind"
	report "bad-bundle.$name" "$why"
}
expect_error missing-config "JSON specification file config.json not found" badc
printf '{"ociVersion": "1.0.2", "process": ' >"$b/config.json"
expect_error invalid-json "config.json: invalid JSON" badc
rm -f "$b/config.json"
oci spec --bundle "$b"
conf "$b" "c['ociVersion'] = '2.0.0'"
expect_error unknown-version 'unsupported spec version "2.0.0"' badc
conf "$b" "c['ociVersion'] = '1.0.2'; c['root']['path'] = 'nowhere'"
expect_error no-rootfs "invalid rootfs: stat $b/nowhere: no such file or directory" badc
conf "$b" "c['root']['path'] = 'rootfs'; c['process']['args'] = ['/hello']"
cp /bin/true "$b/rootfs/hello" 2>/dev/null || cp "$(command -v true)" "$b/rootfs/hello"
expect_error x86-64 'exec: "/hello": an x86-64 (linux/amd64) executable' badc
conf "$b" "c['process']['args'] = ['nope']"
expect_error not-found 'exec: "nope": executable file not found in $PATH' badc
conf "$b" "c['process']['args'] = ['/hello']; c['mounts'].append({'destination': '/data', 'type': 'bind', 'source': '$tmp/no-such-dir', 'options': ['rbind']})"
expect_error mount-source "error mounting \"$tmp/no-such-dir\" to rootfs at \"/data\": stat $tmp/no-such-dir: no such file or directory" badc
conf "$b" "del c['process']"
expect_error no-process "process property must not be empty" badc

# A pod's sandbox container holds the engine's pause program for the host's architecture:
# it runs (no VM) until SIGTERM and exits 0.
mkdir -p "$tmp/sb/rootfs"
oci spec --bundle "$tmp/sb"
cp "$b/rootfs/hello" "$tmp/sb/rootfs/pause"
conf "$tmp/sb" "c['process']['args'] = ['/pause']; c['annotations'] = {'io.kubernetes.cri.container-type': 'sandbox'}"
why=
oci create --bundle "$tmp/sb" sb >"$tmp/e" 2>&1 || why="create: $(cat "$tmp/e")"
oci start sb || why="$why; start failed"
status_is sb running 10 || why="$why; not running"
oci kill sb TERM || why="$why; kill failed"
status_is sb stopped 10 || why="$why; not stopped by SIGTERM"
oci delete sb || why="$why; delete failed"
report sandbox "$why"

# ---- errors, --log-format json, features --------------------------------------------------
why=
oci state ghost >"$tmp/e1" 2>&1 && why="$why; state of an unknown container succeeded"
grep -q "container does not exist" "$tmp/e1" || why="$why; state ghost said: $(cat "$tmp/e1")"
"$rt" --root "$root" --log "$tmp/log.json" --log-format json kill ghost >"$tmp/e2" 2>&1 &&
	why="$why; kill of an unknown container succeeded"
[ "$(python3 "$help" json "$tmp/log.json" level msg time 2>&1)" = ok ] ||
	why="$why; log not JSON lines with level/msg/time: $(cat "$tmp/log.json")"
grep -q '"level":"error","msg":"container does not exist"' "$tmp/log.json" ||
	why="$why; log: $(cat "$tmp/log.json")"
grep -qx "container does not exist" "$tmp/e2" || why="$why; stderr with --log: $(cat "$tmp/e2")"
oci features >"$tmp/features.json" 2>&1
[ "$(python3 "$help" json "$tmp/features.json" ociVersionMin ociVersionMax linux 2>&1)" = ok ] ||
	why="$why; features: $(head -c 200 "$tmp/features.json")"
report errors "$why"
fi

# ---- Wasm containers --------------------------------------------------------------------
wasm=$tmp/app.wasm
if ! want wasm && ! want podman; then
	wasm=
elif ! clang --target=wasm32-wasi -O2 -o "$wasm" "$top/tests/oci/wasm-app.c" 2>"$tmp/cc.err"; then
	skip wasm "cannot build the WASI test program (install clang, lld, wasi-libc, libclang-rt-14-dev-wasm32): $(head -n 1 "$tmp/cc.err")"
	wasm=
fi

if [ -n "$wasm" ] && want wasm; then
	w=$tmp/wasm
	mkdir -p "$w/rootfs" "$tmp/vol"
	cp "$wasm" "$w/rootfs/app.wasm"
	echo "in the image" >"$w/rootfs/img.txt"
	echo "from the host" >"$tmp/vol/in.txt"
	oci spec --bundle "$w"
	conf "$w" "c['process']['args'] = ['/app.wasm', 'spin']"

	# life cycle
	why=
	oci create --bundle "$w" --pid-file "$tmp/w.pid" wl >"$tmp/wl.out" 2>&1 || why="$why; create: $(cat "$tmp/wl.out")"
	oci state wl >"$tmp/st.json"
	r=$(python3 "$help" state "$tmp/st.json" wl created "$w")
	[ "$r" = ok ] || why="$why; created: $r"
	pid=$(python3 -c "import json;print(json.load(open('$tmp/st.json'))['pid'])")
	[ "$(cat "$tmp/w.pid" 2>/dev/null)" = "$pid" ] || why="$why; pid file $(cat "$tmp/w.pid" 2>/dev/null) != state pid $pid"
	oci list | grep -q "^wl .*created" || why="$why; list: $(oci list)"
	oci start wl || why="$why; start failed"
	oci state wl >"$tmp/st.json"
	r=$(python3 "$help" state "$tmp/st.json" wl running "$w")
	[ "$r" = ok ] || why="$why; running: $r"
	oci start wl 2>"$tmp/e" && why="$why; a second start succeeded"
	grep -q "cannot start an already running container" "$tmp/e" || why="$why; second start: $(cat "$tmp/e")"
	oci delete wl 2>"$tmp/e" && why="$why; delete of a running container succeeded"
	grep -q "that is not stopped: running" "$tmp/e" || why="$why; delete running: $(cat "$tmp/e")"
	oci kill wl || why="$why; kill failed"
	status_is wl stopped 20 || why="$why; not stopped after kill (SIGTERM)"
	oci state wl >"$tmp/st.json"
	r=$(python3 "$help" state "$tmp/st.json" wl stopped "$w")
	[ "$r" = ok ] || why="$why; stopped: $r"
	grep -q '"pid": 0' "$tmp/st.json" || why="$why; a stopped container's pid is not 0 (runc's)"
	oci kill wl KILL 2>"$tmp/e" && why="$why; kill of a stopped container succeeded"
	grep -q "container not running" "$tmp/e" || why="$why; kill stopped: $(cat "$tmp/e")"
	oci start wl 2>"$tmp/e" && why="$why; start of a stopped container succeeded"
	grep -q "cannot start a container that has stopped" "$tmp/e" || why="$why; start stopped: $(cat "$tmp/e")"
	oci delete wl || why="$why; delete failed"
	[ ! -e "$root/wl" ] || why="$why; state directory left behind"
	oci state wl >/dev/null 2>&1 && why="$why; state after delete"
	oci create --bundle "$w" wl2 >/dev/null 2>&1
	oci create --bundle "$w" wl2 2>"$tmp/e" && why="$why; a second create with one id succeeded"
	grep -q "container with id exists: wl2" "$tmp/e" || why="$why; duplicate id: $(cat "$tmp/e")"
	oci delete wl2 || why="$why; delete of a created container failed"
	report wasm.lifecycle "$why"

	# run: args, env, rootfs, volume (read and write), exit status
	conf "$w" "c['process']['args'] = ['/app.wasm', 'one two', 'cat=/data/in.txt', 'cat=/img.txt', 'write=/data/out.txt:written', 'exit=5']
c['process']['env'].append('LODGE_X=y z')
c['mounts'].append({'destination': '/data', 'type': 'bind', 'source': '$tmp/vol', 'options': ['rbind', 'rw']})"
	oci run --bundle "$w" wr >"$tmp/wr.out" 2>"$tmp/wr.err"
	st=$?
	why=
	[ "$st" -eq 5 ] || why="$why; exit status $st, want 5 ($(cat "$tmp/wr.err"))"
	for l in "arg[0]=/app.wasm" "arg[1]=one two" "env LODGE_X=y z" "cat: from the host" "cat: in the image"; do
		grep -qxF "$l" "$tmp/wr.out" || why="$why; no '$l' in the output"
	done
	[ "$(cat "$tmp/vol/out.txt" 2>/dev/null)" = written ] || why="$why; the volume was not written"
	[ ! -e "$root/wr" ] || why="$why; run left its state behind"
	report wasm.run "$why"

	# exec in a running Wasm container
	conf "$w" "c['process']['args'] = ['/app.wasm', 'spin']"
	oci create --bundle "$w" we >/dev/null 2>&1 && oci start we
	oci exec we /app.wasm viaexec cat=/data/in.txt exit=9 >"$tmp/we.out" 2>&1
	st=$?
	why=
	[ "$st" -eq 9 ] || why="$why; exec status $st, want 9: $(cat "$tmp/we.out")"
	grep -qx "arg\[1\]=viaexec" "$tmp/we.out" || why="$why; exec output: $(cat "$tmp/we.out")"
	grep -qx "cat: from the host" "$tmp/we.out" || why="$why; the exec'd process has no volume"
	# ps: runc's table, its header first, then the container's processes
	oci ps we >"$tmp/ps.out" 2>&1
	head -n 1 "$tmp/ps.out" | grep -q "^UID  *PID  *PPID" || why="$why; ps: no header: $(head -n 2 "$tmp/ps.out")"
	wpid=$(oci state we | python3 -c "import json,sys;print(json.load(sys.stdin)['pid'])")
	awk -v p="$wpid" 'NR > 1 && $2 == p' "$tmp/ps.out" | grep -q . || why="$why; ps: no line for pid $wpid: $(cat "$tmp/ps.out")"
	oci ps we -o pid,comm | head -n 1 | grep -q "PID" || why="$why; ps -o pid,comm: no header"
	oci delete --force we || why="$why; delete --force failed"
	report wasm.exec "$why"

	# a terminal over --console-socket
	conf "$w" "c['process']['args'] = ['/app.wasm', 'on a tty']; c['process']['terminal'] = True"
	python3 "$help" console "$tmp/con.sock" "$tmp/con.out" 60 >"$tmp/con.log" 2>&1 &
	cpid=$!
	i=0
	while [ ! -S "$tmp/con.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	why=
	oci create --bundle "$w" --console-socket "$tmp/con.sock" wt >"$tmp/wt.err" 2>&1 || why="$why; create: $(cat "$tmp/wt.err")"
	oci start wt
	wait_for "$tmp/con.out" "arg\[1\]=on a tty" 30 || why="$why; no output on the terminal: $(cat "$tmp/con.log" "$tmp/con.out" 2>/dev/null)"
	grep -q "got fd /dev/pts/" "$tmp/con.log" || why="$why; console socket: $(cat "$tmp/con.log")"
	kill $cpid 2>/dev/null
	wait $cpid 2>/dev/null
	oci delete --force wt
	report wasm.console-socket "$why"
	conf "$w" "c['process']['terminal'] = False"
fi

# ---- riscv64 containers in a VM -----------------------------------------------------------
vm=
if ! want vm && ! want podman && ! want containerd; then
	:
elif [ ! -f "$out/Image" ] || [ ! -f "$out/busybox" ]; then
	skip vm "no default guest (run make guest; needs Debian's mirror)"
elif ! make -s -C "$top" oci-guest >"$tmp/mk.out" 2>&1; then
	skip vm "cannot build the OCI guest (make oci-guest; needs gcc-riscv64-linux-gnu and libc6-dev-riscv64-cross): $(tail -n 1 "$tmp/mk.out")"
else
	vm=$tmp/vm
	mkdir -p "$vm/rootfs/bin" "$vm/rootfs/etc" "$tmp/ro" "$tmp/rw"
	cp "$out/busybox" "$vm/rootfs/bin/busybox"
	for a in sh cat echo id ls sleep touch nproc grep hostname pwd; do ln -s busybox "$vm/rootfs/bin/$a"; done
	ln -s /bin/busybox "$vm/rootfs/bin/ash" # an absolute symlink, resolved inside the rootfs
	echo "read only" >"$tmp/ro/f"
	echo "to delete" >"$tmp/rw/old"
	echo "host side" >"$tmp/rw/both"
	chmod 666 "$tmp/rw/both"
	chmod 777 "$tmp/rw"
	oci spec --bundle "$vm"
fi

if [ -n "$vm" ] && want vm; then
	# One boot checks the process's set-up, the limits and the host's cgroup, exec, and
	# signal forwarding.
	conf "$vm" "c['process']['args'] = ['ash', '-c', '''
trap 'echo got TERM; exit 7' TERM
echo args=\$0:\$1; echo env=\$LODGE_E; echo cwd=\$(pwd); echo ids=\$(id -u):\$(id -g):\$(id -G)
echo host=\$(hostname); echo ro=\$(cat /ro/f); echo nofile=\$(ulimit -n)
echo rwvol > /rw/g && rm /rw/old && mkdir -p /rw/d && echo deep > /rw/d/f && echo rw=ok
echo guest side > /rw/both
echo mem=\$(grep MemTotal /proc/meminfo | tr -s \" \" | cut -d\" \" -f2); echo cpus=\$(nproc)
echo pids=\$(cat /sys/fs/cgroup/ctr/pids.max 2>/dev/null)
echo err >&2; echo ready
while :; do sleep 1; done''', 'zero', 'one']
c['process']['env'].append('LODGE_E=e1')
c['process']['cwd'] = '/etc'
c['process']['user'] = {'uid': 1000, 'gid': 1000, 'additionalGids': [5, 6]}
c['process']['rlimits'] = [{'type': 'RLIMIT_NOFILE', 'soft': 321, 'hard': 321}]
c['hostname'] = 'lodgebox'
c['root']['readonly'] = True
c['mounts'].append({'destination': '/ro', 'type': 'bind', 'source': '$tmp/ro', 'options': ['rbind', 'ro']})
c['mounts'].append({'destination': '/rw', 'type': 'bind', 'source': '$tmp/rw', 'options': ['rbind', 'rw']})
c['mounts'].append({'destination': '/sys/fs/cgroup', 'type': 'cgroup', 'source': 'cgroup', 'options': ['ro']})
c['linux']['resources'] = {'memory': {'limit': 300 * 2**20}, 'cpu': {'quota': 200000, 'period': 100000}, 'pids': {'limit': 50}}
c['linux']['cgroupsPath'] = '/lodge-oci-test/vm1'"
	oci run --bundle "$vm" vm1 >"$tmp/vm1.out" 2>"$tmp/vm1.err" &
	runpid=$!
	why=
	if ! wait_for "$tmp/vm1.out" '^ready' 300; then
		why="no 'ready' from the guest: $(tail -n 3 "$tmp/vm1.err")"
	else
		# the host cgroup while it runs (v1 here; v2 hosts have memory.max)
		cg=
		for f in /sys/fs/cgroup/memory/lodge-oci-test/vm1/memory.limit_in_bytes \
			/sys/fs/cgroup/lodge-oci-test/vm1/memory.max; do
			[ -f "$f" ] && cg=$(cat "$f")
		done
		[ -z "$cg" ] && [ ! -d /sys/fs/cgroup ] || [ "$cg" = $((300 * 1048576 + 96 * 1048576)) ] ||
			why="$why; host cgroup memory limit '$cg', want 300 MiB + 96 MiB"
		ps=$(oci ps --format json vm1)
		case $ps in "[$(python3 -c "import json;print(json.load(open('$root/vm1/state.json'))['pid'])"),"*) ;;
		*) why="$why; ps --format json: $ps" ;; esac
		oci exec --env LODGE_X=x2 vm1 sh -c 'echo exec=$LODGE_X:$(id -u):$(pwd); echo eerr >&2; exit 4' >"$tmp/ex.out" 2>"$tmp/ex.err"
		st=$?
		[ "$st" -eq 4 ] || why="$why; exec status $st, want 4 ($(cat "$tmp/ex.err"))"
		grep -qx "exec=x2:1000:/etc" "$tmp/ex.out" || why="$why; exec output: $(cat "$tmp/ex.out")"
		grep -qx "eerr" "$tmp/ex.err" || why="$why; exec stderr: $(cat "$tmp/ex.err")"
		r=$(oci exec --user 0:0 vm1 sh -c 'touch /x 2>/dev/null && echo rw || echo ro' 2>&1)
		[ "$r" = ro ] || why="$why; root could write the read-only rootfs: $r"
		oci exec vm1 sh -c 'kill -9 $$' >/dev/null 2>&1
		st=$?
		[ "$st" -eq 137 ] || why="$why; exec killed by SIGKILL: status $st, want 137"
		echo "changed meanwhile" >"$tmp/rw/both"
		oci kill vm1 TERM || why="$why; kill failed"
	fi
	wait $runpid
	st=$?
	[ "$st" -eq 7 ] || why="$why; exit status $st, want 7 (the trap of the SIGTERM kill forwarded)"
	for l in "args=zero:one" "env=e1" "cwd=/etc" "ids=1000:1000:1000 5 6" "host=lodgebox" \
		"ro=read only" "nofile=321" "rw=ok" "cpus=2" "pids=50" "got TERM"; do
		grep -qxF "$l" "$tmp/vm1.out" || why="$why; no '$l' in the output"
	done
	m=$(sed -n 's/^mem=//p' "$tmp/vm1.out")
	[ -n "$m" ] && [ "$m" -gt 200000 ] && [ "$m" -le 307200 ] || why="$why; guest MemTotal $m kB for a 300 MiB limit"
	grep -qx "err" "$tmp/vm1.err" || why="$why; stderr: $(cat "$tmp/vm1.err")"
	[ ! -e /sys/fs/cgroup/memory/lodge-oci-test/vm1 ] && [ ! -e /sys/fs/cgroup/lodge-oci-test/vm1 ] ||
		why="$why; the cgroup was not removed"
	rmdir /sys/fs/cgroup/*/lodge-oci-test /sys/fs/cgroup/lodge-oci-test 2>/dev/null
	[ ! -e "$root/vm1" ] || why="$why; run left its state behind"
	report vm.process "$why"

	# The rw volume came back: new files and directories, a deletion; where the host
	# changed the same file meanwhile, its version stays (and a warning says so).
	why=
	[ "$(cat "$tmp/rw/g" 2>/dev/null)" = rwvol ] || why="$why; /rw/g not written back"
	[ "$(cat "$tmp/rw/d/f" 2>/dev/null)" = deep ] || why="$why; /rw/d/f not written back"
	[ ! -e "$tmp/rw/old" ] || why="$why; /rw/old not deleted"
	[ "$(cat "$tmp/rw/both")" = "changed meanwhile" ] || why="$why; the host's change was overwritten"
	grep -q "both changed on the host meanwhile" "$tmp/vm1.err" || why="$why; no conflict warning"
	[ "$(cat "$tmp/ro/f")" = "read only" ] || why="$why; the ro volume changed"
	report vm.volume-writeback "$why"

	# a terminal for a VM's process
	conf "$vm" "c['process'] = {'terminal': True, 'args': ['sh', '-c', 'tty; echo T=\$TERM'], 'env': ['TERM=xterm', 'PATH=/bin'], 'cwd': '/', 'user': {'uid': 0, 'gid': 0}}
c['root']['readonly'] = False; c['linux'] = {}; c['mounts'] = [m for m in c['mounts'] if m['destination'] not in ('/ro', '/rw')]"
	python3 "$help" console "$tmp/vcon.sock" "$tmp/vcon.out" 300 >"$tmp/vcon.log" 2>&1 &
	cpid=$!
	i=0
	while [ ! -S "$tmp/vcon.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	why=
	oci create --bundle "$vm" --console-socket "$tmp/vcon.sock" vt >"$tmp/vt.err" 2>&1 || why="$why; create: $(cat "$tmp/vt.err")"
	oci start vt
	wait $cpid
	tr -d '\r' <"$tmp/vcon.out" >"$tmp/vcon.txt"
	grep -q "^/dev/pts/" "$tmp/vcon.txt" || why="$why; the process has no terminal: $(head -c 300 "$tmp/vcon.txt")"
	grep -qx "T=xterm" "$tmp/vcon.txt" || why="$why; terminal output: $(head -c 300 "$tmp/vcon.txt")"
	status_is vt stopped 60 || why="$why; not stopped after its process ended"
	oci delete vt || why="$why; delete failed"
	report vm.terminal "$why"

	# delete of a created (never started) VM container leaves nothing behind
	conf "$vm" "c['process']['terminal'] = False"
	why=
	oci create --bundle "$vm" vc >/dev/null 2>&1 || why="create failed"
	[ -f "$root/vc/initrd.img" ] || why="$why; no initramfs prepared by create"
	oci delete vc || why="$why; delete failed"
	[ ! -e "$root/vc" ] || why="$why; state left behind"
	[ ! -e /sys/fs/cgroup/memory/vc ] && [ ! -e /sys/fs/cgroup/vc ] || why="$why; cgroup left behind"
	report vm.delete-created "$why"
fi

# ---- podman -------------------------------------------------------------------------------
podman_ok=
if ! want podman && ! want containerd; then
	:
elif [ "$(id -u)" -ne 0 ]; then
	skip podman "needs root (podman with cgroupfs)"
elif ! command -v podman >/dev/null 2>&1; then
	skip podman "podman not installed (scripts/install-deps.sh installs it)"
else
	# Everything of podman's under $tmp: storage, run root, configuration. The host's
	# cgroups are v1 (hybrid) and its open-files limit is below podman's default: Lodge
	# copes with both, so no --ulimit is passed.
	cat >"$tmp/containers.conf" <<EOF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$tmp/podman-events.log"
runtime = "lodge"
runtime_supports_json = ["lodge"]
[engine.runtimes]
lodge = ["$rt"]
EOF
	cat >"$tmp/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$tmp/podman/root"
runroot = "$tmp/podman/run"
EOF
	export CONTAINERS_CONF="$tmp/containers.conf" CONTAINERS_STORAGE_CONF="$tmp/storage.conf"
	podman="podman --tmpdir $tmp/podman/tmp"
	mkdir -p "$tmp/podman/tmp"
	podman_ok=1
fi

if [ -n "$podman_ok" ] && [ -n "$wasm" ] && want podman; then
	mkdir -p "$tmp/ctx-wasm"
	cp "$wasm" "$tmp/ctx-wasm/app.wasm"
	printf 'FROM scratch\nCOPY app.wasm /app.wasm\nENTRYPOINT ["/app.wasm"]\n' >"$tmp/ctx-wasm/Containerfile"
	why=
	$podman build --annotation module.wasm.image/variant=compat -t lodge-test-wasm "$tmp/ctx-wasm" >"$tmp/pb.out" 2>&1 ||
		why="podman build: $(tail -n 2 "$tmp/pb.out")"
	if [ -z "$why" ]; then
		$podman run --rm --network none -e LODGE_P=pv lodge-test-wasm first exit=23 >"$tmp/pw.out" 2>"$tmp/pw.err"
		st=$?
		[ "$st" -eq 23 ] || why="$why; exit status $st, want 23 ($(tail -n 2 "$tmp/pw.err"))"
		for l in "arg[0]=/app.wasm" "arg[1]=first" "env LODGE_P=pv"; do
			grep -qxF "$l" "$tmp/pw.out" || why="$why; no '$l' in the output"
		done
	fi
	report podman.wasm "$why"
fi

if [ -n "$podman_ok" ] && [ -n "$vm" ]; then
	mkdir -p "$tmp/ctx-rv/root/bin" "$tmp/pvol"
	cp "$out/busybox" "$tmp/ctx-rv/root/bin/busybox"
	for a in sh cat echo sleep uname; do ln -s busybox "$tmp/ctx-rv/root/bin/$a"; done
	printf 'FROM scratch\nCOPY root/ /\nCMD ["/bin/sh"]\n' >"$tmp/ctx-rv/Containerfile"
	echo "on the host" >"$tmp/pvol/f"
	why=
	$podman build --platform linux/riscv64 -t lodge-test-rv "$tmp/ctx-rv" >"$tmp/pb.out" 2>&1 ||
		why="podman build: $(tail -n 2 "$tmp/pb.out")"
	if [ -z "$why" ]; then
		$podman run --rm --network none --arch riscv64 -v "$tmp/pvol:/data" lodge-test-rv \
			sh -c 'cat /data/f; echo arch=$(uname -m); exit 42' >"$tmp/pr.out" 2>"$tmp/pr.err"
		st=$?
		[ "$st" -eq 42 ] || why="$why; exit status $st, want 42 ($(tail -n 2 "$tmp/pr.err"))"
		grep -qx "on the host" "$tmp/pr.out" || why="$why; the volume's file: $(cat "$tmp/pr.out")"
		grep -qx "arch=riscv64" "$tmp/pr.out" || why="$why; not riscv64: $(cat "$tmp/pr.out")"
	fi
	report podman.riscv64 "$why"

	if [ -z "$why" ] && want podman; then
		why=
		$podman run -d --name lodge-stop --network none --arch riscv64 lodge-test-rv \
			sh -c 'echo up; while :; do sleep 1; done' >"$tmp/ps.out" 2>&1 || why="run -d: $(cat "$tmp/ps.out")"
		i=0
		while [ -z "$why" ] && ! $podman logs lodge-stop 2>/dev/null | grep -q up; do
			i=$((i + 1))
			[ $i -gt 300 ] && why="no output within 300 s" && break
			sleep 1
		done
		$podman exec lodge-stop sh -c 'echo inside; exit 3' >"$tmp/pe.out" 2>&1
		st=$?
		[ "$st" -eq 3 ] && grep -qx inside "$tmp/pe.out" || why="$why; podman exec: status $st: $(cat "$tmp/pe.out")"
		t0=$(date +%s)
		$podman stop -t 60 lodge-stop >/dev/null 2>&1 || why="$why; podman stop failed"
		t1=$(date +%s)
		code=$($podman inspect lodge-stop --format '{{.State.ExitCode}}' 2>&1)
		# SIGTERM reached the shell in the guest: 143, well before the 60 s SIGKILL.
		[ "$code" = 143 ] || why="$why; exit code after stop '$code', want 143"
		[ $((t1 - t0)) -lt 50 ] || why="$why; stop took $((t1 - t0)) s (SIGTERM not delivered?)"
		$podman rm -f lodge-stop >/dev/null 2>&1
		report podman.exec-stop "$why"
	fi
fi

# ---- containerd ---------------------------------------------------------------------------
if ! want containerd; then
	:
elif [ -z "$vm" ] || [ -z "$podman_ok" ]; then
	skip containerd "needs the VM guest and podman (to build the image) as above"
elif ! command -v containerd >/dev/null 2>&1 || ! command -v ctr >/dev/null 2>&1; then
	skip containerd "containerd not installed (scripts/install-deps.sh installs it)"
else
	c=$tmp/ctd
	mkdir -p "$c"
	cat >"$c/config.toml" <<EOF
version = 2
root = "$c/root"
state = "$c/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$c/c.sock"
[ttrpc]
  address = "$c/c.sock.ttrpc"
[debug]
  address = "$c/debug.sock"
EOF
	containerd --config "$c/config.toml" >"$c/log" 2>&1 &
	ctd=$!
	ctr="ctr -a $c/c.sock -n lodge-test"
	why=
	i=0
	while ! $ctr version >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt 100 ] && why="containerd did not start: $(tail -n 2 "$c/log")" && break
		sleep 0.1
	done
	[ -n "$why" ] || $podman save --format oci-archive -o "$c/rv.tar" lodge-test-rv >/dev/null 2>&1 ||
		why="podman save failed"
	[ -n "$why" ] || $ctr images import --all-platforms "$c/rv.tar" >"$c/imp" 2>&1 ||
		why="ctr images import: $(tail -n 1 "$c/imp")"
	if [ -z "$why" ]; then
		$ctr run --rm --snapshotter native --runtime io.containerd.runc.v2 --runc-binary "$rt" \
			--platform linux/riscv64 localhost/lodge-test-rv:latest lodge-ctr \
			sh -c 'echo hello from containerd; exit 12' >"$c/run.out" 2>&1
		st=$?
		[ "$st" -eq 12 ] || why="$why; exit status $st, want 12 ($(tail -n 2 "$c/run.out"))"
		grep -q "hello from containerd" "$c/run.out" || why="$why; output: $(cat "$c/run.out")"
	fi
	report containerd.riscv64 "$why"
fi
exit 0

#!/bin/sh
# The host daemon end to end (tests/daemon/suite.py): `lodge daemon` on a temporary socket
# and state directory, driven through the CLI (create, start, logs, console, pause,
# resume, stop, kill, rm, ps, inspect) and raw HTTP (malformed requests, bad JSON, names,
# wrong states, permissions), for a system guest (the default busybox guest) and a Wasm
# guest (tests/daemon/service.c, built by `make unit` into build/daemon/service.wasm):
# restart policies, daemon restarts with guests running, kill -9 of guests and of the
# daemon, isolation checked from outside (/proc/PID/status, namespaces, cgroup limits),
# a seccomp kill through the build's test hook, cgroup v2, events, metrics, and the API
# against docs/openapi.yaml. Needs root (namespaces, cgroups) and python3 with yaml.
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${LODGE_BUILD:-$top/build/release}
export LODGE=${LODGE:-$build/lodge}

if [ ! -x "$LODGE" ]; then
	echo "FAIL: daemon: $LODGE not built"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: daemon: needs root (namespaces, cgroups)"
	exit 0
fi
if ! python3 -c 'import yaml' 2>/dev/null; then
	echo "SKIP: daemon: python3 yaml module missing (apt-get install python3-yaml)"
	exit 0
fi
exec python3 "$top/tests/daemon/suite.py" "$top" "$build"

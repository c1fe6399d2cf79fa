#!/bin/sh
# Snapshots and restore of system VMs (issue 11): tests/snapshot/suite.py boots the
# default guest with --api, snapshots it through the control socket, kills Lodge and
# restores it in new processes. Needs `make guest` (else one SKIP).
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
out=$top/guest-cache/out
for f in Image fw_dynamic.bin initrd.img; do
	if [ ! -f "$out/$f" ]; then
		echo "SKIP: snapshot.all: no default guest: $out/$f is missing (run make guest)"
		exit 0
	fi
done
exec python3 "$top/tests/snapshot/suite.py"

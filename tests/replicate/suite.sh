#!/bin/sh
# Continuous replication and failover of system VMs (issue 11): tests/replicate/suite.py
# boots the default guest with a disk-writing program (diskrec.c) and memcheck
# (tests/migrate), replicates it to a standby over 127.0.0.1, kills the primary and
# checks that what the outside saw acknowledged survives the failover; damaged streams,
# a standby that goes away. Needs `make guest` and the RISC-V cross compiler.
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
out=$top/guest-cache/out
for f in Image fw_dynamic.bin initrd.img; do
	if [ ! -f "$out/$f" ]; then
		echo "SKIP: replicate.all: no default guest: $out/$f is missing (run make guest)"
		exit 0
	fi
done
exec python3 "$top/tests/replicate/suite.py"

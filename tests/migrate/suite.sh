#!/bin/sh
# Live migration of system VMs (issue 11): tests/migrate/suite.py boots the default guest
# with a memory-checking program (memcheck.c, built with riscv64-linux-gnu-gcc into an
# extra initramfs archive), migrates it over 127.0.0.1 and across a pair of network
# namespaces, and checks the failure paths. Needs `make guest` and the cross compiler.
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
out=$top/guest-cache/out
for f in Image fw_dynamic.bin initrd.img; do
	if [ ! -f "$out/$f" ]; then
		echo "SKIP: migrate.all: no default guest: $out/$f is missing (run make guest)"
		exit 0
	fi
done
exec python3 "$top/tests/migrate/suite.py"
